package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/stats"
	"gridcode/shared/worklist"
)

// RetentionStore keeps reports with their alerts, follow-ups, tasks and
// the statistics' kept counts.
type RetentionStore interface {
	StatsStore
	report.FollowUpStore
	worklist.Store
}

// RunRetention runs the stores' part of the retention rule: each write
// stores the expiry it is given (DynamoDB's TTL and the embedded sweep
// delete by it), and each report is counted in its day's kept counts once,
// as it is stored. Deleting is each adapter's own: DynamoDB's TTL, the
// embedded store's SweepExpired (tested there). newStore returns an empty
// store for each test.
func RunRetention(t *testing.T, newStore func(t *testing.T) RetentionStore) {
	ctx := context.Background()
	// Expiries count from now, so that nothing a test writes is expired.
	later := time.Now().Add(40 * 24 * time.Hour).Unix()
	evenLater := time.Now().Add(70 * 24 * time.Hour).Unix()

	t.Run("each day's reports are counted once by risk level", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// base is 09:02 on 2022-12-03 in the district; 15 h later is the 4th
		// there (and still the 3rd in UTC).
		day3, day4 := base, base.Add(15*time.Hour)
		levels := []struct {
			id    string
			at    time.Time
			level risk.Level
		}{
			{"r1", day3, risk.High}, {"r2", day3, risk.High}, {"r3", day3, risk.None}, {"r4", day3, "unheard_of"},
			{"r5", day4, risk.Low}, {"r6", day4, risk.Medium},
		}
		for _, l := range levels {
			r := record(l.id, "g1", l.at)
			r.RiskLevel = l.level
			if _, created, err := s.Create(ctx, r, welcome(r, "x")); err != nil || !created {
				t.Fatalf("Create %s: created %v, %v", l.id, created, err)
			}
		}
		// The same person's second submit stores nothing and counts nothing.
		again := record("r1", "g1", day3.Add(time.Minute))
		if _, created, err := s.Create(ctx, again, welcome(again, "x")); err != nil || created {
			t.Fatalf("Create r1 again: created %v, %v", created, err)
		}
		cases := []struct {
			name     string
			from, to string
			want     []stats.Day
		}{
			{"both days", "2022-12-01", "2022-12-31", []stats.Day{
				// An unknown level counts as none, as stats.Build counts it.
				{Date: "2022-12-03", Total: 4, None: 2, High: 2},
				{Date: "2022-12-04", Total: 2, Low: 1, Medium: 1},
			}},
			{"one day, both ends inclusive", "2022-12-04", "2022-12-04", []stats.Day{{Date: "2022-12-04", Total: 2, Low: 1, Medium: 1}}},
			{"across a month and a year", "2022-11-20", "2023-01-10", []stats.Day{
				{Date: "2022-12-03", Total: 4, None: 2, High: 2},
				{Date: "2022-12-04", Total: 2, Low: 1, Medium: 1},
			}},
			{"no reports", "2022-12-05", "2023-02-01", nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.KeptDays(ctx, c.from, c.to)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("KeptDays %s..%s (-want +got):\n%s", c.from, c.to, diff)
				}
			})
		}
	})

	t.Run("a follow-up stores the report's new expiry; its alert keeps its own", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		r := record("r1", "g1", base)
		r.ExpiresAt = later
		if _, _, err := s.Create(ctx, r, welcome(r, "x")); err != nil {
			t.Fatal(err)
		}
		if got := mustGetReport(t, s, r.ID).ExpiresAt; got != later {
			t.Fatalf("stored report expires at %d, want %d", got, later)
		}
		r.Status, r.ClosedAt = report.StatusClosed, base.Add(time.Hour)
		r.FollowUps = []report.FollowUp{{At: r.ClosedAt, By: "w1", Outcome: report.OutcomeClosed}}
		r.ExpiresAt = evenLater
		if err := s.UpdateFollowUp(ctx, r, 0); err != nil {
			t.Fatal(err)
		}
		if got := mustGetReport(t, s, r.ID).ExpiresAt; got != evenLater {
			t.Errorf("closed report expires at %d, want %d", got, evenLater)
		}
		a, err := s.Alert(ctx, r.ID+".welcome")
		if err != nil {
			t.Fatal(err)
		}
		if a.ExpiresAt != later {
			t.Errorf("welcome SMS expires at %d, want %d (when it was queued)", a.ExpiresAt, later)
		}
	})

	t.Run("a visit stores the task's new expiry", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		tk := task("t1", "g1", worklist.TaskOpen, "2022-12-03")
		tk.ExpiresAt = later
		mustCreateTasks(t, s, []worklist.Task{tk}, 1)
		from := tk.Version
		tk.Status, tk.Version, tk.ExpiresAt = worklist.TaskClosed, from+1, evenLater
		tk.Visits = []worklist.Visit{{At: base.Add(time.Hour), By: "w1", Outcome: worklist.Verified}}
		if err := s.UpdateTask(ctx, tk, from); err != nil {
			t.Fatal(err)
		}
		if got := mustGetTask(t, s, "t1").ExpiresAt; got != evenLater {
			t.Errorf("visited task expires at %d, want %d", got, evenLater)
		}
	})
}
