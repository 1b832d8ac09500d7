package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/report"
	"gridcode/shared/stats"
)

// StatsStore keeps reports and alerts, and reads them for the statistics.
type StatsStore interface {
	Store
	stats.Source
}

func reportsBetween(t *testing.T, s StatsStore, from, to time.Time) []string {
	t.Helper()
	var ids []string
	err := s.ReportsBetween(context.Background(), from, to, func(r report.Record) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("ReportsBetween %v..%v: %v", from, to, err)
	}
	slices.Sort(ids)
	return ids
}

// RunStats runs the contract of stats.Source's ReportsBetween and
// AlertCounts (OpenTaskCounts is in RunWorklist). newStore returns an
// empty store for each test.
func RunStats(t *testing.T, newStore func(t *testing.T) StatsStore) {
	ctx := context.Background()

	t.Run("an empty store has nothing to count", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if ids := reportsBetween(t, s, base.Add(-time.Hour), base.Add(time.Hour)); len(ids) != 0 {
			t.Errorf("ReportsBetween = %v", ids)
		}
		counts, err := s.AlertCounts(ctx, base.Add(-time.Hour), base.Add(time.Hour))
		if err != nil || len(counts) != 0 {
			t.Errorf("AlertCounts = %v, %v", counts, err)
		}
	})

	t.Run("reports between two instants, half-open", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for i := range 6 {
			gridCode := []string{"g1", "g2"}[i%2]
			r := record(fmt.Sprintf("r%d", i), gridCode, base.Add(time.Duration(i)*time.Hour))
			if _, _, err := s.Create(ctx, r, welcome(r, "x")); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name     string
			from, to time.Time
			want     []string
		}{
			{"from inclusive, to exclusive", base.Add(time.Hour), base.Add(4 * time.Hour), []string{"r1", "r2", "r3"}},
			{"a nanosecond either side", base.Add(time.Hour - time.Nanosecond), base.Add(4*time.Hour + time.Nanosecond), []string{"r1", "r2", "r3", "r4"}},
			{"a nanosecond inside", base.Add(time.Hour + time.Nanosecond), base.Add(4*time.Hour - time.Nanosecond), []string{"r2", "r3"}},
			{"everything", base.Add(-24 * time.Hour), base.Add(24 * time.Hour), []string{"r0", "r1", "r2", "r3", "r4", "r5"}},
			{"before everything", base.Add(-24 * time.Hour), base, nil},
			// The same instants in the district's zone are the same instants.
			{"another zone", base.Add(time.Hour).In(time.FixedZone("CST", 8*3600)), base.Add(3 * time.Hour).In(time.FixedZone("CST", 8*3600)), []string{"r1", "r2"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if diff := cmp.Diff(c.want, reportsBetween(t, s, c.from, c.to)); diff != "" {
					t.Errorf("ReportsBetween (-want +got):\n%s", diff)
				}
			})
		}

		// Each report comes with what the statistics read, as stored; an
		// adapter may leave out the rest (the sealed personal data).
		statsFields := func(r report.Record) report.Record {
			return report.Record{
				ID: r.ID, GridCode: r.GridCode, RiskLevel: r.RiskLevel, Status: r.Status, FollowUp: r.FollowUp,
				SubmittedAt: r.SubmittedAt, ContactDue: r.ContactDue, FirstContactAt: r.FirstContactAt, ClosedAt: r.ClosedAt,
			}
		}
		err := s.ReportsBetween(ctx, base.Add(2*time.Hour), base.Add(3*time.Hour), func(r report.Record) error {
			if diff := cmp.Diff(statsFields(mustGetReport(t, s, "r2")), statsFields(r)); diff != "" {
				t.Errorf("ReportsBetween gives r2 (-stored +given):\n%s", diff)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		stop := errors.New("enough")
		calls := 0
		err = s.ReportsBetween(ctx, base.Add(-time.Hour), base.Add(24*time.Hour), func(report.Record) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("ReportsBetween with a failing fn = %v after %d calls, want the fn's error after 1", err, calls)
		}
	})

	t.Run("alerts created in a range, by status", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		statuses := []alert.Status{alert.Sent, alert.Sent, alert.Failed, alert.Pending, alert.Sent, alert.Failed, alert.Sending}
		for i, st := range statuses {
			r := record(fmt.Sprintf("r%d", i), "g1", base.Add(time.Duration(i)*time.Hour))
			a := welcome(r, "x")
			a.Status = st
			if _, _, err := s.Create(ctx, r, a); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name     string
			from, to time.Time
			want     map[alert.Status]int
		}{
			{"from inclusive, to exclusive", base.Add(time.Hour), base.Add(5 * time.Hour),
				map[alert.Status]int{alert.Sent: 2, alert.Failed: 1, alert.Pending: 1}},
			{"everything", base.Add(-time.Hour), base.Add(24 * time.Hour),
				map[alert.Status]int{alert.Sent: 3, alert.Failed: 2, alert.Pending: 1, alert.Sending: 1}},
			{"nothing", base.Add(24 * time.Hour), base.Add(48 * time.Hour), map[alert.Status]int{}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.AlertCounts(ctx, c.from, c.to)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					got = map[alert.Status]int{}
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("AlertCounts (-want +got):\n%s", diff)
				}
			})
		}
	})
}
