package httpapi

import (
	"context"
	"net/http"

	"gridcode/shared/district"
	"gridcode/shared/fields"
)

// DirectoryAPI serves the district's settings: the grids (public, for the
// report form), the risk-area list and the guidance table (public to read,
// the district office to replace).
type DirectoryAPI struct {
	Settings *district.Settings
	Staff    Staff
}

// Register mounts the routes on mux.
func (a DirectoryAPI) Register(mux Router) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/grids", a.grids)
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
