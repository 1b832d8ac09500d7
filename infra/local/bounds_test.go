package local

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/group"
	"gridcode/shared/httpapi"
	"gridcode/shared/report"
)

// bodyRoute is a route that reads a body and the most it reads.
type bodyRoute struct {
	pattern     string // as the mux has it
	path        string // a path of it
	contentType string
	limit       int64
	staff       bool // a district admin's token
}

// jsonOf is a JSON object of exactly n bytes.
func jsonOf(n int64) []byte {
	const frame = `{"x":""}`
	return []byte(`{"x":"` + strings.Repeat("a", int(n)-len(frame)) + `"}`)
}

// csvOf is CSV text of exactly n bytes.
func csvOf(n int64) []byte {
	b := bytes.Repeat([]byte("a,b\n"), int(n/4)+1)
	return b[:n]
}

// TestEveryBodyIsBounded: every route that takes a body refuses one over
// its limit with 413 body_too_large (before the store, whoever asks), and
// takes one at the limit past the size check. A route that takes a body
// and is not in the table fails the test; so do the routes the table says
// read none, if they change.
func TestEveryBodyIsBounded(t *testing.T) {
	t.Parallel()
	e := start(t)
	admin := e.token(auth.DistrictAdmin, "")
	gid := e.demoGroup(admin)
	routes := []bodyRoute{
		{"POST /v1/reports", "/v1/reports", "application/json", httpapi.MaxReportBody, false},
		{"POST /v1/grids/{gridCode}/reports", "/v1/grids/" + demoGrid + "/reports", "application/json", httpapi.MaxReportBody, false},
		{"POST /v1/groups/{groupId}/join", "/v1/groups/" + gid + "/join", "application/json", httpapi.MaxGroupBody, false},
		{"PUT /v1/risk-areas", "/v1/risk-areas", "application/json", httpapi.MaxRuleSetBody, true},
		{"PUT /v1/guidance", "/v1/guidance", "application/json", httpapi.MaxRuleSetBody, true},
		{"POST /v1/groups", "/v1/groups", "application/json", httpapi.MaxGroupBody, true},
		{"PUT /v1/groups/{groupId}/members", "/v1/groups/" + gid + "/members", "text/csv", group.MaxRosterBytes, true},
		{"POST /v1/health/updates", "/v1/health/updates", "application/json", httpapi.MaxHealthBody, true},
		{"POST /v1/lists", "/v1/lists?kind=nat&name=big", "text/csv", httpapi.MaxListBody, true},
		{"POST /v1/reconcile", "/v1/reconcile", "application/json", httpapi.MaxReconcile, true},
		{"POST /v1/tasks/{taskId}/visits", "/v1/tasks/t-none/visits", "application/json", httpapi.MaxVisitBody, true},
		{"POST /v1/reports/{reportId}/followups", "/v1/reports/r-none/followups", "application/json", httpapi.MaxFollowUpBody, true},
	}
	// Writes without a body: what they are sent is never read.
	noBody := []string{"POST /v1/refresh/run", "POST /v1/groups/{groupId}/members/{memberId}/approve"}

	var writes []string
	for _, p := range e.sys.Routes {
		if strings.HasPrefix(p, "POST ") || strings.HasPrefix(p, "PUT ") || strings.HasPrefix(p, "PATCH ") {
			writes = append(writes, p)
		}
	}
	covered := slices.Clone(noBody)
	for _, r := range routes {
		covered = append(covered, r.pattern)
	}
	slices.Sort(writes)
	slices.Sort(covered)
	if !slices.Equal(writes, covered) {
		t.Fatalf("the writes the system mounts %v differ from those this test bounds %v: give a new one its limit here", writes, covered)
	}

	for _, r := range routes {
		token := ""
		if r.staff {
			token = admin
		}
		body := jsonOf
		if r.contentType == "text/csv" {
			body = csvOf
		}
		var refused apiError
		if code := e.do(method(r.pattern), r.path, r.contentType, token, bytes.NewReader(body(r.limit+1)), &refused); code != http.StatusRequestEntityTooLarge || refused.Error != "body_too_large" {
			t.Errorf("%s: a body of %d bytes: %d %q, want 413 body_too_large", r.pattern, r.limit+1, code, refused.Error)
		}
		// At the limit the size check passes; a 6 MiB list would be
		// stored, so that one is left to the uploader's own test.
		if r.pattern == "POST /v1/lists" {
			continue
		}
		if code, _, raw := e.fetch(method(r.pattern), r.path, r.contentType, token, bytes.NewReader(body(r.limit))); code == http.StatusRequestEntityTooLarge {
			t.Errorf("%s: a body of exactly %d bytes refused: %s", r.pattern, r.limit, raw)
		}
	}
	if n := e.alerts(); n != 0 {
		t.Errorf("refused bodies queued %d alerts", n)
	}
}

func method(pattern string) string {
	m, _, _ := strings.Cut(pattern, " ")
	return m
}

