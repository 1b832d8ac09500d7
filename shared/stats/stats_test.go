package stats_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/stats"
)

// source is the read port as a store answers it: reports filtered by the
// bounds asked for, counts as given. It records the bounds it was asked.
type source struct {
	reports    []report.Record
	alerts     map[alert.Status]int
	tasks      map[string]int
	kept       []stats.Day
	err        error
	alertRange [2]time.Time
	keptRange  [2]string
}

func (s *source) ReportsBetween(ctx context.Context, from, to time.Time, fn func(report.Record) error) error {
	if s.err != nil {
		return s.err
	}
	for _, r := range s.reports {
		if !r.SubmittedAt.Before(from) && r.SubmittedAt.Before(to) {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *source) AlertCounts(ctx context.Context, from, to time.Time) (map[alert.Status]int, error) {
	s.alertRange = [2]time.Time{from, to}
	return s.alerts, nil
}

func (s *source) OpenTaskCounts(ctx context.Context) (map[string]int, error) { return s.tasks, nil }

func (s *source) KeptDays(ctx context.Context, from, to string) ([]stats.Day, error) {
	s.keptRange = [2]string{from, to}
	return s.kept, nil
}

// at is an instant given as district wall time.
func at(day string, hour, minute int) time.Time {
	t, err := time.Parse("2006-01-02 15:04 -0700", day+" 00:00 +0800")
	if err != nil {
		panic(err)
	}
	return t.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute).UTC()
}

const (
	g1   = "440703006107-01"
	g2   = "440703006107-02"
	g3   = "440703006107-03"
	gone = "440703999999-01" // a grid no longer in the directory
)

var grids = []grid.Grid{
	{Code: g1, Name: "石冲社区第1网格", Community: "石冲社区", Town: "环市街道"},
	{Code: g2, Name: "石冲社区第2网格", Community: "石冲社区", Town: "环市街道"},
	{Code: g3, Name: "石冲社区第3网格", Community: "石冲社区", Town: "环市街道"},
}

func TestBuildCountsHandMadeReports(t *testing.T) {
	t.Parallel()
	d := report.DefaultDeadlines()
	rec := func(id, grid string, submitted time.Time, level risk.Level, status string) report.Record {
		return report.Record{ID: id, GridCode: grid, SubmittedAt: submitted, RiskLevel: level, Status: status,
			ContactDue: d.ContactDue(submitted, level)}
	}
	contacted := func(r report.Record, after time.Duration) report.Record {
		r.FirstContactAt = r.SubmittedAt.Add(after)
		return r
	}
	// a: contacted after 30.5 minutes.
	a := contacted(rec("a", g1, at("2022-12-05", 1, 0), risk.None, report.StatusInProgress), 30*time.Minute+30*time.Second)
	// b: high risk, never reached: due 14:00, community at 18:00, district at 22:00 on the 5th.
	b := rec("b", g1, at("2022-12-05", 10, 0), risk.High, report.StatusNew)
	// c: reached after 90 minutes, then closed.
	c := contacted(rec("c", g2, at("2022-12-06", 9, 0), risk.Low, report.StatusClosed), 90*time.Minute)
	c.ClosedAt = c.SubmittedAt.Add(3 * time.Hour)
	// f: high risk, reached after 10 hours (late, but reached).
	f := contacted(rec("f", g1, at("2022-12-06", 8, 0), risk.High, report.StatusInProgress), 10*time.Hour)
	// g: stored before deadlines existed, never reached: due on the 7th at
	// 10:00, the community's since the 8th at 10:00.
	g := rec("g", g1, at("2022-12-06", 10, 0), risk.None, report.StatusNew)
	g.ContactDue = time.Time{}
	// d: due on the 8th at 20:00, after now.
	dd := rec("d", g2, at("2022-12-07", 20, 0), risk.Medium, report.StatusNew)
	// e: in the pool, its welcome SMS failed: overdue at once.
	e := rec("e", grid.Unassigned, at("2022-12-07", 23, 30), risk.None, report.StatusNew)
	e.FollowUp = report.FollowUpCall
	// j: in a grid since removed, reached after 45 min 20 s.
	j := contacted(rec("j", gone, at("2022-12-07", 8, 0), risk.Low, report.StatusInProgress), 45*time.Minute+20*time.Second)
	// Outside the range: the last minute before it, and its end.
	before := rec("before", g3, at("2022-12-04", 23, 59), risk.High, report.StatusNew)
	after := rec("after", g3, at("2022-12-08", 0, 0), risk.High, report.StatusNew)

	src := &source{
		reports: []report.Record{before, a, b, c, f, g, dd, e, j, after},
		alerts:  map[alert.Status]int{alert.Sent: 5, alert.Failed: 1, alert.Pending: 2, alert.Sending: 1},
		tasks:   map[string]int{"not_in_registry": 3, "not_tested": 2},
	}
	from, to, err := stats.ParseRange("2022-12-05", "2022-12-07", at("2022-12-08", 12, 0))
	if err != nil {
		t.Fatal(err)
	}
	now := at("2022-12-08", 12, 0)
	got, err := stats.Build(context.Background(), src, grids, from, to, now, d)
	if err != nil {
		t.Fatal(err)
	}
	want := stats.Stats{
		From: "2022-12-05", To: "2022-12-07", GeneratedAt: now,
		Days: []stats.Day{
			{Date: "2022-12-05", Total: 2, None: 1, High: 1},
			{Date: "2022-12-06", Total: 3, None: 1, Low: 1, High: 1},
			{Date: "2022-12-07", Total: 3, None: 1, Low: 1, Medium: 1},
		},
		Grids: []stats.GridLoad{
			{GridCode: g1, Name: "石冲社区第1网格", Community: "石冲社区", Town: "环市街道", Pending: 4, Overdue: 2, Escalated: 2},
			{GridCode: g2, Name: "石冲社区第2网格", Community: "石冲社区", Town: "环市街道", Pending: 1, Closed: 1},
			{GridCode: gone, Pending: 1},
			{GridCode: grid.Unassigned, Pending: 1, Overdue: 1},
		},
		// 30.5, 45.3, 90, 600: the median by nearest rank is the 2nd, p90 the 4th.
		FirstContact: stats.Minutes{Count: 4, Median: 45.3, P90: 600},
		OpenTasks:    map[string]int{"not_in_registry": 3, "not_tested": 2},
		SMS:          stats.SMS{Sent: 5, Failed: 1, Pending: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if src.alertRange != [2]time.Time{from, to} {
		t.Errorf("alerts counted over %v, want [%v, %v)", src.alertRange, from, to)
	}

	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{
		`"from":"2022-12-05","to":"2022-12-07"`,
		`{"date":"2022-12-05","total":2,"none":1,"low":0,"medium":0,"high":1}`,
		`"firstContact":{"count":4,"medianMinutes":45.3,"p90Minutes":600}`,
		`"openTasks":{"not_in_registry":3,"not_tested":2}`,
		`"sms":{"sent":5,"failed":1,"pending":3}`,
	} {
		if !strings.Contains(string(raw), part) {
			t.Errorf("JSON lacks %s:\n%s", part, raw)
		}
	}
}

// The days count what the store kept of reports that have expired, the
// live reports of days counted before the store kept counts, and never a
// report twice.
func TestBuildDaysWithKeptCounts(t *testing.T) {
	t.Parallel()
	live := func(id, day string, level risk.Level) report.Record {
		return report.Record{ID: id, GridCode: g1, SubmittedAt: at(day, 9, 0), RiskLevel: level, Status: report.StatusClosed}
	}
	src := &source{
		reports: []report.Record{
			// The 5th: every report still there, and counted.
			live("a", "2022-12-05", risk.High), live("b", "2022-12-05", risk.None),
			// The 6th: one report left of three counted (two expired).
			live("c", "2022-12-06", risk.Low),
			// The 7th: stored before the store kept counts.
			live("d", "2022-12-07", risk.Medium), live("e", "2022-12-07", risk.Medium),
		},
		kept: []stats.Day{
			{Date: "2022-12-04", Total: 9, None: 9}, // before the range
			{Date: "2022-12-05", Total: 2, None: 1, High: 1},
			{Date: "2022-12-06", Total: 3, None: 1, Low: 2},
			// The 8th: every report expired; partly kept before counting began
			// would show as less, never as more.
			{Date: "2022-12-08", Total: 4, Low: 1, High: 3},
		},
	}
	from, to, err := stats.ParseRange("2022-12-05", "2022-12-08", at("2022-12-08", 12, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, err := stats.Build(context.Background(), src, grids, from, to, at("2022-12-08", 12, 0), report.DefaultDeadlines())
	if err != nil {
		t.Fatal(err)
	}
	want := []stats.Day{
		{Date: "2022-12-05", Total: 2, None: 1, High: 1},
		{Date: "2022-12-06", Total: 3, None: 1, Low: 2},
		{Date: "2022-12-07", Total: 2, Medium: 2},
		{Date: "2022-12-08", Total: 4, Low: 1, High: 3},
	}
	if diff := cmp.Diff(want, got.Days); diff != "" {
		t.Errorf("days (-want +got):\n%s", diff)
	}
	if src.keptRange != [2]string{"2022-12-05", "2022-12-08"} {
		t.Errorf("kept counts read for %v, want the range's days", src.keptRange)
	}
	// Only the live reports are in the grids' loads.
	if diff := cmp.Diff([]stats.GridLoad{{GridCode: g1, Name: "石冲社区第1网格", Community: "石冲社区", Town: "环市街道", Closed: 5}, {GridCode: grid.Unassigned}}, got.Grids); diff != "" {
		t.Errorf("grids (-want +got):\n%s", diff)
	}

	// A range that cuts a day counts that day's live reports only: the
	// kept counts are of whole days.
	got, err = stats.Build(context.Background(), src, grids, at("2022-12-06", 8, 0), at("2022-12-07", 0, 0), at("2022-12-08", 12, 0), report.DefaultDeadlines())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]stats.Day{{Date: "2022-12-06", Total: 1, Low: 1}}, got.Days); diff != "" {
		t.Errorf("days of a part of a day (-want +got):\n%s", diff)
	}
}

func TestBuildEmptyRangeListsThePoolAndEveryDay(t *testing.T) {
	t.Parallel()
	from, to, err := stats.ParseRange("2022-12-01", "2022-12-03", at("2022-12-08", 12, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, err := stats.Build(context.Background(), &source{}, grids, from, to, at("2022-12-08", 12, 0), report.Deadlines{})
	if err != nil {
		t.Fatal(err)
	}
	wantDays := []stats.Day{{Date: "2022-12-01"}, {Date: "2022-12-02"}, {Date: "2022-12-03"}}
	if diff := cmp.Diff(wantDays, got.Days); diff != "" {
		t.Errorf("days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]stats.GridLoad{{GridCode: grid.Unassigned}}, got.Grids); diff != "" {
		t.Errorf("grids (-want +got):\n%s", diff)
	}
	if got.OpenTasks == nil || got.FirstContact != (stats.Minutes{}) || got.SMS != (stats.SMS{}) {
		t.Errorf("empty stats: tasks %v, first contact %+v, sms %+v", got.OpenTasks, got.FirstContact, got.SMS)
	}
}

func TestBuildRefusals(t *testing.T) {
	t.Parallel()
	now := at("2022-12-08", 12, 0)
	day := at("2022-12-05", 0, 0)
	if _, err := stats.Build(context.Background(), &source{}, grids, day, day, now, report.Deadlines{}); err == nil {
		t.Error("an empty range was accepted")
	}
	broken := errors.New("store down")
	if _, err := stats.Build(context.Background(), &source{err: broken}, grids, day, day.Add(24*time.Hour), now, report.Deadlines{}); !errors.Is(err, broken) {
		t.Errorf("source error: %v, want it wrapped", err)
	}
}

func TestParseRange(t *testing.T) {
	t.Parallel()
	noon := at("2022-12-08", 12, 0)
	justAfterMidnight := at("2022-12-08", 0, 30) // still the 7th in UTC
	cases := []struct {
		name         string
		from, to     string
		now          time.Time
		wantFrom     time.Time
		wantTo       time.Time
		wantProblems []fields.Problem
	}{
		{"defaults: the last 7 district days", "", "", noon, at("2022-12-02", 0, 0), at("2022-12-09", 0, 0), nil},
		{"defaults follow the district's day, not UTC's", "", "", justAfterMidnight, at("2022-12-02", 0, 0), at("2022-12-09", 0, 0), nil},
		{"from only: up to today", "2022-12-01", "", noon, at("2022-12-01", 0, 0), at("2022-12-09", 0, 0), nil},
		{"to only: the 7 days ending there", "", "2022-12-03", noon, at("2022-11-27", 0, 0), at("2022-12-04", 0, 0), nil},
		{"one day", "2022-12-05", "2022-12-05", noon, at("2022-12-05", 0, 0), at("2022-12-06", 0, 0), nil},
		{"92 days", "2022-09-08", "2022-12-08", noon, at("2022-09-08", 0, 0), at("2022-12-09", 0, 0), nil},
		{"93 days", "2022-09-07", "2022-12-08", noon, time.Time{}, time.Time{}, []fields.Problem{{Field: "to", Reason: "range_too_long"}}},
		{"to before from", "2022-12-05", "2022-12-04", noon, time.Time{}, time.Time{}, []fields.Problem{{Field: "to", Reason: "before_from"}}},
		{"from in the future, to defaulted", "2022-12-10", "", noon, time.Time{}, time.Time{}, []fields.Problem{{Field: "to", Reason: "before_from"}}},
		{"bad dates", "2022-13-01", "12/03", noon, time.Time{}, time.Time{}, []fields.Problem{{Field: "to", Reason: "invalid_date"}, {Field: "from", Reason: "invalid_date"}}},
		{"bad to, no from", "", "2022-02-30", noon, time.Time{}, time.Time{}, []fields.Problem{{Field: "to", Reason: "invalid_date"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			from, to, err := stats.ParseRange(c.from, c.to, c.now)
			if c.wantProblems != nil {
				var fe *fields.Error
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a *fields.Error", err)
				}
				if diff := cmp.Diff(c.wantProblems, fe.Problems); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !from.Equal(c.wantFrom) || !to.Equal(c.wantTo) {
				t.Errorf("range [%v, %v), want [%v, %v)", from, to, c.wantFrom, c.wantTo)
			}
		})
	}
}
