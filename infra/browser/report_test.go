package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/risk"
	"gridcode/shared/sms/outbox"
)

// pickArea chooses a county in one of the form's province → city → county
// pickers, as a person does: each select's change builds the next one.
func pickArea(prefix, province, city, countyCode string) string {
	return fmt.Sprintf(`(() => {
  const pick = (id, pred) => {
    const s = document.getElementById(id);
    const o = [...s.options].find(pred);
    if (!o) throw new Error("no option in " + id);
    s.value = o.value;
    s.dispatchEvent(new Event("change"));
  };
  pick(%[1]q + "-province", (o) => o.text === %[2]q);
  pick(%[1]q + "-city", (o) => o.text === %[3]q);
  pick(%[1]q + "-county", (o) => o.value === %[4]q);
  return true;
})()`, prefix, province, city, countyCode)
}

// fillReport fills the form's personal fields, the origin and one stop.
func fillReport(t *testing.T, tab *Tab, name, id, mobile string) {
	t.Helper()
	tab.Do(t, "fill in the form",
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("idNumber"), id),
		chromedp.SendKeys(chromedp.ID("phone"), mobile),
		chromedp.SendKeys(chromedp.ID("address"), "新塘里96号"))
	Eval[bool](t, tab, pickArea("from", "广东省", "广州市", "440106"))
	Eval[bool](t, tab, pickArea("stop0", "广东省", "广州市", "440106")) // 天河区: a high-risk area in the demo
}

func openForm(t *testing.T, tab *Tab, url string) {
	t.Helper()
	tab.Do(t, "open "+url, chromedp.Navigate(url))
	tab.WaitFor(t, "the form to load its lists", `document.getElementById("report").dataset.ready === "true"`)
}

