package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/report"
	"gridcode/shared/risk"
)

// FollowUpStore keeps reports, their delivery ledger and their follow-ups.
type FollowUpStore interface {
	LedgerStore
	report.FollowUpStore
}

func mustGetReport(t *testing.T, s Store, id string) report.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return r
}

// gridListIs checks, for eventually, that a grid lists exactly the
// reports wantIDs, newest first, each as Get returns it.
func gridListIs(s Store, q report.GridQuery, wantIDs ...string) func() string {
	return func() string {
		ctx := context.Background()
		q.Limit = 50
		page, err := s.ListGrid(ctx, q)
		if err != nil {
			return fmt.Sprintf("ListGrid %s: %v", q.GridCode, err)
		}
		var ids []string
		for _, r := range page.Records {
			ids = append(ids, r.ID)
			cur, err := s.Get(ctx, r.ID)
			if err != nil {
				return fmt.Sprintf("Get %s: %v", r.ID, err)
			}
			if diff := cmp.Diff(cur, r); diff != "" {
				return fmt.Sprintf("ListGrid %s lists report %s (-current +listed):\n%s", q.GridCode, r.ID, diff)
			}
		}
		if diff := cmp.Diff(wantIDs, ids); diff != "" {
			return fmt.Sprintf("ListGrid %s status %q (-want +got):\n%s", q.GridCode, q.Status, diff)
		}
		return ""
	}
}

// followUp applies what a grid worker did to r, as the domain does: the
// follow-up fields change and the version counts one more.
func followUp(r report.Record, outcome string, at time.Time) report.Record {
	r.FollowUps = append(append([]report.FollowUp(nil), r.FollowUps...),
		report.FollowUp{At: at, By: "worker-" + r.GridCode, Outcome: outcome, NoteSealed: []byte("a sealed note, opaque to the store")})
	r.Status = report.StatusInProgress
	if r.FirstContactAt.IsZero() {
		r.FirstContactAt = at
	}
	r.Version++
	return r
}

