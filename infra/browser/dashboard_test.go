package browser

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/risk"
)

// dashStats is the part of GET /v1/stats the page shows.
type dashStats struct {
	From string `json:"from"`
	To   string `json:"to"`
	Days []struct {
		Date                           string
		Total, None, Low, Medium, High int
	} `json:"days"`
	Grids []struct {
		GridCode, Name                      string
		Pending, Overdue, Escalated, Closed int
	} `json:"grids"`
	SMS struct{ Sent, Failed, Pending int } `json:"sms"`
}

// dashSubmit files a report for gridCode whose itinerary is one stop in
// area today, as the report form would, and returns its risk level.
func dashSubmit(t *testing.T, srv *Server, gridCode string, n int, area, today string) string {
	t.Helper()
	return submitReport(t, srv, gridCode, newReport{
		Name: "看板测试" + strconv.Itoa(n), ID17: fmt.Sprintf("44070319900101%03d", 100+n), Phone: fmt.Sprintf("+86 138-0013-80%02d", n),
		From: "440104", // 广州 越秀区: not on the list
		Stop: area, Date: today,
		Address: "测试路" + strconv.Itoa(n) + "号", Transport: "car",
	}).RiskLevel
}

// dashSegment is one segment of the chart as the page drew it.
type dashSegment struct {
	Day   string `json:"day"`
	Level string `json:"level"`
	Count int    `json:"count"`
	Title string `json:"title"`
}

const dashSegmentsJS = `[...document.querySelectorAll("#chart svg rect[data-level]")].map((r) => ({
	day: r.dataset.day, level: r.dataset.level, count: Number(r.dataset.count), title: r.querySelector("title")?.textContent ?? "" }))`

const dashGridRowsJS = `[...document.querySelectorAll("#grids tbody tr[data-grid]")].map((tr) => ({
	code: tr.dataset.grid, name: tr.querySelector(".grid-name").textContent,
	pending: Number(tr.querySelector("[data-col=pending]").textContent),
	overdue: Number(tr.querySelector("[data-col=overdue]").textContent) }))`

type dashGridRow struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Pending int    `json:"pending"`
	Overdue int    `json:"overdue"`
}

