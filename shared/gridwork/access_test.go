package gridwork_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/gridwork"
	"gridcode/shared/report"
	"gridcode/shared/risk"
)

// TestAccess runs every role against every grid-work operation the
// package guards and checks who is let through and who gets
// auth.ErrForbidden. An operation a caller may do either succeeds or fails
// for a reason of its own (ErrNotFound for a report that does not exist),
// never ErrForbidden.
func TestAccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.addPeople(t,
		person{name: "张三", community: "石冲社区", address: "新塘里96号", phone: "13800138000"},
		person{name: "张三", community: "白沙社区", address: "白沙大道1号"},
		person{name: "张三", community: "子绵村", address: "东头巷9号"},
	)
	// A report of the first 石冲 grid per caller, so callers let through
	// do not race each other's versions.
	reportOf := map[string]string{}
	for _, role := range roles {
		r := f.addReport(t, "r-"+role.c.Subject, shichong1.Code, "石冲社区", now, 30*time.Hour, risk.None)
		reportOf[role.c.Subject] = r.ID
	}

	forbidden := auth.ErrForbidden
	type want map[string]error // by subject; nil: allowed; absent: forbidden
	allowed := func(callers ...gridwork.Caller) want {
		w := want{}
		for _, c := range callers {
			w[c.Subject] = nil
		}
		return w
	}
	mayFollowUp := allowed(office, worker, twoGrids)
	ops := []struct {
		name string
		do   func(c gridwork.Caller) error
		want want
	}{
		{"search a community, community scope", func(c gridwork.Caller) error {
			_, err := f.search(gridwork.ScopeCommunity).Run(ctx, c, gridwork.SearchQuery{Name: "张三", Community: "石冲"})
			return err
		}, allowed(office, worker, sameCommunity, twoGrids)},
		{"search a community, town scope", func(c gridwork.Caller) error {
			_, err := f.search(gridwork.ScopeTown).Run(ctx, c, gridwork.SearchQuery{Name: "张三", Community: "石冲社区"})
			return err
		}, allowed(office, worker, sameCommunity, otherCommunity, twoGrids)},
		{"search the caller's own scope", func(c gridwork.Caller) error {
			_, err := f.search(gridwork.ScopeCommunity).Run(ctx, c, gridwork.SearchQuery{Name: "张三"})
			return err
		}, allowed(office, worker, sameCommunity, otherCommunity, otherTown, twoGrids)},
		{"record a follow-up", func(c gridwork.Caller) error {
			_, err := f.followUps.Record(ctx, c, reportOf[c.Subject], report.FollowUpInput{Outcome: report.OutcomeUnreachable})
			return err
		}, mayFollowUp},
		// Whoever does grid work learns that a report does not exist;
		// nobody else learns even that.
		{"record a follow-up on a missing report", func(c gridwork.Caller) error {
			_, err := f.followUps.Record(ctx, c, "rmissing", report.FollowUpInput{Outcome: report.OutcomeContacted})
			return err
		}, want{office.Subject: report.ErrNotFound, worker.Subject: report.ErrNotFound, sameCommunity.Subject: report.ErrNotFound,
			otherCommunity.Subject: report.ErrNotFound, otherTown.Subject: report.ErrNotFound, twoGrids.Subject: report.ErrNotFound}},
		{"overdue of the grid", func(c gridwork.Caller) error {
			_, err := f.followUps.Overdue(ctx, c, shichong1.Code)
			return err
		}, allowed(office, worker, twoGrids)},
		{"overdue of the district pool", func(c gridwork.Caller) error {
			_, err := f.followUps.Overdue(ctx, c, "unassigned")
			return err
		}, allowed(office)},
		// The worker of a community's lead grid is its supervisor.
		{"escalated of 石冲", func(c gridwork.Caller) error {
			_, err := f.followUps.Escalated(ctx, c, report.EscalationCommunity, "石冲")
			return err
		}, allowed(office, worker, twoGrids)},
		{"escalated of the caller's community", func(c gridwork.Caller) error {
			_, err := f.followUps.Escalated(ctx, c, report.EscalationCommunity, "")
			return err
		}, allowed(office, worker, otherCommunity, otherTown, twoGrids)},
		// A worker of two lead grids supervises both communities.
		{"escalated of 子绵村", func(c gridwork.Caller) error {
			_, err := f.followUps.Escalated(ctx, c, report.EscalationCommunity, "子绵村")
			return err
		}, allowed(office, otherTown, twoGrids)},
		{"escalated of 白沙", func(c gridwork.Caller) error {
			_, err := f.followUps.Escalated(ctx, c, report.EscalationCommunity, "白沙社区")
			return err
		}, allowed(office, otherCommunity)},
	}
	// The worker of two grids searches both grids' communities.
	found, err := f.search(gridwork.ScopeCommunity).Run(ctx, twoGrids, gridwork.SearchQuery{Name: "张三"})
	if err != nil {
		t.Fatal(err)
	}
	var communities []string
	for _, p := range found {
		communities = append(communities, p.Community)
	}
	if slices.Sort(communities); !slices.Equal(communities, []string{"子绵村", "石冲社区"}) {
		t.Errorf("a worker of 子绵村's and 石冲's grids found 张三 in %v, want in both", communities)
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			for _, role := range roles {
				wantErr, ok := op.want[role.c.Subject]
				if !ok {
					wantErr = forbidden
				}
				err := op.do(role.c)
				switch {
				case wantErr == nil && err != nil:
					t.Errorf("%s: %v, want allowed", role.name, err)
				case wantErr != nil && !errors.Is(err, wantErr):
					t.Errorf("%s: %v, want %v", role.name, err, wantErr)
				}
			}
		})
	}

	// What the refused callers tried left no trace on their reports.
	t.Cleanup(func() {
		for _, role := range roles {
			r, err := f.store.Get(ctx, reportOf[role.c.Subject])
			if err != nil {
				t.Fatal(err)
			}
			_, ok := mayFollowUp[role.c.Subject]
			if got := len(r.FollowUps); (got == 1) != ok || got > 1 {
				t.Errorf("%s: %d follow-ups stored", role.name, got)
			}
		}
	})
}

