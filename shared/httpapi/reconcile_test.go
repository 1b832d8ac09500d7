package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"gridcode/shared/auth"
	"gridcode/shared/worklist"
)

// sentJobs is the job queue of the HTTP tests: it keeps what was sent, or
// refuses it.
type sentJobs struct {
	mu   sync.Mutex
	jobs []worklist.Job
	down bool
}

func (q *sentJobs) Send(_ context.Context, j worklist.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return errors.New("queue down")
	}
	q.jobs = append(q.jobs, j)
	return nil
}

func (q *sentJobs) sent() []worklist.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]worklist.Job(nil), q.jobs...)
}

// POST /v1/reconcile checks the lists, records the comparison as running
// and queues its job; GET /v1/reconcile/{id} answers the record.
func TestReconcileQueuesAJob(t *testing.T) {
	t.Parallel()
	e := newWLEnv(t)
	ctx := context.Background()
	for _, id := range []string{"l1", "l2"} {
		if err := e.store.PutList(ctx, worklist.List{ID: id, Name: id, Kind: worklist.KindNAT, CreatedAt: wlNow}); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.token(t, auth.DistrictAdmin, "")
	post := func(body, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/reconcile", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return e.serve(r, token)
	}

	w := post(`{"listA":"l1","listB":"l2","direction":"b_not_in_a"}`, admin)
	var rec worklist.Reconciliation
	if w.Code != http.StatusAccepted || json.Unmarshal(w.Body.Bytes(), &rec) != nil {
		t.Fatalf("reconcile: %d %s, want 202", w.Code, w.Body)
	}
	if rec.Status != worklist.ReconciliationRunning || rec.ListA != "l2" || rec.ListB != "l1" || rec.ID == "" {
		t.Errorf("record %+v, want running, l2 against l1", rec)
	}
	if loc := w.Header().Get("Location"); loc != "/v1/reconcile/"+rec.ID {
		t.Errorf("Location %q, want /v1/reconcile/%s", loc, rec.ID)
	}
	if jobs := e.jobs.sent(); len(jobs) != 1 || jobs[0] != (worklist.Job{ReconciliationID: rec.ID, ListA: "l2", ListB: "l1"}) {
		t.Errorf("queued %+v, want the one job of %s", jobs, rec.ID)
	}

	get := e.serve(httptest.NewRequest("GET", "/v1/reconcile/"+rec.ID, nil), admin)
	var got worklist.Reconciliation
	if get.Code != http.StatusOK || json.Unmarshal(get.Body.Bytes(), &got) != nil || got != rec {
		t.Errorf("GET the record: %d %s, want %+v", get.Code, get.Body, rec)
	}

	for _, tc := range []struct {
		name, method, path, body string
		role                     auth.Role
		want                     int
	}{
		{"unknown list", "POST", "/v1/reconcile", `{"listA":"l1","listB":"nope"}`, auth.DistrictAdmin, http.StatusNotFound},
		{"same list", "POST", "/v1/reconcile", `{"listA":"l1","listB":"l1"}`, auth.DistrictAdmin, http.StatusBadRequest},
		{"grid worker starts", "POST", "/v1/reconcile", `{"listA":"l1","listB":"l2"}`, auth.GridWorker, http.StatusForbidden},
		{"unknown record", "GET", "/v1/reconcile/c-nope", "", auth.DistrictAdmin, http.StatusNotFound},
		{"grid worker reads", "GET", "/v1/reconcile/" + rec.ID, "", auth.GridWorker, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			grid := ""
			if tc.role == auth.GridWorker {
				grid = wlGrid.Code
			}
			if w := e.serve(r, e.token(t, tc.role, grid)); w.Code != tc.want {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, w.Code, w.Body, tc.want)
			}
		})
	}
	if n := len(e.jobs.sent()); n != 1 {
		t.Errorf("%d jobs queued, want only the first request's", n)
	}
}

// A job the queue refuses leaves no running record behind: it is failed,
// and the request is a server error.
func TestReconcileQueueDown(t *testing.T) {
	t.Parallel()
	e := newWLEnv(t)
	ctx := context.Background()
	for _, id := range []string{"l1", "l2"} {
		if err := e.store.PutList(ctx, worklist.List{ID: id, Name: id, Kind: worklist.KindNAT, CreatedAt: wlNow}); err != nil {
			t.Fatal(err)
		}
	}
	e.jobs.down = true
	r := httptest.NewRequest("POST", "/v1/reconcile", strings.NewReader(`{"listA":"l1","listB":"l2"}`))
	r.Header.Set("Content-Type", "application/json")
	if w := e.serve(r, e.token(t, auth.DistrictAdmin, "")); w.Code != http.StatusInternalServerError {
		t.Errorf("queue down: %d %s, want 500", w.Code, w.Body)
	}
}
