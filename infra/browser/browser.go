// Package browser drives the pages in headless Chromium for the tests:
// a local system on a temporary data dir behind an HTTP server, a browser
// tab that records JavaScript errors, and screenshots at a phone's and a
// desk's width.
//
// Chromium is Debian's (/usr/bin/chromium, which .ci/run installs). When
// it is missing the tests are skipped, or fail when CI=true.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"gridcode/infra/local"
	"gridcode/shared/auth"
	"gridcode/shared/sms/outbox"
)

// Widths of the screenshots: a small Android phone and a desk.
var Widths = []int{360, 1280}

// ChromiumPath finds the browser: $CHROMIUM, else Debian's or another
// usual name on PATH.
func ChromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Server is a local system served over HTTP.
type Server struct {
	*local.System
	URL string
}

// StartLocal opens a local system (the demo district) on a temporary data
// dir, delivers its SMS in the background and serves it.
func StartLocal(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := local.Open(ctx, t.TempDir(), time.Now)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var delivering sync.WaitGroup
	delivering.Go(func() { sys.Deliver(ctx) })
	srv := httptest.NewServer(sys.Handler)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		delivering.Wait()
		sys.Close()
	})
	return &Server{System: sys, URL: srv.URL}
}

// Token issues a staff token for p, valid for an hour.
func (s *Server) Token(t testing.TB, p auth.Principal) string {
	t.Helper()
	if p.Subject == "" {
		p.Subject = string(p.Role)
	}
	p.Expires = time.Now().Add(time.Hour)
	tok, err := s.Issuer.Issue(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// SMS lists what the local SMS provider "sent": GET /dev/sms.
func (s *Server) SMS(t testing.TB) []outbox.Line {
	t.Helper()
	res, err := http.Get(s.URL + "/dev/sms")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out []outbox.Line
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Start launches headless Chromium at path with its own profile in
// profileDir and opens a tab at a phone's width, for at most limit;
// cancel closes the browser.
func Start(path, profileDir string, limit time.Duration) (context.Context, context.CancelFunc, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profileDir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// This machine's network is closed: no background calls home.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(360, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, limit)
	cancel := func() { cancelTime(); cancelTab(); cancelAlloc() }
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 800)); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, cancel, nil
}

// Tab is one browser tab. Errors collects the page's uncaught exceptions
// and console.error calls; a test checks it is empty at the end.
type Tab struct {
	Ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// NewTab starts headless Chromium (one per test, its own profile) and
// opens a tab at a phone's width.
func NewTab(t *testing.T) *Tab {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (.ci/run installs Debian's chromium)")
		}
		t.Skip("chromium not installed; apt-get install chromium, or set CHROMIUM")
	}
	ctx, cancel, err := Start(path, t.TempDir(), 2*time.Minute)
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(cancel)
	tab := &Tab{Ctx: ctx}
	err = chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			what := d.Text
			if d.Exception != nil {
				what += " " + d.Exception.Description
			}
			tab.record(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, what))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				tab.record("console.error: " + strings.Join(parts, " "))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// What breaks a page silently, without an exception, is an error too:
	// something the Content-Security-Policy blocked, and a script,
	// stylesheet or image that did not load.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: silentFailures}); err != nil {
		t.Fatal(err)
	}
	return tab
}

const silentFailures = `
document.addEventListener("securitypolicyviolation", (e) =>
  console.error("CSP blocked " + e.violatedDirective + " " + (e.blockedURI || "inline")));
window.addEventListener("error", (e) => {
  const el = e.target;
  if (el && el !== window && (el.src || el.href)) console.error("failed to load " + (el.src || el.href));
}, true);
`

func (tab *Tab) record(s string) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.errors = append(tab.errors, s)
}

// Do runs actions in the tab, failing the test with what was tried.
func (tab *Tab) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab.Ctx, actions...); err != nil {
		t.Fatalf("%s: %v (page errors: %v)", what, err, tab.Errors())
	}
}

// Eval evaluates a JavaScript expression in the tab (awaiting a promise)
// and decodes its value.
func Eval[T any](t testing.TB, tab *Tab, js string) T {
	t.Helper()
	v, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[T](js, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v (page errors: %v)", js, err, tab.Errors())
	}
	return v
}

// WaitFor waits until the JavaScript expression is truthy (20 s at most),
// failing the test with what it waited for.
func (tab *Tab) WaitFor(t testing.TB, what, js string) {
	t.Helper()
	_, err := chromedp.Run(tab.Ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		body, _ := chromedp.Run(tab.Ctx, chromedp.Evaluate[string]("document.body.innerText"))
		t.Fatalf("waiting for %s (%s): %v\npage errors: %v\npage text:\n%s", what, js, err, tab.Errors(), body)
	}
}

// Errors returns the JavaScript errors seen so far.
func (tab *Tab) Errors() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.errors...)
}

// NoErrors fails the test if the page threw or logged an error.
func (tab *Tab) NoErrors(t testing.TB) {
	t.Helper()
	if errs := tab.Errors(); len(errs) > 0 {
		t.Errorf("JavaScript errors on the page:\n%s", strings.Join(errs, "\n"))
	}
}

// Login keeps a staff token in the tab's session storage, as the login
// box does, for pages under origin.
func (tab *Tab) Login(t testing.TB, origin, token string) {
	t.Helper()
	tab.Do(t, "keep the token",
		chromedp.Navigate(origin+"/healthz"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf("sessionStorage.setItem('gc.token', %q)", token)))
}

// Screenshots writes the page as it is at each of Widths, full length, to
// ScreenshotDir()/<name>-<width>.png, checks it does not scroll sideways
// at any of them, and goes back to a phone's width.
func (tab *Tab) Screenshots(t testing.TB, name string) {
	t.Helper()
	dir := ScreenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range Widths {
		tab.Do(t, fmt.Sprintf("resize to %d px", w),
			chromedp.EmulateViewport(int64(w), 800),
			chromedp.Sleep(100*time.Millisecond)) // let the layout settle
		// A page must fit a phone: nothing wider than the screen makes the
		// whole page scroll sideways (a wide table scrolls in its own box).
		if overflow := Eval[int](t, tab, `document.documentElement.scrollWidth - window.innerWidth`); overflow > 0 {
			t.Errorf("%s at %d px is %d px too wide: the page scrolls sideways", name, w, overflow)
		}
		png, err := chromedp.Run(tab.Ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s at %d px: %v", name, w, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tab.Do(t, "back to a phone", chromedp.EmulateViewport(360, 800))
}

// ScreenshotDir is $SCREENSHOT_DIR, else .build/screenshots at the
// repository root (the build output, git-ignored).
func ScreenshotDir() string {
	if d := os.Getenv("SCREENSHOT_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join(".build", "screenshots")
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".build", "screenshots")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, ".build", "screenshots")
		}
	}
}
