// Package refresh computes every group's daily list each morning: a
// planner splits the groups into shards and queues them, workers build the
// lists, and each shard records its progress so the district office can
// watch a run and see every group that failed, with the reason.
package refresh

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/retention"
)

// Shard is one queue message: some groups of one day's run.
type Shard struct {
	Date     string   `json:"date"`
	RunID    string   `json:"runId"` // the plan it belongs to
	Index    int      `json:"shard"`
	GroupIDs []string `json:"groupIds"`
}

// DefaultShardSize keeps a shard's work well inside one Lambda invocation:
// 50 groups of ~50 members are a few thousand reads.
const DefaultShardSize = 50

// Queue carries shards to the workers: SQS in the cloud, an in-process
// queue locally, with the same retry and dead-letter rules.
type Queue interface {
	Send(ctx context.Context, shards []Shard) error
}

// GroupLister lists every group.
type GroupLister interface {
	GroupIDs(ctx context.Context) ([]string, error)
}

// Planner starts a day's run.
type Planner struct {
	Groups    GroupLister
	Runs      group.RunStore
	Queue     Queue
	ShardSize int
	Now       func() time.Time
}

// ErrBadDate is a run date that is not a past or present district day.
var ErrBadDate = errors.New("refresh: date must be YYYY-MM-DD and not after today")

// ErrInProgress is a plan for a day whose run is still going.
var ErrInProgress = errors.New("refresh: the day's run is in progress")

// StuckAfter is how long a run may go on before the day may be planned
// again over it: far longer than a district's run takes (minutes), so two
// runs of one day never overlap unless the first one died.
const StuckAfter = 30 * time.Minute

// CheckDate accepts a district day up to today.
func CheckDate(date string, now time.Time) error {
	// Dates in the fixed layout order as strings.
	if _, ok := dates.Parse(date); !ok || date > dates.Today(now) {
		return ErrBadDate
	}
	return nil
}

// Plan records the day's plan and queues its shards. Planning a day again
// queues the shards again; groups already done are skipped by the workers,
// so a rerun changes nothing and sends nothing twice. While the day's run
// goes on (up to StuckAfter) it is not planned again: ErrInProgress.
func (p *Planner) Plan(ctx context.Context, date string) (group.RunPlan, error) {
	return p.plan(ctx, date, false)
}

// Restart plans the day again even if its run seems to go on: for a
// process that knows the run's queue died with it (the local server's
// in-process queue after a restart).
func (p *Planner) Restart(ctx context.Context, date string) (group.RunPlan, error) {
	return p.plan(ctx, date, true)
}

func (p *Planner) plan(ctx context.Context, date string, restart bool) (group.RunPlan, error) {
	now := p.Now()
	if err := CheckDate(date, now); err != nil {
		return group.RunPlan{}, err
	}
	switch prev, err := Read(ctx, p.Runs, date); {
	case errors.Is(err, group.ErrNotFound):
	case err != nil:
		return group.RunPlan{}, fmt.Errorf("plan refresh %s: %w", date, err)
	case !restart && !prev.Complete && now.Sub(prev.PlannedAt) < StuckAfter:
		return group.RunPlan{}, ErrInProgress
	}
	ids, err := p.Groups.GroupIDs(ctx)
	if err != nil {
		return group.RunPlan{}, fmt.Errorf("plan refresh %s: %w", date, err)
	}
	size := p.ShardSize
	if size < 1 {
		size = DefaultShardSize
	}
	runID := rand.Text()[:16]
	var shards []Shard
	for start := 0; start < len(ids); start += size {
		shards = append(shards, Shard{Date: date, RunID: runID, Index: len(shards), GroupIDs: ids[start:min(start+size, len(ids))]})
	}
	plan := group.RunPlan{Date: date, RunID: runID, Groups: len(ids), Shards: len(shards), PlannedAt: now.UTC()}
	// The shards go first: a plan is recorded only once its shards are
	// queued, so a failed send leaves no run "in progress" to block the
	// schedule's retry. A shard that reports before its plan is written
	// is keyed by its run and counts once the plan is there.
	if err := p.Queue.Send(ctx, shards); err != nil {
		return group.RunPlan{}, fmt.Errorf("queue refresh %s: %w", date, err)
	}
	if err := p.Runs.PutRunPlan(ctx, plan); err != nil {
		return group.RunPlan{}, fmt.Errorf("plan refresh %s: %w", date, err)
	}
	return plan, nil
}

