package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/httpapi"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
)

// TestFollowUpsAPI serves the follow-up routes on the embedded store and
// checks what the API promises beyond the domain: the stable error codes
// and the notes answered opened.
func TestFollowUpsAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2022, 12, 5, 2, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	vault, err := pii.NewVault(bytes.Repeat([]byte{5}, pii.KeySize), bytes.Repeat([]byte{6}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := auth.NewIssuer(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	areas, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	const gridCode = "440703006107-01"
	settings := district.NewSettings(store, areas, clock, 0)
	if err := settings.PutGrids(ctx, []grid.Grid{{Code: gridCode, Name: "石冲社区第1网格", Community: "石冲社区", Town: "环市街道"}}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	httpapi.NewFollowUpsAPI(store, settings, vault, clock, httpapi.Staff{Issuer: issuer, Now: clock}).Register(mux)

	addReport := func(id string, followUps int) {
		submitted := now.Add(-time.Hour)
		r := report.Record{ID: id, GridCode: gridCode, ListKey: report.ListKey(submitted, id), RiskLevel: risk.None,
			Status: report.StatusNew, SubmittedAt: submitted, ContactDue: submitted.Add(24 * time.Hour)}
		a := alert.Alert{ID: report.WelcomeAlertID(id), ReportID: id, GridCode: gridCode, Status: alert.Sent, CreatedAt: submitted}
		if _, _, err := store.Create(ctx, r, a); err != nil {
			t.Fatal(err)
		}
		if followUps == 0 {
			return
		}
		for range followUps {
			r.FollowUps = append(r.FollowUps, report.FollowUp{At: submitted, By: "w", Outcome: report.OutcomeUnreachable})
		}
		if err := store.UpdateFollowUp(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
	}
	addReport("r-open", 0)
	addReport("r-full", report.MaxFollowUps-1)

	token := func(p auth.Principal) string {
		p.Expires = now.Add(time.Hour)
		tok, err := issuer.Issue(p)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	worker := token(auth.Principal{Subject: "worker", Role: auth.GridWorker, Grids: auth.ParseGrids(gridCode)})
	office := token(auth.Principal{Subject: "office", Role: auth.DistrictAdmin})
	groupAdmin := token(auth.Principal{Subject: "admin", Role: auth.GroupAdmin, Group: "G12345678"})

	const note = "其子李四代接 13900139001"
	cases := []struct {
		name, method, path, token, body string
		status                          int
		want                            []string // in the answer's body
	}{
		{"a note is answered opened", "POST", "/v1/reports/r-open/followups", worker,
			`{"outcome":"contacted","note":"` + note + `"}`, 201, []string{`"note":"` + note + `"`, `"status":"in_progress"`}},
		{"a full report", "POST", "/v1/reports/r-full/followups", worker, `{"outcome":"unreachable"}`, 409, []string{`"error":"too_many_follow_ups"`}},
		{"a full report still closes", "POST", "/v1/reports/r-full/followups", worker, `{"outcome":"closed"}`, 201, []string{`"status":"closed"`}},
		{"a group admin learns nothing of a report", "POST", "/v1/reports/r-missing/followups", groupAdmin, `{"outcome":"contacted"}`, 403, []string{`"error":"forbidden"`}},
		{"a worker learns it does not exist", "POST", "/v1/reports/r-missing/followups", worker, `{"outcome":"contacted"}`, 404, []string{`"error":"not_found"`}},
		{"escalated of an unknown community", "GET", "/v1/followups/escalated?community=%E9%95%BF%E5%BA%9A%E9%87%8C", office, "", 400,
			[]string{`"error":"invalid_query"`, `{"field":"community","reason":"unknown"}`}},
		{"escalated of a community as people write it", "GET", "/v1/followups/escalated?community=%E7%9F%B3%E5%86%B2", office, "", 200, []string{`"escalated":[]`}},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+c.token)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, body, c.status)
			continue
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s: not JSON: %s", c.name, body)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %s, want it to hold %s", c.name, body, w)
			}
		}
	}
}
