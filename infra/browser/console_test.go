package browser

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"gridcode/infra/local"
	"gridcode/shared/auth"
)

// consoleTask makes one door-knocking task in a grid of 石冲社区 the way
// the office does: a NAT list with someone the registry lacks, reconciled
// against the registry. It returns the task's grid and id.
func consoleTask(t *testing.T, srv *Server, admin string) (gridCode, taskID string) {
	t.Helper()
	list := "姓名,证件号码,社区,地址,检测点\n" +
		"林晓东," + residentID("44070319950317123") + ",石冲社区,长庚里12号,石冲小学\n"
	var up struct {
		List struct {
			ID   string `json:"listId"`
			Rows int    `json:"rows"`
		} `json:"list"`
	}
	path := "/v1/lists?" + url.Values{"name": {"全员核酸"}, "kind": {"nat"}}.Encode()
	if code := apiCall(t, srv, "POST", path, admin, textBody{"text/csv", list}, &up); code != 201 || up.List.Rows != 1 {
		t.Fatalf("upload the list: %d %+v", code, up)
	}
	var rec struct {
		ID      string `json:"reconciliationId"`
		Status  string `json:"status"`
		Created int    `json:"created"`
	}
	if code := apiCall(t, srv, "POST", "/v1/reconcile", admin, map[string]string{"listA": up.List.ID, "listB": "registry"}, &rec); code != 202 {
		t.Fatalf("reconcile: %d", code)
	}
	// The deadline only stops a job that never ends.
	finished := eventually(time.Minute, func() bool {
		if rec.Status == "running" {
			getJSON(t, srv, "/v1/reconcile/"+rec.ID, admin, &rec)
		}
		return rec.Status != "running"
	})
	if !finished {
		t.Fatalf("reconciliation %s still running", rec.ID)
	}
	if rec.Status != "done" || rec.Created != 1 {
		t.Fatalf("reconciliation %+v, want done with one task", rec)
	}
	for _, g := range listGrids(t, srv) {
		if g.Community != "石冲社区" {
			continue
		}
		var page struct {
			Tasks []struct {
				TaskID string `json:"taskId"`
			} `json:"tasks"`
		}
		if apiCall(t, srv, "GET", "/v1/grids/"+g.GridCode+"/tasks", admin, nil, &page) == 200 && len(page.Tasks) == 1 {
			return g.GridCode, page.Tasks[0].TaskID
		}
	}
	t.Fatal("no grid of 石冲社区 holds the task")
	return "", ""
}

// consoleReport posts a report to a grid as its QR code's form does:
// someone arrived today by train from area from (the one stop) at
// 石冲社区.
// It returns the report's id.
func consoleReport(t *testing.T, srv *Server, gridCode, name, id17, phone, from string) string {
	t.Helper()
	return submitReport(t, srv, gridCode, newReport{Name: name, ID17: id17, Phone: phone, From: from,
		Community: "石冲社区", Address: "长庚里3号", Transport: "train"}).ReportID
}

// consoleDialogs records every alert/confirm/prompt the page opens, and closes it.
type consoleDialogs struct {
	mu   sync.Mutex
	seen []string
}