// Worker builds the daily lists of a shard's groups.
type Worker struct {
	Groups    group.Store
	Lists     group.DailyStore
	Health    health.Store
	Runs      group.RunStore
	Vault     *pii.Vault
	Now       func() time.Time
	NATLimit  time.Duration
	Retention time.Duration
	// Parallel groups per shard; the stores are I/O bound.
	Parallel int
}

// groupAttempts are the tries at one group within one delivery of a
// shard; the queue then redelivers the shard a few times more.
const groupAttempts = 3

// Delivery says which delivery of a shard this is.
type Delivery struct {
	Attempt int
	// Final is the last delivery before the message goes to the
	// dead-letter queue: failures recorded now are the run's final word.
	Final bool
}

// Refresh builds every group of the shard that has no list for the day
// yet and records the shard's result. It returns an error when a group
// failed, so the queue delivers the shard again.
func (w *Worker) Refresh(ctx context.Context, s Shard, d Delivery) error {
	res := group.ShardResult{Date: s.Date, RunID: s.RunID, Shard: s.Index, Groups: len(s.GroupIDs), Attempt: d.Attempt, Final: d.Final}
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, max(w.Parallel, 1))
	var wg sync.WaitGroup
	for _, id := range s.GroupIDs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := w.groupWithRetry(ctx, s.Date, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed = append(res.Failed, group.GroupFailure{GroupID: id, Reason: reason(err)})
				errs = append(errs, fmt.Errorf("group %s: %w", id, err))
				return
			}
			res.Done++
		}()
	}
	wg.Wait()
	res.UpdatedAt = w.Now().UTC()
	// Recorded even when the invocation is ending: a delivery whose result
	// is lost would leave the run unfinished for good.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.Runs.PutShardResult(recordCtx, res); err != nil {
		errs = append(errs, fmt.Errorf("record shard %d of %s: %w", s.Index, s.Date, err))
	}
	return errors.Join(errs...)
}

func (w *Worker) groupWithRetry(ctx context.Context, date, id string) error {
	var err error
	for attempt := 1; attempt <= groupAttempts; attempt++ {
		if err = w.Group(ctx, date, id); err == nil || errors.Is(err, group.ErrNotFound) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		}
	}
	return err
}

// reason is the stable text a failed group shows in the run's progress:
// no error text from a store reaches the page.
func reason(err error) string {
	switch {
	case errors.Is(err, group.ErrNotFound):
		return "group_not_found"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	case errors.Is(err, pii.ErrSealed):
		return "unreadable_data"
	}
	return "store_error"
}

// DailyAlertID names a group's morning SMS of one day: one per group and
// day, however often the day is run.
func DailyAlertID(groupID, date string) string { return "daily." + groupID + "." + date }

