package gridwork_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/gridwork"
)

func TestSearchStaysInScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.addPeople(t,
		person{name: "张三", community: "石冲社区", address: "新塘里96号"},
		person{name: "张三", community: "白沙社区", address: "白沙大道1号"},
		person{name: "张三", community: "子绵村", address: "东头巷9号"},
	)
	cases := []struct {
		name      string
		scope     string
		c         gridwork.Caller
		community string
		want      []string // the results' communities, sorted
	}{
		// A community asked for ranks its people first; the rest of the
		// caller's scope still shows (a person registered next door).
		{"the office, everywhere", gridwork.ScopeCommunity, office, "", []string{"子绵村", "白沙社区", "石冲社区"}},
		{"a worker, their community", gridwork.ScopeCommunity, worker, "", []string{"石冲社区"}},
		{"a worker of another grid of it", gridwork.ScopeCommunity, sameCommunity, "石冲", []string{"石冲社区"}},
		{"the office, a community", gridwork.ScopeCommunity, office, "石冲", []string{"子绵村", "白沙社区", "石冲社区"}},
		{"a village's worker", gridwork.ScopeCommunity, otherTown, "", []string{"子绵村"}},
		{"a worker, their town", gridwork.ScopeTown, otherCommunity, "", []string{"白沙社区", "石冲社区"}},
		{"a worker, a community of their town", gridwork.ScopeTown, otherCommunity, "石冲", []string{"白沙社区", "石冲社区"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			found, err := f.search(c.scope).Run(context.Background(), c.c, gridwork.SearchQuery{Name: "张三", Community: c.community})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range found {
				got = append(got, p.Community)
			}
			if c.community != "" && (len(found) == 0 || found[0].Community != "石冲社区") {
				t.Errorf("asked in %s, found %v first", c.community, got)
			}
			slices.Sort(got)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("communities found (-want +got):\n%s", diff)
			}
		})
	}

	_, err := f.search(gridwork.ScopeCommunity).Run(context.Background(), worker, gridwork.SearchQuery{Name: "张三", Community: "长庚里"})
	var fe *fields.Error
	if !errors.As(err, &fe) || !cmp.Equal(fe.Problems, []fields.Problem{{Field: "community", Reason: "unknown"}}) {
		t.Errorf("an unknown community: %v, want a *fields.Error naming community unknown", err)
	}
}

func TestSearchMasksAndAuditsEveryPersonShown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	keys := f.addPeople(t, person{name: "张三", community: "石冲社区", address: "新塘里96号", phone: "13800138000", landlordPhone: "13900139001"})
	s := f.search(gridwork.ScopeCommunity)

	found, err := s.Run(ctx, worker, gridwork.SearchQuery{Name: "张三", Community: "石冲"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("found %d people, want 1", len(found))
	}
	got := found[0]
	got.Score, got.Matched = 0, nil
	want := gridwork.Found{
		PersonKey: keys[0], Name: "张三", IDType: "resident_id", IDNumber: "4407**********001" + got.IDNumber[17:],
		Phone: "138****8000", Town: "环市街道", Community: "石冲社区", Address: "新塘里96号", GridCode: got.GridCode,
		ResidentType: "permanent", Status: "active", LandlordPhone: "139****9001",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}

	// Refused searches show no one, so they leave no record.
	if _, err := s.Run(ctx, groupAdmin, gridwork.SearchQuery{Name: "张三"}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a group admin's search: %v, want forbidden", err)
	}
	if _, err := s.Run(ctx, otherCommunity, gridwork.SearchQuery{Name: "张三", Community: "石冲"}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a search outside the worker's community: %v, want forbidden", err)
	}
	records, err := f.store.ByPerson(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 {
		t.Fatalf("%d audit records, want 1: %+v", len(records), records)
	}
	r := records[0]
	if r.Actor != worker.Subject || r.Role != string(auth.GridWorker) || r.Action != "registry.search_result" ||
		r.From != worker.From || !r.At.Equal(now) || r.ExpiresAt != now.Add(gridwork.AuditRetention).Unix() {
		t.Errorf("audit record %+v", r)
	}
}
