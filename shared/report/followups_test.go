package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gridcode/shared/alert"
	"gridcode/shared/auth"
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

// fixtureRetention is how long the fixture's reports are kept, after
// they came in and after each follow-up.
const fixtureRetention = 30 * 24 * time.Hour

func newFollowUps(f fixture, clk *clock) *report.FollowUps {
	return &report.FollowUps{Reports: f.store, Updates: f.store, Grids: f.settings, Vault: f.vault, Now: clk.Now, Retention: fixtureRetention}
}

// anyone is the access rule of tests about what a follow-up does, not who
// may record it.
func anyone(report.Record) error { return nil }

// ignoreSealedNotes compares follow-ups without their sealed notes, whose
// nonces differ on every seal; the notes are compared opened.
var ignoreSealedNotes = cmpopts.IgnoreFields(report.FollowUp{}, "NoteSealed")

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
		want  func(r report.Record) report.Record // from the report as submitted, notes aside
		notes []string                            // the follow-ups' notes, opened
	}{
		{"contacted starts the work", []step{{h, report.FollowUpInput{Outcome: report.OutcomeContacted, Note: " 电话已通 "}}},
			func(r report.Record) report.Record {
				r.Status, r.FirstContactAt, r.Version = report.StatusInProgress, now.Add(h), 1
				r.FollowUps = []report.FollowUp{{At: now.Add(h), By: "w1", Outcome: report.OutcomeContacted}}
				return r
			}, []string{"电话已通"}},
		{"unreachable is an attempt, not contact", []step{{h, report.FollowUpInput{Outcome: report.OutcomeUnreachable, Note: "无人接听"}}},
			func(r report.Record) report.Record {
				r.Version = 1
				r.FollowUps = []report.FollowUp{{At: now.Add(h), By: "w1", Outcome: report.OutcomeUnreachable}}
				return r
			}, []string{"无人接听"}},
		{"first contact is the first one", []step{
			{h, report.FollowUpInput{Outcome: report.OutcomeUnreachable}},
			{2 * h, report.FollowUpInput{Outcome: report.OutcomeTested}},
			{3 * h, report.FollowUpInput{Outcome: report.OutcomeContacted}},
		}, func(r report.Record) report.Record {
			r.Status, r.FirstContactAt, r.Version = report.StatusInProgress, now.Add(2*h), 3
			r.FollowUps = []report.FollowUp{
				{At: now.Add(h), By: "w1", Outcome: report.OutcomeUnreachable},
				{At: now.Add(2 * h), By: "w1", Outcome: report.OutcomeTested},
				{At: now.Add(3 * h), By: "w1", Outcome: report.OutcomeContacted},
			}
			return r
		}, []string{"", "", ""}},
		{"wrong grid moves it with a fresh deadline", []step{{10 * h, report.FollowUpInput{Outcome: report.OutcomeWrongGrid, Note: "住第2网格", ToGrid: secondGrid}}},
			func(r report.Record) report.Record {
				r.GridCode, r.ContactDue, r.Version = secondGrid, now.Add(14*h), 1
				r.FollowUps = []report.FollowUp{{At: now.Add(10 * h), By: "w1", Outcome: report.OutcomeWrongGrid, FromGrid: leadGrid, ToGrid: secondGrid}}
				return r
			}, []string{"住第2网格"}},
		{"back to the district pool", []step{{h, report.FollowUpInput{Outcome: report.OutcomeWrongGrid, Note: "不在本社区", ToGrid: grid.Unassigned}}},
			func(r report.Record) report.Record {
				r.GridCode, r.ContactDue, r.Version = grid.Unassigned, now.Add(5*h), 1
				r.FollowUps = []report.FollowUp{{At: now.Add(h), By: "w1", Outcome: report.OutcomeWrongGrid, FromGrid: leadGrid, ToGrid: grid.Unassigned}}
				return r
			}, []string{"不在本社区"}},
		{"closed", []step{
			{h, report.FollowUpInput{Outcome: report.OutcomeContacted}},
			{30 * h, report.FollowUpInput{Outcome: report.OutcomeClosed, Note: "居家监测期满"}},
		}, func(r report.Record) report.Record {
			r.Status, r.FirstContactAt, r.ClosedAt, r.Version = report.StatusClosed, now.Add(h), now.Add(30*h), 2
			r.FollowUps = []report.FollowUp{
				{At: now.Add(h), By: "w1", Outcome: report.OutcomeContacted},
				{At: now.Add(30 * h), By: "w1", Outcome: report.OutcomeClosed},
			}
			return r
		}, []string{"", "居家监测期满"}},
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
				if returned, err = fu.Record(ctx, "w1", submitted.ID, s.in, anyone); err != nil {
					t.Fatalf("%s: %v", s.in.Outcome, err)
				}
			}
			want := c.want(submitted)
			// Every follow-up moves the expiry to the retention after it.
			want.ExpiresAt = now.Add(c.steps[len(c.steps)-1].after + fixtureRetention).Unix()
			stored, err := f.store.Get(ctx, submitted.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, stored, ignoreSealedNotes); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, returned, ignoreSealedNotes); diff != "" {
				t.Errorf("returned (-want +got):\n%s", diff)
			}
			views, err := report.OpenFollowUps(f.vault, stored)
			if err != nil {
				t.Fatal(err)
			}
			var notes []string
			for n, v := range views {
				notes = append(notes, v.Note)
				if sealed := stored.FollowUps[n].NoteSealed; v.Note != "" && bytes.Contains(sealed, []byte(v.Note)) {
					t.Errorf("note %d stored readable", n)
				}
			}
			if diff := cmp.Diff(c.notes, notes); diff != "" {
				t.Errorf("opened notes (-want +got):\n%s", diff)
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
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeWrongGrid, Note: "住第2网格", ToGrid: secondGrid}, anyone); err != nil {
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
		{"note too long", report.FollowUpInput{Outcome: report.OutcomeContacted, Note: strings.Repeat("核", report.NoteLimit+1)}, []fields.Problem{{Field: "note", Reason: "too_long"}}},
		{"note with a control character", report.FollowUpInput{Outcome: report.OutcomeContacted, Note: "已联系\u202e"}, []fields.Problem{{Field: "note", Reason: "invalid_characters"}}},
		{"a target grid for a contact", report.FollowUpInput{Outcome: report.OutcomeContacted, ToGrid: secondGrid}, []fields.Problem{{Field: "toGrid", Reason: "not_allowed"}}},
		{"wrong grid without reason or target", report.FollowUpInput{Outcome: report.OutcomeWrongGrid, Note: "  "}, []fields.Problem{{Field: "note", Reason: "required"}, {Field: "toGrid", Reason: "required"}}},
		{"wrong grid to a grid that does not exist", report.FollowUpInput{Outcome: report.OutcomeWrongGrid, Note: "外区", ToGrid: "440703999999-01"}, []fields.Problem{{Field: "toGrid", Reason: "unknown"}}},
		{"wrong grid to its own grid", report.FollowUpInput{Outcome: report.OutcomeWrongGrid, Note: "外区", ToGrid: leadGrid}, []fields.Problem{{Field: "toGrid", Reason: "same_grid"}}},
	}
	f := newFixture(t)
	r := submitHighRisk(t, f)
	fu := newFollowUps(f, &clock{t: now.Add(time.Hour)})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, err := fu.Record(ctx, "w1", r.ID, c.in, anyone)
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
	if _, err := fu.Record(ctx, "w1", "rnope", report.FollowUpInput{Outcome: report.OutcomeContacted}, anyone); !errors.Is(err, report.ErrNotFound) {
		t.Errorf("unknown report: %v, want ErrNotFound", err)
	}
	closed, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeClosed, Note: "重复报备"}, anyone)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []report.FollowUpInput{{Outcome: report.OutcomeContacted}, {Outcome: report.OutcomeClosed}, {Outcome: report.OutcomeWrongGrid, Note: "外区", ToGrid: secondGrid}} {
		if _, err := fu.Record(ctx, "w1", r.ID, in, anyone); !errors.Is(err, report.ErrClosed) {
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
		if _, err := first.Record(ctx, "w2", r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted}, anyone); err != nil {
			t.Errorf("the other worker's follow-up: %v", err)
		}
	}
	second := newFollowUps(f, clk)
	second.Updates = racing
	if _, err := second.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeUnreachable}, anyone); !errors.Is(err, report.ErrConflict) {
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
			r.FollowUps = []report.FollowUp{{At: at.Add(-20 * h), By: "w1", Outcome: report.OutcomeUnreachable}}
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

// racingRead lets another follow-up land right after the one under test
// read the report.
type racingRead struct {
	*embedded.Store
	other func()
	once  sync.Once
}

func (s *racingRead) Get(ctx context.Context, id string) (report.Record, error) {
	r, err := s.Store.Get(ctx, id)
	s.once.Do(s.other)
	return r, err
}

// errNotYours stands for the caller's access rule refusing.
var errNotYours = errors.New("not your grid")

func TestFollowUpAccessRuleSeesTheRecordItVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := submitHighRisk(t, f)
	fu := newFollowUps(f, &clock{t: now.Add(time.Hour)})
	onlyLeadGrid := func(seen report.Record) error {
		if seen.GridCode != leadGrid {
			return errNotYours
		}
		return nil
	}

	var seen report.Record
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeUnreachable}, func(rec report.Record) error {
		seen = rec
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen.ID != r.ID || seen.Version != 0 || seen.GridCode != leadGrid {
		t.Errorf("the rule saw %s version %d in %s, want the stored report at version 0", seen.ID, seen.Version, seen.GridCode)
	}

	// Another worker moves the report right after this follow-up read it:
	// the rule passed on the lead grid, so the write must not land on the
	// report now in the second grid.
	racing := &racingRead{Store: f.store}
	racing.other = func() {
		if _, err := fu.Record(ctx, "w2", r.ID, report.FollowUpInput{Outcome: report.OutcomeWrongGrid, Note: "住第2网格", ToGrid: secondGrid}, anyone); err != nil {
			t.Errorf("the move: %v", err)
		}
	}
	late := newFollowUps(f, &clock{t: now.Add(2 * time.Hour)})
	late.Reports = racing
	if _, err := late.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted}, onlyLeadGrid); !errors.Is(err, report.ErrConflict) {
		t.Fatalf("follow-up racing a move: %v, want ErrConflict", err)
	}
	// Read again, the rule refuses, and a closed report does not tell the
	// refused caller that it is closed.
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted}, onlyLeadGrid); !errors.Is(err, errNotYours) {
		t.Errorf("follow-up on a moved report: %v, want the rule's error", err)
	}
	if _, err := fu.Record(ctx, "w2", r.ID, report.FollowUpInput{Outcome: report.OutcomeClosed}, anyone); err != nil {
		t.Fatal(err)
	}
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted}, onlyLeadGrid); !errors.Is(err, errNotYours) {
		t.Errorf("follow-up on a closed report of another grid: %v, want the rule's error", err)
	}
	stored, err := f.store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, fu := range stored.FollowUps {
		outcomes = append(outcomes, fu.By+":"+fu.Outcome)
	}
	if diff := cmp.Diff([]string{"w1:unreachable", "w2:wrong_grid", "w2:closed"}, outcomes); diff != "" {
		t.Errorf("follow-ups stored (-want +got):\n%s", diff)
	}
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted}, nil); err == nil {
		t.Error("a follow-up without an access rule was recorded")
	}
}