// RunFollowUps runs the contract of report.FollowUpStore. newStore returns
// an empty store for each test.
func RunFollowUps(t *testing.T, newStore func(t *testing.T) FollowUpStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("only the follow-up fields change", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		created := seedAlert(t, s, "r1", base)
		read := mustGetReport(t, s, "r1")
		if read.Version != 0 {
			t.Fatalf("a new report has version %d, want 0", read.Version)
		}

		// The welcome SMS fails for good after the worker read the report:
		// the ledger marks it for a phone call.
		until := now.Add(time.Minute)
		mustClaim(t, s, "r1.welcome", now, until)
		if err := s.Settle(ctx, "r1.welcome", until, alert.Outcome{Status: alert.Failed, Reason: "invalid number", At: now}); err != nil {
			t.Fatal(err)
		}

		updated := followUp(read, report.OutcomeContacted, base.Add(3*time.Hour))
		updated.ContactDue = base.Add(4 * time.Hour)
		// Fields that are not the follow-up's must not be written.
		updated.Guidance, updated.RiskLevel, updated.Sealed, updated.PersonLookup = "changed", risk.Low, []byte{0}, "changed"
		if err := s.UpdateFollowUp(ctx, updated, 0); err != nil {
			t.Fatal(err)
		}
		want := created
		want.FollowUp = report.FollowUpCall
		want.Status, want.FirstContactAt, want.ContactDue = report.StatusInProgress, updated.FirstContactAt, updated.ContactDue
		want.FollowUps, want.Version = updated.FollowUps, 1
		if diff := cmp.Diff(want, mustGetReport(t, s, "r1")); diff != "" {
			t.Errorf("after the follow-up (-want +got):\n%s", diff)
		}

		// Closing sets the rest.
		closing := followUp(mustGetReport(t, s, "r1"), report.OutcomeClosed, base.Add(5*time.Hour))
		closing.Status, closing.ClosedAt = report.StatusClosed, base.Add(5*time.Hour)
		if err := s.UpdateFollowUp(ctx, closing, 1); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(closing, mustGetReport(t, s, "r1")); diff != "" {
			t.Errorf("after closing (-want +got):\n%s", diff)
		}
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g1", Status: report.StatusClosed}, "r1"))
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g1", Status: report.StatusNew}))
	})

	t.Run("a stale version is a conflict and changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		read := mustGetReport(t, s, "r1")
		first := followUp(read, report.OutcomeContacted, base.Add(time.Hour))
		if err := s.UpdateFollowUp(ctx, first, 0); err != nil {
			t.Fatal(err)
		}
		second := followUp(read, report.OutcomeUnreachable, base.Add(2*time.Hour))
		if err := s.UpdateFollowUp(ctx, second, 0); !errors.Is(err, report.ErrConflict) {
			t.Fatalf("update from version 0 after another = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff(first, mustGetReport(t, s, "r1")); diff != "" {
			t.Errorf("a conflicting update changed the report (-want +got):\n%s", diff)
		}
		ahead := followUp(first, report.OutcomeTested, base.Add(2*time.Hour))
		ahead.Version = 5
		if err := s.UpdateFollowUp(ctx, ahead, 4); !errors.Is(err, report.ErrConflict) {
			t.Fatalf("update from a version never stored = %v, want ErrConflict", err)
		}

		unknown := record("nope", "g1", base)
		unknown = followUp(unknown, report.OutcomeContacted, base)
		err := s.UpdateFollowUp(ctx, unknown, 0)
		if !errors.Is(err, report.ErrConflict) && !errors.Is(err, report.ErrNotFound) {
			t.Errorf("update of an unknown report = %v, want ErrConflict or ErrNotFound", err)
		}
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, report.ErrNotFound) {
			t.Errorf("an update created the unknown report: Get = %v", err)
		}
	})

	t.Run("concurrent follow-ups of one version: one wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		read := mustGetReport(t, s, "r1")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.UpdateFollowUp(ctx, followUp(read, report.OutcomeContacted, base.Add(time.Duration(i)*time.Minute)), 0)
			}()
		}
		wg.Wait()
		oneWins(t, errs, report.ErrConflict)
		if got := mustGetReport(t, s, "r1"); got.Version != 1 || len(got.FollowUps) != 1 {
			t.Errorf("after the race: version %d, %d follow-ups; want 1 and 1", got.Version, len(got.FollowUps))
		}
	})

	t.Run("a report moved to another grid leaves the old grid's list", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		seedAlert(t, s, "r2", base.Add(time.Hour))
		r3 := record("r3", "g2", base.Add(2*time.Hour))
		if _, _, err := s.Create(ctx, r3, welcome(r3, "x")); err != nil {
			t.Fatal(err)
		}
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g1"}, "r2", "r1"))

		moved := mustGetReport(t, s, "r1")
		moved.FollowUps = []report.FollowUp{{At: base.Add(3 * time.Hour), By: "worker-g1", Outcome: report.OutcomeWrongGrid,
			NoteSealed: []byte("sealed: moved"), FromGrid: "g1", ToGrid: "g2"}}
		moved.GridCode, moved.ContactDue, moved.Version = "g2", base.Add(27*time.Hour), 1
		if err := s.UpdateFollowUp(ctx, moved, 0); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(moved, mustGetReport(t, s, "r1")); diff != "" {
			t.Errorf("moved report (-want +got):\n%s", diff)
		}
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g1"}, "r2"))
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g2"}, "r3", "r1"))
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g2", Status: report.StatusNew}, "r3", "r1"))

		// A new list position (the domain may order a moved report by when
		// it arrived in the grid) moves it in the new grid's list.
		again := mustGetReport(t, s, "r1")
		again.ListKey = report.ListKey(base.Add(3*time.Hour), "r1")
		again.Status, again.Version = report.StatusInProgress, 2
		if err := s.UpdateFollowUp(ctx, again, 1); err != nil {
			t.Fatal(err)
		}
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g2"}, "r1", "r3"))
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g2", Status: report.StatusNew}, "r3"))
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g2", Status: report.StatusInProgress}, "r1"))
		eventually(t, gridListIs(s, report.GridQuery{GridCode: "g1"}, "r2"))
	})
}
