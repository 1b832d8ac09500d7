package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gridcode/shared/httpapi"
)

func serve(t *testing.T) (*Site, *http.ServeMux) {
	t.Helper()
	site, err := New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	site.Register(mux)
	return site, mux
}

func get(mux http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

// Every page is HTML under the CSP, links its stylesheet and script under
// the base path, and carries the path's grid or group to its script,
// escaped.
func TestPages(t *testing.T) {
	t.Parallel()
	site, mux := serve(t)
	for _, p := range Pages {
		path := strings.TrimPrefix(strings.Replace(p.Route, "{$}", "", 1), "GET ")
		path = strings.NewReplacer("{gridCode}", "g1", "{groupId}", "G1").Replace(path)
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r = r.WithContext(httpapi.WithBasePath(r.Context(), "/prod"))
		w := get(mux, r)
		body := w.Body.String()
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: %d %s", path, w.Code, w.Header().Get("Content-Type"))
		}
		if w.Header().Get("Content-Security-Policy") != CSP || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers %v", path, w.Header())
		}
		if !strings.Contains(body, `href="/prod/assets/gc.css?v=`+site.version+`"`) {
			t.Errorf("%s: stylesheet not under the base path", path)
		}
		if p.Script != "" && !strings.Contains(body, `src="/prod/assets/`+p.Script+`?v=`+site.version+`"`) {
			t.Errorf("%s: script %s not under the base path", path, p.Script)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
			t.Errorf("%s: inline script or style, which the CSP refuses", path)
		}
	}
	// What the path carries is escaped into the page.
	w := get(mux, httptest.NewRequest(http.MethodGet, `/r/%22%3E%3Cscript%3E`, nil))
	if strings.Contains(w.Body.String(), `"><script>`) {
		t.Error("a grid code in the path reached the page unescaped")
	}
}

// Assets: the release's ?v= may be kept a day, anything else is
// revalidated with the release's ETag; a missing or hidden file is a 404.
func TestAssets(t *testing.T) {
	t.Parallel()
	site, mux := serve(t)
	w := get(mux, httptest.NewRequest(http.MethodGet, "/assets/gc.js?v="+site.version, nil))
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") ||
		!strings.Contains(w.Header().Get("Cache-Control"), "max-age=86400") {
		t.Errorf("gc.js?v=release: %d %v", w.Code, w.Header())
	}
	etag := w.Header().Get("ETag")
	w = get(mux, httptest.NewRequest(http.MethodGet, "/assets/gc.js", nil))
	if w.Header().Get("Cache-Control") != "no-cache" || w.Header().Get("ETag") != etag || w.Body.Len() == 0 {
		t.Errorf("gc.js without ?v=: %v, %d bytes", w.Header(), w.Body.Len())
	}
	r := httptest.NewRequest(http.MethodGet, "/assets/gc.js", nil)
	r.Header.Set("If-None-Match", etag)
	if w = get(mux, r); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("gc.js revalidated with its ETag: %d, %d bytes", w.Code, w.Body.Len())
	}
	r.Header.Set("If-None-Match", `"older"`)
	if w = get(mux, r); w.Code != http.StatusOK {
		t.Errorf("gc.js with an old ETag: %d", w.Code)
	}
	for _, path := range []string{"/assets/nope.js", "/assets/..%2Fweb.go", "/assets/.hidden"} {
		if w := get(mux, httptest.NewRequest(http.MethodGet, path, nil)); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
	}
	b, _ := io.ReadAll(get(mux, httptest.NewRequest(http.MethodGet, "/assets/gc.css", nil)).Body)
	if !strings.Contains(string(b), "@media print") {
		t.Error("gc.css is not the stylesheet")
	}
}
