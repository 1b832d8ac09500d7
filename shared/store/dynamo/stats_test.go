package dynamo

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/report"
	"gridcode/shared/store/storetest"
)

func TestStatsContract(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) storetest.StatsStore {
		client, tables := freshWorkTables(t)
		return New(client, tables)
	})
}

func TestInstantRange(t *testing.T) {
	t.Parallel()
	at := time.Date(2022, 12, 3, 1, 2, 3, 0, time.UTC)
	cases := []struct {
		name     string
		from, to time.Time
		lo, hi   string
	}{
		{"whole seconds", at, at.Add(time.Hour), "2022-12-03T01:02:03", "2022-12-03T02:02:04"},
		{"fractions", at.Add(500 * time.Millisecond), at.Add(time.Hour + time.Nanosecond), "2022-12-03T01:02:03", "2022-12-03T02:02:04"},
		{"another zone", at.In(time.FixedZone("CST", 8*3600)), at.Add(time.Second).In(time.FixedZone("CST", 8*3600)), "2022-12-03T01:02:03", "2022-12-03T01:02:05"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lo, hi := instantRange(c.from, c.to)
			if lo != c.lo || hi != c.hi {
				t.Errorf("instantRange = %q, %q; want %q, %q", lo, hi, c.lo, c.hi)
			}
		})
	}
}

// TestStatsWithinOneSecond stores reports and alerts at a whole second and
// at fractions of it, whose RFC 3339 strings do not sort as the instants
// do ("…03Z" after "…03.5Z"): the bounds still count each exactly.
func TestStatsWithinOneSecond(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	at := time.Date(2022, 12, 3, 1, 2, 3, 0, time.UTC)
	offsets := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond, time.Second}
	for i, d := range offsets {
		id := fmt.Sprintf("r%d", i)
		r := report.Record{
			ID: id, GridCode: "g1", ListKey: report.ListKey(at.Add(d), id), Status: report.StatusNew, SubmittedAt: at.Add(d),
			PersonLookup: "p" + id, PhoneLookup: "ph" + id, ExpiresAt: time.Now().Add(time.Hour).Unix(),
		}
		a := alert.Alert{ID: id + ".welcome", Template: alert.ReportWelcome.Code, RecipientLookup: "ph" + id, ReportID: id,
			GridCode: "g1", Status: alert.Sent, CreatedAt: at.Add(d), ExpiresAt: r.ExpiresAt}
		if _, _, err := s.Create(ctx, r, a); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		from, to time.Duration
		want     []string
	}{
		{"the whole second", 0, time.Second, []string{"r0", "r1", "r2", "r3"}},
		{"from a fraction", 500 * time.Millisecond, 2 * time.Second, []string{"r2", "r3", "r4"}},
		{"up to a fraction", 0, 500 * time.Millisecond, []string{"r0", "r1"}},
		{"between fractions", 250 * time.Millisecond, 999 * time.Millisecond, []string{"r1", "r2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			err := s.ReportsBetween(ctx, at.Add(c.from), at.Add(c.to), func(r report.Record) error {
				got = append(got, r.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ReportsBetween (-want +got):\n%s", diff)
			}
			counts, err := s.AlertCounts(ctx, at.Add(c.from), at.Add(c.to))
			if err != nil {
				t.Fatal(err)
			}
			if counts[alert.Sent] != len(c.want) || len(counts) != 1 {
				t.Errorf("AlertCounts = %v, want %d sent", counts, len(c.want))
			}
		})
	}
}

// The statistics never read a report's sealed personal data.
func TestStatsReadNoPersonalData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	at := time.Date(2022, 12, 3, 1, 2, 3, 0, time.UTC)
	r := report.Record{
		ID: "r1", GridCode: "g1", ListKey: report.ListKey(at, "r1"), Status: report.StatusNew, SubmittedAt: at,
		PersonLookup: "p1", PhoneLookup: "ph1", Sealed: []byte("sealed personal data"), ExpiresAt: time.Now().Add(time.Hour).Unix(),
	}
	a := alert.Alert{ID: "r1.welcome", Template: alert.ReportWelcome.Code, RecipientLookup: "ph1", ReportID: "r1",
		GridCode: "g1", Status: alert.Pending, CreatedAt: at, ExpiresAt: r.ExpiresAt}
	if _, _, err := s.Create(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := s.ReportsBetween(ctx, at, at.Add(time.Second), func(got report.Record) error {
		n++
		if got.ID != "r1" || len(got.Sealed) != 0 || got.PersonLookup != "" {
			t.Errorf("ReportsBetween read %+v, want no sealed data or lookups", got)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("ReportsBetween: %d reports, %v", n, err)
	}
}
