package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gridcode/infra/local"
	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/group"
	"gridcode/shared/refresh"
	"gridcode/shared/report"
	"gridcode/shared/sms/outbox"
	"gridcode/shared/store/embedded"
)

// checker holds what the server promised and checks it against the data
// dir while no server runs: right after each kill, as the crash left it,
// and at the end, once delivery has settled.
type checker struct {
	dir string

	acked     map[string]bool // report ids answered 201 or 200
	unchecked []string        // acked since the last kill-time check
	lost      map[string]bool // reports (or alerts) already counted lost

	sends     map[string]int // outbox lines per alert id
	outboxEnd int64          // bytes of the outbox read so far
	window    map[string]bool
	held      int // claims of a dead sender that had not lapsed at the last kill

	runs  []*startedRun
	lists map[string]time.Time // group id + date -> ComputedAt when first seen
}

// startedRun is a refresh the server started at the test's request.
type startedRun struct {
	date      string
	runID     string
	groups    []string // every group when it was planned
	completed bool
	abandoned bool // did not complete when waited for
}

func newChecker(dir string) *checker {
	return &checker{dir: dir, acked: map[string]bool{}, lost: map[string]bool{}, sends: map[string]int{},
		window: map[string]bool{}, lists: map[string]time.Time{}}
}

// ack records a report the server answered with its id.
func (c *checker) ack(reportID string) bool {
	if c.acked[reportID] {
		return false
	}
	c.acked[reportID] = true
	c.unchecked = append(c.unchecked, reportID)
	return true
}

// problems keeps the first few descriptions of what went wrong.
const maxProblems = 20

