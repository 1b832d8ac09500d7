// Package storetest is the contract every store adapter passes: the same
// tests run on the embedded store and on DynamoDB Local.
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
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/report"
	"gridcode/shared/risk"
)

// Store is what an adapter offers.
type Store interface {
	report.Store
	district.Store
	Alert(ctx context.Context, id string) (alert.Alert, error)
}

var base = time.Date(2022, 12, 3, 1, 2, 3, 456789000, time.UTC)

func record(id, gridCode string, at time.Time) report.Record {
	return report.Record{
		ID: id, GridCode: gridCode, RoutedBy: report.RoutedByPath, ListKey: report.ListKey(at, id),
		IDType: "resident_id", ArrivalStatus: report.Arrived, ArrivalDate: "2022-12-03", FromAreaCode: "110105",
		Itinerary:   []report.Stop{{AreaCode: "110105", Date: "2022-12-01"}},
		RiskLevel:   risk.High,
		RiskMatches: []risk.Match{{AreaCode: "110105", Date: "2022-12-01", Level: risk.High}},
		// Expiry counts from now, not from the fixed submission time: DynamoDB
		// Local really deletes expired items, within about a second.
		Guidance: "三天三检", Status: report.StatusNew, SubmittedAt: at, ExpiresAt: time.Now().Add(30 * 24 * time.Hour).Unix(),
		PersonLookup: "p-" + id, PhoneLookup: "ph-" + id, Sealed: []byte{1, 2, 3, 0, 255},
	}
}

func welcome(r report.Record, action string) alert.Alert {
	return alert.Alert{
		ID: r.ID + ".welcome", Template: alert.ReportWelcome.Code, Params: map[string]string{"action": action},
		RecipientLookup: r.PhoneLookup, RecipientSealed: []byte{9, 8, 7}, ReportID: r.ID, GridCode: r.GridCode,
		Status: alert.Pending, CreatedAt: r.SubmittedAt, ExpiresAt: r.ExpiresAt,
	}
}

// eventually retries check until it returns "" or 10 s pass: DynamoDB's
// secondary indexes are eventually consistent, so a grid's list may lag a
// write by a moment. Once the index has caught up, checks are exact.
// oneWins checks racing writes: exactly one succeeded and every other lost
// with conflict.
func oneWins(t *testing.T, errs []error, conflict error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, conflict):
			t.Errorf("a losing write = %v, want %v", err, conflict)
		}
	}
	if won != 1 {
		t.Fatalf("%d writes won, want 1", won)
	}
}

