package local

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"gridcode/shared/auth"
)

type auditRecord struct {
	Actor     string    `json:"actor"`
	Role      string    `json:"role"`
	Action    string    `json:"action"`
	PersonKey string    `json:"personKey"`
	From      string    `json:"from"`
	At        time.Time `json:"at"`
}

// The district office reads who saw whom: a worker's search result, the
// report they opened and listed, and the follow-up they recorded, by the
// person's ID number, by the worker, or both; from where and when. Nobody
// else may read the trail.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := start(t)
	issue := func(p auth.Principal) string {
		p.Expires = testNow.Add(time.Hour)
		tok, err := e.sys.Issuer.Issue(p)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	worker := issue(auth.Principal{Subject: "worker-7", Role: auth.GridWorker, Grids: auth.ParseGrids(demoGrid)})
	office := issue(auth.Principal{Subject: "office-1", Role: auth.DistrictAdmin})
	chen := BriefCase[0][2]

	if status, res := e.search(worker, url.Values{"name": {"陈永健"}, "community": {"石冲社区"}, "address": {"长庚里96号"}}); status != 200 || len(res) == 0 {
		t.Fatalf("search: %d %v", status, res)
	}
	var r receipt
	if status := e.send("POST", "/v1/grids/"+demoGrid+"/reports", "", submission(), &r); status != 201 {
		t.Fatalf("report: %d", status)
	}
	reporter := submission()["idNumber"].(string)
	if status := e.do("GET", "/v1/reports/"+r.ReportID, "", worker, nil, nil); status != 200 {
		t.Fatalf("view: %d", status)
	}
	if status := e.do("GET", "/v1/grids/"+demoGrid+"/reports", "", worker, nil, nil); status != 200 {
		t.Fatalf("list: %d", status)
	}
	if status := e.send("POST", "/v1/reports/"+r.ReportID+"/followups", worker, map[string]any{"outcome": "contacted"}, nil); status != 201 {
		t.Fatalf("follow-up: %d", status)
	}

	trail := func(q url.Values) []auditRecord {
		t.Helper()
		var out struct{ Records []auditRecord }
		if status := e.do("GET", "/v1/audit?"+q.Encode(), "", office, nil, &out); status != 200 {
			t.Fatalf("GET /v1/audit?%s: %d", q.Encode(), status)
		}
		return out.Records
	}
	actions := func(rs []auditRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Action)
		}
		return out
	}

	found := trail(url.Values{"person": {chen}})
	if len(found) != 1 || found[0].Action != "registry.search_result" || found[0].Actor != "worker-7" || found[0].Role != "grid_worker" ||
		found[0].From != "127.0.0.1" || !found[0].At.Equal(testNow) {
		t.Errorf("陈永健's trail: %+v; want the search result shown to worker-7 from 127.0.0.1 at %s", found, testNow)
	}
	// The test's clock stands still: the three share an instant, so their
	// order is the ids' random tails.
	mine := trail(url.Values{"person": {reporter}, "actor": {"worker-7"}})
	if got := actions(mine); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"report.follow_up", "report.list", "report.view"}) {
		t.Errorf("the reporter's trail by worker-7: %v, want view, list, follow-up", got)
	}
	// The key the records carry finds the same trail.
	if byKey := trail(url.Values{"person": {mine[0].PersonKey}, "actor": {"worker-7"}}); len(byKey) != len(mine) {
		t.Errorf("by person key: %d records, want %d", len(byKey), len(mine))
	}
	if all := trail(url.Values{"actor": {"worker-7"}}); len(all) != len(found)+len(mine) {
		t.Errorf("worker-7's trail: %v, want the search result and the report's three", actions(all))
	}
	if other := trail(url.Values{"person": {reporter}, "actor": {"office-1"}}); len(other) != 0 {
		t.Errorf("office-1 touched the reporter: %v", actions(other))
	}

	var refused apiError
	if status := e.do("GET", "/v1/audit?actor=worker-7", "", worker, nil, &refused); status != 403 {
		t.Errorf("a worker reading the trail: %d, want 403", status)
	}
	if status := e.do("GET", "/v1/audit", "", office, nil, &refused); status != 400 || refused.Fields[0].Field != "person" {
		t.Errorf("no person and no actor: %d %+v", status, refused)
	}
	if status := e.do("GET", "/v1/audit?person=x&idType=library_card", "", office, nil, &refused); status != 400 || refused.Fields[0].Field != "idType" {
		t.Errorf("an unknown idType: %d %+v", status, refused)
	}
}
