package httpapi

import (
	"net/http"

	"gridcode/shared/report"
)

// IntakeAPI serves the report code: POST /v1/reports (the district-wide
// code) and POST /v1/grids/{gridCode}/reports (a grid's own code).
type IntakeAPI struct {
	Intake *report.Intake
	// PerAddress limits the reports of one client address (ClientKey),
	// counted before the body is read; the per-person limit is
	// Intake.Gate, counted once the body is checked.
	PerAddress Limit
}

// Register mounts the routes on mux.
func (a IntakeAPI) Register(mux Router) {
	mux.HandleFunc("POST /v1/reports", a.submit)
	mux.HandleFunc("POST /v1/grids/{gridCode}/reports", a.submit)
}

func (a IntakeAPI) submit(w http.ResponseWriter, r *http.Request) {
	if !a.PerAddress.admitClient(w, r) {
		return
	}
	var s report.Submission
	if decodeJSON(w, r, MaxReportBody, &s) != nil {
		return
	}
	receipt, err := a.Intake.Submit(r.Context(), r.PathValue("gridCode"), s)
	if err != nil {
		fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if receipt.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, receipt)
}