// Group builds one group's list for date, unless it exists.
func (w *Worker) Group(ctx context.Context, date, id string) error {
	if _, err := w.Lists.DailyList(ctx, id, date); err == nil {
		return nil
	} else if !errors.Is(err, group.ErrNotFound) {
		return err
	}
	g, err := w.Groups.GetGroup(ctx, id)
	if err != nil {
		return err
	}
	members, err := w.Groups.Members(ctx, id, g.RosterVersion)
	if err != nil {
		return err
	}
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = m.PersonKey
	}
	records, err := w.Health.GetHealth(ctx, keys)
	if err != nil {
		return err
	}
	rows := make([]group.ListRow, len(members))
	for i, m := range members {
		p, err := group.OpenPersonal(w.Vault, m)
		if err != nil {
			return err
		}
		rows[i] = group.ListRow{PersonKey: m.PersonKey, IDType: m.IDType, Personal: p}
		if rec, ok := records[m.PersonKey]; ok {
			st, err := health.Open(w.Vault, rec)
			if err != nil {
				return err
			}
			rows[i].Status = &st
		}
	}
	now := w.Now()
	limit := w.NATLimit
	if limit <= 0 {
		limit = group.DefaultNATLimit
	}
	summary, entries := group.BuildList(rows, now, limit)
	sealed, err := group.SealEntries(w.Vault, id, date, entries)
	if err != nil {
		return err
	}
	list := group.DailyList{GroupID: id, Date: date, Summary: summary, Sealed: sealed, ComputedAt: now.UTC(), ExpiresAt: retention.Until(w.Retention, now)}
	var alerts []alert.Alert
	// The SMS says 今日: a day refreshed late (a past date run by hand)
	// gets its list and no SMS.
	if summary.Members > 0 && date == dates.Today(now) {
		a, err := w.dailyAlert(g, list, now)
		if err != nil {
			return err
		}
		alerts = append(alerts, a)
	}
	_, err = w.Lists.PutDailyList(ctx, list, alerts)
	return err
}

// maxCounted keeps a count within its registered parameter length.
const maxCounted = 99999

func (w *Worker) dailyAlert(g group.Group, l group.DailyList, now time.Time) (alert.Alert, error) {
	admin, err := group.OpenAdmin(w.Vault, g)
	if err != nil {
		return alert.Alert{}, err
	}
	params := map[string]string{
		"group":    alert.Clip(g.Name, alert.GroupDaily.Params["group"]),
		"members":  strconv.Itoa(min(l.Summary.Members, maxCounted)),
		"abnormal": strconv.Itoa(min(l.Summary.Abnormal, maxCounted)),
	}
	a, err := alert.New(w.Vault, DailyAlertID(g.ID, l.Date), alert.GroupDaily, params, admin.Phone, report.PhoneLookup(w.Vault, admin.Phone))
	if err != nil {
		return alert.Alert{}, err
	}
	a.GridCode, a.CreatedAt, a.ExpiresAt = g.GridCode, now.UTC(), l.ExpiresAt
	return a, nil
}

// Progress is a run as the district office watches it.
type Progress struct {
	Date      string               `json:"date"`
	RunID     string               `json:"runId"`
	PlannedAt time.Time            `json:"plannedAt"`
	Groups    int                  `json:"groups"`
	Done      int                  `json:"done"`
	Shards    int                  `json:"shards"`
	Reported  int                  `json:"shardsReported"`
	Failed    []group.GroupFailure `json:"failed"`
	// Retrying counts failed groups whose shard will be delivered again;
	// Failed lists only those that will not.
	Retrying int  `json:"retrying"`
	Complete bool `json:"complete"`
}

// RunReader reads a run's records.
type RunReader interface {
	Run(ctx context.Context, date string) (group.RunPlan, []group.ShardResult, error)
}

// Read sums the shard results of a day's latest plan.
func Read(ctx context.Context, runs RunReader, date string) (Progress, error) {
	plan, shards, err := runs.Run(ctx, date)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Date: plan.Date, RunID: plan.RunID, PlannedAt: plan.PlannedAt, Groups: plan.Groups, Shards: plan.Shards, Reported: len(shards), Failed: []group.GroupFailure{}}
	for _, s := range shards {
		p.Done += s.Done
		if s.Final {
			p.Failed = append(p.Failed, s.Failed...)
		} else {
			p.Retrying += len(s.Failed)
		}
	}
	p.Complete = p.Reported == p.Shards && p.Retrying == 0
	return p, nil
}
