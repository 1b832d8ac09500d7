package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/audit"
)

// AuditStore keeps the audit log.
type AuditStore interface {
	audit.Log
}

// auditRecord makes the i-th audited access of a person; ids are
// time-ordered, as the domain makes them.
func auditRecord(personKey string, i int) audit.Record {
	at := base.Add(time.Duration(i) * time.Second)
	return audit.Record{
		ID: fmt.Sprintf("%s-%04x", at.Format("20060102T150405.000000000"), i), At: at,
		Actor: fmt.Sprintf("worker-%d", i%3), Role: "grid_worker", Action: "registry.search_result",
		PersonKey: personKey, From: "203.0.113.7", ExpiresAt: registryExpires(),
	}
}

func byPerson(t *testing.T, s AuditStore, personKey string) []audit.Record {
	t.Helper()
	got, err := s.ByPerson(context.Background(), personKey)
	if err != nil {
		t.Fatalf("ByPerson %s: %v", personKey, err)
	}
	return got
}

// RunAudit runs the contract of audit.Log. newStore returns an empty store
// for each test.
func RunAudit(t *testing.T, newStore func(t *testing.T) AuditStore) {
	ctx := context.Background()

	t.Run("a person's records, oldest first", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if got := byPerson(t, s, "p1"); len(got) != 0 {
			t.Fatalf("ByPerson before any = %v", got)
		}
		var want []audit.Record
		for i := range 40 {
			want = append(want, auditRecord("p1", i))
		}
		want[5].From = "" // an access with no client address (a batch job)
		shuffled := append([]audit.Record(nil), want...)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// A person whose key starts with p1's, in the same calls.
		other := auditRecord("p10", 99)
		if err := s.Append(ctx, append(shuffled[:20:20], other)); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, shuffled[20:]); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, byPerson(t, s, "p1")); diff != "" {
			t.Errorf("ByPerson p1 (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]audit.Record{other}, byPerson(t, s, "p10")); diff != "" {
			t.Errorf("ByPerson p10 (-want +got):\n%s", diff)
		}
		if err := s.Append(ctx, nil); err != nil {
			t.Errorf("Append of nothing = %v", err)
		}
	})

	t.Run("an actor's records, oldest first, across people", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var all []audit.Record
		for i := range 30 {
			all = append(all, auditRecord(fmt.Sprintf("p%d", i%4), i))
		}
		if err := s.Append(ctx, all); err != nil {
			t.Fatal(err)
		}
		var want []audit.Record
		for _, r := range all {
			if r.Actor == "worker-1" {
				want = append(want, r)
			}
		}
		// An index may lag its table (DynamoDB's global ones do).
		var got []audit.Record
		eventually(t, func() string {
			var err error
			if got, err = s.ByActor(ctx, "worker-1"); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				return fmt.Sprintf("ByActor lists %d records, want %d", len(got), len(want))
			}
			return ""
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ByActor worker-1 (-want +got):\n%s", diff)
		}
		// An actor whose name starts with another's sees only their own.
		if got, err := s.ByActor(ctx, "worker-"); err != nil || len(got) != 0 {
			t.Errorf("ByActor worker- = %v, %v; want none", got, err)
		}
	})

	t.Run("many records of one person", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 301 // more than any batch an adapter sends at once
		want := make([]audit.Record, n)
		for i := range n {
			want[i] = auditRecord("p1", i)
		}
		if err := s.Append(ctx, want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, byPerson(t, s, "p1")); diff != "" {
			t.Errorf("ByPerson (-want +got):\n%s", diff)
		}
	})

	t.Run("a record is never replaced", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := auditRecord("p1", 1)
		if err := s.Append(ctx, []audit.Record{first}); err != nil {
			t.Fatal(err)
		}
		forged := first
		forged.Actor, forged.Action = "someone-else", "task.visit"
		if err := s.Append(ctx, []audit.Record{forged}); !errors.Is(err, audit.ErrExists) {
			t.Fatalf("Append of another record under an existing id = %v, want ErrExists", err)
		}
		if diff := cmp.Diff([]audit.Record{first}, byPerson(t, s, "p1")); diff != "" {
			t.Errorf("after the second append (-want +got):\n%s", diff)
		}
	})

	t.Run("an equal record appended again is taken as written", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first, second := auditRecord("p1", 1), auditRecord("p1", 2)
		if err := s.Append(ctx, []audit.Record{first}); err != nil {
			t.Fatal(err)
		}
		// A retry after a lost answer sends the call again, here with a
		// record the first call did not have; the instant may come back in
		// another zone.
		again := first
		again.At = first.At.In(time.FixedZone("CST", 8*3600))
		if err := s.Append(ctx, []audit.Record{again, second}); err != nil {
			t.Fatalf("Append of an equal record again = %v", err)
		}
		if diff := cmp.Diff([]audit.Record{first, second}, byPerson(t, s, "p1")); diff != "" {
			t.Errorf("after the retry (-want +got):\n%s", diff)
		}
		for _, bad := range []audit.Record{{ID: "a2"}, {PersonKey: "p1"}} {
			if err := s.Append(ctx, []audit.Record{bad}); err == nil {
				t.Errorf("Append of %+v (no id or no person) = nil error", bad)
			}
		}
	})

	t.Run("concurrent appends of one id: one wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := auditRecord("p1", 1)
				r.Actor = fmt.Sprintf("actor-%d", i)
				errs[i] = s.Append(ctx, []audit.Record{r})
			}()
		}
		wg.Wait()
		oneWins(t, errs, audit.ErrExists)
		if got := byPerson(t, s, "p1"); len(got) != 1 {
			t.Errorf("ByPerson lists %d records, want 1", len(got))
		}
	})
}
