package report_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
)

const (
	leadGrid   = "440703006107-01"
	secondGrid = "440703006107-02"
)

// clock is a fixed clock a test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func newFollowUps(f fixture, clk *clock) *report.FollowUps {
	return &report.FollowUps{Reports: f.store, Updates: f.store, Grids: f.settings, Now: clk.Now}
}

// submitHighRisk stores the fixture's report: high risk, in the lead grid,
// due 4 h after now.
func submitHighRisk(t *testing.T, f fixture) report.Record {
	t.Helper()
	got, err := f.intake.Submit(context.Background(), "", valid())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.store.Get(context.Background(), got.ReportID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RiskLevel != risk.High || rec.GridCode != leadGrid {
		t.Fatalf("fixture report is %s risk in %s", rec.RiskLevel, rec.GridCode)
	}
	return rec
}

func TestFollowUpOutcomes(t *testing.T) {
	t.Parallel()
	h := time.Hour
	type step struct {
		after time.Duration // since submission
		in    report.FollowUpInput
	}
	cases := []struct {
		name  string
		steps []step
		want  func(r report.Record) report.Record // from the report as submitted
	}{
		{"contacted starts the work", []step{{h, report.FollowUpInput{Outcome: report.Contacted, Note: " 电话已通 "}}},
			func(r report.Record) report.Record {
				r.Status, r.FirstContactAt, r.Version = report.StatusInProgress, now.Add(h), 1
				r.FollowUps = []report.FollowUp{{At: now.Add(h), By: "w1", Outcome: report.Contacted, Note: "电话已通"}}
				return r
			}},
		{"unreachable is an attempt, not contact", []step{{h, report.FollowUpInput{Outcome: report.Unreachable, Note: "无人接听"}}},
			func(r report.Record) report.Record {
				r.Version = 1
				r.FollowUps = []report.FollowUp{{At: now.Add(h), By: "w1", Outcome: report.Unreachable, Note: "无人接听"}}
				return r
			}},
		{"first contact is the first one", []step{
			{h, report.FollowUpInput{Outcome: report.Unreachable}},
			{2 * h, report.FollowUpInput{Outcome: report.Tested}},
			{3 * h, report.FollowUpInput{Outcome: report.Contacted}},
		}, func(r report.Record) report.Record {
			r.Status, r.FirstContactAt, r.Version = report.StatusInProgress, now.Add(2*h), 3
			r.FollowUps = []report.FollowUp{
				{At: now.Add(h), By: "w1", Outcome: report.Unreachable},
				{At: now.Add(2 * h), By: "w1", Outcome: report.Tested},
				{At: now.Add(3 * h), By: "w1", Outcome: report.Contacted},
			}
			return r
		}},
		{"wrong grid moves it with a fresh deadline", []step{{10 * h, report.FollowUpInput{Outcome: report.WrongGrid, Note: "住第2网格", ToGrid: secondGrid}}},
			func(r report.Record) report.Record {
				r.GridCode, r.ContactDue, r.Version = secondGrid, now.Add(14*h), 1
				r.FollowUps = []report.FollowUp{{At: now.Add(10 * h), By: "w1", Outcome: report.WrongGrid, Note: "住第2网格", FromGrid: leadGrid, ToGrid: secondGrid}}
				return r
			}},
		{"back to the district pool", []step{{h, report.FollowUpInput{Outcome: report.WrongGrid, Note: "不在本社区", ToGrid: grid.Unassigned}}},
			func(r report.Record) report.Record {
				r.GridCode, r.ContactDue, r.Version = grid.Unassigned, now.Add(5*h), 1
				r.FollowUps = []report.FollowUp{{At: now.Add(h), By: "w1", Outcome: report.WrongGrid, Note: "不在本社区", FromGrid: leadGrid, ToGrid: grid.Unassigned}}
				return r
			}},
		{"closed", []step{
			{h, report.FollowUpInput{Outcome: report.Contacted}},
			{30 * h, report.FollowUpInput{Outcome: report.Closed, Note: "居家监测期满"}},
		}, func(r report.Record) report.Record {
			r.Status, r.FirstContactAt, r.ClosedAt, r.Version = report.StatusClosed, now.Add(h), now.Add(30*h), 2
			r.FollowUps = []report.FollowUp{
				{At: now.Add(h), By: "w1", Outcome: report.Contacted},
				{At: now.Add(30 * h), By: "w1", Outcome: report.Closed, Note: "居家监测期满"},
			}
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			submitted := submitHighRisk(t, f)
			clk := &clock{t: now}
			fu := newFollowUps(f, clk)
			var returned report.Record
			for _, s := range c.steps {
				clk.Set(now.Add(s.after))
				var err error
				if returned, err = fu.Record(ctx, "w1", submitted.ID, s.in); err != nil {
					t.Fatalf("%s: %v", s.in.Outcome, err)
				}
			}
			want := c.want(submitted)
			stored, err := f.store.Get(ctx, submitted.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, stored); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, returned); diff != "" {
				t.Errorf("returned (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFollowUpMoveChangesTheGridsLists(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := submitHighRisk(t, f)
	fu := newFollowUps(f, &clock{t: now.Add(time.Hour)})
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.WrongGrid, Note: "住第2网格", ToGrid: secondGrid}); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]int{leadGrid: 0, secondGrid: 1} {
		page, err := f.store.ListGrid(ctx, report.GridQuery{GridCode: code, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) != want {
			t.Errorf("grid %s lists %d reports, want %d", code, len(page.Records), want)
		}
	}
}

func TestFollowUpRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   report.FollowUpInput
		want []fields.Problem
	}{
		{"no outcome", report.FollowUpInput{}, []fields.Problem{{Field: "outcome", Reason: "required"}}},
		{"unknown outcome", report.FollowUpInput{Outcome: "done"}, []fields.Problem{{Field: "outcome", Reason: "unknown"}}},
		{"note too long", report.FollowUpInput{Outcome: report.Contacted, Note: strings.Repeat("核", report.NoteLimit+1)}, []fields.Problem{{Field: "note", Reason: "too_long"}}},
		{"note with a control character", report.FollowUpInput{Outcome: report.Contacted, Note: "已联系\u202e"}, []fields.Problem{{Field: "note", Reason: "invalid_characters"}}},
		{"a target grid for a contact", report.FollowUpInput{Outcome: report.Contacted, ToGrid: secondGrid}, []fields.Problem{{Field: "toGrid", Reason: "not_allowed"}}},
		{"wrong grid without reason or target", report.FollowUpInput{Outcome: report.WrongGrid, Note: "  "}, []fields.Problem{{Field: "note", Reason: "required"}, {Field: "toGrid", Reason: "required"}}},
		{"wrong grid to a grid that does not exist", report.FollowUpInput{Outcome: report.WrongGrid, Note: "外区", ToGrid: "440703999999-01"}, []fields.Problem{{Field: "toGrid", Reason: "unknown"}}},
		{"wrong grid to its own grid", report.FollowUpInput{Outcome: report.WrongGrid, Note: "外区", ToGrid: leadGrid}, []fields.Problem{{Field: "toGrid", Reason: "same_grid"}}},
	}
	f := newFixture(t)
	r := submitHighRisk(t, f)
	fu := newFollowUps(f, &clock{t: now.Add(time.Hour)})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, err := fu.Record(ctx, "w1", r.ID, c.in)
			var fe *fields.Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *fields.Error", err)
			}
			if diff := cmp.Diff(c.want, fe.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	t.Cleanup(func() {
		stored, err := f.store.Get(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, stored); diff != "" {
			t.Errorf("refused follow-ups changed the report (-want +got):\n%s", diff)
		}
	})
}

func TestFollowUpOnAClosedOrMissingReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := submitHighRisk(t, f)
	fu := newFollowUps(f, &clock{t: now.Add(time.Hour)})
	if _, err := fu.Record(ctx, "w1", "rnope", report.FollowUpInput{Outcome: report.Contacted}); !errors.Is(err, report.ErrNotFound) {
		t.Errorf("unknown report: %v, want ErrNotFound", err)
	}
	closed, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.Closed, Note: "重复报备"})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []report.FollowUpInput{{Outcome: report.Contacted}, {Outcome: report.Closed}, {Outcome: report.WrongGrid, Note: "外区", ToGrid: secondGrid}} {
		if _, err := fu.Record(ctx, "w1", r.ID, in); !errors.Is(err, report.ErrClosed) {
			t.Errorf("%s on a closed report: %v, want ErrClosed", in.Outcome, err)
		}
	}
	stored, err := f.store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(closed, stored); diff != "" {
		t.Errorf("a closed report changed (-want +got):\n%s", diff)
	}
}

