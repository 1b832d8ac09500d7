package httpapi

import (
	"net/http"
	"strconv"

	"gridcode/shared/fields"
	"gridcode/shared/gridwork"
	"gridcode/shared/report"
)

// ReportsAPI serves reports to staff: a grid's list and one report. Each
// person shown is audited.
type ReportsAPI struct {
	Reader *report.Reader
	Audit  gridwork.Auditor
	Staff  Staff
}

// Register mounts the routes on mux.
func (a ReportsAPI) Register(mux Router) {
	mux.HandleFunc("GET /v1/grids/{gridCode}/reports", a.list)
	mux.HandleFunc("GET /v1/reports/{reportId}", a.get)
}

func (a ReportsAPI) list(w http.ResponseWriter, r *http.Request) {
	c, err := a.Staff.caller(r)
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
	page, err := a.Reader.ListGrid(r.Context(), c.Principal, r.PathValue("gridCode"), f)
	if err == nil {
		keys := make([]string, len(page.Reports))
		for i, v := range page.Reports {
			keys[i] = v.PersonKey
		}
		err = a.Audit.Record(r.Context(), c, "report.list", keys...)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (a ReportsAPI) get(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		v, err := a.Reader.Get(r.Context(), c.Principal, r.PathValue("reportId"))
		if err != nil {
			return nil, err
		}
		return v, a.Audit.Record(r.Context(), c, "report.view", v.PersonKey)
	})
}
