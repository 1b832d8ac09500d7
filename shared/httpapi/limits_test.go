package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"gridcode/shared/httpapi"
)

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, remote, want string
		forwarded          string // X-Forwarded-For, never believed
	}{
		{name: "local TCP peer", remote: "203.0.113.9:50123", want: "203.0.113.9"},
		{name: "API Gateway sourceIp, no port", remote: "203.0.113.9", want: "203.0.113.9"},
		{name: "a forged X-Forwarded-For", remote: "203.0.113.9:50123", forwarded: "198.51.100.1", want: "203.0.113.9"},
		{name: "IPv6 keyed by its /64", remote: "[2001:db8:1:2:3:4:5:6]:443", want: "2001:db8:1:2::/64"},
		{name: "another address of the same /64", remote: "2001:db8:1:2:ffff::1", want: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped IPv6 is the IPv4 address", remote: "[::ffff:203.0.113.9]:1", want: "203.0.113.9"},
		{name: "zone dropped", remote: "[fe80::1%eth0]:1", want: "fe80::/64"},
		{name: "not an address", remote: "somewhere", want: "unknown"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "/v1/reports", nil)
		r.RemoteAddr = tc.remote
		if tc.forwarded != "" {
			r.Header.Set("X-Forwarded-For", tc.forwarded)
		}
		if got := httpapi.ClientKey(r); got != tc.want {
			t.Errorf("%s: ClientKey(%q) = %q, want %q", tc.name, tc.remote, got, tc.want)
		}
	}
}

// keyedFunc is a ratelimit.Keyed from a function.
type keyedFunc func(key string) (bool, time.Duration, error)

func (f keyedFunc) Allow(_ context.Context, key string, _ time.Time) (bool, time.Duration, error) {
	return f(key)
}

func TestLimitAdmit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		keyed keyedFunc
		want  *httpapi.RateLimited
	}{
		{"no limit", nil, nil},
		{"allowed", func(string) (bool, time.Duration, error) { return true, 0, nil }, nil},
		{"refused", func(string) (bool, time.Duration, error) { return false, 42 * time.Second, nil }, &httpapi.RateLimited{RetryAfter: 42 * time.Second}},
		// A counter that cannot be kept must not cost a report.
		{"counter down: admitted", func(string) (bool, time.Duration, error) { return false, 0, errors.New("throttled") }, nil},
	}
	for _, tc := range tests {
		var l httpapi.Limit
		if tc.keyed != nil {
			l.Keyed = tc.keyed
		}
		err := l.Admit(context.Background(), "k")
		var got *httpapi.RateLimited
		if err != nil && !errors.As(err, &got) {
			t.Fatalf("%s: Admit = %v, not a *RateLimited", tc.name, err)
		}
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%s: Admit = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// readCounter is a body that counts its reads.
type readCounter struct {
	io.Reader
	reads int
}

func (r *readCounter) Read(p []byte) (int, error) {
	r.reads++
	return r.Reader.Read(p)
}

// TestRefusedByAddress: over the address limit, both public writes answer
// 429 with Retry-After in whole seconds and {"error":"rate_limited"},
// before reading the body or reaching the service (nil here: touching it
// would panic), keyed by the client's address.
func TestRefusedByAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		wait time.Duration
		want string
	}{
		{50 * time.Second, "50"},
		{1200 * time.Millisecond, "2"},
		{time.Millisecond, "1"},
		{0, "1"},
	}
	for _, tc := range tests {
		var keys []string
		limit := httpapi.Limit{Keyed: keyedFunc(func(key string) (bool, time.Duration, error) {
			keys = append(keys, key)
			return false, tc.wait, nil
		})}
		mux := http.NewServeMux()
		httpapi.IntakeAPI{PerAddress: limit}.Register(mux)
		httpapi.GroupsAPI{JoinsPerAddress: limit}.Register(mux)
		for _, path := range []string{"/v1/reports", "/v1/grids/440703006107-01/reports", "/v1/groups/G7K2M9QXA/join"} {
			body := &readCounter{Reader: strings.NewReader(`{"name":"张三"}`)}
			r := httptest.NewRequest(http.MethodPost, path, body)
			r.Header.Set("Content-Type", "application/json")
			r.RemoteAddr = "198.51.100.7:4444"
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			var got struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusTooManyRequests || got.Error != "rate_limited" {
				t.Errorf("%s: %d %s, want 429 rate_limited", path, w.Code, w.Body)
			}
			if ra := w.Header().Get("Retry-After"); ra != tc.want {
				t.Errorf("%s: Retry-After %q for %v to wait, want %q", path, ra, tc.wait, tc.want)
			}
			if body.reads != 0 {
				t.Errorf("%s: the body was read before the refusal", path)
			}
		}
		for _, k := range keys {
			if k != "198.51.100.7" {
				t.Errorf("counted under %q, want the client address", k)
			}
		}
	}
}

// TestOpenAPIDocumentsRateLimits: every public write documents its 429 and
// the Retry-After header.
func TestOpenAPIDocumentsRateLimits(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Responses map[string]struct {
				Headers map[string]any `yaml:"headers"`
			} `yaml:"responses"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/reports", "/v1/grids/{gridCode}/reports", "/v1/groups/{groupId}/join"} {
		var op struct {
			Responses map[string]struct {
				Ref string `yaml:"$ref"`
			} `yaml:"responses"`
		}
		node := doc.Paths[path]["post"]
		if err := node.Decode(&op); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		ref := op.Responses["429"].Ref
		name, ok := strings.CutPrefix(ref, "#/components/responses/")
		if !ok {
			t.Errorf("POST %s: no 429 response from components/responses (got %q)", path, ref)
			continue
		}
		if _, ok := doc.Components.Responses[name].Headers["Retry-After"]; !ok {
			t.Errorf("POST %s: response %s has no Retry-After header", path, name)
		}
	}
}