func TestFollowUpsAreCapped(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		already int
		outcome string
		want    error
	}{
		{"below the cap", report.MaxFollowUps - 2, report.OutcomeUnreachable, nil},
		{"the last place is for closing", report.MaxFollowUps - 1, report.OutcomeUnreachable, report.ErrTooManyFollowUps},
		{"closing takes the last place", report.MaxFollowUps - 1, report.OutcomeClosed, nil},
		{"full", report.MaxFollowUps, report.OutcomeClosed, report.ErrTooManyFollowUps},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			r := submitHighRisk(t, f)
			for range c.already {
				r.FollowUps = append(r.FollowUps, report.FollowUp{At: now, By: "w1", Outcome: report.OutcomeUnreachable})
			}
			if err := f.store.UpdateFollowUp(ctx, r, 0); err != nil {
				t.Fatal(err)
			}
			fu := newFollowUps(f, &clock{t: now.Add(time.Hour)})
			_, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: c.outcome}, anyone)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("follow-up %d: %v, want %v", c.already+1, err, c.want)
			}
			stored, err := f.store.Get(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := c.already
			if c.want == nil {
				want++
			}
			if len(stored.FollowUps) != want {
				t.Errorf("%d follow-ups stored, want %d", len(stored.FollowUps), want)
			}
		})
	}
}

