package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/sms"
	"gridcode/shared/sms/outbox"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))

// tick returns a clock that moves one second per call.
func tick() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

func open(t *testing.T, opts ...outbox.Option) (*outbox.Provider, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "sms-outbox.jsonl")
	p, err := outbox.Open(path, tick(), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p, path
}

func msg(i int) sms.Message {
	return sms.Message{
		AlertID: fmt.Sprintf("A%d", i), To: fmt.Sprintf("+86138%08d", i), Template: "SMS_1",
		Params: map[string]string{"building": "3栋"}, Text: "请到3栋核酸检测", Segments: 1,
	}
}

func TestSendWritesLine(t *testing.T) {
	t.Parallel()
	p, path := open(t)
	id, err := p.Send(context.Background(), msg(1))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if id != "local-1" {
		t.Errorf("id = %q, want local-1", id)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"alertId":"A1","to":"+8613800000001","template":"SMS_1","params":{"building":"3栋"},` +
		`"text":"请到3栋核酸检测","segments":1,"sentAt":"2026-03-01T00:00:01Z"}` + "\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %o, want 600", mode)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	const goroutines, each = 16, 50
	p, path := open(t)
	var wg sync.WaitGroup
	ids := make(chan string, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				id, err := p.Send(context.Background(), msg(g*each+i))
				if err != nil {
					t.Errorf("Send: %v", err)
					return
				}
				ids <- id
			}
		})
	}
	wg.Wait()
	close(ids)

	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %s given twice", id)
		}
		seen[id] = true
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(raw) != goroutines*each {
		t.Fatalf("file has %d lines, want %d", len(raw), goroutines*each)
	}
	alerts := map[string]bool{}
	for i, r := range raw {
		var l outbox.Line
		if err := json.Unmarshal(r, &l); err != nil {
			t.Fatalf("line %d is not whole JSON: %v: %q", i+1, err, r)
		}
		alerts[l.AlertID] = true
	}
	if len(alerts) != goroutines*each {
		t.Errorf("%d distinct alerts in the file, want %d", len(alerts), goroutines*each)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	p, path := open(t)
	for i := 1; i <= 5; i++ {
		if _, err := p.Send(context.Background(), msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{limit: 0, want: []string{"A5", "A4", "A3", "A2", "A1"}},
		{limit: 2, want: []string{"A5", "A4"}},
		{limit: 9, want: []string{"A5", "A4", "A3", "A2", "A1"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("limit ", tt.limit), func(t *testing.T) {
			lines, err := p.List(tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lines {
				got = append(got, l.AlertID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List(%d) alerts (-want +got):\n%s", tt.limit, diff)
			}
		})
	}

	// A reopened outbox carries on numbering, and a torn last line (a
	// crash mid-write) is skipped.
	p.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"alertId":"torn`)
	f.Close()
	p2, err := outbox.Open(path, tick())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer p2.Close()
	lines, err := p2.List(0)
	if err != nil || len(lines) != 5 {
		t.Errorf("List after reopen = %d lines, %v; want 5", len(lines), err)
	}
	// The next message gets a line of its own, and the file opens again.
	if _, err := p2.Send(context.Background(), msg(6)); err != nil {
		t.Fatal(err)
	}
	if lines, err := p2.List(0); err != nil || len(lines) != 6 || lines[0].AlertID != msg(6).AlertID {
		t.Fatalf("after a send past the torn line: %d lines, %v", len(lines), err)
	}
	p2.Close()
	p3, err := outbox.Open(path, tick())
	if err != nil {
		t.Fatalf("third open: %v", err)
	}
	p3.Close()
}