// racingStore lets another follow-up land between the read and the write
// of the one under test, as a second worker on the same report would.
type racingStore struct {
	*embedded.Store
	other func()
	once  sync.Once
}

func (s *racingStore) UpdateFollowUp(ctx context.Context, r report.Record, fromVersion int) error {
	s.once.Do(s.other)
	return s.Store.UpdateFollowUp(ctx, r, fromVersion)
}

func TestFollowUpConflictPassesThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := submitHighRisk(t, f)
	clk := &clock{t: now.Add(time.Hour)}
	first := newFollowUps(f, clk)
	racing := &racingStore{Store: f.store}
	racing.other = func() {
		if _, err := first.Record(ctx, "w2", r.ID, report.FollowUpInput{Outcome: report.Contacted}); err != nil {
			t.Errorf("the other worker's follow-up: %v", err)
		}
	}
	second := newFollowUps(f, clk)
	second.Updates = racing
	if _, err := second.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.Unreachable}); !errors.Is(err, report.ErrConflict) {
		t.Fatalf("second follow-up of one version: %v, want ErrConflict", err)
	}
	stored, err := f.store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Version != 1 || len(stored.FollowUps) != 1 || stored.FollowUps[0].By != "w2" {
		t.Errorf("after the race: version %d, follow-ups %+v; want only w2's", stored.Version, stored.FollowUps)
	}
}