// The roles that do no grid work are refused before anything is read: on
// a store that cannot be read, they still get ErrForbidden, while the
// office gets the store's error.
func TestRolesWithoutGridWorkAreRefusedBeforeAnyRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	// Settings that have read nothing yet, so they must read the store.
	unread := district.NewSettings(f.store, nil, func() time.Time { return now }, 0)
	search := f.search(gridwork.ScopeCommunity)
	search.Grids = unread
	fu := f.followUps
	fu.Grids = unread
	ops := []struct {
		name string
		do   func(c gridwork.Caller) error
	}{
		{"search", func(c gridwork.Caller) error {
			_, err := search.Run(ctx, c, gridwork.SearchQuery{Name: "张三"})
			return err
		}},
		{"record a follow-up", func(c gridwork.Caller) error {
			_, err := fu.Record(ctx, c, "r1", report.FollowUpInput{Outcome: report.OutcomeContacted})
			return err
		}},
		{"overdue", func(c gridwork.Caller) error {
			_, err := fu.Overdue(ctx, c, shichong1.Code)
			return err
		}},
		{"escalated", func(c gridwork.Caller) error {
			_, err := fu.Escalated(ctx, c, report.EscalationCommunity, "")
			return err
		}},
	}
	for _, op := range ops {
		for _, c := range []gridwork.Caller{groupAdmin, healthFeed} {
			if err := op.do(c); !errors.Is(err, auth.ErrForbidden) {
				t.Errorf("%s by %s: %v, want forbidden", op.name, c.Role, err)
			}
		}
		if err := op.do(office); err == nil || errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s by the office on a closed store: %v, want the store's error", op.name, err)
		}
	}
}
