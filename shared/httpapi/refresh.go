package httpapi

import (
	"net/http"

	"gridcode/shared/dates"
	"gridcode/shared/refresh"
)

// RefreshAPI lets the district office start a day's refresh by hand and
// watch its progress.
type RefreshAPI struct {
	Planner *refresh.Planner
	Runs    refresh.RunReader
	Staff   Staff
}

// Register mounts the routes on mux.
func (a RefreshAPI) Register(mux Router) {
	mux.HandleFunc("POST /v1/refresh/run", a.run)
	mux.HandleFunc("GET /v1/refresh/runs/{date}", a.progress)
}

// run plans ?date= (today by default) and answers 202: the run goes on in
// the workers, and its progress is at the Location.
func (a RefreshAPI) run(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	date := r.URL.Query().Get("date")
	if date == "" {
		date = dates.Today(a.Staff.Now())
	}
	plan, err := a.Planner.Plan(r.Context(), date)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/refresh/runs/"+plan.Date)
	writeJSON(w, http.StatusAccepted, plan)
}

func (a RefreshAPI) progress(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	date := r.PathValue("date")
	if _, ok := dates.Parse(date); !ok {
		fail(w, r, refresh.ErrBadDate)
		return
	}
	p, err := refresh.Read(r.Context(), a.Runs, date)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
