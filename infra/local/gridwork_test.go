package local

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/report"
)

type found struct {
	PersonKey string   `json:"personKey"`
	Name      string   `json:"name"`
	IDNumber  string   `json:"idNumber"`
	Phone     string   `json:"phone"`
	Community string   `json:"community"`
	Address   string   `json:"address"`
	GridCode  string   `json:"gridCode"`
	Matched   []string `json:"matched"`
}

func (e *env) search(token string, q url.Values) (int, []found) {
	e.t.Helper()
	var out struct {
		Results []found `json:"results"`
	}
	status := e.do("GET", "/v1/registry/search?"+q.Encode(), "", token, nil, &out)
	return status, out.Results
}

// The wrong-address case of the source article, on the demo registry: two
// people say they live at 长庚里96号 in 石冲社区; the registry has them at
// 新塘里96号. A grid worker of 石冲 finds them by name at the address they
// gave, masked, and the read is audited.
func TestRegistrySearchFindsTheNearMiss(t *testing.T) {
	t.Parallel()
	e := start(t)
	admin := e.token(auth.DistrictAdmin, "")
	status, res := e.search(admin, url.Values{"name": {"陈永健"}, "community": {"石冲"}, "address": {"长庚里96号"}})
	if status != 200 || len(res) == 0 {
		t.Fatalf("district search: %d %+v", status, res)
	}
	top := res[0]
	if top.Name != "陈永健" || top.Address != "新塘里96号" || top.Community != "石冲社区" {
		t.Fatalf("top result %+v, want 陈永健 at 新塘里96号 in 石冲社区", top)
	}
	if !strings.Contains(top.IDNumber, "*") || top.Phone != "139****1234" {
		t.Errorf("result not masked: %+v", top)
	}

	worker := e.token(auth.GridWorker, top.GridCode)
	for _, q := range []url.Values{
		{"name": {"陈永健"}, "community": {"石冲社区"}, "address": {"长庚里96号"}},
		{"name": {"chenyongjian"}, "community": {"石冲社区"}},
		{"name": {"cyj"}, "community": {"石冲社区"}, "address": {"新塘里96号"}},
		{"phoneLast4": {"1234"}, "community": {"石冲社区"}, "address": {"96号"}},
	} {
		status, res := e.search(worker, q)
		if status != 200 || len(res) == 0 || res[0].PersonKey != top.PersonKey {
			t.Errorf("worker search %v: %d, top %+v; want %s", q, status, first(res), top.PersonKey)
		}
	}
	// A worker of another community neither searches 石冲 nor finds its people.
	other := e.token(auth.GridWorker, otherGrid)
	if status, _ := e.search(other, url.Values{"name": {"陈永健"}, "community": {"石冲社区"}}); status != 403 {
		t.Errorf("other community's worker searching 石冲: %d, want 403", status)
	}
	if status, res := e.search(other, url.Values{"name": {"陈永健"}}); status != 200 || containsKey(res, top.PersonKey) {
		t.Errorf("other community's worker found 石冲's person: %d %+v", status, res)
	}
	if status, _ := e.search(worker, url.Values{"address": {"新塘里96号"}}); status != 400 {
		t.Errorf("search without name, phone or ID: %d, want 400", status)
	}
	records, err := e.sys.Store.ByPerson(context.Background(), top.PersonKey)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, r := range records {
		if r.Action == "registry.search_result" && r.PersonKey == top.PersonKey && r.From != "" {
			roles[r.Role]++
		}
	}
	if roles["district_admin"] != 1 || roles["grid_worker"] != 4 {
		t.Errorf("audit of the person: %+v, want one record per result shown", records)
	}
}

func first(res []found) found {
	if len(res) == 0 {
		return found{}
	}
	return res[0]
}

func containsKey(res []found, key string) bool {
	for _, r := range res {
		if r.PersonKey == key {
			return true
		}
	}
	return false
}

