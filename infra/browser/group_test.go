package browser

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/infra/demo"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/group"
	"gridcode/shared/idcard"
	"gridcode/shared/refresh"
)

// groupXSSName is a name that must show as text wherever a page shows it.
const groupXSSName = "<script>alert(1)</script>"

// groupDaily is the JSON of GET /v1/groups/{id}/daily.
type groupDaily struct {
	Date    string
	Summary struct{ Members, Abnormal, Red int }
	Members []struct {
		Name      string
		Abnormal  bool
		CodeColor string
		Reasons   []string
	}
}

// groupRoster is the JSON of GET /v1/groups/{id}/members.
type groupRoster struct {
	Version int `json:"rosterVersion"`
	Members []struct{ MemberID, Name string }
	Pending []struct{ MemberID, Name string }
}

func (r groupRoster) names() []string {
	var out []string
	for _, m := range r.Members {
		out = append(out, m.Name)
	}
	return out
}

// groupDemoID is the id of the demo group with this name.
func groupDemoID(t *testing.T, srv *Server, name string) string {
	t.Helper()
	ctx := context.Background()
	ids, err := srv.Store.GroupIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		g, err := srv.Store.GetGroup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if g.Name == name {
			return id
		}
	}
	t.Fatalf("no demo group %s among %v", name, ids)
	return ""
}

// groupRefresh runs the refresh of date to the end, as the office's
// POST /v1/refresh/run does: the server plans today's by itself only
// after 06:00 district time, and a test may run before.
func groupRefresh(t *testing.T, srv *Server, date string) {
	t.Helper()
	if _, err := srv.Planner.Plan(context.Background(), date); err != nil && !errors.Is(err, refresh.ErrInProgress) {
		t.Fatalf("plan the refresh of %s: %v", date, err)
	}
	var p refresh.Progress
	var err error
	complete := eventually(time.Minute, func() bool {
		p, err = refresh.Read(context.Background(), srv.Store, date)
		return err == nil && p.Complete
	})
	if !complete {
		t.Fatalf("refresh of %s did not finish: %+v %v", date, p, err)
	}
	if p.Done != p.Groups {
		t.Fatalf("refresh of %s: %+v", date, p)
	}
}

// groupRows reads the daily table as the page shows it.
type groupRow struct {
	Name       string `json:"name"`
	Abnormal   bool   `json:"abnormal"`
	Badge      string `json:"badge"`
	Reasons    string `json:"reasons"`
	Background string `json:"bg"`
}

const groupRowsJS = `[...document.querySelectorAll("#daily-table tbody tr")].filter((tr) => tr.cells.length > 1).map((tr) => ({
  name: tr.cells[0].textContent, abnormal: tr.classList.contains("abnormal"),
  badge: tr.cells[1].querySelector(".badge").className, reasons: tr.querySelector("td.gp-reasons").textContent,
  bg: getComputedStyle(tr.querySelector("td.gp-nat")).backgroundColor }))`

