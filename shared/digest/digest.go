// Package digest keeps grid workers from being flooded on a holiday: what
// came in for their grid arrives as one SMS per digest window, and not at
// night.
package digest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/retention"
	"gridcode/shared/risk"
)

// Schedule is when digests go out.
type Schedule struct {
	Window     time.Duration // at most one digest per worker per window; default 30 min
	QuietStart int           // hour (district time) from which digests wait; default 22
	QuietEnd   int           // hour at which they resume; default 7
}

// DefaultSchedule is the district's: every 30 minutes, quiet 22:00–07:00.
var DefaultSchedule = Schedule{Window: 30 * time.Minute, QuietStart: 22, QuietEnd: 7}

// WindowStart is the start of the window holding t. Windows are aligned to
// district midnight.
func (s Schedule) WindowStart(t time.Time) time.Time {
	local := t.In(dates.District)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, dates.District)
	return midnight.Add(local.Sub(midnight).Truncate(s.Window))
}

// Quiet says whether a digest due at t waits for the morning. Equal start
// and end hours mean no quiet hours.
func (s Schedule) Quiet(t time.Time) bool {
	if s.QuietStart == s.QuietEnd {
		return false
	}
	h := t.In(dates.District).Hour()
	if s.QuietStart > s.QuietEnd {
		return h >= s.QuietStart || h < s.QuietEnd
	}
	return h >= s.QuietStart && h < s.QuietEnd
}

// Coverage is what the digest of the window starting at w reports on:
// everything since the previous window that was not quiet began, so the
// 07:00 digest carries the whole night.
func (s Schedule) Coverage(w time.Time) (from, to time.Time) {
	from = w.Add(-s.Window)
	for range int(24 * time.Hour / s.Window) {
		if !s.Quiet(from) {
			break
		}
		from = from.Add(-s.Window)
	}
	return from, w
}

// Reports is how the job reads a grid's reports.
type Reports interface {
	ListGrid(ctx context.Context, q report.GridQuery) (report.Page, error)
}

// Grids is how the job reads the district's grids.
type Grids interface {
	Grids(ctx context.Context) (*grid.Directory, error)
}

// Job queues the digests of the current window. Run it often (every
// minute): each worker's digest id is fixed per window, so extra runs and
// concurrent runs queue nothing twice.
type Job struct {
	Schedule  Schedule
	Grids     Grids
	Reports   Reports
	Outbox    alert.Outbox
	Vault     *pii.Vault
	Now       func() time.Time
	Retention time.Duration
}

// Summary is what one grid's digest says.
type Summary struct {
	New, High, Calls int
}

// Result counts what a run did.
type Result struct {
	Grids, Queued int
}

// maxCounted bounds the reports read for one grid's digest; beyond it the
// digest says the bound (the grid worker's list has them all).
const maxCounted = 99999

// Run queues the current window's digests. It does nothing in quiet hours.
// A grid whose reports cannot be read is skipped and reported in the error;
// the others still get their digests.
func (j *Job) Run(ctx context.Context) (Result, error) {
	now := j.Now()
	w := j.Schedule.WindowStart(now)
	if j.Schedule.Quiet(w) {
		return Result{}, nil
	}
	dir, err := j.Grids.Grids(ctx)
	if err != nil {
		return Result{}, err
	}
	from, to := j.Schedule.Coverage(w)
	var res Result
	var errs []error
	for _, g := range dir.Grids() {
		sum, err := j.summarise(ctx, g.Code, from, to)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sum.New == 0 && sum.Calls == 0 {
			continue
		}
		res.Grids++
		n, err := j.queue(ctx, g, w, sum, now)
		res.Queued += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

func (j *Job) summarise(ctx context.Context, gridCode string, from, to time.Time) (Summary, error) {
	var sum Summary
	q := report.GridQuery{GridCode: gridCode, Since: from, Until: to, Limit: 500}
	for {
		page, err := j.Reports.ListGrid(ctx, q)
		if err != nil {
			return Summary{}, fmt.Errorf("digest of grid %s: %w", gridCode, err)
		}
		for _, r := range page.Records {
			sum.New++
			if r.RiskLevel == risk.High {
				sum.High++
			}
			if r.FollowUp != "" {
				sum.Calls++
			}
		}
		if page.Next == "" || sum.New >= maxCounted {
			return sum, nil
		}
		q.After = page.Next
	}
}

// queue writes one digest alert per grid worker of g.
func (j *Job) queue(ctx context.Context, g grid.Grid, w time.Time, sum Summary, now time.Time) (int, error) {
	workers, err := g.OpenWorkers(j.Vault)
	if err != nil || len(workers) == 0 {
		return 0, err
	}
	params := map[string]string{
		"grid":  gridLabel(g),
		"new":   strconv.Itoa(min(sum.New, maxCounted)),
		"high":  strconv.Itoa(min(sum.High, maxCounted)),
		"calls": strconv.Itoa(min(sum.Calls, maxCounted)),
	}
	queued := 0
	for _, wk := range workers {
		lookup := report.PhoneLookup(j.Vault, wk.Phone)
		id := AlertID(g.Code, lookup, w)
		a, err := alert.New(j.Vault, id, alert.GridDigest, params, wk.Phone, lookup)
		if err != nil {
			return queued, fmt.Errorf("digest of grid %s: %w", g.Code, err)
		}
		a.GridCode, a.CreatedAt, a.ExpiresAt = g.Code, now.UTC(), retention.Until(j.Retention, now)
		created, err := j.Outbox.Enqueue(ctx, a)
		if err != nil {
			return queued, fmt.Errorf("digest %s: %w", id, err)
		}
		if created {
			queued++
		}
	}
	return queued, nil
}

// AlertID names one worker's digest of one window. It is keyed by the
// worker's phone lookup, not their place in the grid's list, so a worker
// added or removed mid-window changes no one else's digest.
func AlertID(gridCode, phoneLookup string, window time.Time) string {
	return fmt.Sprintf("digest.%s.%s.%d", gridCode, phoneLookup[:min(12, len(phoneLookup))], window.Unix())
}

// gridLabel is the grid's name if it fits the template, else its code.
func gridLabel(g grid.Grid) string {
	if n := []rune(g.Name); len(n) > 0 && len(n) <= alert.GridDigest.Params["grid"] {
		return g.Name
	}
	if r := []rune(g.Code); len(r) > alert.GridDigest.Params["grid"] {
		return string(r[len(r)-alert.GridDigest.Params["grid"]:])
	}
	return g.Code
}
