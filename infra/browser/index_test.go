package browser

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// The start page links every page, and the harness works: a page loads,
// its stylesheet applies, and screenshots are written.
func TestIndexLinksEveryPage(t *testing.T) {
	srv := StartLocal(t)
	tab := NewTab(t)
	tab.Do(t, "open /", chromedp.Navigate(srv.URL+"/"))
	tab.WaitFor(t, "the links", `document.querySelectorAll(".links a").length > 0`)
	if links := Eval[int](t, tab, `document.querySelectorAll(".links a").length`); links != 5 {
		t.Errorf("start page has %d links, want 5", links)
	}
	if c := Eval[string](t, tab, `getComputedStyle(document.querySelector(".bar")).backgroundColor`); c != "rgb(201, 48, 44)" {
		t.Errorf("header colour %q: the stylesheet did not load", c)
	}
	tab.Screenshots(t, "index")
	tab.NoErrors(t)
}