// A store manager opens today's list: abnormal members first and
// highlighted, as the API orders them; the filters narrow it; the XLSX
// download holds the same members in the same order.
func TestGroupDailyList(t *testing.T) {
	srv := StartLocal(t)
	id := groupDemoID(t, srv, "惠民超市")
	today := dates.Today(time.Now())
	groupRefresh(t, srv, today)
	token := srv.Token(t, auth.Principal{Role: auth.GroupAdmin, Group: id})
	var want groupDaily
	if code := apiCall(t, srv, "GET", "/v1/groups/"+id+"/daily?date="+today, token, nil, &want); code != 200 {
		t.Fatalf("today's list: %d", code)
	}
	s := want.Summary
	if s.Abnormal == 0 || s.Abnormal >= s.Members || len(want.Members) != s.Members || want.Members[0].CodeColor != "red" {
		t.Fatalf("the demo group's list has no mix of abnormal and normal members, red first: %+v", want)
	}

	tab := NewTab(t)
	tab.Login(t, srv.URL, token)
	tab.Do(t, "open /group", chromedp.Navigate(srv.URL+"/group"))
	// The page's day: a list, or none if its day is no longer today.
	tab.WaitFor(t, "a day's list", `document.getElementById("daily-table") !== null || document.getElementById("no-list") !== null`)
	sameDistrictDay(t, tab, today)
	tab.WaitFor(t, "today's list", `document.querySelectorAll("#daily-table tbody tr").length > 1`)

	rows := Eval[[]groupRow](t, tab, groupRowsJS)
	if len(rows) != s.Members {
		t.Fatalf("the page shows %d members, the list has %d", len(rows), s.Members)
	}
	for i, r := range rows {
		w := want.Members[i]
		if r.Name != w.Name || r.Abnormal != w.Abnormal {
			t.Errorf("row %d: %s abnormal=%v, want %s abnormal=%v (the API's order)", i, r.Name, r.Abnormal, w.Name, w.Abnormal)
		}
		if r.Abnormal != (i < s.Abnormal) {
			t.Errorf("row %d (%s): abnormal=%v; abnormal members come first", i, r.Name, r.Abnormal)
		}
		if r.Abnormal && (r.Background == rows[len(rows)-1].Background || r.Reasons == "") {
			t.Errorf("abnormal row %d (%s) is not highlighted or has no reason: %+v", i, r.Name, r)
		}
	}
	if !strings.Contains(rows[0].Badge, "red") || !strings.Contains(rows[0].Reasons, "红码") {
		t.Errorf("first row: %+v, want the red-code member with a red badge", rows[0])
	}
	if txt := Eval[string](t, tab, `document.getElementById("summary").textContent`); !strings.Contains(txt, "异常 "+strconv.Itoa(s.Abnormal)) {
		t.Errorf("summary %q does not count %d abnormal", txt, s.Abnormal)
	}
	shotsFromTop(t, tab, "group")

	// Abnormal only.
	tab.Do(t, "filter abnormal", chromedp.Click(chromedp.ID("filter-abnormal")))
	tab.WaitFor(t, "only abnormal rows", `document.getElementById("shown").textContent.startsWith("显示 `+strconv.Itoa(s.Abnormal)+` /")`)
	rows = Eval[[]groupRow](t, tab, groupRowsJS)
	if len(rows) != s.Abnormal || slices.ContainsFunc(rows, func(r groupRow) bool { return !r.Abnormal }) {
		t.Errorf("abnormal filter shows %+v, want the %d abnormal members", rows, s.Abnormal)
	}
	// By name, over everyone: the last (normal) member.
	name := want.Members[len(want.Members)-1].Name
	var named []string
	for _, m := range want.Members {
		if strings.Contains(m.Name, name) {
			named = append(named, m.Name)
		}
	}
	tab.Do(t, "filter by name",
		chromedp.Click(chromedp.ID("filter-all")),
		chromedp.SendKeys(chromedp.ID("name-filter"), name))
	tab.WaitFor(t, "the name filter", `document.getElementById("shown").textContent.startsWith("显示 `+strconv.Itoa(len(named))+` /")`)
	var got []string
	for _, r := range Eval[[]groupRow](t, tab, groupRowsJS) {
		got = append(got, r.Name)
	}
	if !slices.Equal(got, named) {
		t.Errorf("name filter %q shows %v, want %v", name, got, named)
	}

	// The XLSX, saved by the browser.
	dir := t.TempDir()
	if _, err := chromedp.Call(tab.Ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatal(err)
	}
	tab.Do(t, "download the XLSX", chromedp.Click(chromedp.ID("download-xlsx")))
	file := filepath.Join(dir, id+"-"+today+".xlsx")
	tab.WaitFor(t, "the download to finish", `document.getElementById("download-msg").textContent.startsWith("已下载")`)
	var data []byte
	saved := eventually(30*time.Second, func() bool {
		var err error
		data, err = os.ReadFile(file)
		partial, _ := filepath.Glob(filepath.Join(dir, "*.crdownload"))
		return err == nil && len(data) > 0 && len(partial) == 0
	})
	if !saved {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("no %s downloaded (download dir has %v)", file, entries)
	}
	book, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open the downloaded XLSX: %v", err)
	}
	defer book.Close()
	sheet, err := book.GetRows(today)
	if err != nil {
		t.Fatalf("sheet %s: %v (sheets %v)", today, err, book.GetSheetList())
	}
	if len(sheet) != 2+s.Members {
		t.Fatalf("XLSX has %d rows, want title, header and %d members", len(sheet), s.Members)
	}
	for i, row := range sheet[2:] {
		w := want.Members[i]
		abnormal := "否"
		if w.Abnormal {
			abnormal = "是"
		}
		if len(row) < 9 || row[0] != w.Name || row[8] != abnormal {
			t.Errorf("XLSX row %d: %v, want %s abnormal %s", i+3, row, w.Name, abnormal)
		}
	}
	tab.NoErrors(t)
}