// The district office's dashboard draws the reports of the last 14 days by
// risk level as GET /v1/stats counts them, lists the grids with reports,
// shows SMS delivery and the morning refresh, and edits the risk-area list
// with the API's field errors beside the row.
func TestDashboard(t *testing.T) {
	srv := StartLocal(t)
	admin := srv.Token(t, auth.Principal{Role: auth.DistrictAdmin})
	today := dates.Today(time.Now())

	// A medium area as well, so every level of the chart has reports.
	var areas []risk.Area
	if code := apiCall(t, srv, "GET", "/v1/risk-areas", "", nil, &areas); code != 200 {
		t.Fatalf("GET /v1/risk-areas: %d", code)
	}
	areas = append(areas, risk.Area{AreaCode: "440307", Level: risk.Medium, From: dates.AddDays(today, -1)}) // 深圳 龙岗区
	if code := apiCall(t, srv, "PUT", "/v1/risk-areas", admin, areas, &areas); code != 200 {
		t.Fatalf("PUT /v1/risk-areas: %d", code)
	}

	grids := listGrids(t, srv)
	if len(grids) < 2 {
		t.Fatalf("GET /v1/grids: %d grids", len(grids))
	}
	gridA, gridB := grids[0], grids[1]
	submitted := map[string]int{}
	perGrid := map[string]int{}
	for i, r := range []struct {
		grid  gridInfo
		area  string
		level string
	}{
		{gridA, "440106", "high"}, // 广州 天河区
		{gridA, "440106", "high"},
		{gridA, "440105", "low"}, // 广州 海珠区
		{gridA, "440104", "none"},
		{gridB, "110105", "high"}, // 北京 朝阳区
		{gridB, "440307", "medium"},
		{gridB, "440105", "low"},
	} {
		if got := dashSubmit(t, srv, r.grid.GridCode, i+1, r.area, today); got != r.level {
			t.Fatalf("report %d via %s scored %q, want %q (the demo risk list changed?)", i+1, r.area, got, r.level)
		}
		submitted[r.level]++
		perGrid[r.grid.GridCode]++
	}
	from := dates.AddDays(today, -13)
	var before dashStats
	if code := apiCall(t, srv, "GET", "/v1/stats?from="+from+"&to="+today, admin, nil, &before); code != 200 {
		t.Fatalf("GET /v1/stats: %d", code)
	}

	tab := NewTab(t)
	tab.Login(t, srv.URL, admin)
	tab.Do(t, "open the dashboard", chromedp.Navigate(srv.URL+"/dashboard"))
	tab.WaitFor(t, "the chart", `document.querySelector("#chart")?.dataset.loaded === "true"`)
	sameDistrictDay(t, tab, today)
	tab.WaitFor(t, "the risk areas", `document.querySelector("#risk-areas")?.dataset.loaded === "true"`)
	tab.WaitFor(t, "the refresh run", `!!document.querySelector("#db-refresh")?.dataset.state`)

	t.Run("chart", func(t *testing.T) {
		if got := Eval[string](t, tab, `document.querySelector("#chart").dataset.from + " " + document.querySelector("#chart").dataset.to`); got != from+" "+today {
			t.Errorf("chart range %q, want the last 14 district days %s %s", got, from, today)
		}
		if n := Eval[int](t, tab, `document.querySelectorAll("#chart svg g.bar").length`); n != 14 {
			t.Errorf("%d bars, want 14", n)
		}
		segs := Eval[[]dashSegment](t, tab, dashSegmentsJS)
		page := map[string]int{}       // level -> count
		pageDay := map[[2]string]int{} // day, level -> count
		for _, s := range segs {
			page[s.Level] += s.Count
			pageDay[[2]string{s.Day, s.Level}] += s.Count
			word := map[string]string{"none": "无风险", "low": "低风险", "medium": "中风险", "high": "高风险"}[s.Level]
			if word == "" || s.Title != fmt.Sprintf("%s %s %d 份", s.Day, word, s.Count) {
				t.Errorf("segment %+v: title %q", s, s.Title)
			}
		}
		api := map[string]int{}
		apiDay := map[[2]string]int{}
		for _, d := range before.Days {
			for level, n := range map[string]int{"none": d.None, "low": d.Low, "medium": d.Medium, "high": d.High} {
				if n > 0 {
					api[level] += n
					apiDay[[2]string{d.Date, level}] = n
				}
			}
		}
		if !reflect.DeepEqual(page, api) {
			t.Errorf("chart per level %v, GET /v1/stats %v", page, api)
		}
		if !reflect.DeepEqual(pageDay, apiDay) {
			t.Errorf("chart per day and level %v, GET /v1/stats %v", pageDay, apiDay)
		}
		if !reflect.DeepEqual(page, submitted) {
			t.Errorf("chart per level %v, submitted %v", page, submitted)
		}
		legend := Eval[string](t, tab, `document.querySelector(".db-legend").textContent`)
		for _, w := range []string{"高风险", "中风险", "低风险", "无风险"} {
			if !bytes.Contains([]byte(legend), []byte(w)) {
				t.Errorf("legend %q lacks %s", legend, w)
			}
		}
	})

	t.Run("grids", func(t *testing.T) {
		rows := Eval[[]dashGridRow](t, tab, dashGridRowsJS)
		want := []dashGridRow{
			{Code: gridA.GridCode, Name: gridA.Name, Pending: perGrid[gridA.GridCode]},
			{Code: gridB.GridCode, Name: gridB.Name, Pending: perGrid[gridB.GridCode]},
		}
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("grid rows %+v, want %+v (overdue first, then the most pending)", rows, want)
		}
		// Sorting by pending: the fewest first on the second click.
		tab.Do(t, "sort by pending", chromedp.Click(chromedp.CSS(`#grids button[data-sort=pending]`)))
		tab.Do(t, "sort by pending again", chromedp.Click(chromedp.CSS(`#grids button[data-sort=pending]`)))
		rows = Eval[[]dashGridRow](t, tab, dashGridRowsJS)
		if len(rows) != 2 || rows[0].Code != gridB.GridCode || rows[1].Code != gridA.GridCode {
			t.Errorf("sorted by pending ascending: %+v", rows)
		}
		if s := Eval[string](t, tab, `document.querySelector("#grids th[aria-sort=ascending] button")?.dataset.sort ?? ""`); s != "pending" {
			t.Errorf("aria-sort ascending on %q, want pending", s)
		}
	})

	t.Run("sms", func(t *testing.T) {
		var after dashStats
		if code := apiCall(t, srv, "GET", "/v1/stats?from="+from+"&to="+today, admin, nil, &after); code != 200 {
			t.Fatalf("GET /v1/stats: %d", code)
		}
		page := Eval[map[string]int](t, tab, `Object.fromEntries([...document.querySelectorAll("#db-sms [data-sms]")].map((e) => [e.dataset.sms, Number(e.dataset.count)]))`)
		total := page["sent"] + page["failed"] + page["pending"]
		// Delivery goes on while the test reads: the page's numbers lie
		// between what the API said before and after it loaded.
		if page["sent"] < before.SMS.Sent || page["sent"] > after.SMS.Sent {
			t.Errorf("page shows %d sent, the API %d before and %d after", page["sent"], before.SMS.Sent, after.SMS.Sent)
		}
		if lo, hi := before.SMS.Sent+before.SMS.Failed+before.SMS.Pending, after.SMS.Sent+after.SMS.Failed+after.SMS.Pending; total < lo || total > hi {
			t.Errorf("page shows %d SMS, the API %d before and %d after", total, lo, hi)
		}
		if total < len(perGrid) || total < 7 {
			t.Errorf("page shows %d SMS for 7 reports", total)
		}
	})

	t.Run("risk areas", func(t *testing.T) {
		if n := Eval[int](t, tab, `document.querySelectorAll("#risk-areas .ra-row").length`); n != len(areas) {
			t.Fatalf("%d rows, GET /v1/risk-areas has %d", n, len(areas))
		}
		codes := Eval[[]string](t, tab, `[...document.querySelectorAll("#risk-areas .ra-row input.ra-code")].map((i) => i.value)`)
		for i, a := range areas {
			if i >= len(codes) || codes[i] != a.AreaCode {
				t.Errorf("rows %q, GET /v1/risk-areas %+v", codes, areas)
				break
			}
		}
		if name := Eval[string](t, tab, `[...document.querySelectorAll("#risk-areas .ra-row")].find((r) => r.querySelector("input.ra-code").value === "440106")?.querySelector(".ra-place").textContent`); name != "广东省广州市天河区" {
			t.Errorf("440106 is shown as %q, want 广东省广州市天河区", name)
		}

		// Add one: 深圳 宝安区, low, for a week.
		last := `#risk-areas .ra-row:last-child `
		tab.Do(t, "add a row", chromedp.Click(chromedp.CSS("#ra-add")))
		tab.Do(t, "type the code", chromedp.SendKeys(chromedp.CSS(last+"input.ra-code"), "440306"))
		tab.WaitFor(t, "the county name", `document.querySelector("`+last+`.ra-place").textContent === "广东省深圳市宝安区"`)
		until := dates.AddDays(today, 7)
		Eval[bool](t, tab, fmt.Sprintf(`(() => {
			const r = document.querySelector(%q);
			const set = (sel, v) => { const e = r.querySelector(sel); e.value = v; e.dispatchEvent(new Event("change", { bubbles: true })); };
			set("select.ra-level", "low"); set("input.ra-from", %q); set("input.ra-to", %q);
			return true; })()`, "#risk-areas .ra-row:last-child", today, until))
		tab.Do(t, "save", chromedp.Click(chromedp.CSS("#ra-save")))
		tab.WaitFor(t, "saved", `document.querySelector("#ra-msg").dataset.state === "saved"`)
		var saved []risk.Area
		getJSON(t, srv, "/v1/risk-areas", "", &saved)
		// The API keeps the list in code order.
		want := append(slices.Clone(areas), risk.Area{AreaCode: "440306", Level: risk.Low, From: today, To: until})
		byCode := func(a, b risk.Area) int { return strings.Compare(a.AreaCode+a.From, b.AreaCode+b.From) }
		slices.SortFunc(want, byCode)
		if !reflect.DeepEqual(slices.SortedFunc(slices.Values(saved), byCode), want) {
			t.Fatalf("after saving, GET /v1/risk-areas\n%+v\nwant\n%+v", saved, want)
		}

		// A code that is no county: the API's error beside the field, and
		// the list as it was.
		bad := fmt.Sprintf("[%d].areaCode", len(saved))
		tab.Do(t, "add another row", chromedp.Click(chromedp.CSS("#ra-add")))
		tab.Do(t, "type a bad code", chromedp.SendKeys(chromedp.CSS(last+"input.ra-code"), "999999"))
		tab.WaitFor(t, "unknown code", `document.querySelector("`+last+`.ra-place").textContent === "未知代码"`)
		tab.Do(t, "save the bad code", chromedp.Click(chromedp.CSS("#ra-save")))
		tab.WaitFor(t, "refused", `document.querySelector("#ra-msg").dataset.state === "error"`)
		slot := fmt.Sprintf(`document.querySelector('%s[data-error-for="%s"]')`, last, bad)
		if got := Eval[string](t, tab, slot+`?.textContent ?? "no slot"`); got != "不是有效的县(区)代码" {
			t.Errorf("error beside %s: %q", bad, got)
		}
		if !Eval[bool](t, tab, slot+`.closest(".field").classList.contains("invalid")`) {
			t.Errorf("the field of %s is not marked invalid", bad)
		}
		if n := Eval[int](t, tab, `[...document.querySelectorAll("#risk-areas [data-error-for]")].filter((e) => e.textContent).length`); n != 1 {
			t.Errorf("%d error messages, want 1", n)
		}
		var unchanged []risk.Area
		getJSON(t, srv, "/v1/risk-areas", "", &unchanged)
		if !reflect.DeepEqual(unchanged, saved) {
			t.Errorf("a refused save changed the list:\n%+v", unchanged)
		}

		// Five digits are refused before the request.
		Eval[bool](t, tab, `(() => { const i = document.querySelector("#risk-areas .ra-row:last-child input.ra-code"); i.value = "12345"; i.dispatchEvent(new Event("input")); return true; })()`)
		tab.Do(t, "save five digits", chromedp.Click(chromedp.CSS("#ra-save")))
		tab.WaitFor(t, "refused on the page", `document.querySelector("#ra-msg").dataset.state === "invalid"`)
		if got := Eval[string](t, tab, slot+`?.textContent ?? "no slot"`); got != "须为6位数字" {
			t.Errorf("error beside %s: %q", bad, got)
		}
		tab.Do(t, "remove the bad row", chromedp.Click(chromedp.CSS(last+".ra-remove")))
		if n := Eval[int](t, tab, `document.querySelectorAll("#risk-areas .ra-row").length`); n != len(saved) {
			t.Errorf("%d rows after removing the bad one, want %d", n, len(saved))
		}
		getJSON(t, srv, "/v1/risk-areas", "", &unchanged)
		if !reflect.DeepEqual(unchanged, saved) {
			t.Errorf("the list changed without a save:\n%+v", unchanged)
		}
	})

	t.Run("refresh", func(t *testing.T) {
		runBefore := Eval[string](t, tab, `document.querySelector("#db-refresh").dataset.run ?? ""`)
		tab.Do(t, "立即生成", chromedp.Click(chromedp.CSS("#refresh-run")))
		tab.WaitFor(t, "the answer", `!!document.querySelector("#refresh-msg").dataset.state`)
		answer := Eval[string](t, tab, `document.querySelector("#refresh-msg").dataset.state`)
		if answer != "started" && answer != "refresh_in_progress" {
			t.Fatalf("立即生成 answered %q: %s", answer, Eval[string](t, tab, `document.querySelector("#refresh-msg").textContent`))
		}
		var p struct {
			RunID        string `json:"runId"`
			Groups, Done int
			Complete     bool
		}
		if code := apiCall(t, srv, "GET", "/v1/refresh/runs/"+today, admin, nil, &p); code != 200 {
			t.Fatalf("GET /v1/refresh/runs/%s: %d", today, code)
		}
		// The page follows the run until it is complete.
		tab.WaitFor(t, "the run to complete", fmt.Sprintf(`(() => { const d = document.querySelector("#db-refresh").dataset;
			return d.run === %q && d.state === "complete"; })()`, p.RunID))
		if code := apiCall(t, srv, "GET", "/v1/refresh/runs/"+today, admin, nil, &p); code != 200 || !p.Complete {
			t.Fatalf("GET /v1/refresh/runs/%s: %d %+v", today, code, p)
		}
		page := Eval[map[string]string](t, tab, `({...document.querySelector("#db-refresh").dataset})`)
		if page["run"] != p.RunID || page["groups"] != strconv.Itoa(p.Groups) || page["done"] != strconv.Itoa(p.Done) || p.Groups == 0 {
			t.Errorf("page shows %v, the API %+v", page, p)
		}
		if answer == "started" && page["run"] == runBefore {
			t.Errorf("a new run was started but the page still shows run %q", runBefore)
		}
		if text := Eval[string](t, tab, `document.querySelector("#db-refresh").textContent`); !bytes.Contains([]byte(text), []byte(fmt.Sprintf("%d / %d", p.Done, p.Groups))) {
			t.Errorf("progress text %q lacks %d / %d", text, p.Done, p.Groups)
		}
	})

	t.Run("range", func(t *testing.T) {
		week := dates.AddDays(today, -6)
		tab.Do(t, "近7天", chromedp.Click(chromedp.CSS(`.db-quick button:first-child`)))
		tab.WaitFor(t, "the last 7 days", fmt.Sprintf(`document.querySelector("#chart").dataset.from === %q`, week))
		if n := Eval[int](t, tab, `document.querySelectorAll("#chart svg g.bar").length`); n != 7 {
			t.Errorf("%d bars for 7 days", n)
		}
		if got := Eval[int](t, tab, `[...document.querySelectorAll("#chart svg rect[data-count]")].reduce((n, r) => n + Number(r.dataset.count), 0)`); got != 7 {
			t.Errorf("the last 7 days draw %d reports, want 7", got)
		}
		// An end before the start is refused beside the field.
		Eval[bool](t, tab, fmt.Sprintf(`(() => {
			const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event("change")); };
			set("stats-from", %q); set("stats-to", %q); return true; })()`, today, dates.AddDays(today, -1)))
		tab.Do(t, "查询", chromedp.Click(chromedp.CSS(`.db-range button[type=submit]`)))
		if got := Eval[string](t, tab, `document.querySelector('.db-range [data-error-for="to"]').textContent`); got != "不能早于开始日期" {
			t.Errorf("error beside the end date: %q", got)
		}
		if got := Eval[string](t, tab, `document.querySelector("#chart").dataset.from`); got != week {
			t.Errorf("a refused range was drawn: from %s", got)
		}
		tab.Do(t, "近14天", chromedp.Click(chromedp.CSS(`.db-quick button:nth-child(2)`)))
		tab.WaitFor(t, "the last 14 days", fmt.Sprintf(`document.querySelector("#chart").dataset.from === %q`, from))
		if got := Eval[string](t, tab, `document.querySelector('.db-range [data-error-for="to"]').textContent`); got != "" {
			t.Errorf("error still shown: %q", got)
		}
	})

	tab.Screenshots(t, "dashboard")
	tab.NoErrors(t)
}
