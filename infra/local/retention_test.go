package local

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/auth"
	"gridcode/shared/report"
)

// Retention with a moving clock: reports, their SMS, a task with its visit
// are there until RETENTION_DAYS (28) after their last change, gone after
// the sweep that follows, and the district's numbers still count each day's
// reports by risk level.
func TestRetentionDeletesAndKeepsTheDailyCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clockEnv{now: testNow} // 2022-12-05 10:00 in the district
	sys, err := Open(ctx, t.TempDir(), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	c.env = startWith(t, sys)
	if Retention != 28*24*time.Hour {
		t.Fatalf("local retention %v, want the default 28 days", Retention)
	}
	sweep := func() map[string]int {
		t.Helper()
		deleted, err := c.sys.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return deleted
	}
	moveTo := func(d time.Duration) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.now = testNow.Add(d)
	}

	// Two reports on the 5th: A, high risk, never followed up; B, low risk,
	// contacted and then closed 20 days later.
	var a, b receipt
	if code := c.postJSON("/v1/reports", submission(), &a); code != 201 || a.RiskLevel != "high" {
		t.Fatalf("report A: %d %+v", code, a)
	}
	s := submission()
	s["idNumber"], s["name"] = residentID("44070319900101555"), "李四"
	s["fromAreaCode"] = "440105"
	s["itinerary"] = []map[string]string{{"areaCode": "440105", "date": "2022-12-03"}}
	if code := c.postJSON("/v1/reports", s, &b); code != 201 || b.RiskLevel != "low" {
		t.Fatalf("report B: %d %+v", code, b)
	}
	followUp := func(r receipt, outcome string) {
		t.Helper()
		if code := c.send("POST", "/v1/reports/"+r.ReportID+"/followups", c.token(auth.GridWorker, r.GridCode), map[string]string{"outcome": outcome}, nil); code != 201 {
			t.Fatalf("%s on %s: %d", outcome, r.ReportID, code)
		}
	}
	moveTo(2 * time.Hour)
	followUp(b, report.OutcomeContacted)

	// A task of a stranger on a NAT list, visited and closed the next day.
	admin := c.token(auth.DistrictAdmin, "")
	list := "姓名,证件号码,社区,地址,检测点\n林晓东," + residentID("44070319950317123") + ",石冲社区,长庚里12号,石冲小学\n"
	var up struct {
		List struct {
			ID string `json:"listId"`
		} `json:"list"`
	}
	if code := c.do("POST", "/v1/lists?name=nat&kind=nat", "text/csv", admin, strings.NewReader(list), &up); code != 201 {
		t.Fatalf("upload: %d", code)
	}
	if rec := c.reconcile(admin, map[string]string{"listA": up.List.ID, "listB": "registry"}); rec.Created != 1 {
		t.Fatalf("reconcile: %+v, want one task", rec)
	}
	var task taskView
	for _, g := range []string{"440703006107-01", "440703006107-02", "440703006107-03", "440703006107-04"} {
		var ts struct{ Tasks []taskView }
		if c.do("GET", "/v1/grids/"+g+"/tasks", "", c.token(auth.GridWorker, g), nil, &ts) == 200 && len(ts.Tasks) == 1 {
			task = ts.Tasks[0]
		}
	}
	if task.TaskID == "" {
		t.Fatal("no task in 石冲社区's grids")
	}
	moveTo(24 * time.Hour)
	if code := c.send("POST", "/v1/tasks/"+task.TaskID+"/visits", c.token(auth.GridWorker, task.GridCode), map[string]any{"outcome": "verified"}, nil); code != 201 {
		t.Fatalf("visit: %d", code)
	}
	moveTo(20 * 24 * time.Hour)
	followUp(b, report.OutcomeClosed)

	// present says what is still there, as the API and the outbox answer.
	present := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for name, r := range map[string]receipt{"A": a, "B": b} {
			switch code := c.do("GET", "/v1/reports/"+r.ReportID, "", c.token(auth.GridWorker, r.GridCode), nil, nil); code {
			case 200:
				out["report "+name] = true
			case 404:
			default:
				t.Fatalf("GET report %s: %d", name, code)
			}
			_, err := c.sys.Store.Alert(ctx, report.WelcomeAlertID(r.ReportID))
			if !errors.Is(err, alert.ErrNotFound) {
				out["SMS "+name] = err == nil
			}
		}
		switch code := c.do("GET", "/v1/tasks/"+task.TaskID, "", c.token(auth.GridWorker, task.GridCode), nil, nil); code {
		case 200:
			out["task"] = true
		case 404:
		default:
			t.Fatalf("GET task: %d", code)
		}
		return out
	}
	type day struct {
		Date  string `json:"date"`
		Total int    `json:"total"`
		Low   int    `json:"low"`
		High  int    `json:"high"`
	}
	statsOfThe5th := func() day {
		t.Helper()
		var st struct {
			Days []day `json:"days"`
		}
		if code := c.do("GET", "/v1/stats?from=2022-12-05&to=2022-12-05", "", c.token(auth.DistrictAdmin, ""), nil, &st); code != 200 || len(st.Days) != 1 {
			t.Fatalf("stats: %d %+v", code, st)
		}
		return st.Days[0]
	}
	want5th := day{Date: "2022-12-05", Total: 2, Low: 1, High: 1}
	check := func(when string, want map[string]bool) {
		t.Helper()
		sweep()
		if got := present(); !equalSets(got, want) {
			t.Errorf("%s: present %v, want %v", when, got, want)
		}
		if got := statsOfThe5th(); got != want5th {
			t.Errorf("%s: the 5th counts %+v, want %+v", when, got, want5th)
		}
	}
	all := map[string]bool{"report A": true, "SMS A": true, "report B": true, "SMS B": true, "task": true}
	check("at the start", all)

	// A minute before 28 days after the reports came in, everything is there.
	moveTo(Retention - time.Minute)
	check("a minute before A expires", all)
	// A minute after: A and both welcome SMS are gone (an SMS is kept from
	// when it was queued); B was closed late and the task visited a day
	// later: they stay.
	moveTo(Retention + time.Minute)
	check("a minute after A expired", map[string]bool{"report B": true, "task": true})
	// The task goes 28 days after its closing visit.
	moveTo(24*time.Hour + Retention + time.Minute)
	check("a minute after the task expired", map[string]bool{"report B": true})
	// B goes 28 days after it was closed.
	moveTo(20*24*time.Hour + Retention - time.Minute)
	check("a minute before B expires", map[string]bool{"report B": true})
	moveTo(20*24*time.Hour + Retention + time.Minute)
	check("a minute after B expired", map[string]bool{})

	// Nothing is left of the 5th but its counts: no report to list.
	var page struct {
		Reports []any `json:"reports"`
	}
	if code := c.do("GET", "/v1/grids/"+a.GridCode+"/reports?from=2022-12-05&to=2022-12-05", "", c.token(auth.GridWorker, a.GridCode), nil, &page); code != 200 || len(page.Reports) != 0 {
		t.Errorf("grid A's list of the 5th: %d, %d reports; want none", code, len(page.Reports))
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
