package local

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"gridcode/shared/worklist"
)

// reconcileJobs is the in-process stand-in for the reconciliation SQS
// queue: each job runs in its own goroutine after the request that queued
// it, and a failed one runs again until MaxReceives, the last run recording
// the failure, as the cloud's worker does. Close stops and waits for them,
// so none writes to a closed store.
type reconcileJobs struct {
	rc      *worklist.Reconciler
	backoff time.Duration // before a rerun (the cloud's visibility timeout)

	ctx     context.Context
	stop    context.CancelFunc
	running sync.WaitGroup
}

var _ worklist.JobQueue = (*reconcileJobs)(nil)

func newReconcileJobs(rc *worklist.Reconciler, backoff time.Duration) *reconcileJobs {
	ctx, stop := context.WithCancel(context.Background())
	return &reconcileJobs{rc: rc, backoff: backoff, ctx: ctx, stop: stop}
}

// Send implements worklist.JobQueue. The job outlives the request's
// context: it runs until it ends or the system closes.
func (q *reconcileJobs) Send(ctx context.Context, j worklist.Job) error {
	if err := q.ctx.Err(); err != nil {
		return err
	}
	q.running.Go(func() { q.run(j) })
	return nil
}

func (q *reconcileJobs) run(j worklist.Job) {
	for attempt := 1; ; attempt++ {
		res, err := q.rc.RunJob(q.ctx, j, attempt >= MaxReceives)
		if err == nil {
			slog.InfoContext(q.ctx, "reconciliation job", "reconciliationId", res.ID, "status", res.Status, "reason", res.Reason,
				"missing", res.Missing, "created", res.Created, "seconds", res.Seconds)
			return
		}
		slog.ErrorContext(q.ctx, "reconciliation job failed", "reconciliationId", j.ReconciliationID, "attempt", attempt, "err", err)
		if attempt >= MaxReceives || q.ctx.Err() != nil {
			return
		}
		select {
		case <-q.ctx.Done():
			return
		case <-time.After(q.backoff):
		}
	}
}

// close stops the running jobs and waits for them.
func (q *reconcileJobs) close() {
	q.stop()
	q.running.Wait()
}