func TestFollowUpNotesAreSealedAndOpenForReaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := submitHighRisk(t, f)
	fu := newFollowUps(f, &clock{t: now.Add(time.Hour)})
	const note = "找到其女儿李四13900139001"
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted, Note: note}, anyone); err != nil {
		t.Fatal(err)
	}
	if _, err := fu.Record(ctx, "w1", r.ID, report.FollowUpInput{Outcome: report.OutcomeTested}, anyone); err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"李四", "13900139001"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the stored report holds %q readable", secret)
		}
	}
	// A note sealed to one place does not open in another.
	swapped := stored
	swapped.FollowUps = []report.FollowUp{stored.FollowUps[1], stored.FollowUps[0]}
	if _, err := report.OpenFollowUps(f.vault, swapped); err == nil {
		t.Error("a note moved to another follow-up opened")
	}

	v, err := f.reader.Get(ctx, auth.Principal{Subject: "w1", Role: auth.GridWorker, Grids: auth.ParseGrids(leadGrid)}, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []report.FollowUpView{
		{At: now.Add(time.Hour), By: "w1", Outcome: report.OutcomeContacted, Note: note},
		{At: now.Add(time.Hour), By: "w1", Outcome: report.OutcomeTested},
	}
	if diff := cmp.Diff(want, v.FollowUps); diff != "" {
		t.Errorf("the reader's follow-ups (-want +got):\n%s", diff)
	}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`"note":"`+note+`"`)) || bytes.Contains(body, []byte("noteSealed")) {
		t.Errorf("the view's JSON shows follow-ups as %s", body)
	}
}
