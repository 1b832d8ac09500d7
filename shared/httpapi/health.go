package httpapi

import (
	"net/http"

	"gridcode/shared/auth"
	"gridcode/shared/healthfeed"
)

// HealthAPI takes the provincial health feed: POST /v1/health/updates.
type HealthAPI struct {
	Feed  *healthfeed.Feed
	Staff Staff
}

// Register mounts the routes on mux.
func (a HealthAPI) Register(mux Router) {
	mux.HandleFunc("POST /v1/health/updates", a.updates)
}

func (a HealthAPI) updates(w http.ResponseWriter, r *http.Request) {
	p, err := a.Staff.principal(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !p.CanFeedHealth() {
		fail(w, r, auth.ErrForbidden)
		return
	}
	var b healthfeed.Batch
	if decodeJSON(w, r, MaxHealthBody, &b) != nil {
		return
	}
	res, err := a.Feed.Apply(r.Context(), b)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
