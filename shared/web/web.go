// Package web serves the pages people use: the report form the QR codes
// open, the group self-join page, the grid worker's console, the group
// administrator's page, the district dashboard and the printable posters.
//
// Pages are HTML shells with the district's strings in Simplified Chinese;
// their scripts call the JSON API of the same origin, so locally and in
// the cloud one handler serves them (the template's WebFunction, behind
// the same HTTP API). Scripts build the page with textContent only, and
// the Content-Security-Policy allows no inline script: a name like
// <script>alert(1)</script> shows as text.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"gridcode/shared/httpapi"
)

//go:embed static
var static embed.FS

// Page is one page: its route, template and the script it runs.
type Page struct {
	Route  string // "GET /r/{gridCode}"
	File   string // template under static/, "report.html"
	Title  string
	Script string // module under static/assets/, "report.js"
}

// Pages lists every page. A staff page asks for a token first.
var Pages = []Page{
	{Route: "GET /{$}", File: "index.html", Title: "网格码"},
	{Route: "GET /r", File: "report.html", Title: "入区报备", Script: "report.js"},
	{Route: "GET /r/{gridCode}", File: "report.html", Title: "入区报备", Script: "report.js"},
	{Route: "GET /join/{groupId}", File: "join.html", Title: "加入单位", Script: "join.js"},
	{Route: "GET /console", File: "console.html", Title: "网格员工作台", Script: "console.js"},
	{Route: "GET /group", File: "group.html", Title: "单位健康名单", Script: "group.js"},
	{Route: "GET /dashboard", File: "dashboard.html", Title: "区指挥部看板", Script: "dashboard.js"},
	{Route: "GET /admin/posters", File: "posters.html", Title: "网格码海报", Script: "posters.js"},
}

// CSP lets a page run only its own scripts and styles and talk only to its
// own origin; images may also be blobs (downloads) and data URLs.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Site serves the pages and their assets.
type Site struct {
	pages   map[string]*template.Template
	assets  fs.FS
	version string // a hash of the assets, so a new release is fetched at once
}

// New parses the embedded pages.
func New() (*Site, error) {
	assets, err := fs.Sub(static, "static/assets")
	if err != nil {
		return nil, err
	}
	s := &Site{pages: map[string]*template.Template{}, assets: assets}
	if s.version, err = hashTree(assets); err != nil {
		return nil, err
	}
	for _, p := range Pages {
		if s.pages[p.File] != nil {
			continue
		}
		t, err := template.ParseFS(static, "static/layout.html", "static/"+p.File)
		if err != nil {
			return nil, err
		}
		s.pages[p.File] = t
	}
	return s, nil
}

// Register mounts every page and GET /assets/{file}.
func (s *Site) Register(mux httpapi.Router) {
	for _, p := range Pages {
		mux.HandleFunc(p.Route, s.page(p))
	}
	mux.HandleFunc("GET /assets/{file}", s.asset)
}

// view is what a page template sees.
type view struct {
	Page
	Base     string // the stage prefix every link and API call starts with
	Version  string
	GridCode string // /r/{gridCode}
	GroupID  string // /join/{groupId}
}

func (s *Site) page(p Page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := view{Page: p, Base: httpapi.BasePath(r.Context()), Version: s.version,
			GridCode: r.PathValue("gridCode"), GroupID: r.PathValue("groupId")}
		var b strings.Builder
		if err := s.pages[p.File].ExecuteTemplate(&b, "layout", v); err != nil {
			http.Error(w, "page failed", http.StatusInternalServerError)
			return
		}
		securityHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write([]byte(b.String()))
	}
}

func (s *Site) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(s.assets, name)
	if err != nil || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	securityHeaders(w)
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	// Pages ask for ?v=<version>: a release changes the URL, so it may be
	// kept a day. Modules import each other without it; those are
	// revalidated by the release's ETag, a 304 when nothing changed.
	etag := `"` + s.version + `"`
	w.Header().Set("ETag", etag)
	if r.URL.Query().Get("v") == s.version {
		w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(b)
}

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func hashTree(fsys fs.FS) (string, error) {
	sum := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum.Write([]byte(p))
		sum.Write(b)
		return nil
	})
	return hex.EncodeToString(sum.Sum(nil))[:12], err
}