// A roster from Excel with one bad check digit is refused whole: the page
// names the line, the column and the reason, and the roster is unchanged.
// The corrected file replaces it, and a name with markup shows as text.
func TestGroupRosterUpload(t *testing.T) {
	srv := StartLocal(t)
	id := groupDemoID(t, srv, "五邑KTV")
	token := srv.Token(t, auth.Principal{Role: auth.GroupAdmin, Group: id})
	var before groupRoster
	if code := apiCall(t, srv, "GET", "/v1/groups/"+id+"/members", token, nil, &before); code != 200 || len(before.Members) == 0 {
		t.Fatalf("roster: %d %+v", code, before)
	}

	ids := []string{residentID("44070319900101001"), residentID("44070319851212002"), residentID("44070320000229003")}
	csvFile := func(name string, third string) string {
		text := "姓名,证件类型,证件号码,手机号码\r\n" +
			"陈一,居民身份证," + ids[0] + ",13800138001\r\n" +
			groupXSSName + ",身份证," + third + ",\r\n" +
			"王二,," + ids[2] + ",139 0013 9002\r\n"
		gbk, err := simplifiedchinese.GB18030.NewEncoder().String(text) // Chinese Excel's "CSV (逗号分隔)"
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(gbk), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	tab := NewTab(t)
	tab.Login(t, srv.URL, token)
	tab.Do(t, "open /group", chromedp.Navigate(srv.URL+"/group"))
	tab.WaitFor(t, "the roster form", `document.getElementById("roster-file") !== null && document.getElementById("roster-list") !== null`)

	tab.Do(t, "upload a roster with a bad check digit on line 3",
		chromedp.SetUploadFiles(chromedp.ID("roster-file"), []string{csvFile("花名册-错误.csv", wrongCheckDigit(ids[1]))}),
		chromedp.Click(chromedp.ID("roster-upload")))
	tab.WaitFor(t, "the row errors", `document.getElementById("roster-errors") !== null`)
	type rowError struct{ Line, Column, Reason string }
	errs := Eval[[]rowError](t, tab, `[...document.querySelectorAll("#roster-errors tbody tr")].map((tr) => ({
  line: tr.cells[0].textContent, column: tr.cells[1].textContent, reason: tr.cells[2].textContent }))`)
	if len(errs) != 1 || errs[0].Line != "第3行" || errs[0].Column != "证件号码" || !strings.Contains(errs[0].Reason, "校验位") {
		t.Errorf("row errors %+v, want one: 第3行, 证件号码, the check digit", errs)
	}
	shotsFromTop(t, tab, "group-errors")
	var after groupRoster
	getJSON(t, srv, "/v1/groups/"+id+"/members", token, &after)
	if after.Version != before.Version || !slices.Equal(after.names(), before.names()) {
		t.Errorf("a refused roster changed it: version %d → %d, %v → %v", before.Version, after.Version, before.names(), after.names())
	}

	tab.Do(t, "upload the corrected roster",
		chromedp.SetUploadFiles(chromedp.ID("roster-file"), []string{csvFile("花名册.csv", ids[1])}),
		chromedp.Click(chromedp.ID("roster-upload")))
	tab.WaitFor(t, "the upload's success", `document.getElementById("roster-ok")?.textContent.includes("3 人")`)
	getJSON(t, srv, "/v1/groups/"+id+"/members", token, &after)
	if after.Version != before.Version+1 || !slices.Contains(after.names(), groupXSSName) || len(after.Members) != 3 {
		t.Errorf("roster after the upload: %+v", after)
	}
	tab.WaitFor(t, "the new roster on the page", `document.querySelector("#roster-list summary").textContent.includes("3 人")`)
	tab.Do(t, "open the roster", chromedp.Click(chromedp.CSS("#roster-list summary")))
	if !Eval[bool](t, tab, `[...document.querySelectorAll("#roster-list td.name")].some((td) => td.textContent === `+jsString(groupXSSName)+`)`) {
		t.Errorf("the roster does not show %s as text", groupXSSName)
	}
	if n := Eval[int](t, tab, `document.querySelectorAll("#app script, #app img:not(#qr-img)").length`); n != 0 {
		t.Errorf("a member's name became %d elements", n)
	}
	if Eval[bool](t, tab, `document.getElementById("roster-errors") !== null`) {
		t.Error("the old row errors still show after a good upload")
	}
	tab.NoErrors(t)
}

// A member joins through the group's QR link: the page checks the check
// digit and the phone before sending, shows the API's field problems next
// to the fields, and the request waits on the group page, where the
// manager approves it. The name with markup shows as text throughout.
func TestJoinAndApprove(t *testing.T) {
	srv := StartLocal(t)
	id := groupDemoID(t, srv, "江华小学")
	token := srv.Token(t, auth.Principal{Role: auth.GroupAdmin, Group: id})
	var before groupRoster
	if code := apiCall(t, srv, "GET", "/v1/groups/"+id+"/members", token, nil, &before); code != 200 || len(before.Pending) != 0 {
		t.Fatalf("roster: %d %+v", code, before)
	}
	good := residentID("44070319920315004")
	// A passport number's format: the page leaves it to the API.
	const badPassport = "E1!"
	if _, reason := idcard.Check(idcard.Passport, badPassport, time.Now()); reason != idcard.ReasonFormat {
		t.Fatalf("%s: reason %q, want %q", badPassport, reason, idcard.ReasonFormat)
	}

	tab := NewTab(t)
	tab.Do(t, "open the join page", chromedp.Navigate(srv.URL+"/join/"+id))
	tab.WaitFor(t, "the form", `document.getElementById("group-code")?.textContent === `+jsString(id))
	tab.WaitFor(t, "the group's name", `!document.getElementById("group-name").hidden`)
	if got := Eval[string](t, tab, `document.querySelector("#group-name strong").textContent`); got != "江华小学" {
		t.Errorf("the join page names the group %q, want 江华小学", got)
	}
	shotsFromTop(t, tab, "join")

	errorFor := func(field string) string {
		return Eval[string](t, tab, `document.querySelector('[data-error-for="`+field+`"]').textContent`)
	}
	tab.Do(t, "fill in a wrong check digit and a short phone",
		chromedp.SendKeys(chromedp.ID("name"), groupXSSName),
		chromedp.SendKeys(chromedp.ID("idNumber"), wrongCheckDigit(good)),
		chromedp.SendKeys(chromedp.ID("phone"), "138001380"),
		chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the check digit's error", `document.querySelector('[data-error-for="idNumber"]').textContent !== ""`)
	if e := errorFor("idNumber"); !strings.Contains(e, "校验位") {
		t.Errorf("idNumber error %q, want the check digit", e)
	}
	if e := errorFor("phone"); e == "" {
		t.Error("no error for a 9-digit phone")
	}
	if e := errorFor("name"); e != "" {
		t.Errorf("name error %q for a fine name", e)
	}
	shotsFromTop(t, tab, "join-errors")
	var roster groupRoster
	if getJSON(t, srv, "/v1/groups/"+id+"/members", token, &roster); len(roster.Pending) != 0 {
		t.Fatalf("the page sent a join the check digit refuses: %+v", roster.Pending)
	}

	// The API's problems, next to the field.
	tab.Do(t, "fix the phone, and a passport number the API refuses",
		chromedp.SetValue(chromedp.ID("idType"), "passport"),
		chromedp.SetValue(chromedp.ID("idNumber"), badPassport),
		chromedp.SetValue(chromedp.ID("phone"), "138-0013-8000"),
		chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the API's format error", `document.querySelector('[data-error-for="idNumber"]').textContent.includes("格式")`)
	if e := errorFor("phone"); e != "" {
		t.Errorf("phone error %q for 138-0013-8000", e)
	}
	// It stays while the person moves between other fields.
	tab.Do(t, "move between fields", chromedp.Click(chromedp.ID("name")), chromedp.Click(chromedp.ID("phone")))
	if e := errorFor("idNumber"); !strings.Contains(e, "格式") {
		t.Errorf("the API's idNumber error went away without a change: %q", e)
	}

	tab.Do(t, "back to the resident ID, fixed, and send",
		chromedp.SetValue(chromedp.ID("idType"), "resident_id"),
		chromedp.SetValue(chromedp.ID("idNumber"), good),
		chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the confirmation", `!document.getElementById("done").hidden`)
	if txt := Eval[string](t, tab, `document.getElementById("done").textContent`); !strings.Contains(txt, "已提交,等待单位管理员审核") {
		t.Errorf("after the join: %q", txt)
	}
	shotsFromTop(t, tab, "join-done")
	if getJSON(t, srv, "/v1/groups/"+id+"/members", token, &roster); len(roster.Pending) != 1 || roster.Pending[0].Name != groupXSSName {
		t.Fatalf("pending after the join: %+v", roster.Pending)
	}
	tab.NoErrors(t)

	// The manager approves it on the group page.
	tab.Login(t, srv.URL, token)
	tab.Do(t, "open /group", chromedp.Navigate(srv.URL+"/group"))
	tab.WaitFor(t, "the pending join", `document.querySelectorAll("#pending-list li").length === 1`)
	if n := Eval[string](t, tab, `document.querySelector("#pending-list .name").textContent`); n != groupXSSName {
		t.Errorf("pending name shows as %q, want %q as text", n, groupXSSName)
	}
	if n := Eval[int](t, tab, `document.querySelectorAll("#app script").length`); n != 0 {
		t.Errorf("the pending name became %d script elements", n)
	}
	shotsFromTop(t, tab, "group-pending")
	tab.Do(t, "approve", chromedp.Click(chromedp.CSS("#pending-list .gp-approve")))
	tab.WaitFor(t, "the approval", `document.getElementById("no-pending") !== null && document.getElementById("approve-msg").textContent.startsWith("已通过")`)
	var after groupRoster
	getJSON(t, srv, "/v1/groups/"+id+"/members", token, &after)
	if len(after.Pending) != 0 || len(after.Members) != len(before.Members)+1 || !slices.Contains(after.names(), groupXSSName) {
		t.Errorf("after approval: %d pending, %d members (was %d)", len(after.Pending), len(after.Members), len(before.Members))
	}
	tab.NoErrors(t)
}

// The district office opens a group registered today by its id: the
// group has no list for today yet, the page says when lists are made and
// offers the latest one (yesterday's), and the group's QR code loads.
func TestGroupWithoutTodaysList(t *testing.T) {
	srv := StartLocal(t)
	today := dates.Today(time.Now())
	// Today's run first, so the group registered below is not in it.
	groupRefresh(t, srv, today)
	office := srv.Token(t, auth.Principal{Role: auth.DistrictAdmin})
	var g struct{ GroupID string }
	reg := map[string]any{"name": "石冲便利店", "kind": "supermarket", "address": "石冲社区新塘里200号", "gridCode": demo.DemoGroupGrid,
		"admin": map[string]string{"name": "李店长", "phone": "13800138123"}}
	if code := apiCall(t, srv, "POST", "/v1/groups", office, reg, &g); code != 201 {
		t.Fatalf("register: %d", code)
	}
	roster := map[string]any{"members": []map[string]string{{"name": "甲乙", "idNumber": residentID("44070319800808005")}}}
	if code := apiCall(t, srv, "PUT", "/v1/groups/"+g.GroupID+"/members", office, roster, nil); code != 200 {
		t.Fatalf("roster: %d", code)
	}
	yesterday := dates.AddDays(today, -1)
	groupRefresh(t, srv, yesterday)
	ctx := context.Background()
	if _, err := srv.Store.DailyList(ctx, g.GroupID, yesterday); err != nil {
		t.Fatalf("yesterday's list: %v", err)
	}
	if _, err := srv.Store.DailyList(ctx, g.GroupID, today); !errors.Is(err, group.ErrNotFound) {
		t.Fatalf("the new group has a list today: %v", err)
	}

	tab := NewTab(t)
	tab.Login(t, srv.URL, office)
	tab.Do(t, "open /group and choose the group",
		chromedp.Navigate(srv.URL+"/group"),
		chromedp.SendKeys(chromedp.ID("group-id"), strings.ToLower(g.GroupID)),
		chromedp.Click(chromedp.ID("open-group")))
	tab.WaitFor(t, "no list today", `document.getElementById("no-list") !== null`)
	sameDistrictDay(t, tab, today)
	if txt := Eval[string](t, tab, `document.getElementById("no-list").textContent`); !strings.Contains(txt, "06:00") {
		t.Errorf("no-list notice %q does not say when lists are made", txt)
	}
	if Eval[bool](t, tab, `document.getElementById("daily-table") !== null`) {
		t.Error("a table shows without a list")
	}
	tab.WaitFor(t, "the offer of the latest list", `document.getElementById("show-latest") !== null`)
	if txt := Eval[string](t, tab, `document.getElementById("show-latest").textContent`); !strings.Contains(txt, yesterday) {
		t.Errorf("offer %q, want %s", txt, yesterday)
	}
	tab.WaitFor(t, "the QR code", `document.getElementById("qr-img").complete && document.getElementById("qr-img").naturalWidth > 0`)
	if n := Eval[string](t, tab, `document.getElementById("group-name").textContent`); n != "石冲便利店" {
		t.Errorf("group name %q", n)
	}
	shotsFromTop(t, tab, "group-nolist")
	tab.Do(t, "show yesterday's list", chromedp.Click(chromedp.ID("show-latest")))
	tab.WaitFor(t, "yesterday's list", `document.getElementById("older-list") !== null`)
	rows := Eval[[]groupRow](t, tab, groupRowsJS)
	if len(rows) != 1 || rows[0].Name != "甲乙" {
		t.Errorf("yesterday's list shows %+v", rows)
	}
	tab.NoErrors(t)
}
