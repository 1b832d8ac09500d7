package local

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/httpapi"
)

// caller is who asks. The fixture's data all belongs to scope A (a grid
// and a group in it); a caller of scope B is a worker or administrator of
// another grid or group.
type caller struct {
	name  string
	token string
}

// accessFixture is one of everything a route can name, in scope A.
type accessFixture struct {
	gridA, gridB, communityA string
	leadA                    bool // gridA leads its community (its supervisor sees escalations)
	reportID, taskID         string
	groupA                   string
	memberID                 string
	listID, reconciliationID string
	importID                 string
	today                    string
	guidance                 string // the table as it is, to put back
}

// Who may call a route: everyone, or the callers named.
type allowed map[string]bool

const (
	anonymous   = "anonymous"
	admin       = "district admin"
	workerA     = "worker of grid A"
	workerB     = "worker of grid B"
	workerBA    = "worker of grids B and A" // several grids: A is not the first
	groupAdminA = "admin of group A"
	groupAdminB = "admin of group B"
	healthFeed  = "health feed"
)

var (
	everyone    = allowed(nil)
	anyStaff    = allowed{admin: true, workerA: true, workerB: true, workerBA: true, groupAdminA: true, groupAdminB: true, healthFeed: true}
	office      = allowed{admin: true}
	gridA       = allowed{admin: true, workerA: true, workerBA: true}
	groupReader = allowed{admin: true, workerA: true, workerBA: true, groupAdminA: true}
	groupManage = allowed{admin: true, groupAdminA: true}
	feeders     = allowed{admin: true, healthFeed: true}
)

// accessRule is a route's rule and a request that exercises it: what a
// caller allowed sends gets past the access check, whatever else it says.
type accessRule struct {
	who     func(f accessFixture) allowed
	path    func(f accessFixture) string // with the query
	ctype   string
	body    func(f accessFixture) string
	exempt2 string // why the district admin's call may answer other than 2xx
}

func fixed(a allowed) func(accessFixture) allowed { return func(accessFixture) allowed { return a } }
func at(p string) func(accessFixture) string      { return func(accessFixture) string { return p } }