func watchConsoleDialogs(t *testing.T, tab *Tab) *consoleDialogs {
	t.Helper()
	d := &consoleDialogs{}
	err := chromedp.Listen(tab.Ctx, func(ev any) {
		if ev, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			d.mu.Lock()
			d.seen = append(d.seen, fmt.Sprintf("%s: %s", ev.Type, ev.Message))
			d.mu.Unlock()
			go chromedp.Call(tab.Ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *consoleDialogs) check(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.seen) > 0 {
		t.Errorf("the page opened dialogs: %v", d.seen)
	}
}

type consoleReportState struct {
	Status         string    `json:"status"`
	FirstContactAt time.Time `json:"firstContactAt"`
	FollowUps      []struct {
		Outcome string `json:"outcome"`
		Note    string `json:"note"`
	} `json:"followUps"`
}

type consoleTaskState struct {
	Status string `json:"status"`
	DueOn  string `json:"dueOn"`
	Visits []struct {
		Outcome   string `json:"outcome"`
		NotePhone string `json:"notePhone"`
	} `json:"visits"`
}

// A grid worker's day on a phone: the grid's reports, the overdue one
// first and then the high-risk one, a name that is markup shown as text;
// a follow-up recorded (refused first without an outcome); a door knocked
// at for a reconciliation's task (refused first without the note's
// phone); the registry searched for the person at the near-miss address.
func TestConsoleGridWorkerDay(t *testing.T) {
	srv := StartLocal(t)
	ctx := context.Background()
	admin := srv.Token(t, auth.Principal{Role: auth.DistrictAdmin})
	gridCode, taskID := consoleTask(t, srv, admin)

	const markup = "<script>alert(1)</script>"
	high := consoleReport(t, srv, gridCode, markup, "11010519491231002", "+86 138-0013-8000", "440106")
	none := consoleReport(t, srv, gridCode, "王平安", "44070319800101333", "13800138001", "440703")
	late := consoleReport(t, srv, gridCode, "李迟到", "44070319900101555", "13800138002", "440105")
	// The low-risk report's first contact fell due an hour ago.
	rec, err := srv.Store.Get(ctx, late)
	if err != nil {
		t.Fatal(err)
	}
	rec.ContactDue = time.Now().Add(-time.Hour).UTC()
	if err := srv.Store.UpdateFollowUp(ctx, rec, rec.Version); err != nil {
		t.Fatal(err)
	}

	worker := srv.Token(t, auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids(gridCode)})
	tab := NewTab(t)
	seen := watchConsoleDialogs(t, tab)
	tab.Login(t, srv.URL, worker)
	tab.Do(t, "open the console", chromedp.Navigate(srv.URL+"/console"))
	tab.WaitFor(t, "three reports", `document.querySelectorAll("#reports > li").length === 3`)

	order := Eval[[]string](t, tab, `[...document.querySelectorAll("#reports > li")].map((li) => li.dataset.reportId)`)
	if want := []string{late, high, none}; strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("reports in order %v, want overdue %s, high risk %s, then %s", order, late, high, none)
	}
	if cls := Eval[string](t, tab, `document.querySelector("#reports > li").className`); !strings.Contains(cls, "overdue") {
		t.Errorf("the overdue report is not marked: class %q", cls)
	}
	item := fmt.Sprintf(`#reports > li[data-report-id=%q]`, high)
	if name := Eval[string](t, tab, `document.querySelector('`+item+` .cs-name').textContent`); name != markup {
		t.Errorf("name shown as %q, want the literal %q", name, markup)
	}
	if n := Eval[int](t, tab, `document.querySelectorAll("#main script").length`); n != 0 {
		t.Errorf("%d script elements in the page's content", n)
	}
	if text := Eval[string](t, tab, `document.querySelector('`+item+`').innerText`); !strings.Contains(text, "高风险") || !strings.Contains(text, "138****8000") || strings.Contains(text, "13800138000") {
		t.Errorf("high-risk report shows %q: want its risk and the masked phone only", text)
	}
	if text := Eval[string](t, tab, `document.getElementById("reports-summary").textContent`); !strings.Contains(text, "逾期 1") || !strings.Contains(text, "高风险 1") {
		t.Errorf("summary %q", text)
	}
	shotsFromTop(t, tab, "console-reports")

	// Follow up the high-risk report: no outcome is refused next to the
	// choices, then 已联系本人 with a note.
	tab.Do(t, "open the follow-up", chromedp.Click(chromedp.CSS(item+" .cs-toggle")))
	tab.WaitFor(t, "the follow-up form", `document.querySelector('`+item+` form.cs-form') !== null`)
	tab.Do(t, "submit without an outcome", chromedp.Click(chromedp.CSS(item+" form button[type=submit]")))
	tab.WaitFor(t, "the outcome refused", `document.querySelector('`+item+` [data-error-for=outcome]').textContent !== ""`)
	tab.Do(t, "record contacted",
		chromedp.Click(chromedp.CSS(item+" input[value=contacted]")),
		chromedp.SendKeys(chromedp.CSS(item+" textarea[name=note]"), "已电话联系,明日核酸"),
		chromedp.Click(chromedp.CSS(item+" form button[type=submit]")))
	tab.WaitFor(t, "the follow-up listed", `(document.getElementById("followups-`+high+`")?.textContent ?? "").includes("已联系本人")`)
	if text := Eval[string](t, tab, `document.querySelector('`+item+` .cs-item-head').textContent`); !strings.Contains(text, "跟进中") {
		t.Errorf("after contact the report's head says %q, want 跟进中", text)
	}
	shotsFromTop(t, tab, "console-followup")
	var after consoleReportState
	if code := apiCall(t, srv, "GET", "/v1/reports/"+high, worker, nil, &after); code != 200 || after.Status != "in_progress" ||
		after.FirstContactAt.IsZero() || len(after.FollowUps) != 1 || after.FollowUps[0].Outcome != "contacted" || after.FollowUps[0].Note != "已电话联系,明日核酸" {
		t.Errorf("report after the follow-up: %d %+v", code, after)
	}

	// Knock at the task's door: nobody home, a note left.
	tab.Do(t, "open the tasks", chromedp.Click(chromedp.ID("tab-tasks")))
	tab.WaitFor(t, "the task", `document.querySelectorAll("#tasks > li").length === 1`)
	task := fmt.Sprintf(`#tasks > li[data-task-id=%q]`, taskID)
	if text := Eval[string](t, tab, `document.querySelector('`+task+`').innerText`); !strings.Contains(text, "林晓东") || !strings.Contains(text, "石冲小学") || !strings.Contains(text, "待核查") {
		t.Errorf("task shows %q", text)
	}
	shotsFromTop(t, tab, "console-tasks")
	tab.Do(t, "open the visit", chromedp.Click(chromedp.CSS(task+" .cs-toggle")))
	tab.WaitFor(t, "the visit form", `document.querySelector('`+task+` form.cs-form') !== null`)
	tab.Do(t, "note left without a phone",
		chromedp.Click(chromedp.CSS(task+" input[value=not_home_note_left]")),
		chromedp.Click(chromedp.CSS(task+" form button[type=submit]")))
	tab.WaitFor(t, "the phone refused", `document.querySelector('`+task+` [data-error-for=notePhone]').textContent !== ""`)
	tab.Do(t, "note left with a phone",
		chromedp.SendKeys(chromedp.CSS(task+" input[name=notePhone]"), "139 2608 0000"),
		chromedp.Click(chromedp.CSS(task+" form button[type=submit]")))
	tab.WaitFor(t, "the visit listed", `(document.getElementById("visits-`+taskID+`")?.textContent ?? "").includes("不在家")`)
	shotsFromTop(t, tab, "console-visit")
	var visited consoleTaskState
	if code := apiCall(t, srv, "GET", "/v1/tasks/"+taskID, worker, nil, &visited); code != 200 || visited.Status != "revisit" ||
		len(visited.Visits) != 1 || visited.Visits[0].Outcome != "not_home_note_left" || visited.Visits[0].NotePhone != "139****0000" {
		t.Errorf("task after the visit: %d %+v", code, visited)
	}

	// Search the registry: the name at the address the person gave finds
	// them at the address the registry has.
	tab.Do(t, "open the search", chromedp.Click(chromedp.ID("tab-search")))
	tab.WaitFor(t, "the search form", `document.getElementById("q-name") !== null`)
	if c := Eval[string](t, tab, `document.getElementById("q-community").value`); c != "石冲社区" {
		t.Errorf("search community %q, want the worker's 石冲社区", c)
	}
	tab.Do(t, "search",
		chromedp.SetValue(chromedp.ID("q-community"), "石冲"),
		chromedp.SendKeys(chromedp.ID("q-name"), local.BriefCase[0][0]),
		chromedp.SendKeys(chromedp.ID("q-address"), "长庚里96号"),
		chromedp.Click(chromedp.CSS("#search button[type=submit]")))
	tab.WaitFor(t, "results", `document.querySelectorAll("#found > li").length > 0`)
	top := Eval[string](t, tab, `document.querySelector("#found > li").innerText`)
	if !strings.Contains(top, "陈永健") || !strings.Contains(top, "新塘里96号") || !strings.Contains(top, "139****1234") {
		t.Errorf("top result %q, want 陈永健 at 新塘里96号, phone masked", top)
	}
	shotsFromTop(t, tab, "console-search")

	seen.check(t)
	tab.NoErrors(t)
}

