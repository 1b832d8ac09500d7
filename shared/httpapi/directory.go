package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/fields"
	"gridcode/shared/qr"
	"gridcode/shared/report"
)

// DirectoryAPI serves the district's settings: the grids (public, for the
// report form), the risk-area list and the guidance table (public to read,
// the district office to replace); the county list the form picks from;
// the report QR codes; and who a staff token belongs to.
type DirectoryAPI struct {
	Settings *district.Settings
	Areas    *area.Catalog
	// ReportURL is the report form's address (".../r"): the district code
	// encodes it, a grid's code ReportURL/<gridCode>.
	ReportURL string
	Staff     Staff
}

// Register mounts the routes on mux.
func (a DirectoryAPI) Register(mux Router) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/grids", a.grids)
	mux.HandleFunc("GET /v1/qr.png", a.reportCode)
	mux.HandleFunc("GET /v1/grids/{gridCode}/qr.png", a.reportCode)
	mux.HandleFunc("GET /v1/areas", a.areas)
	mux.HandleFunc("GET /v1/me", a.me)
	mux.HandleFunc("GET /v1/risk-areas", a.riskAreas)
	mux.HandleFunc("PUT /v1/risk-areas", a.putRiskAreas)
	mux.HandleFunc("GET /v1/guidance", a.guidance)
	mux.HandleFunc("PUT /v1/guidance", a.putGuidance)
}

type publicGrid struct {
	Code      string `json:"gridCode"`
	Name      string `json:"name"`
	Community string `json:"community"`
	Town      string `json:"town"`
}

func (a DirectoryAPI) grids(w http.ResponseWriter, r *http.Request) {
	dir, err := a.Settings.Grids(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	out := make([]publicGrid, 0, len(dir.Grids()))
	for _, g := range dir.Grids() {
		out = append(out, publicGrid{Code: g.Code, Name: g.Name, Community: g.Community, Town: g.Town})
	}
	writeJSON(w, http.StatusOK, out)
}

// reportCode draws the QR code of the district's report form, or of one
// grid's: what the posters print. Public, like the posters on the wall.
func (a DirectoryAPI) reportCode(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("gridCode")
	if code != "" {
		dir, err := a.Settings.Grids(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		if _, ok := dir.Lookup(code); !ok {
			fail(w, r, report.ErrUnknownGrid)
			return
		}
	}
	png, err := qr.PNG(qr.ReportLink(a.ReportURL, code), qrSize)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(png)
}

// areas serves every county-level division the API accepts, by province
// and city, in code order.
func (a DirectoryAPI) areas(w http.ResponseWriter, r *http.Request) {
	tree := struct {
		Edition   string          `json:"edition"`
		Provinces []area.Province `json:"provinces"`
	}{a.Areas.Edition(), a.Areas.Provinces()}
	// Unlike the API's other answers it may be cached: it changes once a
	// year, with a release.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_ = json.NewEncoder(w).Encode(tree)
}

// me says who a staff token belongs to: the pages show the role and pick
// the grid or group from it. "grid" is the first of "grids", for the pages
// written when a worker had one.
func (a DirectoryAPI) me(w http.ResponseWriter, r *http.Request) {
	a.Staff.answer(w, r, http.StatusOK, func(p auth.Principal) (any, error) {
		return struct {
			Role    auth.Role `json:"role"`
			Grids   []string  `json:"grids,omitempty"`
			Grid    string    `json:"grid,omitempty"`
			Group   string    `json:"group,omitempty"`
			Expires time.Time `json:"expires"`
		}{p.Role, p.Grids, p.FirstGrid(), p.Group, p.Expires}, nil
	})
}

func (a DirectoryAPI) riskAreas(w http.ResponseWriter, r *http.Request) {
	list, err := a.Settings.RiskAreas(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list.Areas())
}

func (a DirectoryAPI) guidance(w http.ResponseWriter, r *http.Request) {
	rules, err := a.Settings.Guidance(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rules.Table())
}

func (a DirectoryAPI) putRiskAreas(w http.ResponseWriter, r *http.Request) {
	replaceTable(a, w, r, a.Settings.SetRiskAreas, a.riskAreas)
}

func (a DirectoryAPI) putGuidance(w http.ResponseWriter, r *http.Request) {
	replaceTable(a, w, r, a.Settings.SetGuidance, a.guidance)
}

// replaceTable replaces a whole rule table for the district office and
// answers with the table as stored. `null` would wipe the table, so
// clearing it takes an explicit [].
func replaceTable[T any](a DirectoryAPI, w http.ResponseWriter, r *http.Request, set func(context.Context, []T) error, show http.HandlerFunc) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	var table []T
	if decodeJSON(w, r, MaxRuleSetBody, &table) != nil {
		return
	}
	if table == nil {
		writeError(w, http.StatusBadRequest, "invalid_json", fields.Problem{Field: "", Reason: "not_an_array"})
		return
	}
	if err := set(r.Context(), table); err != nil {
		fail(w, r, err)
		return
	}
	show(w, r)
}
