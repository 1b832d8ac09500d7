package worklist_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/fields"
	"gridcode/shared/worklist"
)

// jobQueue keeps the jobs sent to it, or refuses them.
type jobQueue struct {
	mu   sync.Mutex
	jobs []worklist.Job
	down bool
}

func (q *jobQueue) Send(_ context.Context, j worklist.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return errors.New("queue down")
	}
	q.jobs = append(q.jobs, j)
	return nil
}

// failingTasks is the store with CreateTasks failing: DynamoDB throttled.
type failingTasks struct{ stores }

var errThrottled = errors.New("throttled")

func (s failingTasks) CreateTasks(context.Context, []worklist.Task) (int, error) {
	return 0, errThrottled
}

func (f *fixture) reconciliation(t *testing.T, id string) worklist.Reconciliation {
	t.Helper()
	r, err := f.store.GetReconciliation(context.Background(), id)
	if err != nil {
		t.Fatalf("reconciliation %s: %v", id, err)
	}
	return r
}

// Start records a running reconciliation and queues its job; the job's
// run records it done, and running the job again creates nothing new.
func TestStartThenRunJob(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t)
	ctx := context.Background()
	q := &jobQueue{}
	started, err := f.reconciler().Start(ctx, q, f.nat.ID, worklist.RegistryList)
	if err != nil {
		t.Fatal(err)
	}
	wantStarted := worklist.Reconciliation{ID: started.ID, Status: worklist.ReconciliationRunning, ListA: f.nat.ID, ListB: worklist.RegistryList, At: monday}
	if diff := cmp.Diff(wantStarted, started); diff != "" || started.ID == "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantStarted, f.reconciliation(t, started.ID)); diff != "" {
		t.Errorf("stored while running (-want +got):\n%s", diff)
	}
	wantJob := worklist.Job{ReconciliationID: started.ID, ListA: f.nat.ID, ListB: worklist.RegistryList}
	if diff := cmp.Diff([]worklist.Job{wantJob}, q.jobs); diff != "" {
		t.Fatalf("queued (-want +got):\n%s", diff)
	}
	if n := len(f.tasks(t)); n != 0 {
		t.Errorf("%d tasks before the job ran, want none", n)
	}

	// Residents 3 and 4 are tested but not registered.
	done, err := f.reconciler().RunJob(ctx, wantJob, false)
	if err != nil {
		t.Fatal(err)
	}
	wantDone := worklist.Reconciliation{ID: started.ID, Status: worklist.ReconciliationDone, ListA: f.nat.ID, ListB: worklist.RegistryList,
		RowsA: 4, RowsB: 4, Missing: 2, Created: 2, ToPool: 1, At: monday}
	if diff := cmp.Diff(wantDone, done); diff != "" {
		t.Errorf("done (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDone, f.reconciliation(t, started.ID)); diff != "" {
		t.Errorf("stored when done (-want +got):\n%s", diff)
	}
	tasks := f.tasks(t)

	// SQS delivers at least once: the same job again.
	again, err := f.reconciler().RunJob(ctx, wantJob, true)
	if err != nil {
		t.Fatal(err)
	}
	wantDone.Created = 0
	if diff := cmp.Diff(wantDone, again); diff != "" {
		t.Errorf("rerun (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(tasks, f.tasks(t)); diff != "" {
		t.Errorf("tasks changed by the rerun (-before +after):\n%s", diff)
	}
}

// Start refuses what cannot run, and queues nothing.
func TestStartRefuses(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t)
	for _, tc := range []struct {
		name, a, b string
		check      func(error) bool
	}{
		{"unknown list A", "nope", f.nat.ID, func(err error) bool { return errors.Is(err, worklist.ErrNotFound) }},
		{"unknown list B", f.nat.ID, "nope", func(err error) bool { return errors.Is(err, worklist.ErrNotFound) }},
		{"same list", f.nat.ID, f.nat.ID, func(err error) bool {
			var fe *fields.Error
			return errors.As(err, &fe) && fe.Code == worklist.CodeInvalidReconciliation
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &jobQueue{}
			if _, err := f.reconciler().Start(context.Background(), q, tc.a, tc.b); !tc.check(err) {
				t.Errorf("Start(%s, %s) = %v", tc.a, tc.b, err)
			}
			if len(q.jobs) != 0 {
				t.Errorf("queued %+v", q.jobs)
			}
		})
	}
}