// The district office picks a grid by its code: an unknown code is
// refused at the field, a real one shows that grid's reports.
func TestConsoleDistrictAdminPicksGrid(t *testing.T) {
	srv := StartLocal(t)
	const grid = "440703006107-02"
	id := consoleReport(t, srv, grid, "张三", "11010519491231002", "+86 138-0013-8000", "440106")

	tab := NewTab(t)
	tab.Login(t, srv.URL, srv.Token(t, auth.Principal{Role: auth.DistrictAdmin}))
	tab.Do(t, "open the console", chromedp.Navigate(srv.URL+"/console"))
	tab.WaitFor(t, "the grid picker", `document.getElementById("cs-grid") !== null`)
	if text := Eval[string](t, tab, `document.getElementById("pane-reports").textContent`); !strings.Contains(text, "网格编码") {
		t.Errorf("without a grid the reports say %q", text)
	}
	tab.Do(t, "an unknown grid",
		chromedp.SendKeys(chromedp.ID("cs-grid"), "440703999999-99"),
		chromedp.Click(chromedp.CSS(".cs-grid-pick button[type=submit]")))
	tab.WaitFor(t, "the grid refused", `document.querySelector("[data-error-for=grid]").textContent !== ""`)
	tab.Do(t, "a real grid",
		chromedp.SetValue(chromedp.ID("cs-grid"), grid),
		chromedp.Click(chromedp.CSS(".cs-grid-pick button[type=submit]")))
	tab.WaitFor(t, "the grid's report", `document.querySelectorAll("#reports > li").length === 1`)
	if got := Eval[string](t, tab, `document.querySelector("#reports > li").dataset.reportId`); got != id {
		t.Errorf("listed %q, want %q", got, id)
	}
	shotsFromTop(t, tab, "console-admin")
	tab.NoErrors(t)
}

