package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"gridcode/infra/browser"
	"gridcode/infra/local"
)

// benchReportForm times the report form as a phone first opens it after
// scanning a grid's code, nothing cached: from navigation until the form
// has its county and grid lists and can be filled in (page, stylesheet,
// scripts, GET /v1/areas and /v1/grids). The baseline is the start page,
// a shell with the same stylesheet and no script, in the same headless
// Chromium against the same local server.
func benchReportForm(ctx context.Context, loads int) (row, error) {
	const what = "report form opened from a grid's code in headless Chromium at 360 px, nothing cached, local server (page, CSS, 2 scripts, county and grid lists)"
	path := browser.ChromiumPath()
	if path == "" {
		return row{what: what, result: "skipped: no chromium (make tools installs it as root)"}, nil
	}
	dir, err := os.MkdirTemp("", "gridcode-bench-pages-")
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(dir)
	sys, err := local.Open(ctx, filepath.Join(dir, "data"), time.Now)
	if err != nil {
		return row{}, err
	}
	defer sys.Close()
	srv := httptest.NewServer(sys.Handler)
	defer srv.Close()
	grids, err := sys.Settings.Grids(ctx)
	if err != nil {
		return row{}, err
	}
	tab, closeBrowser, err := browser.Start(path, filepath.Join(dir, "profile"), 10*time.Minute)
	if err != nil {
		return row{}, fmt.Errorf("start chromium: %w", err)
	}
	defer closeBrowser()
	if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
		return row{}, err
	}
	if _, err := chromedp.Call(tab, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		return row{}, err
	}
	open := func(url, ready string) ([]time.Duration, error) {
		times := make([]time.Duration, 0, loads)
		for i := -2; i < loads; i++ { // two loads to warm up, not counted
			start := time.Now()
			if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
				return nil, err
			}
			if _, err := chromedp.Run(tab, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
				return nil, fmt.Errorf("%s never ready: %w", url, err)
			}
			if i >= 0 {
				times = append(times, time.Since(start))
			}
		}
		return times, nil
	}
	form, err := open(srv.URL+"/r/"+grids.Grids()[0].Code, `document.getElementById("report")?.dataset.ready === "true"`)
	if err != nil {
		return row{}, err
	}
	start, err := open(srv.URL+"/", `document.readyState === "complete"`)
	if err != nil {
		return row{}, err
	}
	f50, f99 := quantiles(form)
	s50, s99 := quantiles(start)
	return row{
		what:     fmt.Sprintf("%s, %d loads", what, loads),
		result:   fmt.Sprintf("ready p50 %s, p99 %s", latency(f50), latency(f99)),
		baseline: fmt.Sprintf("the start page (shell and stylesheet) loaded: p50 %s, p99 %s", latency(s50), latency(s99)),
		ratio:    fmt.Sprintf("%.1f", float64(f50)/float64(s50)),
	}, nil
}
