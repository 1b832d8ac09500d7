package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ssmEndpoint answers GetParameter in SSM's JSON protocol, so the real SDK
// client is exercised end to end; SSM itself cannot run here.
func ssmEndpoint(t *testing.T, params map[string]string) *ssm.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" {
			http.Error(w, "unexpected operation", http.StatusBadRequest)
			return
		}
		var in struct {
			Name           string
			WithDecryption bool
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &in); err != nil || !in.WithDecryption {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		value, ok := params[in.Name]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"ParameterNotFound","message":"not found"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": value}})
	}))
	t.Cleanup(srv.Close)
	return ssm.New(ssm.Options{
		Region:       "cn-north-1",
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
}

func TestFromParameter(t *testing.T) {
	t.Parallel()
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(k)
	client := ssmEndpoint(t, map[string]string{"/gridcode/keys": string(good), "/gridcode/short": `{"pepper":"AAAA","dataKey":"AAAA","tokenKey":"AAAA"}`})
	ctx := context.Background()
	got, err := FromParameter(ctx, client, "/gridcode/keys")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.DataKey, k.DataKey) || !bytes.Equal(got.TokenKey, k.TokenKey) {
		t.Fatal("keyset from the parameter differs from the one stored")
	}
	if _, err := FromParameter(ctx, client, "/gridcode/short"); err == nil || !strings.Contains(err.Error(), "pepper") {
		t.Fatalf("short keys: %v", err)
	}
	if _, err := FromParameter(ctx, client, "/gridcode/missing"); err == nil || !strings.Contains(err.Error(), "/gridcode/missing") {
		t.Fatalf("missing parameter: %v", err)
	}
}
