package httpapi

import (
	"net/http"
	"strconv"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/report"
)

// ReportsAPI serves reports to staff: a grid's list and one report.
type ReportsAPI struct {
	Reader *report.Reader
	Staff  Staff
}

// Register mounts the routes on mux.
func (a ReportsAPI) Register(mux Router) {
	mux.HandleFunc("GET /v1/grids/{gridCode}/reports", a.list)
	mux.HandleFunc("GET /v1/reports/{reportId}", a.get)
}

func (a ReportsAPI) list(w http.ResponseWriter, r *http.Request) {
	p, err := a.Staff.principal(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := report.ListFilter{Status: q.Get("status"), From: q.Get("from"), To: q.Get("to"), After: q.Get("nextToken")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_query", fields.Problem{Field: "limit", Reason: "not_a_number"})
			return
		}
		f.Limit = n
	}
	page, err := a.Reader.ListGrid(r.Context(), p, r.PathValue("gridCode"), f)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (a ReportsAPI) get(w http.ResponseWriter, r *http.Request) {
	a.Staff.answer(w, r, http.StatusOK, func(p auth.Principal) (any, error) {
		return a.Reader.Get(r.Context(), p, r.PathValue("reportId"))
	})
}
