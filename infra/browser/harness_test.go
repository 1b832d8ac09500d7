package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The harness sees what breaks a page without an exception: a style the
// Content-Security-Policy blocks and an image that does not load.
func TestHarnessSeesSilentFailures(t *testing.T) {
	srv := StartLocal(t)
	tab := NewTab(t)
	tab.Do(t, "open /", chromedp.Navigate(srv.URL+"/"))
	tab.WaitFor(t, "the start page", `document.querySelector(".links") !== null`)
	if errs := tab.Errors(); len(errs) != 0 {
		t.Fatalf("errors on the start page: %v", errs)
	}
	Eval[bool](t, tab, `(document.head.append(Object.assign(document.createElement("style"), {textContent: "body { color: red }"})),
		document.body.append(Object.assign(document.createElement("img"), {src: "/assets/missing.png"})), true)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := strings.Join(tab.Errors(), "\n")
		if strings.Contains(all, "CSP blocked style-src") && strings.Contains(all, "failed to load "+srv.URL+"/assets/missing.png") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the harness missed a blocked style or a missing image; it saw: %q", all)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