func (r *Result) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// readOutbox reads the outbox lines written since the last read and counts
// them per alert id. A last line without its newline is left for the next
// read (the server closes it on start).
func (c *checker) readOutbox() error {
	f, err := os.Open(filepath.Join(c.dir, local.OutboxFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(c.outboxEnd, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		c.outboxEnd += int64(len(b))
		var l outbox.Line
		if len(bytes.TrimSpace(b)) == 0 || json.Unmarshal(b, &l) != nil {
			continue // a line torn by a crash
		}
		c.sends[l.AlertID]++
	}
}

// openStore opens the data dir's store; the killed server's lock is gone.
func (c *checker) openStore() (*embedded.Store, error) {
	return embedded.Open(filepath.Join(c.dir, local.StoreFile))
}

// afterKill checks the data dir as the kill left it: every report
// acknowledged since the last check is stored with its welcome alert. It
// also notes the alerts the outbox had taken while the ledger still said
// "sending" (each one would be sent again once its lease lapses), and
// whether the day's refresh was cut off. posted is when this life asked
// for a refresh (zero: it did not); answered is the run id it got back.
func (c *checker) afterKill(ctx context.Context, res *Result, date string, posted time.Time, answered string) error {
	if err := c.readOutbox(); err != nil {
		return fmt.Errorf("read the outbox: %w", err)
	}
	st, err := c.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	for _, id := range c.unchecked {
		c.checkStored(ctx, st, res, id)
	}
	c.unchecked = c.unchecked[:0]

	now := time.Now()
	due, err := st.Due(ctx, now.Add(24*time.Hour), 1<<30)
	if err != nil {
		return err
	}
	c.held = 0
	for _, a := range due {
		if a.Status != alert.Sending {
			continue
		}
		if a.ClaimedUntil > now.UnixMilli() {
			c.held++
		}
		if c.sends[a.ID] > 0 && !c.window[a.ID] {
			c.window[a.ID] = true
			res.SendWindow++
		}
	}

	if date == "" {
		return nil
	}
	p, err := refresh.Read(ctx, st, date)
	if errors.Is(err, group.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	started := answered != "" || !posted.IsZero() && !p.PlannedAt.Before(posted.Add(-time.Second))
	if started && (len(c.runs) == 0 || c.runs[len(c.runs)-1].runID != p.RunID) {
		ids, err := st.GroupIDs(ctx)
		if err != nil {
			return err
		}
		c.runs = append(c.runs, &startedRun{date: date, runID: p.RunID, groups: ids})
		res.RefreshesStarted++
	}
	if !p.Complete {
		res.KillsMidRefresh++
	}
	// The lists built so far must never be built again.
	for _, run := range c.runs {
		for _, g := range run.groups {
			c.checkList(ctx, st, res, g, run.date, false)
		}
	}
	return nil
}

// checkStored counts an acknowledged report lost unless it is stored with
// its welcome alert.
func (c *checker) checkStored(ctx context.Context, st *embedded.Store, res *Result, id string) {
	if c.lost[id] {
		return
	}
	if _, err := st.Get(ctx, id); err != nil {
		c.lost[id] = true
		res.LostReports++
		res.problem("report %s was answered and is not stored: %v", id, err)
		return
	}
	if _, err := st.Alert(ctx, report.WelcomeAlertID(id)); err != nil {
		c.lost[id] = true
		res.LostAlerts++
		res.problem("report %s is stored without its welcome alert: %v", id, err)
	}
}

// checkList notes when a group's list of date was built, and counts it
// rebuilt if that changes; at the end (final) a missing list counts too.
func (c *checker) checkList(ctx context.Context, st *embedded.Store, res *Result, groupID, date string, final bool) (group.DailyList, bool) {
	key := groupID + " " + date
	first, seen := c.lists[key]
	if seen && !final {
		return group.DailyList{}, false // checked again at the end only
	}
	l, err := st.DailyList(ctx, groupID, date)
	switch {
	case errors.Is(err, group.ErrNotFound):
		if final {
			res.ListsMissing++
			res.problem("group %s has no list of %s after its refresh", groupID, date)
		}
		return l, false
	case err != nil:
		res.problem("read the list of group %s: %v", groupID, err)
		return l, false
	case !seen:
		c.lists[key] = l.ComputedAt
	case !l.ComputedAt.Equal(first):
		res.ListsRebuilt++
		res.problem("group %s's list of %s was built at %s and again at %s", groupID, date, first, l.ComputedAt)
	}
	return l, true
}

// final checks the settled data dir: every acknowledged report is stored
// and its welcome SMS went out once; every refresh started completed, each
// of its groups has its list, built once, and its administrator's morning
// SMS went out once; no alert went out twice.
func (c *checker) final(ctx context.Context, res *Result) error {
	if err := c.readOutbox(); err != nil {
		return fmt.Errorf("read the outbox: %w", err)
	}
	st, err := c.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	ids := make([]string, 0, len(c.acked))
	for id := range c.acked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.checkStored(ctx, st, res, id)
		if !c.lost[id] {
			c.checkSent(ctx, st, res, report.WelcomeAlertID(id), now)
		}
	}
	checked := map[string]bool{} // a later run of the day lists the earlier runs' groups again
	for _, run := range c.runs {
		if !run.completed {
			res.problem("the refresh of %s (run %s) did not complete after the restart", run.date, run.runID)
		}
		for _, g := range run.groups {
			if checked[g+" "+run.date] {
				continue
			}
			checked[g+" "+run.date] = true
			l, ok := c.checkList(ctx, st, res, g, run.date, true)
			// The morning SMS goes with a list built on its own day.
			if ok && l.Summary.Members > 0 && dates.Today(l.ComputedAt) == run.date {
				res.MorningSMS++
				c.checkSent(ctx, st, res, refresh.DailyAlertID(g, run.date), now)
			}
		}
	}
	for _, n := range c.sends {
		res.SMS += n
		res.DuplicateSMS += n - 1
	}
	return nil
}

// checkSent classifies one alert that must go out exactly once.
func (c *checker) checkSent(ctx context.Context, st *embedded.Store, res *Result, id string, now time.Time) {
	res.Alerts++
	a, err := st.Alert(ctx, id)
	switch {
	case err != nil:
		res.LostAlerts++
		res.problem("alert %s is not stored: %v", id, err)
	case a.Status == alert.Sent && c.sends[id] == 0:
		res.LostAlerts++
		res.problem("alert %s is marked sent (%s) and is not in the outbox", id, a.MessageID)
	case a.Status == alert.Sent:
		res.Sent++
	case a.Status == alert.Failed:
		res.LostAlerts++
		res.problem("alert %s failed: %s", id, a.Reason)
	case a.Status == alert.Sending && a.ClaimedUntil > now.UnixMilli():
		res.Held++
	default:
		res.Unsent++
		res.problem("alert %s is still %s after the settle wait (attempts %d, %s)", id, a.Status, a.Attempts, a.Reason)
	}
}
