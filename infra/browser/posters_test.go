package browser

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"gridcode/infra/local"
	"gridcode/shared/grid"
	"gridcode/shared/qr"
)

// posterPick chooses a town and a community in the page's selects, as a
// person does (the change event), and waits for the posters.
func posterPick(t *testing.T, tab *Tab, town, community string, want int) {
	t.Helper()
	Eval[bool](t, tab, fmt.Sprintf(`(() => {
		const pick = (id, v) => { const s = document.getElementById(id); s.value = v; if (s.value !== v) throw new Error(id + " has no option " + v); s.dispatchEvent(new Event("change")); };
		pick("town", %s); pick("community", %s); return true; })()`, jsString(town), jsString(community)))
	tab.WaitFor(t, "the posters of "+town+" "+community,
		fmt.Sprintf(`document.getElementById("posters").dataset.ready === %s`, jsString(fmt.Sprintf("%s/%s/%d", town, community, want))))
}

type posterShown struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	Town      string `json:"town"`
	Community string `json:"community"`
	CodeText  string `json:"codeText"`
	Src       string `json:"src"`
	Elements  int    `json:"elements"` // elements inside the name: none when it is text
}

const postersJS = `[...document.querySelectorAll("#posters .poster[data-grid]")].map((p) => ({
	code: p.dataset.grid, name: p.querySelector(".poster-name").textContent,
	town: p.querySelector(".poster-town").textContent, community: p.querySelector(".poster-community").textContent,
	codeText: p.querySelector(".code").textContent, src: p.querySelector("img.qr").getAttribute("src"),
	elements: p.querySelector(".poster-name").children.length }))`

// postersLoaded is true once every QR image on the page has loaded.
const postersLoaded = `(() => { const imgs = [...document.querySelectorAll("#posters img.qr")];
	return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0); })()`

// posterImages fetches each QR image as the page has it, by its src, and
// returns the bytes in base64 by the poster's grid code ("" for the
// district's).
const posterImages = `Promise.all([...document.querySelectorAll("#posters .poster")].map(async (p) => {
	const img = p.querySelector("img.qr");
	const b = new Uint8Array(await (await fetch(img.currentSrc)).arrayBuffer());
	let s = ""; for (const x of b) s += String.fromCharCode(x);
	return [p.dataset.grid ?? "", btoa(s), img.naturalWidth];
}))`