func TestOverdueOrdersByEscalationThenDue(t *testing.T) {
	t.Parallel()
	store, err := embedded.Open(t.TempDir() + "/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	d := report.DefaultDeadlines()
	at := now.Add(100 * time.Hour)
	h := time.Hour
	rec := func(id, gridCode string, age time.Duration, level risk.Level) report.Record {
		submitted := at.Add(-age)
		return report.Record{ID: id, GridCode: gridCode, ListKey: report.ListKey(submitted, id), RiskLevel: level,
			Status: report.StatusNew, SubmittedAt: submitted, ContactDue: d.ContactDue(submitted, level)}
	}
	with := func(r report.Record, change func(*report.Record)) report.Record { change(&r); return r }
	records := []report.Record{
		rec("community", leadGrid, 50*h, risk.None),  // due 26 h ago: one step late
		rec("district", leadGrid, 13*h, risk.High),   // due 9 h ago, 4 h steps: two steps late
		rec("overdue-6h", leadGrid, 30*h, risk.None), // due 6 h ago
		rec("overdue-2h", leadGrid, 26*h, risk.Low),  // due 2 h ago
		with(rec("sms-failed", leadGrid, h, risk.None), func(r *report.Record) { r.FollowUp = report.FollowUpCall }),
		with(rec("closed", leadGrid, 72*h, risk.None), func(r *report.Record) { r.Status, r.ClosedAt = report.StatusClosed, at.Add(-h) }),
		with(rec("reached", leadGrid, 72*h, risk.None), func(r *report.Record) { r.Status, r.FirstContactAt = report.StatusInProgress, at.Add(-50*h) }),
		with(rec("tried", leadGrid, 40*h, risk.None), func(r *report.Record) {
			r.FollowUps = []report.FollowUp{{At: at.Add(-20 * h), By: "w1", Outcome: report.Unreachable}}
			r.Version = 1
		}),
		rec("too-old", leadGrid, 15*24*h, risk.None),
		rec("not-yet", leadGrid, 2*h, risk.None),
		rec("other-grid", secondGrid, 50*h, risk.High),
	}
	// More reports than a page, all newer and none late, so the late ones
	// are found only on the following pages.
	for i := range 230 {
		records = append(records, rec(fmt.Sprintf("fresh-%03d", i), leadGrid, time.Duration(i)*time.Second, risk.None))
	}
	var wg sync.WaitGroup
	for _, r := range records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := alert.Alert{ID: report.WelcomeAlertID(r.ID), ReportID: r.ID, GridCode: r.GridCode, Status: alert.Sent, CreatedAt: r.SubmittedAt}
			if _, _, err := store.Create(ctx, r, a); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	fu := &report.FollowUps{Reports: store, Updates: store, Now: func() time.Time { return at }}
	got, err := fu.Overdue(ctx, leadGrid, at)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	want := []string{"district", "community", "tried", "overdue-6h", "overdue-2h", "sms-failed"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("overdue (-want +got):\n%s", diff)
	}

	fu.Lookback = 45 * time.Hour
	got, err = fu.Overdue(ctx, leadGrid, at)
	if err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"district", "tried", "overdue-6h", "overdue-2h", "sms-failed"}, ids); diff != "" {
		t.Errorf("overdue within 45 h (-want +got):\n%s", diff)
	}
}