type taskView struct {
	TaskID   string `json:"taskId"`
	GridCode string `json:"gridCode"`
	Reason   string `json:"reason"`
	Status   string `json:"status"`
	DueOn    string `json:"dueOn"`
	Evidence struct {
		Name     string `json:"name"`
		IDNumber string `json:"idNumber"`
		Place    string `json:"place"`
	} `json:"evidence"`
	Visits []struct {
		Outcome   string `json:"outcome"`
		NotePhone string `json:"notePhone"`
	} `json:"visits"`
}

// A NAT list against the registry: the tested-but-unregistered become
// tasks in their grid (or the district pool), the grid worker knocks, and
// a person found at the door joins the registry.
func TestReconcileToDoorKnocking(t *testing.T) {
	t.Parallel()
	e := start(t)
	admin := e.token(auth.DistrictAdmin, "")
	registered := BriefCase[0][2]
	stranger := residentID("44070319950317123")
	nowhere := residentID("44070319960418124")
	list := "姓名,证件号码,社区,地址,检测点\n" +
		"陈永健," + registered + ",石冲社区,新塘里96号,石冲小学\n" +
		"林晓东," + stranger + ",石冲社区,长庚里12号,石冲小学\n" +
		"周海燕," + nowhere + ",不存在村,,江门站\n" +
		"错号人,440703199503171230,石冲社区,,石冲小学\n"
	var up struct {
		List struct {
			ID   string `json:"listId"`
			Rows int    `json:"rows"`
			Bad  int    `json:"bad"`
		} `json:"list"`
		RowErrors []struct {
			Line   int    `json:"line"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"rowErrors"`
	}
	status := e.do("POST", "/v1/lists?name="+url.QueryEscape("12月5日全员核酸")+"&kind=nat", "text/csv", admin, strings.NewReader(string(gb18030(t, list))), &up)
	if status != 201 || up.List.Rows != 3 || up.List.Bad != 1 || len(up.RowErrors) != 1 || up.RowErrors[0].Line != 5 {
		t.Fatalf("upload: %d %+v", status, up)
	}
	if status := e.do("POST", "/v1/lists?name=x&kind=nat", "application/json", admin, strings.NewReader(list), nil); status != 415 {
		t.Errorf("a list sent as JSON: %d, want 415", status)
	}
	if status := e.do("POST", "/v1/lists?name=x&kind=nat", "text/csv", e.token(auth.GridWorker, demoGrid), strings.NewReader(list), nil); status != 403 {
		t.Errorf("grid worker uploading a list: %d, want 403", status)
	}

	body := map[string]string{"listA": up.List.ID, "listB": "registry"}
	if rec := e.reconcile(admin, body); rec.Status != "done" || rec.Missing != 2 || rec.Created != 2 || rec.ToPool != 1 {
		t.Fatalf("reconcile: %+v, want done, 2 missing, 2 tasks, 1 in the pool", rec)
	}
	if rec := e.reconcile(admin, body); rec.Status != "done" || rec.Missing != 2 || rec.Created != 0 {
		t.Fatalf("reconcile again: %+v, want no new task", rec)
	}
	if status := e.send("POST", "/v1/reconcile", admin, map[string]string{"listA": up.List.ID, "listB": "nope"}, nil); status != 404 {
		t.Errorf("reconcile with an unknown list: %d, want 404", status)
	}
	if status := e.do("GET", "/v1/reconcile/c-nope", "", admin, nil, nil); status != 404 {
		t.Errorf("an unknown reconciliation: %d, want 404", status)
	}
	var bad apiError
	if status := e.send("POST", "/v1/reconcile", admin, map[string]string{"listA": up.List.ID, "listB": "registry", "direction": "sideways"}, &bad); status != 400 || bad.Fields[0].Field != "direction" {
		t.Errorf("bad direction: %d %+v", status, bad)
	}

	// The stranger's task is in a grid of 石冲社区: find it from the pool's
	// complement by asking every grid of the community.
	var pool struct{ Tasks []taskView }
	e.do("GET", "/v1/grids/unassigned/tasks", "", admin, nil, &pool)
	if len(pool.Tasks) != 1 || pool.Tasks[0].Evidence.Name != "周海燕" || pool.Tasks[0].Reason != "not_in_registry" {
		t.Fatalf("district pool: %+v", pool.Tasks)
	}
	var task taskView
	for _, g := range []string{"440703006107-01", "440703006107-02", "440703006107-03", "440703006107-04"} {
		var ts struct{ Tasks []taskView }
		if e.do("GET", "/v1/grids/"+g+"/tasks", "", e.token(auth.GridWorker, g), nil, &ts) == 200 && len(ts.Tasks) == 1 {
			task = ts.Tasks[0]
		}
	}
	if task.Evidence.Name != "林晓东" || task.Status != "open" || !strings.Contains(task.Evidence.IDNumber, "*") || task.Evidence.Place != "石冲小学" {
		t.Fatalf("石冲's task: %+v", task)
	}
	worker := e.token(auth.GridWorker, task.GridCode)
	if status := e.do("GET", "/v1/tasks/"+task.TaskID, "", e.token(auth.GridWorker, otherGrid), nil, nil); status != 403 {
		t.Errorf("another grid's worker reading the task: %d, want 403", status)
	}

	var after taskView
	if status := e.send("POST", "/v1/tasks/"+task.TaskID+"/visits", worker, map[string]any{"outcome": "not_home_note_left", "notePhone": "+86 139 2608 0000"}, &after); status != 201 || after.Status != "revisit" || after.DueOn != "2022-12-06" || after.Visits[0].NotePhone != "139****0000" {
		t.Fatalf("note left: %d %+v", status, after)
	}
	if status := e.send("POST", "/v1/tasks/"+task.TaskID+"/visits", worker, map[string]any{"outcome": "not_home_note_left"}, &bad); status != 400 || bad.Fields[0].Field != "notePhone" {
		t.Errorf("note without a phone: %d %+v", status, bad)
	}
	newcomer := map[string]any{
		"name": "林晓东", "idType": "resident_id", "idNumber": stranger, "phone": "13926080000",
		"community": "石冲社区", "address": "长庚里12号", "residentType": "floating",
	}
	if status := e.send("POST", "/v1/tasks/"+task.TaskID+"/visits", worker, map[string]any{"outcome": "new_person_found", "newPerson": newcomer}, &after); status != 201 || after.Status != "closed" || len(after.Visits) != 2 {
		t.Fatalf("new person found: %d %+v", status, after)
	}
	if status := e.send("POST", "/v1/tasks/"+task.TaskID+"/visits", worker, map[string]any{"outcome": "moved_out"}, &bad); status != 409 || bad.Error != "already_closed" {
		t.Errorf("visit of a closed task: %d %+v", status, bad)
	}
	status, res := e.search(worker, url.Values{"name": {"林晓东"}, "community": {"石冲社区"}})
	if status != 200 || len(res) == 0 || res[0].Address != "长庚里12号" {
		t.Errorf("the person found at the door is not in the registry: %d %+v", status, res)
	}
	// Reconciling again finds them registered now.
	if rec := e.reconcile(admin, body); rec.Status != "done" || rec.Missing != 1 {
		t.Errorf("reconcile after the visit: %+v, want only the pool's person missing", rec)
	}
}

// reconciliationView is a reconciliation as the API answers it.
type reconciliationView struct {
	ID      string `json:"reconciliationId"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Missing int    `json:"missing"`
	Created int    `json:"created"`
	ToPool  int    `json:"toPool"`
}

// reconcile starts a reconciliation and waits for its job to end, asking
// where the 202's Location says. The deadline is generous: it only stops a
// job that never ends.
func (e *env) reconcile(token string, body map[string]string) reconciliationView {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	status, header, raw := e.fetch("POST", "/v1/reconcile", "application/json", token, bytes.NewReader(b))
	var rec reconciliationView
	if status != 202 || json.Unmarshal(raw, &rec) != nil || rec.Status != "running" {
		e.t.Fatalf("reconcile %v: %d %s, want 202 and a running reconciliation", body, status, raw)
	}
	loc := header.Get("Location")
	if loc != "/v1/reconcile/"+rec.ID {
		e.t.Fatalf("reconcile: Location %q, want /v1/reconcile/%s", loc, rec.ID)
	}
	for deadline := time.Now().Add(2 * time.Minute); rec.Status == "running"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("reconciliation %s still running after 2 minutes", rec.ID)
		}
		if status := e.do("GET", loc, "", token, nil, &rec); status != 200 {
			e.t.Fatalf("GET %s: %d", loc, status)
		}
	}
	return rec
}

// clockEnv is an env whose clock the test moves.
type clockEnv struct {
	*env
	mu  sync.Mutex
	now time.Time
}

func (c *clockEnv) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// token is valid at the moved clock.
func (c *clockEnv) token(role auth.Role, grid string) string {
	c.t.Helper()
	tok, err := c.sys.Issuer.Issue(auth.Principal{Subject: "t", Role: role, Grids: auth.ParseGrids(grid), Expires: c.Now().Add(time.Hour)})
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

func (c *clockEnv) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A report's first contact is due in 24 h; past it the report is overdue
// for its grid worker, past one more step escalated to the community, and
// the district's numbers count it.
func TestFollowUpDeadlinesAndStats(t *testing.T) {
	t.Parallel()
	c := &clockEnv{now: testNow}
	sys, err := Open(context.Background(), t.TempDir(), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	c.env = startWith(t, sys)

	var first, second receipt
	if code := c.postJSON("/v1/reports", submission(), &first); code != 201 {
		t.Fatalf("submit: %d", code)
	}
	s := submission()
	s["idNumber"] = residentID("44070319900101555")
	s["name"] = "李四"
	// Low risk: 24 h to first contact, then 24 h steps.
	s["fromAreaCode"] = "440105"
	s["itinerary"] = []map[string]string{{"areaCode": "440105", "date": "2022-12-03"}}
	if code := c.postJSON("/v1/reports", s, &second); code != 201 || second.RiskLevel != "low" || first.RiskLevel != "high" {
		t.Fatalf("submit: %d %+v %+v", code, first, second)
	}
	var state struct {
		Status         string    `json:"status"`
		FirstContactAt time.Time `json:"firstContactAt"`
		Version        int       `json:"version"`
	}
	c.advance(2 * time.Hour)
	worker := c.token(auth.GridWorker, first.GridCode)
	if code := c.send("POST", "/v1/reports/"+first.ReportID+"/followups", worker, map[string]string{"outcome": "contacted"}, &state); code != 201 || state.Status != report.StatusInProgress || state.FirstContactAt.IsZero() || state.Version != 1 {
		t.Fatalf("contacted: %d %+v", code, state)
	}
	var bad apiError
	if code := c.send("POST", "/v1/reports/"+first.ReportID+"/followups", worker, map[string]string{"outcome": "wrong_grid"}, &bad); code != 400 {
		t.Errorf("wrong_grid without a grid: %d %+v", code, bad)
	}
	if code := c.send("POST", "/v1/reports/"+first.ReportID+"/followups", c.token(auth.GridWorker, otherGrid), map[string]string{"outcome": "closed"}, nil); code != 403 {
		t.Errorf("another grid's worker closing: %d, want 403", code)
	}

	var overdue struct {
		Overdue []struct {
			ReportID   string `json:"reportId"`
			Escalation string `json:"escalation"`
		} `json:"overdue"`
	}
	c.do("GET", "/v1/grids/"+first.GridCode+"/followups/overdue", "", worker, nil, &overdue)
	if len(overdue.Overdue) != 0 {
		t.Fatalf("overdue before the deadline: %+v", overdue)
	}
	c.advance(23 * time.Hour) // 25 h after submission
	c.do("GET", "/v1/grids/"+first.GridCode+"/followups/overdue", "", c.token(auth.GridWorker, first.GridCode), nil, &overdue)
	if len(overdue.Overdue) != 1 || overdue.Overdue[0].ReportID != second.ReportID || overdue.Overdue[0].Escalation != "overdue" {
		t.Fatalf("overdue after 25 h: %+v, want the uncontacted report", overdue)
	}
	admin := c.token(auth.DistrictAdmin, "")
	var escalated struct {
		Escalated []struct {
			ReportID   string `json:"reportId"`
			Escalation string `json:"escalation"`
		} `json:"escalated"`
	}
	c.do("GET", "/v1/followups/escalated", "", admin, nil, &escalated)
	if len(escalated.Escalated) != 0 {
		t.Fatalf("escalated after 25 h: %+v", escalated)
	}
	c.advance(24 * time.Hour) // one step later
	c.do("GET", "/v1/followups/escalated?level=community", "", c.token(auth.DistrictAdmin, ""), nil, &escalated)
	if len(escalated.Escalated) != 1 || escalated.Escalated[0].Escalation != "community" {
		t.Fatalf("escalated after 49 h: %+v, want the report at the community", escalated)
	}

	var st struct {
		Days []struct {
			Date  string `json:"date"`
			Total int    `json:"total"`
		} `json:"days"`
		Grids []struct {
			GridCode string `json:"gridCode"`
			Pending  int    `json:"pending"`
			Overdue  int    `json:"overdue"`
		} `json:"grids"`
		FirstContact struct {
			Count  int     `json:"count"`
			Median float64 `json:"medianMinutes"`
		} `json:"firstContact"`
	}
	raw := c.do("GET", "/v1/stats?from=2022-12-05&to=2022-12-07", "", c.token(auth.DistrictAdmin, ""), nil, &st)
	if raw != 200 || len(st.Days) != 3 || st.Days[0].Total != 2 || st.FirstContact.Count != 1 || st.FirstContact.Median != 120 {
		t.Fatalf("stats: %d %+v", raw, st)
	}
	seen := false
	for _, g := range st.Grids {
		if g.GridCode == first.GridCode {
			seen = true
			if g.Pending != 2 || g.Overdue != 1 {
				t.Errorf("grid %s: %+v, want 2 pending, 1 overdue", g.GridCode, g)
			}
		}
	}
	if !seen {
		t.Errorf("stats list no grid %s: %+v", first.GridCode, st.Grids)
	}
	if code := c.do("GET", "/v1/stats?from=2022-12-09&to=2022-12-01", "", c.token(auth.DistrictAdmin, ""), nil, &bad); code != 400 {
		t.Errorf("stats with to before from: %d", code)
	}
}

// A data dir from before the registry gets the demo registry on its next
// start, once.
func TestOlderDataDirGetsTheDemoRegistry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := func() time.Time { return testNow }
	sys, err := Open(context.Background(), dir, now)
	if err != nil {
		t.Fatal(err)
	}
	sys.Close()
	// As the group-code release left it: seeded, no registry file.
	if err := os.Remove(filepath.Join(dir, DemoRegistryFile)); err != nil {
		t.Fatal(err)
	}
	sys, err = Open(context.Background(), dir, now)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if sys.Seeded {
		t.Error("the second start seeded the district again")
	}
	keys, err := sys.Store.PersonKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != DemoPeople+len(BriefCase) {
		t.Errorf("registry has %d people, want %d", len(keys), DemoPeople+len(BriefCase))
	}
	if _, err := os.Stat(filepath.Join(dir, DemoRegistryFile)); err != nil {
		t.Errorf("the demo registry file was not written again: %v", err)
	}
}
