package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/report"
)

// LedgerStore is a store that also keeps the delivery ledger.
type LedgerStore interface {
	Store
	alert.Ledger
	alert.Outbox
	alert.Replayer
}

func seedAlert(t *testing.T, s LedgerStore, id string, at time.Time) report.Record {
	t.Helper()
	r := record(id, "g1", at)
	if _, _, err := s.Create(context.Background(), r, welcome(r, "做核酸")); err != nil {
		t.Fatal(err)
	}
	return r
}

func dueIDs(t *testing.T, s LedgerStore, now time.Time, limit int) []string {
	t.Helper()
	due, err := s.Due(context.Background(), now, limit)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(due))
	for i, a := range due {
		ids[i] = a.ReportID
	}
	return ids
}

// mustClaim claims an alert that the test knows is due.
func mustClaim(t *testing.T, s LedgerStore, id string, now, until time.Time) {
	t.Helper()
	if _, ok, err := s.Claim(context.Background(), id, now, until); err != nil || !ok {
		t.Fatalf("claim %s: %v %v", id, ok, err)
	}
}

// RunLedger runs the delivery-ledger contract.
func RunLedger(t *testing.T, newStore func(t *testing.T) LedgerStore) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("claim, send, settle", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		seedAlert(t, s, "r2", base.Add(time.Minute))
		eventually(t, func() string {
			if got := dueIDs(t, s, now, 10); fmt.Sprint(got) != "[r1 r2]" {
				return fmt.Sprintf("due = %v, want [r1 r2] oldest first", got)
			}
			return ""
		})
		until := now.Add(time.Minute)
		a, ok, err := s.Claim(ctx, "r1.welcome", now, until)
		if err != nil || !ok || a.Status != alert.Sending || a.Attempts != 1 {
			t.Fatalf("claim = %+v, %v, %v", a, ok, err)
		}
		if _, ok, err := s.Claim(ctx, "r1.welcome", now, until); err != nil || ok {
			t.Fatalf("second claim while held = %v, %v; want not taken", ok, err)
		}
		if err := s.Settle(ctx, "r1.welcome", until, alert.Outcome{Status: alert.Sent, MessageID: "m-1", At: now}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Alert(ctx, "r1.welcome")
		if err != nil || got.Status != alert.Sent || got.MessageID != "m-1" || got.SettledAt == nil {
			t.Fatalf("after settle = %+v, %v", got, err)
		}
		if _, ok, _ := s.Claim(ctx, "r1.welcome", now.Add(time.Hour), now.Add(2*time.Hour)); ok {
			t.Fatal("a sent alert was claimed again")
		}
		eventually(t, func() string {
			if got := dueIDs(t, s, now.Add(time.Hour), 10); fmt.Sprint(got) != "[r2]" {
				return fmt.Sprintf("due after sending r1 = %v, want [r2]", got)
			}
			return ""
		})
		if _, ok, _ := s.Claim(ctx, "nope", now, until); ok {
			t.Fatal("an unknown alert was claimed")
		}
	})

	t.Run("a lapsed claim is taken over and the old sender cannot settle", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		first := now.Add(time.Minute)
		mustClaim(t, s, "r1.welcome", now, first)
		later := now.Add(2 * time.Minute)
		eventually(t, func() string {
			if got := dueIDs(t, s, later, 10); fmt.Sprint(got) != "[r1]" {
				return fmt.Sprintf("due after the lease = %v, want [r1]", got)
			}
			return ""
		})
		second := later.Add(time.Minute)
		a, ok, err := s.Claim(ctx, "r1.welcome", later, second)
		if err != nil || !ok || a.Attempts != 2 {
			t.Fatalf("takeover = %+v %v %v", a, ok, err)
		}
		if err := s.Settle(ctx, "r1.welcome", first, alert.Outcome{Status: alert.Sent, At: later}); !errors.Is(err, alert.ErrClaimLost) {
			t.Fatalf("settle by the overtaken sender = %v, want ErrClaimLost", err)
		}
		if err := s.Settle(ctx, "r1.welcome", second, alert.Outcome{Status: alert.Sent, MessageID: "m-2", At: later}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a retry waits for its time", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		until := now.Add(time.Minute)
		mustClaim(t, s, "r1.welcome", now, until)
		retryAt := now.Add(10 * time.Second)
		if err := s.Settle(ctx, "r1.welcome", until, alert.Outcome{Status: alert.Pending, Reason: "throttled", RetryAt: retryAt, At: now}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Claim(ctx, "r1.welcome", now.Add(time.Second), now.Add(time.Minute)); ok {
			t.Fatal("claimed before its retry time")
		}
		eventually(t, func() string {
			if got := dueIDs(t, s, now.Add(time.Second), 10); len(got) != 0 {
				return fmt.Sprintf("due before the retry time: %v", got)
			}
			if got := dueIDs(t, s, retryAt.Add(time.Second), 10); fmt.Sprint(got) != "[r1]" {
				return fmt.Sprintf("due after the retry time = %v, want [r1]", got)
			}
			return ""
		})
		a, ok, err := s.Claim(ctx, "r1.welcome", retryAt.Add(time.Second), retryAt.Add(time.Minute))
		if err != nil || !ok || a.Attempts != 2 || a.Reason != "throttled" {
			t.Fatalf("claim after the retry time = %+v %v %v", a, ok, err)
		}
	})

	t.Run("a failed report SMS asks the grid worker to call", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		until := now.Add(time.Minute)
		mustClaim(t, s, "r1.welcome", now, until)
		if err := s.Settle(ctx, "r1.welcome", until, alert.Outcome{Status: alert.Failed, Reason: "opted out", At: now}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Get(ctx, "r1")
		if err != nil || r.FollowUp != report.FollowUpCall {
			t.Fatalf("report follow-up = %q, %v", r.FollowUp, err)
		}
		a, _ := s.Alert(ctx, "r1.welcome")
		if a.Status != alert.Failed || a.Reason != "opted out" {
			t.Fatalf("alert = %+v", a)
		}
		if _, ok, _ := s.Claim(ctx, "r1.welcome", now.Add(time.Hour), now.Add(2*time.Hour)); ok {
			t.Fatal("a failed alert was claimed again")
		}

		eventually(t, func() string {
			failed, err := s.Failed(ctx, 10)
			if err != nil || len(failed) != 1 || failed[0].ID != "r1.welcome" {
				return fmt.Sprintf("failed = %v, %v; want r1.welcome", failed, err)
			}
			return ""
		})
		if ok, err := s.Requeue(ctx, "r1.welcome"); err != nil || !ok {
			t.Fatalf("requeue = %v, %v", ok, err)
		}
		if ok, err := s.Requeue(ctx, "r1.welcome"); err != nil || ok {
			t.Fatalf("second requeue = %v, %v; want nothing to do", ok, err)
		}
		a, ok, err := s.Claim(ctx, "r1.welcome", now.Add(time.Hour), now.Add(2*time.Hour))
		if err != nil || !ok || a.Attempts != 1 || a.Reason != "replayed after: opted out" {
			t.Fatalf("claim after replay = %+v, %v, %v", a, ok, err)
		}
	})

	t.Run("a failed SMS of an expired report still settles", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a := alert.Alert{ID: "gone.welcome", Template: alert.ReportWelcome.Code, RecipientSealed: []byte{1},
			ReportID: "gone", GridCode: "g1", Status: alert.Pending, CreatedAt: base}
		if _, err := s.Enqueue(ctx, a); err != nil {
			t.Fatal(err)
		}
		until := now.Add(time.Minute)
		mustClaim(t, s, a.ID, now, until)
		if err := s.Settle(ctx, a.ID, until, alert.Outcome{Status: alert.Failed, Reason: "invalid number", At: now}); err != nil {
			t.Fatalf("settle without its report = %v", err)
		}
		if got, _ := s.Alert(ctx, a.ID); got.Status != alert.Failed {
			t.Fatalf("status %s, want failed", got.Status)
		}
		if _, err := s.Get(ctx, "gone"); !errors.Is(err, report.ErrNotFound) {
			t.Fatalf("settling created the missing report: %v", err)
		}
	})

	t.Run("enqueue queues once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a := alert.Alert{ID: "digest.g1.0.1670000000", Template: alert.GridDigest.Code, Params: map[string]string{"new": "3"},
			RecipientSealed: []byte{1}, GridCode: "g1", Status: alert.Pending, CreatedAt: base}
		if created, err := s.Enqueue(ctx, a); err != nil || !created {
			t.Fatalf("first enqueue = %v, %v", created, err)
		}
		a.Params = map[string]string{"new": "9"}
		if created, err := s.Enqueue(ctx, a); err != nil || created {
			t.Fatalf("second enqueue = %v, %v; want nothing queued", created, err)
		}
		got, err := s.Alert(ctx, a.ID)
		if err != nil || got.Params["new"] != "3" {
			t.Fatalf("stored = %v, %v; want the first", got.Params, err)
		}
		eventually(t, func() string {
			due, err := s.Due(ctx, now, 10)
			if err != nil || len(due) != 1 || due[0].ID != a.ID {
				return fmt.Sprintf("due = %v, %v; want the enqueued alert", due, err)
			}
			return ""
		})
	})

	t.Run("concurrent claims: one sender wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seedAlert(t, s, "r1", base)
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := s.Claim(ctx, "r1.welcome", now, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				if ok {
					won++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d claims won, want 1", won)
		}
	})
}