// accessRules has a rule for every route the local system serves: a
// route added without one fails TestEveryRouteEveryRole.
var accessRules = map[string]accessRule{
	"GET /{$}":                        {who: fixed(everyone), path: at("/")},
	"GET /r":                          {who: fixed(everyone), path: at("/r")},
	"GET /r/{gridCode}":               {who: fixed(everyone), path: func(f accessFixture) string { return "/r/" + f.gridA }},
	"GET /join/{groupId}":             {who: fixed(everyone), path: func(f accessFixture) string { return "/join/" + f.groupA }},
	"GET /console":                    {who: fixed(everyone), path: at("/console")},
	"GET /group":                      {who: fixed(everyone), path: at("/group")},
	"GET /dashboard":                  {who: fixed(everyone), path: at("/dashboard")},
	"GET /admin/posters":              {who: fixed(everyone), path: at("/admin/posters")},
	"GET /assets/{file}":              {who: fixed(everyone), path: at("/assets/gc.js")},
	"GET /dev/sms":                    {who: fixed(everyone), path: at("/dev/sms")},
	"GET /healthz":                    {who: fixed(everyone), path: at("/healthz")},
	"GET /v1/grids":                   {who: fixed(everyone), path: at("/v1/grids")},
	"GET /v1/areas":                   {who: fixed(everyone), path: at("/v1/areas")},
	"GET /v1/qr.png":                  {who: fixed(everyone), path: at("/v1/qr.png")},
	"GET /v1/grids/{gridCode}/qr.png": {who: fixed(everyone), path: func(f accessFixture) string { return "/v1/grids/" + f.gridA + "/qr.png" }},
	"GET /v1/risk-areas":              {who: fixed(everyone), path: at("/v1/risk-areas")},
	"GET /v1/guidance":                {who: fixed(everyone), path: at("/v1/guidance")},
	"GET /v1/groups/{groupId}/join":   {who: fixed(everyone), path: func(f accessFixture) string { return "/v1/groups/" + f.groupA + "/join" }},
	"POST /v1/reports": {who: fixed(everyone), path: at("/v1/reports"), ctype: "application/json",
		body: func(accessFixture) string { return mustJSON(submission()) }},
	"POST /v1/grids/{gridCode}/reports": {who: fixed(everyone), path: func(f accessFixture) string { return "/v1/grids/" + f.gridA + "/reports" },
		ctype: "application/json", body: func(accessFixture) string { return mustJSON(submission()) }},
	"POST /v1/groups/{groupId}/join": {who: fixed(everyone), path: func(f accessFixture) string { return "/v1/groups/" + f.groupA + "/join" },
		ctype: "application/json", body: at(`{"name":"王五","idNumber":"` + residentID("44070319850505005") + `"}`)},

	"GET /v1/me": {who: fixed(anyStaff), path: at("/v1/me")},
	"PUT /v1/risk-areas": {who: fixed(office), path: at("/v1/risk-areas"), ctype: "application/json",
		body: at(`[{"areaCode":"110105","level":"high","from":"2022-12-01"}]`)},
	"PUT /v1/guidance": {who: fixed(office), path: at("/v1/guidance"), ctype: "application/json",
		body: func(f accessFixture) string { return f.guidance }},
	"GET /v1/stats":                              {who: fixed(office), path: at("/v1/stats")},
	"GET /v1/audit":                              {who: fixed(office), path: at("/v1/audit?actor=access-test")},
	"POST /v1/refresh/run":                       {who: fixed(office), path: func(f accessFixture) string { return "/v1/refresh/run?date=" + f.today }, exempt2: "a day already planned and running answers 409"},
	"GET /v1/refresh/runs/{date}":                {who: fixed(office), path: func(f accessFixture) string { return "/v1/refresh/runs/" + f.today }},
	"GET /v1/registry/imports/{importId}":        {who: fixed(office), path: func(f accessFixture) string { return "/v1/registry/imports/" + f.importID }},
	"GET /v1/registry/imports/{importId}/errors": {who: fixed(office), path: func(f accessFixture) string { return "/v1/registry/imports/" + f.importID + "/errors" }},
	"GET /v1/lists":                              {who: fixed(office), path: at("/v1/lists")},
	"POST /v1/lists":                             {who: fixed(office), path: at("/v1/lists?name=access&kind=nat"), ctype: "text/csv", body: at("姓名,证件号码,社区\n赵六," + residentID("44070319700101006") + ",石冲社区\n")},
	"POST /v1/reconcile": {who: fixed(office), path: at("/v1/reconcile"), ctype: "application/json",
		body: func(f accessFixture) string { return `{"listA":"` + f.listID + `","listB":"registry"}` }},
	"GET /v1/reconcile/{reconciliationId}": {who: fixed(office), path: func(f accessFixture) string { return "/v1/reconcile/" + f.reconciliationID }},
	"POST /v1/health/updates": {who: fixed(feeders), path: at("/v1/health/updates"), ctype: "application/json",
		body: at(`{"updates":[{"idType":"resident_id","idNumber":"` + residentID("44070319700101006") + `","codeColor":"green","updatedAt":"2022-12-05T01:00:00Z"}]}`)},

	"GET /v1/grids/{gridCode}/reports":           {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/grids/" + f.gridA + "/reports" }},
	"GET /v1/reports/{reportId}":                 {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/reports/" + f.reportID }},
	"GET /v1/grids/{gridCode}/followups/overdue": {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/grids/" + f.gridA + "/followups/overdue" }},
	"POST /v1/reports/{reportId}/followups": {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/reports/" + f.reportID + "/followups" },
		ctype: "application/json", body: at(`{"outcome":"unreachable","note":"无人接听"}`), exempt2: "a follow-up names the version it was recorded against; the second one meets a newer version"},
	"GET /v1/followups/escalated": {who: func(f accessFixture) allowed {
		if f.leadA {
			return gridA
		}
		return office
	}, path: func(f accessFixture) string {
		return "/v1/followups/escalated?community=" + url.QueryEscape(f.communityA)
	}},
	"GET /v1/grids/{gridCode}/tasks": {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/grids/" + f.gridA + "/tasks" }},
	"GET /v1/tasks/{taskId}":         {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/tasks/" + f.taskID }},
	"POST /v1/tasks/{taskId}/visits": {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/tasks/" + f.taskID + "/visits" },
		ctype: "application/json", body: at(`{"outcome":"not_home_note_left","notePhone":"13926080000"}`)},
	"GET /v1/registry/search": {who: fixed(gridA), path: func(f accessFixture) string {
		return "/v1/registry/search?" + url.Values{"name": {"陈永健"}, "community": {f.communityA}}.Encode()
	}},
	"POST /v1/groups": {who: fixed(gridA), path: at("/v1/groups"), ctype: "application/json",
		body: func(f accessFixture) string {
			return `{"name":"访问测试商店","kind":"supermarket","address":"新塘里8号","gridCode":"` + f.gridA + `","admin":{"name":"店长","phone":"13800138009"}}`
		}, exempt2: "the second registration of one place answers 409 group_exists"},
	"GET /v1/grids/{gridCode}/groups": {who: fixed(gridA), path: func(f accessFixture) string { return "/v1/grids/" + f.gridA + "/groups" }},

	"GET /v1/groups/{groupId}":        {who: fixed(groupReader), path: func(f accessFixture) string { return "/v1/groups/" + f.groupA }},
	"GET /v1/groups/{groupId}/qr.png": {who: fixed(groupReader), path: func(f accessFixture) string { return "/v1/groups/" + f.groupA + "/qr.png" }},
	"GET /v1/groups/{groupId}/daily": {who: fixed(groupReader), path: func(f accessFixture) string { return "/v1/groups/" + f.groupA + "/daily" },
		exempt2: "the group was registered after today's 06:00 list: 404 until tomorrow"},
	"GET /v1/groups/{groupId}/members": {who: fixed(groupManage), path: func(f accessFixture) string { return "/v1/groups/" + f.groupA + "/members" }},
	"PUT /v1/groups/{groupId}/members": {who: fixed(groupManage), path: func(f accessFixture) string { return "/v1/groups/" + f.groupA + "/members" },
		ctype: "text/csv", body: at("姓名,身份证号码\n张三,11010519491231002X\n")},
	"POST /v1/groups/{groupId}/members/{memberId}/approve": {who: fixed(groupManage),
		path: func(f accessFixture) string { return "/v1/groups/" + f.groupA + "/members/" + f.memberID + "/approve" }},
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Every route × every role × own and other scope: who is not signed in
// gets 401 from a staff route, who may not gets 403, who may gets past the
// check (and the district office, asking first, a 2xx); a public route is
// open to all.
func TestEveryRouteEveryRole(t *testing.T) {
	t.Parallel()
	e := start(t)
	f := e.accessFixture()
	issue := func(p auth.Principal) string {
		p.Subject, p.Expires = "access-test", testNow.Add(time.Hour)
		tok, err := e.sys.Issuer.Issue(p)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	const groupB = "GZZZZZZZZ"
	// Denied callers go first so they cannot change what the allowed find;
	// the district office goes first of the allowed, for its 2xx.
	callers := []caller{
		{anonymous, ""},
		{workerB, issue(auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids(f.gridB)})},
		{groupAdminB, issue(auth.Principal{Role: auth.GroupAdmin, Group: groupB})},
		{healthFeed, issue(auth.Principal{Role: auth.HealthFeed})},
		{admin, issue(auth.Principal{Role: auth.DistrictAdmin})},
		{workerA, issue(auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids(f.gridA)})},
		{groupAdminA, issue(auth.Principal{Role: auth.GroupAdmin, Group: f.groupA})},
		{workerBA, issue(auth.Principal{Role: auth.GridWorker, Grids: []string{f.gridB, f.gridA}})},
	}
	routes := slices.Clone(e.sys.Routes)
	slices.Sort(routes)
	checked := 0
	for _, route := range routes {
		rule, ok := accessRules[route]
		if !ok {
			t.Errorf("%s has no access rule: add it to accessRules", route)
			continue
		}
		method, _, _ := strings.Cut(route, " ")
		who := rule.who(f)
		for _, c := range callers {
			var body *strings.Reader
			if rule.body != nil {
				body = strings.NewReader(rule.body(f))
			} else {
				body = strings.NewReader("")
			}
			status, _, raw := e.fetch(method, rule.path(f), rule.ctype, c.token, body)
			checked++
			switch {
			case who == nil:
				if status == 401 || status == 403 || status >= 500 {
					t.Errorf("%s (public) for %s: %d %s", route, c.name, status, raw)
				}
			case c.token == "":
				if status != 401 {
					t.Errorf("%s without a token: %d, want 401", route, status)
				}
			case who[c.name]:
				if status == 401 || status == 403 || status >= 500 {
					t.Errorf("%s for %s, who may: %d %s", route, c.name, status, raw)
				}
				if c.name == admin && (status < 200 || status > 299) && rule.exempt2 == "" {
					t.Errorf("%s for the district office: %d %s, want 2xx", route, status, raw)
				}
			default:
				if status != 403 {
					t.Errorf("%s for %s, who may not: %d %s, want 403", route, c.name, status, raw)
				}
			}
		}
	}
	for route := range accessRules {
		if !slices.Contains(routes, route) {
			t.Errorf("accessRules has %s, which the system does not serve", route)
		}
	}
	t.Logf("%d routes × %d callers: %d requests checked", len(routes), len(callers), checked)
}

// The routes open to everyone here are httpapi.PublicRoutes, the ones the
// cloud's template leaves without the JWT authorizer (infra/samtemplate
// checks that side), and the local outbox page, which the cloud has not.
func TestPublicRoutesAreTheCloudsPublicRoutes(t *testing.T) {
	t.Parallel()
	var open []string
	for route, rule := range accessRules {
		if rule.who(accessFixture{}) == nil && route != "GET /dev/sms" {
			open = append(open, route)
		}
	}
	slices.Sort(open)
	want := slices.Sorted(slices.Values(httpapi.PublicRoutes))
	if !slices.Equal(open, want) {
		t.Errorf("public routes here %q\nhttpapi.PublicRoutes %q", open, want)
	}
}

// accessFixture makes one of everything in scope A: a task from a
// reconciled list (its grid is grid A), a report and a group in grid A, a
// pending self-join, a registry import and a planned refresh.
func (e *env) accessFixture() accessFixture {
	t := e.t
	t.Helper()
	ctx := context.Background()
	office := e.token(auth.DistrictAdmin, "")
	f := accessFixture{today: dates.Today(testNow)}

	list := "姓名,证件号码,社区,地址\n林晓东," + residentID("44070319950317123") + ",石冲社区,长庚里12号\n"
	var up struct {
		List struct {
			ID string `json:"listId"`
		} `json:"list"`
	}
	if status := e.do("POST", "/v1/lists?name=fixture&kind=nat", "text/csv", office, strings.NewReader(list), &up); status != 201 {
		t.Fatalf("fixture list: %d", status)
	}
	f.listID = up.List.ID
	rec := e.reconcile(office, map[string]string{"listA": f.listID, "listB": "registry"})
	if rec.Created != 1 {
		t.Fatalf("fixture reconciliation: %+v", rec)
	}
	f.reconciliationID = rec.ID
	var grids []struct{ GridCode, Community string }
	e.do("GET", "/v1/grids", "", "", nil, &grids)
	for _, g := range grids {
		var ts struct{ Tasks []taskView }
		if g.Community == "石冲社区" && e.do("GET", "/v1/grids/"+g.GridCode+"/tasks", "", office, nil, &ts) == 200 && len(ts.Tasks) == 1 {
			f.gridA, f.taskID = g.GridCode, ts.Tasks[0].TaskID
		}
	}
	if f.taskID == "" {
		t.Fatal("the fixture's task is in no grid of 石冲社区")
	}
	lead := ""
	for _, g := range grids {
		if g.GridCode == f.gridA {
			f.communityA = g.Community
		}
	}
	for _, g := range grids {
		if g.Community == f.communityA && (lead == "" || g.GridCode < lead) {
			lead = g.GridCode
		}
		if g.Community != f.communityA && f.gridB == "" {
			f.gridB = g.GridCode
		}
	}
	f.leadA = lead == f.gridA

	var r receipt
	if status := e.send("POST", "/v1/grids/"+f.gridA+"/reports", "", submission(), &r); status != 201 {
		t.Fatalf("fixture report: %d", status)
	}
	f.reportID = r.ReportID

	var g struct{ GroupID string }
	reg := map[string]any{"name": "访问测试便利店", "kind": "supermarket", "address": "新塘里100号", "gridCode": f.gridA,
		"admin": map[string]string{"name": "店长", "phone": "13800138001"}}
	if status := e.send("POST", "/v1/groups", office, reg, &g); status != 201 {
		t.Fatalf("fixture group: %d", status)
	}
	f.groupA = g.GroupID
	if status := e.send("POST", "/v1/groups/"+f.groupA+"/join", "", map[string]string{"name": "李四", "idNumber": groupJoinerID}, nil); status != 202 {
		t.Fatalf("fixture join: %d", status)
	}
	var roster struct {
		Pending []struct{ MemberID string }
	}
	e.do("GET", "/v1/groups/"+f.groupA+"/members", "", office, nil, &roster)
	if len(roster.Pending) != 1 {
		t.Fatalf("fixture pending join: %+v", roster)
	}
	f.memberID = roster.Pending[0].MemberID

	path := filepath.Join(t.TempDir(), "registry.csv")
	file := "姓名,证件号码,社区,地址,人员类型\n张三," + residentID("44070319800101001") + ",石冲社区,新塘里1号,常住\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	imp, err := e.sys.ImportRegistry(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.importID = imp.ID

	_, _, raw := e.fetch("GET", "/v1/guidance", "", "", nil)
	f.guidance = string(raw)
	if status := e.do("POST", "/v1/refresh/run?date="+f.today, "", office, nil, nil); status != 202 && status != 409 {
		t.Fatalf("fixture refresh: %d", status)
	}
	return f
}
