package httpapi

import (
	"context"
	"time"

	"gridcode/shared/worklist"
)

// WithRetention makes every follow-up move its report's expiry by period
// (report.ExpiresAt; zero is retention.Default, as without it).
func (a FollowUpsAPI) WithRetention(period time.Duration) FollowUpsAPI {
	if a.FollowUps.Desk != nil {
		desk := *a.FollowUps.Desk
		desk.Retention = period
		a.FollowUps.Desk = &desk
	}
	return a
}

// WithRetention makes the reconciliation's new tasks, and every visit,
// set the task's expiry by period (worklist.TaskExpiresAt; zero is
// retention.Default, as without it).
func (a WorklistAPI) WithRetention(period time.Duration) WorklistAPI {
	if a.Reconciler != nil {
		rc := *a.Reconciler
		rc.Retention = period
		a.Reconciler = &rc
	}
	if newDesk := a.Tasks.Desk; newDesk != nil {
		a.Tasks.Desk = func(ctx context.Context) (*worklist.Desk, error) {
			d, err := newDesk(ctx)
			if err != nil {
				return nil, err
			}
			d.Retention = period
			return d, nil
		}
	}
	return a
}