// A worker of several grids picks among them; the page bar names them all.
func TestConsoleWorkerOfSeveralGrids(t *testing.T) {
	srv := StartLocal(t)
	const first, second = "440703006107-01", "440703006107-02"
	id := consoleReport(t, srv, second, "张三", "11010519491231002", "+86 138-0013-8000", "440106")

	tab := NewTab(t)
	tab.Login(t, srv.URL, srv.Token(t, auth.Principal{Role: auth.GridWorker, Grids: []string{first, second}}))
	tab.Do(t, "open the console", chromedp.Navigate(srv.URL+"/console"))
	tab.WaitFor(t, "the worker's grid picker", `document.getElementById("cs-grid-select") !== null`)
	if got := Eval[[]string](t, tab, `[...document.querySelectorAll("#cs-grid-select option")].map((o) => o.value)`); strings.Join(got, ",") != first+","+second {
		t.Errorf("the picker offers %v, want %s and %s", got, first, second)
	}
	if who := Eval[string](t, tab, `document.getElementById("who").textContent`); !strings.Contains(who, first) || !strings.Contains(who, second) {
		t.Errorf("the bar says %q, want both grids", who)
	}
	if got := Eval[string](t, tab, `document.getElementById("cs-grid-select").value`); got != first {
		t.Errorf("first shown %q, want %q", got, first)
	}
	Eval[bool](t, tab, `(() => { const s = document.getElementById("cs-grid-select"); s.value = "`+second+`"; s.dispatchEvent(new Event("change")); return true; })()`)
	tab.WaitFor(t, "the second grid's report", `document.querySelectorAll("#reports > li").length === 1`)
	if got := Eval[string](t, tab, `document.querySelector("#reports > li").dataset.reportId`); got != id {
		t.Errorf("listed %q, want %q", got, id)
	}
	tab.NoErrors(t)
}