func TestHandler(t *testing.T) {
	t.Parallel()
	p, _ := open(t)
	for i := 1; i <= 3; i++ {
		if _, err := p.Send(context.Background(), msg(i)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantAlerts []string
		wantError  string
	}{
		{"all", http.MethodGet, "/dev/sms", 200, []string{"A3", "A2", "A1"}, ""},
		{"limit", http.MethodGet, "/dev/sms?limit=1", 200, []string{"A3"}, ""},
		{"bad limit", http.MethodGet, "/dev/sms?limit=x", 400, nil, "bad_limit"},
		{"zero limit", http.MethodGet, "/dev/sms?limit=0", 400, nil, "bad_limit"},
		{"post", http.MethodPost, "/dev/sms", 405, nil, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			p.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			if tt.wantError != "" {
				var e struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error != tt.wantError {
					t.Errorf("body = %s, want error %q", rec.Body, tt.wantError)
				}
				return
			}
			var lines []outbox.Line
			if err := json.Unmarshal(rec.Body.Bytes(), &lines); err != nil {
				t.Fatalf("body is not a JSON array of lines: %v: %s", err, rec.Body)
			}
			var got []string
			for _, l := range lines {
				got = append(got, l.AlertID)
			}
			if diff := cmp.Diff(tt.wantAlerts, got); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandlerEmpty(t *testing.T) {
	t.Parallel()
	p, _ := open(t)
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/sms", nil))
	if got := strings.TrimSpace(rec.Body.String()); got != "[]" {
		t.Errorf("empty outbox body = %s, want []", got)
	}
}

// outcomes sends n messages and returns a letter per Send: ok, Throttled,
// Permanent or other Error.
func outcomes(t *testing.T, f outbox.Faults, n int) string {
	t.Helper()
	p, _ := open(t, outbox.WithFaults(f))
	var b strings.Builder
	for i := range n {
		m := msg(i)
		_, err := p.Send(context.Background(), m)
		switch {
		case err == nil:
			b.WriteByte('.')
		case errors.Is(err, sms.ErrThrottled):
			b.WriteByte('T')
		case errors.Is(err, sms.ErrPermanent):
			b.WriteByte('P')
		default:
			b.WriteByte('E')
		}
		if err != nil && strings.Contains(err.Error(), m.To) {
			t.Errorf("error text has the phone number: %v", err)
		}
	}
	return b.String()
}

func TestFaultRate(t *testing.T) {
	t.Parallel()
	const n = 4000
	tests := []struct {
		rate float64
	}{{0}, {0.1}, {0.3}, {1}}
	for _, tt := range tests {
		t.Run(fmt.Sprint("rate ", tt.rate), func(t *testing.T) {
			t.Parallel()
			got := outcomes(t, outbox.Faults{Rate: tt.rate, Seed: 7}, n)
			throttled, other := strings.Count(got, "T"), strings.Count(got, "E")
			rate := float64(throttled+other) / n
			if d := rate - tt.rate; d < -0.03 || d > 0.03 {
				t.Errorf("failure rate = %.3f, want %.2f±0.03", rate, tt.rate)
			}
			if failed := throttled + other; failed > 0 {
				if share := float64(throttled) / float64(failed); share < 0.4 || share > 0.6 {
					t.Errorf("throttled = %d of %d failures, want about half", throttled, failed)
				}
			}
		})
	}
}

func TestFaultsDeterministic(t *testing.T) {
	t.Parallel()
	a := outcomes(t, outbox.Faults{Rate: 0.2, Seed: 42}, 500)
	b := outcomes(t, outbox.Faults{Rate: 0.2, Seed: 42}, 500)
	c := outcomes(t, outbox.Faults{Rate: 0.2, Seed: 43}, 500)
	if a != b {
		t.Error("same seed gave different failures")
	}
	if a == c {
		t.Error("different seeds gave the same failures")
	}
}

func TestFaultsPermanent(t *testing.T) {
	t.Parallel()
	bad := msg(2).To
	p, _ := open(t, outbox.WithFaults(outbox.Faults{Permanent: map[string]bool{bad: true}}))
	tests := []struct {
		m             sms.Message
		wantPermanent bool
	}{
		{msg(1), false},
		{msg(2), true},
		{msg(3), false},
		{msg(2), true},
	}
	for _, tt := range tests {
		_, err := p.Send(context.Background(), tt.m)
		if got := errors.Is(err, sms.ErrPermanent); got != tt.wantPermanent {
			t.Errorf("Send(%s): permanent = %v, want %v (err %v)", tt.m.AlertID, got, tt.wantPermanent, err)
		}
		if err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("error text has the phone number: %v", err)
		}
	}
	lines, err := p.List(0)
	if err != nil || len(lines) != 2 {
		t.Errorf("List = %d lines, %v; want 2 (failed Sends write nothing)", len(lines), err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	p, _ := open(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), msg(1)); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	if _, err := p.List(1); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("List after Close: %v, want ErrClosed", err)
	}
}

// Receipt names the first line of an alert, in the process that wrote it
// and after a reopen (a restarted server), torn lines notwithstanding; a
// failed send leaves none.
func TestReceipt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, path := open(t, outbox.WithFaults(outbox.Faults{Permanent: map[string]bool{msg(3).To: true}}))
	var ids []string
	for _, i := range []int{1, 2, 1} {
		id, err := p.Send(ctx, msg(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := p.Send(ctx, msg(3)); err == nil {
		t.Fatal("send to a failing number succeeded")
	}
	check := func(p *outbox.Provider, when string) {
		t.Helper()
		for _, c := range []struct {
			alert, id string
			ok        bool
		}{{"A1", ids[0], true}, {"A2", ids[1], true}, {"A3", "", false}, {"A4", "", false}} {
			id, ok, err := p.Receipt(ctx, c.alert)
			if err != nil || ok != c.ok || id != c.id {
				t.Errorf("%s: Receipt(%s) = %q, %v, %v; want %q, %v", when, c.alert, id, ok, err, c.id, c.ok)
			}
		}
	}
	check(p, "after sending")
	p.Close()
	// A crash tore a line; the reopened file numbers its lines as before.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"alertId":"A4","to":`)
	f.Close()
	p, err = outbox.Open(path, tick())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	check(p, "after reopening")
	id, err := p.Send(ctx, msg(5))
	if got, ok, _ := p.Receipt(ctx, "A5"); err != nil || !ok || got != id {
		t.Errorf("a send after reopening: %q %v; Receipt %q %v", id, err, got, ok)
	}
	p.Close()
	if _, _, err := p.Receipt(ctx, "A1"); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("Receipt after Close: %v, want ErrClosed", err)
	}
}