// A person scans one grid's code, fills in the form on a phone and sees
// their risk level and guidance; the report is in that grid, and its SMS
// in the local outbox.
func TestReportFormPerGridCode(t *testing.T) {
	srv := StartLocal(t)
	grids, err := srv.Settings.Grids(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	grid := grids.Grids()[7]
	tab := NewTab(t)
	openForm(t, tab, srv.URL+"/r/"+grid.Code)
	if line := Eval[string](t, tab, `document.getElementById("grid-line").textContent`); !strings.Contains(line, grid.Name) || !strings.Contains(line, grid.Community) {
		t.Errorf("the form does not name the grid scanned: %q", line)
	}
	if c := Eval[string](t, tab, `document.getElementById("community").value`); c != grid.Community {
		t.Errorf("community preset to %q, want the grid's %q", c, grid.Community)
	}
	tab.Screenshots(t, "report-form")

	const mobile = "139 0013 9000"
	id := residentID("44070319900307123")
	fillReport(t, tab, "<script>alert(1)</script>", id, mobile)
	tab.Do(t, "submit", chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the result", `!document.getElementById("result").hidden`)
	if got := Eval[string](t, tab, `document.getElementById("risk-level").textContent`); got != "高风险" {
		t.Errorf("risk level shown %q, want 高风险", got)
	}
	high := risk.NewRules(risk.DefaultGuidance()).For(risk.High)
	if got := Eval[string](t, tab, `document.getElementById("guidance").textContent`); got != high.Text {
		t.Errorf("guidance shown %q, want %q", got, high.Text)
	}
	reportID := Eval[string](t, tab, `document.getElementById("report-id").textContent`)
	tab.Screenshots(t, "report-result")

	// The report is in the grid of the code scanned, with the name stored
	// as typed (and shown to staff masked, as text).
	token := srv.Token(t, auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids(grid.Code)})
	var page struct {
		Reports []struct {
			ReportID  string `json:"reportId"`
			RiskLevel string `json:"riskLevel"`
			RoutedBy  string `json:"routedBy"`
		} `json:"reports"`
	}
	getJSON(t, srv, "/v1/grids/"+grid.Code+"/reports", token, &page)
	if len(page.Reports) != 1 || page.Reports[0].ReportID != reportID || page.Reports[0].RiskLevel != "high" {
		t.Fatalf("grid %s lists %+v, want the one high-risk report %s", grid.Code, page.Reports, reportID)
	}

	// The grid's worker sees it in the console, high risk, the name as
	// text (masked as the API gives it to staff), never run as a script.
	tab.Login(t, srv.URL, token)
	tab.Do(t, "open the console", chromedp.Navigate(srv.URL+"/console"))
	item := fmt.Sprintf(`document.querySelector('#reports > li[data-report-id=%q]')`, reportID)
	tab.WaitFor(t, "the report in the console", item+` !== null`)
	if text := Eval[string](t, tab, item+`.textContent`); !strings.Contains(text, "高风险") || !strings.Contains(text, "<script>") {
		t.Errorf("the console shows the report as %q: want 高风险 and the name as text", text)
	}
	if n := Eval[int](t, tab, `document.querySelectorAll("main script").length`); n != 0 {
		t.Errorf("%d script elements in the console", n)
	}

	// Its welcome SMS reaches the local outbox.
	want := phone.E164("13900139000")
	sent := eventually(20*time.Second, func() bool {
		return slices.ContainsFunc(srv.SMS(t), func(m outbox.Line) bool {
			return m.To == want && strings.Contains(m.Text, high.Action)
		})
	})
	if !sent {
		t.Fatalf("no SMS to %s with the high-risk action in the outbox: %+v", want, srv.SMS(t))
	}
	tab.NoErrors(t)
}

// A wrong check digit is marked next to the ID field before anything is
// sent; what only the API can check (a passport number's format) comes
// back as a field error shown next to its field. Neither stores a report.
func TestReportFormFieldErrors(t *testing.T) {
	srv := StartLocal(t)
	tab := NewTab(t)
	openForm(t, tab, srv.URL+"/r")
	id := residentID("11010519851212002")
	fillReport(t, tab, "王五", wrongCheckDigit(id), "13700137000")
	tab.Do(t, "submit", chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the ID field's error", `document.querySelector('[data-error-for="idNumber"]').textContent !== ""`)
	if got := Eval[string](t, tab, `document.querySelector('[data-error-for="idNumber"]').textContent`); !strings.Contains(got, "校验位") {
		t.Errorf("ID error %q does not say the check digit is wrong", got)
	}
	if !Eval[bool](t, tab, `document.getElementById("idNumber").closest(".field").classList.contains("invalid")`) {
		t.Error("the ID field is not marked")
	}
	if !Eval[bool](t, tab, `document.getElementById("result").hidden`) {
		t.Error("a result is shown for a refused form")
	}
	tab.Screenshots(t, "report-errors")

	// The API's own field errors land next to their fields.
	tab.Do(t, "switch to a passport with a bad number", chromedp.SetValue(chromedp.ID("idType"), "passport"))
	retype(t, tab, "idNumber", "E1!")
	tab.Do(t, "submit", chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the API's error on the ID field", `document.querySelector('[data-error-for="idNumber"]').textContent === "证件号码格式不正确"`)

	// Fixed, the same form goes through.
	tab.Do(t, "back to the resident ID", chromedp.SetValue(chromedp.ID("idType"), "resident_id"))
	retype(t, tab, "idNumber", id)
	tab.Do(t, "submit", chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the result", `!document.getElementById("result").hidden`)

	// Only the fixed submission was stored.
	var page struct {
		Reports []json.RawMessage `json:"reports"`
	}
	getJSON(t, srv, "/v1/grids/unassigned/reports", srv.Token(t, auth.Principal{Role: auth.DistrictAdmin}), &page)
	if len(page.Reports) != 1 {
		t.Errorf("the district pool holds %d reports, want the one fixed submission", len(page.Reports))
	}
	tab.NoErrors(t)
}

// A stop left without a county is marked at that stop, whichever stop it
// is; and the form of a grid code that no longer exists still takes the
// report, to the district, routed by the community picked.
func TestReportFormStaleCodeAndStops(t *testing.T) {
	srv := StartLocal(t)
	tab := NewTab(t)
	openForm(t, tab, srv.URL+"/r/no-such-grid")
	if line := Eval[string](t, tab, `document.getElementById("grid-line").textContent`); !strings.Contains(line, "已停用") {
		t.Errorf("a stale code's form says %q", line)
	}
	fillReport(t, tab, "赵六", residentID("44070319880808123"), "13600136000")
	// Two more stops: the first filled, the second left empty.
	tab.Do(t, "add two stops", chromedp.Click(chromedp.ID("add-stop")), chromedp.Click(chromedp.ID("add-stop")))
	Eval[bool](t, tab, pickArea("stop1", "广东省", "江门市", "440703"))
	tab.Do(t, "submit", chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the empty stop's error", `document.querySelector('[data-error-for="itinerary[2].areaCode"]').textContent !== ""`)
	if got := Eval[string](t, tab, `document.querySelector('[data-error-for="itinerary[1].areaCode"]').textContent`); got != "" {
		t.Errorf("the filled stop is marked %q", got)
	}
	// Deleted, the rest goes through, to the community's grid.
	tab.Do(t, "delete the empty stop", chromedp.Click(chromedp.CSS("#stops > .stop:last-child .remove-stop")))
	tab.Do(t, "pick the community", chromedp.SetValue(chromedp.ID("community"), "石冲社区"))
	tab.Do(t, "submit", chromedp.Click(chromedp.ID("submit")))
	tab.WaitFor(t, "the result", `!document.getElementById("result").hidden`)
	var page struct {
		Reports []struct {
			ReportID  string `json:"reportId"`
			Itinerary []struct {
				AreaCode string `json:"areaCode"`
			} `json:"itinerary"`
		} `json:"reports"`
	}
	var shichong string
	for _, g := range listGrids(t, srv) {
		if g.Community == "石冲社区" && (shichong == "" || g.GridCode < shichong) {
			shichong = g.GridCode
		}
	}
	getJSON(t, srv, "/v1/grids/"+shichong+"/reports", srv.Token(t, auth.Principal{Role: auth.DistrictAdmin}), &page)
	if len(page.Reports) != 1 || len(page.Reports[0].Itinerary) != 2 || page.Reports[0].Itinerary[1].AreaCode != "440703" {
		t.Errorf("石冲社区's lead grid %s holds %+v, want the one report with its two stops", shichong, page.Reports)
	}
	tab.NoErrors(t)
}

// The form's checks give the API's answer: the same reason for every ID
// number and phone the form checks.
func TestReportFormChecksMatchAPI(t *testing.T) {
	srv := StartLocal(t)
	tab := NewTab(t)
	openForm(t, tab, srv.URL+"/r")
	good := residentID("44070319900307123")
	ids := []string{
		good, strings.ToLower(residentID("11010519491231002")), residentID("11010519491231002"),
		wrongCheckDigit(good), good[:17], good + "1", "440703900307123", "44070319900307123A",
		" " + good[:6] + " " + good[6:] + " ", "４４０７０３１９９００３０７１２３" + good[17:], "",
		// Birth dates: impossible, before 1900, tomorrow, and the edges that pass.
		residentID("44070319900230123"), residentID("44070318991231123"), residentID("44070319000101123"),
		residentID("440703" + time.Now().In(dates.District).AddDate(0, 0, 1).Format("20060102") + "123"),
		residentID("440703" + time.Now().In(dates.District).Format("20060102") + "123"),
	}
	// Every two-digit prefix, known province or not.
	for p := 0; p < 100; p++ {
		ids = append(ids, residentID(fmt.Sprintf("%02d070319900307123", p)))
	}
	for _, id := range ids {
		_, want := idcard.Check(idcard.ResidentID, id, time.Now())
		got := Eval[string](t, tab, fmt.Sprintf(`import(%q).then((m) => m.idNumberProblem(%q))`, srv.URL+"/assets/gc.js", id))
		if got != want {
			t.Errorf("ID %q: the form says %q, the API %q", id, got, want)
		}
	}
	for _, p := range []string{"13800138000", "138 0013 8000", "+86 138-0013-8000", "008613800138000", "8613800138000",
		"１３８００１３８０００", "12800138000", "1380013800", "010-12345678", "", "abc"} {
		want := ""
		if strings.TrimSpace(p) == "" {
			want = "required"
		} else if _, ok := phone.Normalize(p); !ok {
			want = "invalid"
		}
		got := Eval[string](t, tab, fmt.Sprintf(`import(%q).then((m) => m.phoneProblem(%q))`, srv.URL+"/assets/gc.js", p))
		if got != want {
			t.Errorf("phone %q: the form says %q, the API %q", p, got, want)
		}
	}
	tab.NoErrors(t)
}

// retype replaces what an input holds by typing text into it.
func retype(t *testing.T, tab *Tab, id, text string) {
	t.Helper()
	Eval[bool](t, tab, fmt.Sprintf(`(document.getElementById(%q).value = "", true)`, id))
	tab.Do(t, "type into "+id, chromedp.SendKeys(chromedp.ID(id), text))
	if got := Eval[string](t, tab, fmt.Sprintf(`document.getElementById(%q).value`, id)); got != text {
		t.Fatalf("%s holds %q after typing %q", id, got, text)
	}
}