// TestURLsAreBounded: a path or query longer than any route needs is
// refused with 414 before a handler (or the store) sees it; the longest
// real query, a search in Chinese, passes.
func TestURLsAreBounded(t *testing.T) {
	t.Parallel()
	e := start(t)
	worker := e.token(auth.GridWorker, demoGrid)
	longID := strings.Repeat("G", httpapi.MaxPathBytes)
	for _, c := range []struct{ method, path, token string }{
		{"POST", "/v1/groups/" + longID + "/join", ""},
		{"GET", "/v1/reports/" + longID, worker},
		{"GET", "/v1/registry/search?name=" + strings.Repeat("a", httpapi.MaxQueryBytes), worker},
	} {
		var refused apiError
		if code := e.do(c.method, c.path, "application/json", c.token, strings.NewReader("{}"), &refused); code != http.StatusRequestURITooLong || refused.Error != "uri_too_long" {
			t.Errorf("%s %.40s…: %d %q, want 414 uri_too_long", c.method, c.path, code, refused.Error)
		}
	}
	q := url.Values{
		"name":      {strings.Repeat("陈", 30)},
		"community": {strings.Repeat("石", 30)},
		"address":   {strings.Repeat("号", 100)},
	}
	if code, _, raw := e.fetch("GET", "/v1/registry/search?"+q.Encode(), "", worker, nil); code == http.StatusRequestURITooLong {
		t.Errorf("the longest search a form can send was refused: %s", raw)
	}
}

// TestFreeTextIsBounded: the free-text fields of the request bodies, one
// character over their limit, are refused with too_long and store nothing.
// (The rest are checked against a format or a list: IDs, phones, codes,
// dates, enums; the roster, registry, list, remark and note limits have
// their own tests in their packages.)
func TestFreeTextIsBounded(t *testing.T) {
	t.Parallel()
	e := start(t)
	admin := e.token(auth.DistrictAdmin, "")
	long := func(n int) string { return strings.Repeat("长", n+1) }
	report1 := func(change func(map[string]any)) map[string]any {
		s := submission()
		change(s)
		return s
	}
	registration := func(change func(map[string]any)) map[string]any {
		r := map[string]any{
			"name": "惠民超市", "kind": "supermarket", "address": "石冲社区新塘里101号", "gridCode": demoGrid,
			"admin": map[string]any{"name": "黄店长", "phone": "13800138001"},
		}
		change(r)
		return r
	}
	guidance := func(text string) []map[string]string {
		var out []map[string]string
		for _, l := range []string{"none", "low", "medium", "high"} {
			out = append(out, map[string]string{"level": l, "text": "请做核酸", "smsAction": "做核酸"})
		}
		out[3]["text"] = text
		return out
	}
	for _, c := range []struct {
		name, method, path string
		token              string
		body               any
		field              string
	}{
		{"report name", "POST", "/v1/reports", "", report1(func(s map[string]any) { s["name"] = long(report.MaxNameRunes) }), "name"},
		{"report address", "POST", "/v1/reports", "", report1(func(s map[string]any) {
			s["destination"] = map[string]string{"community": "石冲社区", "address": long(report.MaxAddressRunes)}
		}), "destination.address"},
		{"report community", "POST", "/v1/reports", "", report1(func(s map[string]any) {
			s["destination"] = map[string]string{"community": long(report.MaxCommunityRunes), "address": "新塘里96号"}
		}), "destination.community"},
		{"group name", "POST", "/v1/groups", admin, registration(func(r map[string]any) { r["name"] = long(group.MaxGroupName) }), "name"},
		{"group address", "POST", "/v1/groups", admin, registration(func(r map[string]any) { r["address"] = long(group.MaxAddress) }), "address"},
		{"group admin name", "POST", "/v1/groups", admin, registration(func(r map[string]any) {
			r["admin"] = map[string]any{"name": long(group.MaxAdminName), "phone": "13800138001"}
		}), "admin.name"},
		{"self-join name", "POST", "/v1/groups/" + e.demoGroup(admin) + "/join", "", map[string]string{"name": long(group.MaxMemberNameRunes), "idNumber": groupJoinerID}, "name"},
		{"guidance text", "PUT", "/v1/guidance", admin, guidance(long(district.MaxGuidanceRunes)), "[3].text"},
	} {
		b, err := json.Marshal(c.body)
		if err != nil {
			t.Fatal(err)
		}
		var got apiError
		code := e.do(c.method, c.path, "application/json", c.token, bytes.NewReader(b), &got)
		if code != http.StatusBadRequest || !slices.ContainsFunc(got.Fields, func(f struct{ Field, Reason string }) bool {
			return f.Field == c.field && f.Reason == "too_long"
		}) {
			t.Errorf("%s: %d %+v, want 400 with %s too_long", c.name, code, got, c.field)
		}
	}
	if n := e.alerts(); n != 0 {
		t.Errorf("refused reports queued %d alerts", n)
	}
}

// demoGroup is a demo group's id.
func (e *env) demoGroup(admin string) string {
	e.t.Helper()
	var groups struct{ Groups []struct{ GroupID string } }
	if code := e.send("GET", "/v1/grids/"+demoGrid+"/groups", admin, nil, &groups); code != 200 || len(groups.Groups) == 0 {
		e.t.Fatalf("demo groups: %d", code)
	}
	return groups.Groups[0].GroupID
}
