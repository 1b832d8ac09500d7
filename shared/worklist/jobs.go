package worklist

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gridcode/shared/fields"
)

// Job is one reconciliation to run after the request that asked for it:
// two district-wide lists take longer than an HTTP request may.
type Job struct {
	ReconciliationID string `json:"reconciliationId"`
	ListA            string `json:"listA"`
	ListB            string `json:"listB"`
}

// JobQueue takes jobs to a worker: SQS in the cloud, a goroutine locally.
type JobQueue interface {
	Send(ctx context.Context, j Job) error
}

// Reasons a reconciliation failed: codes, never personal data.
const (
	FailedListNotFound = "list_not_found"
	FailedInvalid      = CodeInvalidReconciliation // the same list twice
	FailedTimeout      = "timeout"
	FailedQueue        = "queue_unavailable"
	FailedError        = "internal_error"
)

// failedRecordTimeout bounds the write of a failed record, which is made
// even after the job's own context ended.
const failedRecordTimeout = 10 * time.Second

// Start checks that a and b can be compared (ErrNotFound for an unknown
// list, a *fields.Error for a == b), records the reconciliation as running
// and sends its job to q. When q refuses the job, the record returned with
// the error is the one left failed.
func (rc *Reconciler) Start(ctx context.Context, q JobQueue, a, b string) (Reconciliation, error) {
	if err := sameList(a, b); err != nil {
		return Reconciliation{}, err
	}
	for _, id := range []string{a, b} {
		if err := rc.exists(ctx, id); err != nil {
			return Reconciliation{}, err
		}
	}
	now := rc.Now()
	r := Reconciliation{ID: newID("c", now), Status: ReconciliationRunning, ListA: a, ListB: b, At: now.UTC()}
	if err := rc.Lists.PutReconciliation(ctx, r); err != nil {
		return Reconciliation{}, fmt.Errorf("record reconciliation of %s and %s: %w", a, b, err)
	}
	if err := q.Send(ctx, Job{ReconciliationID: r.ID, ListA: a, ListB: b}); err != nil {
		// Nothing will run it: say so rather than leave it running.
		r.Status, r.Reason = ReconciliationFailed, FailedQueue
		return r, errors.Join(fmt.Errorf("queue reconciliation %s: %w", r.ID, err), rc.recordFailed(ctx, r))
	}
	return r, nil
}

// exists is nil for a known list, and for the registry when there is one.
func (rc *Reconciler) exists(ctx context.Context, id string) error {
	if id == RegistryList {
		if rc.Registry == nil {
			return fmt.Errorf("reconcile: no registry configured: %w", ErrNotFound)
		}
		return nil
	}
	if _, err := rc.Lists.GetList(ctx, id); err != nil {
		return fmt.Errorf("list %s: %w", id, err)
	}
	return nil
}

// RunJob runs a job Start sent, and records its reconciliation as done, or
// as failed with a reason code. Running a job again is safe: task ids are
// keyed by the lists and the person, so a rerun creates no task twice.
//
// A failure a retry cannot mend (a list gone since Start, the same list
// twice) is recorded and is no error: the job is over. Any other failure
// is returned so the queue delivers the job again, and is recorded only on
// the last delivery (last), so a poller sees "running" while retries
// remain.
func (rc *Reconciler) RunJob(ctx context.Context, j Job, last bool) (Reconciliation, error) {
	res, err := rc.run(ctx, j)
	if err == nil {
		return res, nil
	}
	failed := Reconciliation{ID: j.ReconciliationID, Status: ReconciliationFailed, ListA: j.ListA, ListB: j.ListB, At: rc.Now().UTC()}
	var invalid *fields.Error
	switch {
	case errors.Is(err, ErrNotFound):
		failed.Reason = FailedListNotFound
	case errors.As(err, &invalid):
		failed.Reason = FailedInvalid
	case !last:
		return Reconciliation{}, err
	case errors.Is(err, context.DeadlineExceeded):
		failed.Reason = FailedTimeout
	default:
		failed.Reason = FailedError
	}
	if recErr := rc.recordFailed(ctx, failed); recErr != nil {
		return Reconciliation{}, errors.Join(err, recErr)
	}
	if failed.Reason == FailedListNotFound || failed.Reason == FailedInvalid {
		return failed, nil
	}
	return failed, err
}

// recordFailed writes a failed record even when ctx has ended (the job ran
// out of time): the record must not stay running.
func (rc *Reconciler) recordFailed(ctx context.Context, r Reconciliation) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failedRecordTimeout)
	defer cancel()
	if err := rc.Lists.PutReconciliation(ctx, r); err != nil {
		return fmt.Errorf("record failed reconciliation %s: %w", r.ID, err)
	}
	return nil
}