// The posters page prints one poster per grid of the community picked,
// each with that grid's QR code, names as text, and the district's code.
func TestPosters(t *testing.T) {
	srv := StartLocal(t)
	// A grid whose names are markup: the page must show them as text.
	hostile := grid.Grid{Code: "440703999999-01", Name: `<script>alert(1)</script>网格`,
		Community: `<img src=x onerror=alert(2)>社区`, Town: `<b>测试镇</b>`}
	if err := srv.Settings.PutGrids(context.Background(), []grid.Grid{hostile}); err != nil {
		t.Fatal(err)
	}
	grids := listGrids(t, srv)
	if len(grids) < 200 {
		t.Fatalf("GET /v1/grids: %d grids", len(grids))
	}
	if !slices.Contains(grids, gridInfo{hostile.Code, hostile.Name, hostile.Community, hostile.Town}) {
		t.Fatalf("GET /v1/grids lacks the grid named with markup")
	}
	of := func(town, community string) []gridInfo {
		var out []gridInfo
		for _, g := range grids {
			if g.Town == town && (community == "" || g.Community == community) {
				out = append(out, g)
			}
		}
		return out
	}
	// want checks the posters shown are exactly gs, in order, as text.
	want := func(t *testing.T, tab *Tab, gs []gridInfo) {
		t.Helper()
		shown := Eval[[]posterShown](t, tab, postersJS)
		if len(shown) != len(gs) {
			t.Fatalf("%d posters, want %d: %+v", len(shown), len(gs), shown)
		}
		wrong := 0
		for i, g := range gs {
			if wrong == 5 {
				t.Errorf("and maybe more")
				break
			}
			w := posterShown{Code: g.GridCode, Name: g.Name, Town: g.Town, Community: g.Community, CodeText: g.GridCode,
				Src: "/v1/grids/" + g.GridCode + "/qr.png"}
			if shown[i] != w {
				t.Errorf("poster %d: %+v, want %+v", i, shown[i], w)
				wrong++
			}
		}
	}
	// images checks each QR image loaded and is the code of its grid.
	images := func(t *testing.T, tab *Tab) int {
		t.Helper()
		tab.WaitFor(t, "the QR images", postersLoaded)
		got := Eval[[][]any](t, tab, posterImages)
		for _, row := range got {
			code := row[0].(string)
			png, err := qr.PNG(qr.ReportLink(local.ReportURL, code), 512)
			if err != nil {
				t.Fatal(err)
			}
			if row[1].(string) != base64.StdEncoding.EncodeToString(png) {
				t.Errorf("the QR image of %q is not qr.PNG(%q, 512)", code, qr.ReportLink(local.ReportURL, code))
			}
			if w := row[2].(float64); w != 512 {
				t.Errorf("the QR image of %q is %v px wide, want 512", code, w)
			}
		}
		return len(got)
	}

	tab := NewTab(t)
	tab.Do(t, "open the posters", chromedp.Navigate(srv.URL+"/admin/posters"))
	tab.WaitFor(t, "the posters", `!!document.getElementById("posters")?.dataset.ready`)

	// By default the first community of the first town: a page of posters,
	// not the district's 410.
	first := of(grids[0].Town, grids[0].Community)
	want(t, tab, first)

	// Another community: exactly its grids.
	pick := grids[200]
	chosen := of(pick.Town, pick.Community)
	posterPick(t, tab, pick.Town, pick.Community, len(chosen))
	want(t, tab, chosen)
	if n := images(t, tab); n != len(chosen) {
		t.Errorf("%d QR images checked, want %d", n, len(chosen))
	}
	if got := Eval[string](t, tab, `location.search`); got == "" {
		t.Errorf("the filter is not kept in the address")
	}

	// The whole town is more than a page: the first 40 and a note.
	town := of(pick.Town, "")
	if len(town) <= 40 {
		t.Fatalf("town %s has %d grids; the test needs one with more than 40", pick.Town, len(town))
	}
	posterPick(t, tab, pick.Town, "", 40)
	want(t, tab, town[:40])
	tab.Do(t, "show them all", chromedp.Click(chromedp.CSS("#show-all")))
	tab.WaitFor(t, "every poster of the town", fmt.Sprintf(`document.querySelectorAll("#posters .poster").length === %d`, len(town)))
	want(t, tab, town)

	// Markup in names is text: in the selects and on the poster.
	posterPick(t, tab, hostile.Town, hostile.Community, 1)
	want(t, tab, []gridInfo{{hostile.Code, hostile.Name, hostile.Community, hostile.Town}})
	if n := Eval[int](t, tab, `document.querySelectorAll("#main script, #main b, img[src=x]").length`); n != 0 {
		t.Errorf("%d elements made from a grid's names", n)
	}
	if got := Eval[string](t, tab, `document.querySelector("#town").selectedOptions[0].textContent`); got != hostile.Town+"(1)" {
		t.Errorf("town option %q", got)
	}
	images(t, tab)

	// The district's poster: its code opens the form without a grid.
	tab.Do(t, "the district's poster", chromedp.Click(chromedp.CSS("#kind-district")))
	tab.WaitFor(t, "the district's poster", `document.getElementById("posters").dataset.ready === "district"`)
	if n := Eval[int](t, tab, `document.querySelectorAll("#posters .poster[data-district]").length`); n != 1 {
		t.Errorf("%d district posters", n)
	}
	if src := Eval[string](t, tab, `document.querySelector("#posters img.qr").getAttribute("src")`); src != "/v1/qr.png" {
		t.Errorf("district QR src %q", src)
	}
	images(t, tab)

	// Back to a community, and as printed: no header nor controls, one
	// poster per A4 page.
	tab.Do(t, "the grid posters", chromedp.Click(chromedp.CSS("#kind-grid")))
	posterPick(t, tab, pick.Town, pick.Community, len(chosen))
	tab.WaitFor(t, "the QR images", postersLoaded)
	tab.Screenshots(t, "posters")
	if _, err := chromedp.Call(tab.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	printed := Eval[map[string]string](t, tab, `(() => { const p = document.querySelector(".poster");
		return { bar: getComputedStyle(document.querySelector(".bar")).display,
			controls: getComputedStyle(document.querySelector(".pst-controls")).display,
			breakAfter: getComputedStyle(p).breakAfter, height: String(Math.round(p.getBoundingClientRect().height)),
			fits: String(p.scrollHeight <= p.clientHeight) }; })()`)
	// 297 mm at 96 px per inch is 1122.5 px.
	if printed["bar"] != "none" || printed["controls"] != "none" || printed["breakAfter"] != "page" ||
		(printed["height"] != "1122" && printed["height"] != "1123") || printed["fits"] != "true" {
		t.Errorf("printed: %v", printed)
	}
	// A picture of the pages as printed: A4 is 794 px wide at 96 px per inch.
	tab.Do(t, "an A4 page's width", chromedp.EmulateViewport(794, 1123))
	if png, err := chromedp.Run(tab.Ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Errorf("print screenshot: %v", err)
	} else if err := os.WriteFile(filepath.Join(ScreenshotDir(), "posters-print.png"), png, 0o644); err != nil {
		t.Error(err)
	}
	tab.Do(t, "back to a phone", chromedp.EmulateViewport(360, 800))
	if _, err := chromedp.Call(tab.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""}); err != nil {
		t.Fatal(err)
	}
	tab.NoErrors(t)
}