func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Run runs the contract. newStore returns an empty store for each test.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("create stores the report and its alert", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		r := record("r1", "g1", base)
		a := welcome(r, "做核酸")
		stored, created, err := s.Create(ctx, r, a)
		if err != nil || !created {
			t.Fatalf("Create = created %v, err %v", created, err)
		}
		if diff := cmp.Diff(r, stored); diff != "" {
			t.Errorf("returned record (-want +got):\n%s", diff)
		}
		got, err := s.Get(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("stored record (-want +got):\n%s", diff)
		}
		gotAlert, err := s.Alert(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, gotAlert); diff != "" {
			t.Errorf("stored alert (-want +got):\n%s", diff)
		}
	})

	t.Run("a second create of the same id changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := record("r1", "g1", base)
		if _, _, err := s.Create(ctx, first, welcome(first, "first")); err != nil {
			t.Fatal(err)
		}
		second := record("r1", "g2", base.Add(time.Minute))
		stored, created, err := s.Create(ctx, second, welcome(second, "second"))
		if err != nil || created {
			t.Fatalf("duplicate Create = created %v, err %v", created, err)
		}
		if stored.GridCode != "g1" || !stored.SubmittedAt.Equal(first.SubmittedAt) {
			t.Errorf("duplicate returned %s/%v, want the first report", stored.GridCode, stored.SubmittedAt)
		}
		a, err := s.Alert(ctx, "r1.welcome")
		if err != nil || a.Params["action"] != "first" {
			t.Errorf("alert after duplicate = %v, %v; want the first alert", a.Params, err)
		}
		page, err := s.ListGrid(ctx, report.GridQuery{GridCode: "g2", Limit: 10})
		if err != nil || len(page.Records) != 0 {
			t.Errorf("duplicate left %d records in the second grid, err %v", len(page.Records), err)
		}
	})

	t.Run("concurrent creates of one id make one report", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 12
		var wg sync.WaitGroup
		results := make(chan bool, n)
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := record("race", "g1", base.Add(time.Duration(i)*time.Millisecond))
				_, created, err := s.Create(ctx, r, welcome(r, "x"))
				if err != nil {
					errs <- err
					return
				}
				results <- created
			}()
		}
		wg.Wait()
		close(results)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		createdCount := 0
		for c := range results {
			if c {
				createdCount++
			}
		}
		if createdCount != 1 {
			t.Fatalf("%d creates succeeded, want exactly 1", createdCount)
		}
		eventually(t, func() string {
			page, err := s.ListGrid(ctx, report.GridQuery{GridCode: "g1", Limit: 50})
			if err != nil || len(page.Records) != 1 {
				return fmt.Sprintf("grid lists %d reports (err %v), want 1", len(page.Records), err)
			}
			return ""
		})
	})

	t.Run("get of an unknown id is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, report.ErrNotFound) {
			t.Fatalf("Get = %v, want ErrNotFound", err)
		}
	})

	t.Run("grid listing pages newest first within bounds", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var want []string
		for i := range 7 {
			r := record(fmt.Sprintf("a%d", i), "g1", base.Add(time.Duration(i)*time.Hour))
			if i == 3 {
				r.Status = "closed"
			}
			if _, _, err := s.Create(ctx, r, welcome(r, "x")); err != nil {
				t.Fatal(err)
			}
			want = append([]string{r.ID}, want...)
		}
		for i := range 2 {
			r := record(fmt.Sprintf("b%d", i), "g10", base.Add(time.Duration(i)*time.Hour))
			if _, _, err := s.Create(ctx, r, welcome(r, "x")); err != nil {
				t.Fatal(err)
			}
		}
		list := func(q report.GridQuery) []string {
			t.Helper()
			var ids []string
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("paging does not end")
				}
				page, err := s.ListGrid(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Records) > q.Limit {
					t.Fatalf("page of %d records, limit %d", len(page.Records), q.Limit)
				}
				for _, r := range page.Records {
					ids = append(ids, r.ID)
				}
				if page.Next == "" {
					return ids
				}
				q.After = page.Next
			}
		}
		eventually(t, func() string {
			if diff := cmp.Diff(want, list(report.GridQuery{GridCode: "g1", Limit: 3})); diff != "" {
				return "all pages (-want +got):\n" + diff
			}
			if n := len(list(report.GridQuery{GridCode: "g10", Limit: 5})); n != 2 {
				return fmt.Sprintf("grid g10 lists %d reports, want 2", n)
			}
			return ""
		})
		bounded := list(report.GridQuery{GridCode: "g1", Limit: 2, Since: base.Add(2 * time.Hour), Until: base.Add(5 * time.Hour)})
		if diff := cmp.Diff([]string{"a4", "a3", "a2"}, bounded); diff != "" {
			t.Errorf("bounded (-want +got):\n%s", diff)
		}
		filtered := list(report.GridQuery{GridCode: "g1", Limit: 2, Status: report.StatusNew})
		if diff := cmp.Diff([]string{"a6", "a5", "a4", "a2", "a1", "a0"}, filtered); diff != "" {
			t.Errorf("status filter (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"b1", "b0"}, list(report.GridQuery{GridCode: "g10", Limit: 5})); diff != "" {
			t.Errorf("other grid (-want +got):\n%s", diff)
		}
		between := list(report.GridQuery{GridCode: "g1", Limit: 10, After: report.ListKey(base.Add(3*time.Hour+30*time.Minute), "zz")})
		if diff := cmp.Diff([]string{"a3", "a2", "a1", "a0"}, between); diff != "" {
			t.Errorf("from a position between two reports (-want +got):\n%s", diff)
		}
		if got := list(report.GridQuery{GridCode: "g", Limit: 5}); len(got) != 0 {
			t.Errorf("grid g (a prefix of g1) lists %v", got)
		}
	})

	t.Run("grids and rule sets", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		grids := make([]grid.Grid, 30) // more than one BatchWriteItem
		for i := range grids {
			grids[i] = grid.Grid{Code: fmt.Sprintf("g%02d", i), Name: "第一网格", Community: "石冲社区", Town: "环市街道", WorkersSealed: []byte{byte(i)}}
		}
		if err := s.PutGrids(ctx, grids); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListGrids(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(grid.NewDirectory(grids).Grids(), grid.NewDirectory(got).Grids()); diff != "" {
			t.Errorf("grids (-want +got):\n%s", diff)
		}
		if _, err := s.GetRuleSet(ctx, district.RiskAreasRuleSet); !errors.Is(err, district.ErrNoRuleSet) {
			t.Fatalf("GetRuleSet before put = %v, want ErrNoRuleSet", err)
		}
		for _, body := range []string{`[{"areaCode":"110105"}]`, `[]`} {
			if err := s.PutRuleSet(ctx, district.RiskAreasRuleSet, []byte(body)); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetRuleSet(ctx, district.RiskAreasRuleSet)
			if err != nil || string(got) != body {
				t.Fatalf("GetRuleSet = %q, %v; want %q", got, err, body)
			}
		}
	})
}