// A job that fails ends its reconciliation failed with a reason code: at
// once when a retry cannot help, else on the last delivery, so a poller
// sees it running while retries remain. The record holds no personal data.
func TestRunJobFails(t *testing.T) {
	t.Parallel()
	deadline, expired := context.WithTimeout(context.Background(), 0)
	defer expired()
	for _, tc := range []struct {
		name       string
		job        func(f *reconcileFixture) worklist.Job
		ctx        context.Context
		throttled  bool
		last       bool
		wantErr    error // nil: the job is over
		wantStatus string
		wantReason string
	}{
		{name: "list gone", job: func(f *reconcileFixture) worklist.Job {
			return worklist.Job{ReconciliationID: "c1", ListA: "gone", ListB: f.nat.ID}
		}, wantStatus: worklist.ReconciliationFailed, wantReason: worklist.FailedListNotFound},
		{name: "same list", job: func(f *reconcileFixture) worklist.Job {
			return worklist.Job{ReconciliationID: "c1", ListA: f.nat.ID, ListB: f.nat.ID}
		}, wantStatus: worklist.ReconciliationFailed, wantReason: worklist.FailedInvalid},
		{name: "throttled, retries left", throttled: true, wantErr: errThrottled, wantStatus: worklist.ReconciliationRunning},
		{name: "throttled, last delivery", throttled: true, last: true, wantErr: errThrottled,
			wantStatus: worklist.ReconciliationFailed, wantReason: worklist.FailedError},
		{name: "out of time, last delivery", ctx: deadline, last: true, wantErr: context.DeadlineExceeded,
			wantStatus: worklist.ReconciliationFailed, wantReason: worklist.FailedTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newReconcileFixture(t)
			j := worklist.Job{ReconciliationID: "c1", ListA: f.nat.ID, ListB: worklist.RegistryList}
			if tc.job != nil {
				j = tc.job(f)
			}
			running := worklist.Reconciliation{ID: "c1", Status: worklist.ReconciliationRunning, ListA: j.ListA, ListB: j.ListB, At: monday}
			if err := f.store.PutReconciliation(context.Background(), running); err != nil {
				t.Fatal(err)
			}
			rc := f.reconciler()
			if tc.throttled {
				rc.Lists = failingTasks{f.store}
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := rc.RunJob(ctx, j, tc.last)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("RunJob = %v, want %v", err, tc.wantErr)
			}
			got := f.reconciliation(t, "c1")
			if got.Status != tc.wantStatus || got.Reason != tc.wantReason {
				t.Errorf("stored %s (%q), want %s (%q)", got.Status, got.Reason, tc.wantStatus, tc.wantReason)
			}
			if n := len(f.tasks(t)); n != 0 {
				t.Errorf("%d tasks from a failed job", n)
			}
			raw, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			for _, personal := range []string{residentID(3), residentID(4), "三", "四", "B点"} {
				if strings.Contains(string(raw), personal) {
					t.Errorf("the record %s holds %q", raw, personal)
				}
			}
		})
	}
}

// A job the queue refuses is recorded failed rather than left running.
func TestStartQueueDown(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t)
	r, err := f.reconciler().Start(context.Background(), &jobQueue{down: true}, f.nat.ID, f.residence.ID)
	if err == nil {
		t.Fatal("Start with the queue down succeeded")
	}
	if got := f.reconciliation(t, r.ID); got.Status != worklist.ReconciliationFailed || got.Reason != worklist.FailedQueue {
		t.Errorf("stored %+v, want failed with %s", got, worklist.FailedQueue)
	}
}
