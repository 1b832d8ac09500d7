package local

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gridcode/infra/demo"
	"gridcode/infra/gen"
	"gridcode/shared/dates"
	"gridcode/shared/httpapi"
	"gridcode/shared/store/embedded"
)

// BenchmarkIntakeHandler is the handler's cost per report, in-process and
// without fsync (make bench prints it with CPU time beside a baseline).
func BenchmarkIntakeHandler(b *testing.B) {
	sys, err := OpenWith(context.Background(), b.TempDir(), func() time.Time { return testNow }, httpapi.PublicRules{}, embedded.WithoutFsync())
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	cs, _ := demo.Communities()
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	subs := gen.Reports(1, b.N, dates.Today(testNow), names, 0)
	bodies := make([][]byte, len(subs))
	for i, s := range subs {
		bodies[i], _ = json.Marshal(s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/reports", bytes.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		sys.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
