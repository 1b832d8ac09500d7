package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gridcode/shared/alert"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
)

// GroupStore is a store that keeps groups, their rosters and daily lists,
// refresh runs and health statuses.
type GroupStore interface {
	group.Store
	group.DailyStore
	group.RunStore
	health.Store
	Alert(ctx context.Context, id string) (alert.Alert, error)
}

// groupFixture makes the values of the group contract. Its times are
// recent rather than fixed: an adapter may derive an expiry from them, and
// DynamoDB Local really deletes expired items. They keep microseconds, as
// base does, so a round trip that loses precision shows.
type groupFixture struct {
	at      time.Time
	expires int64 // an ExpiresAt well in the future
}

func newGroupFixture() groupFixture {
	return groupFixture{
		at:      time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond),
		expires: time.Now().Add(30 * 24 * time.Hour).Unix(),
	}
}

func (f groupFixture) group(id, gridCode string) group.Group {
	return group.Group{
		ID: id, Name: "蓬江超市 " + id, Kind: "supermarket", Address: "江门市蓬江区建设路 " + id, GridCode: gridCode,
		AdminLookup: "admin-" + id, AdminSealed: []byte{7, 0, 255, byte(len(id))},
		CreatedAt: f.at,
	}
}

func (f groupFixture) member(groupID, personKey string, version int) group.Member {
	return group.Member{
		GroupID: groupID, PersonKey: personKey, Version: version, Status: group.Active,
		IDType: idcard.ResidentID, Sealed: []byte("sealed:" + personKey + "\x00\xff"), JoinedAt: f.at,
	}
}

// roster makes n members with person keys prefix0000…, in reverse order so
// that an adapter has to sort them.
func (f groupFixture) roster(groupID, prefix string, version, n int) []group.Member {
	ms := make([]group.Member, n)
	for i := range n {
		ms[n-1-i] = f.member(groupID, fmt.Sprintf("%s%04d", prefix, i), version)
	}
	return ms
}

func (f groupFixture) request(groupID, personKey string) group.Member {
	m := f.member(groupID, personKey, 0)
	m.Status = group.Pending
	m.IDType = idcard.Passport
	m.JoinedAt = f.at.Add(time.Minute)
	return m
}

func (f groupFixture) alert(id string) alert.Alert {
	return alert.Alert{
		ID: id, Template: "GC_TEST", Params: map[string]string{"id": id},
		RecipientLookup: "ph-" + id, RecipientSealed: []byte{9, 8, 7}, GridCode: "g1",
		Status: alert.Pending, CreatedAt: f.at, ExpiresAt: f.expires,
	}
}

func (f groupFixture) record(personKey string, at time.Time) health.Record {
	return health.Record{PersonKey: personKey, UpdatedAt: at, Sealed: []byte("status:" + personKey + "@" + at.Format(time.RFC3339Nano))}
}

func sortedByPerson(ms []group.Member) []group.Member {
	out := slices.Clone(ms)
	slices.SortFunc(out, func(a, b group.Member) int { return strings.Compare(a.PersonKey, b.PersonKey) })
	return out
}

func groupIDs(gs []group.Group) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return ids
}

func mustCreateGroup(t *testing.T, s GroupStore, g group.Group) {
	t.Helper()
	if _, created, err := s.CreateGroup(context.Background(), g); err != nil || !created {
		t.Fatalf("CreateGroup %s = created %v, err %v", g.ID, created, err)
	}
}

func mustReplace(t *testing.T, s GroupStore, groupID string, from int, ms []group.Member) group.Group {
	t.Helper()
	g, err := s.ReplaceRoster(context.Background(), groupID, from, ms)
	if err != nil {
		t.Fatalf("ReplaceRoster %s from %d: %v", groupID, from, err)
	}
	return g
}

func mustGetGroup(t *testing.T, s GroupStore, id string) group.Group {
	t.Helper()
	g, err := s.GetGroup(context.Background(), id)
	if err != nil {
		t.Fatalf("GetGroup %s: %v", id, err)
	}
	return g
}

func mustMembers(t *testing.T, s GroupStore, groupID string, version int) []group.Member {
	t.Helper()
	ms, err := s.Members(context.Background(), groupID, version)
	if err != nil {
		t.Fatalf("Members %s v%d: %v", groupID, version, err)
	}
	return ms
}

// groupsOfIs checks, for eventually, that GroupsOf lists exactly wantIDs
// (in any order) and that each listed group is the current group.
func groupsOfIs(s GroupStore, personKey string, wantIDs ...string) func() string {
	return func() string {
		ctx := context.Background()
		gs, err := s.GroupsOf(ctx, personKey)
		if err != nil {
			return fmt.Sprintf("GroupsOf %s: %v", personKey, err)
		}
		got := groupIDs(gs)
		slices.Sort(got)
		if wantIDs == nil {
			wantIDs = []string{}
		}
		if diff := cmp.Diff(wantIDs, got); diff != "" {
			return fmt.Sprintf("GroupsOf %s (-want +got):\n%s", personKey, diff)
		}
		for _, g := range gs {
			cur, err := s.GetGroup(ctx, g.ID)
			if err != nil {
				return fmt.Sprintf("GetGroup %s: %v", g.ID, err)
			}
			if diff := cmp.Diff(cur, g); diff != "" {
				return fmt.Sprintf("GroupsOf %s lists group %s (-current +listed):\n%s", personKey, g.ID, diff)
			}
		}
		return ""
	}
}

func gridGroupsAre(s GroupStore, gridCode string, want ...group.Group) func() string {
	return func() string {
		got, err := s.GridGroups(context.Background(), gridCode)
		if err != nil {
			return fmt.Sprintf("GridGroups %s: %v", gridCode, err)
		}
		if len(want) == 0 && len(got) == 0 {
			return ""
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Sprintf("GridGroups %s (-want +got):\n%s", gridCode, diff)
		}
		return ""
	}
}

// RunGroups runs the contract of the group, daily-list, run and health
// ports. newStore returns an empty store for each test.
func RunGroups(t *testing.T, newStore func(t *testing.T) GroupStore) {
	t.Run("groups", func(t *testing.T) { runGroupTests(t, newStore) })
	t.Run("rosters", func(t *testing.T) { runRosterTests(t, newStore) })
	t.Run("join requests", func(t *testing.T) { runJoinTests(t, newStore) })
	t.Run("daily lists", func(t *testing.T) { runDailyTests(t, newStore) })
	t.Run("runs", func(t *testing.T) { runRunTests(t, newStore) })
	t.Run("health", func(t *testing.T) { runHealthTests(t, newStore) })
}

func runGroupTests(t *testing.T, newStore func(t *testing.T) GroupStore) {
	ctx := context.Background()
	f := newGroupFixture()

	t.Run("create stores a group once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		g := f.group("GAAAA0001", "g1")
		stored, created, err := s.CreateGroup(ctx, g)
		if err != nil || !created {
			t.Fatalf("CreateGroup = created %v, err %v", created, err)
		}
		if diff := cmp.Diff(g, stored); diff != "" {
			t.Errorf("returned group (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(g, mustGetGroup(t, s, g.ID)); diff != "" {
			t.Errorf("stored group (-want +got):\n%s", diff)
		}

		second := f.group("GAAAA0001", "g2")
		second.Name, second.AdminLookup, second.CreatedAt = "另一个名字", "admin-other", f.at.Add(time.Hour)
		stored, created, err = s.CreateGroup(ctx, second)
		if err != nil || created {
			t.Fatalf("second CreateGroup = created %v, err %v; want created=false", created, err)
		}
		if diff := cmp.Diff(g, stored); diff != "" {
			t.Errorf("second create returned (-first +got):\n%s", diff)
		}
		if diff := cmp.Diff(g, mustGetGroup(t, s, g.ID)); diff != "" {
			t.Errorf("group after second create (-first +got):\n%s", diff)
		}
		eventually(t, gridGroupsAre(s, "g1", g))
		eventually(t, gridGroupsAre(s, "g2"))
	})

	t.Run("concurrent creates of one id make one group", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		var createdCount int
		var names []string
		for i := range n {
			wg.Go(func() {
				g := f.group("GRACE0001", "g1")
				g.Name = fmt.Sprintf("name %d", i)
				stored, created, err := s.CreateGroup(ctx, g)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				if created {
					createdCount++
				}
				names = append(names, stored.Name)
			})
		}
		wg.Wait()
		if createdCount != 1 {
			t.Fatalf("%d creates succeeded, want exactly 1", createdCount)
		}
		winner := mustGetGroup(t, s, "GRACE0001").Name
		for _, name := range names {
			if name != winner {
				t.Errorf("a create returned group named %q, the stored one is %q", name, winner)
			}
		}
	})

	t.Run("get of an unknown group is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.GetGroup(ctx, "GNOPE0000"); !errors.Is(err, group.ErrNotFound) {
			t.Fatalf("GetGroup = %v, want ErrNotFound", err)
		}
	})

	t.Run("group ids sorted, grid groups by grid sorted by id", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if ids, err := s.GroupIDs(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("GroupIDs of an empty store = %v, %v", ids, err)
		}
		byGrid := map[string][]group.Group{}
		var all []string
		for i, gridCode := range []string{"g1", "g10", "g1", "g2", "g1", "g10"} {
			g := f.group(fmt.Sprintf("G%08d", (7*i+3)%10), gridCode)
			mustCreateGroup(t, s, g)
			byGrid[gridCode] = append(byGrid[gridCode], g)
			all = append(all, g.ID)
		}
		slices.Sort(all)
		for _, gs := range byGrid {
			slices.SortFunc(gs, func(a, b group.Group) int { return strings.Compare(a.ID, b.ID) })
		}
		eventually(t, func() string {
			ids, err := s.GroupIDs(ctx)
			if err != nil {
				return err.Error()
			}
			if diff := cmp.Diff(all, ids); diff != "" {
				return "GroupIDs (-want +got):\n" + diff
			}
			return ""
		})
		for gridCode, gs := range byGrid {
			eventually(t, gridGroupsAre(s, gridCode, gs...))
		}
		eventually(t, gridGroupsAre(s, "g"))
		eventually(t, gridGroupsAre(s, "g3"))
	})
}

func runRosterTests(t *testing.T, newStore func(t *testing.T) GroupStore) {
	ctx := context.Background()
	f := newGroupFixture()

	t.Run("replace roster makes a new version", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		g := f.group("GROST0001", "g1")
		mustCreateGroup(t, s, g)
		if ms := mustMembers(t, s, g.ID, 0); len(ms) != 0 {
			t.Fatalf("a new group has %d members", len(ms))
		}

		v1 := []group.Member{f.member(g.ID, "pc", 1), f.member(g.ID, "pa", 1), f.member(g.ID, "pb", 1)}
		got := mustReplace(t, s, g.ID, 0, v1)
		want := g
		want.RosterVersion, want.Members = 1, 3
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("returned group (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, mustGetGroup(t, s, g.ID)); diff != "" {
			t.Errorf("stored group (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(sortedByPerson(v1), mustMembers(t, s, g.ID, 1)); diff != "" {
			t.Errorf("members v1 (-want +got):\n%s", diff)
		}
		for _, p := range []string{"pa", "pb", "pc"} {
			eventually(t, groupsOfIs(s, p, g.ID))
		}
		eventually(t, gridGroupsAre(s, "g1", want))

		// A stale replace changes nothing.
		if _, err := s.ReplaceRoster(ctx, g.ID, 0, []group.Member{f.member(g.ID, "px", 1)}); !errors.Is(err, group.ErrConflict) {
			t.Fatalf("stale ReplaceRoster = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff(want, mustGetGroup(t, s, g.ID)); diff != "" {
			t.Errorf("group after stale replace (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(sortedByPerson(v1), mustMembers(t, s, g.ID, 1)); diff != "" {
			t.Errorf("members after stale replace (-want +got):\n%s", diff)
		}
		eventually(t, groupsOfIs(s, "px"))

		// Version 2 keeps pb, drops pa and pc, adds pd.
		v2 := []group.Member{f.member(g.ID, "pd", 2), f.member(g.ID, "pb", 2)}
		v2[1].Sealed = []byte("new sealed pb")
		got = mustReplace(t, s, g.ID, 1, v2)
		want.RosterVersion, want.Members = 2, 2
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("returned group v2 (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(sortedByPerson(v2), mustMembers(t, s, g.ID, 2)); diff != "" {
			t.Errorf("members v2 (-want +got):\n%s", diff)
		}
		// A reader that read the group before the replace learns it raced.
		if _, err := s.Members(ctx, g.ID, 1); !errors.Is(err, group.ErrConflict) {
			t.Errorf("Members of the replaced version = %v, want ErrConflict", err)
		}
		if _, err := s.Members(ctx, "GNOSUCH1", 0); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("Members of an unknown group = %v, want ErrNotFound", err)
		}
		eventually(t, groupsOfIs(s, "pa"))
		eventually(t, groupsOfIs(s, "pc"))
		eventually(t, groupsOfIs(s, "pb", g.ID))
		eventually(t, groupsOfIs(s, "pd", g.ID))
		eventually(t, gridGroupsAre(s, "g1", want))

		// An empty roster is a roster too.
		got = mustReplace(t, s, g.ID, 2, nil)
		if got.RosterVersion != 3 || got.Members != 0 {
			t.Errorf("after an empty roster: version %d, %d members; want 3, 0", got.RosterVersion, got.Members)
		}
		if ms := mustMembers(t, s, g.ID, 3); len(ms) != 0 {
			t.Errorf("empty roster lists %d members", len(ms))
		}
		eventually(t, groupsOfIs(s, "pb"))
	})

	t.Run("replace roster of an unknown group is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.ReplaceRoster(ctx, "GNOPE0000", 0, []group.Member{f.member("GNOPE0000", "pa", 1)}); !errors.Is(err, group.ErrNotFound) {
			t.Fatalf("ReplaceRoster = %v, want ErrNotFound", err)
		}
		eventually(t, groupsOfIs(s, "pa"))
	})

	t.Run("concurrent replaces from one version: one wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		g := f.group("GROST0002", "g1")
		mustCreateGroup(t, s, g)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		winner := -1
		for i := range n {
			wg.Go(func() {
				_, err := s.ReplaceRoster(ctx, g.ID, 0, f.roster(g.ID, fmt.Sprintf("w%d-", i), 1, i+1))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && winner >= 0:
					t.Errorf("replaces %d and %d both succeeded", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, group.ErrConflict):
					t.Errorf("replace %d: %v, want ErrConflict", i, err)
				}
			})
		}
		wg.Wait()
		if winner < 0 {
			t.Fatal("no replace succeeded")
		}
		got := mustGetGroup(t, s, g.ID)
		if got.RosterVersion != 1 || got.Members != winner+1 {
			t.Errorf("group: version %d, %d members; want 1, %d", got.RosterVersion, got.Members, winner+1)
		}
		if diff := cmp.Diff(sortedByPerson(f.roster(g.ID, fmt.Sprintf("w%d-", winner), 1, winner+1)), mustMembers(t, s, g.ID, 1)); diff != "" {
			t.Errorf("members (-winner's +got):\n%s", diff)
		}
	})

	t.Run("a full roster", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		g := f.group("GROST0003", "g1")
		mustCreateGroup(t, s, g)
		full := f.roster(g.ID, "full-", 1, group.MaxRoster)
		got := mustReplace(t, s, g.ID, 0, full)
		if got.RosterVersion != 1 || got.Members != group.MaxRoster {
			t.Fatalf("group: version %d, %d members; want 1, %d", got.RosterVersion, got.Members, group.MaxRoster)
		}
		if diff := cmp.Diff(sortedByPerson(full), mustMembers(t, s, g.ID, 1)); diff != "" {
			t.Fatalf("members of a full roster (-want +got):\n%s", diff)
		}
		eventually(t, groupsOfIs(s, "full-2999", g.ID))

		// Replacing the full roster drops all of its members.
		small := []group.Member{f.member(g.ID, "full-0000", 2), f.member(g.ID, "small", 2)}
		got = mustReplace(t, s, g.ID, 1, small)
		if got.RosterVersion != 2 || got.Members != 2 {
			t.Fatalf("group: version %d, %d members; want 2, 2", got.RosterVersion, got.Members)
		}
		if diff := cmp.Diff(sortedByPerson(small), mustMembers(t, s, g.ID, 2)); diff != "" {
			t.Errorf("members v2 (-want +got):\n%s", diff)
		}
		eventually(t, groupsOfIs(s, "full-2999"))
		eventually(t, groupsOfIs(s, "full-1500"))
		eventually(t, groupsOfIs(s, "full-0000", g.ID))
	})

	t.Run("groups of a person in two groups", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a, b, c := f.group("GTWO00001", "g1"), f.group("GTWO00002", "g2"), f.group("GTWO00003", "g1")
		for _, g := range []group.Group{b, a, c} {
			mustCreateGroup(t, s, g)
		}
		mustReplace(t, s, a.ID, 0, []group.Member{f.member(a.ID, "shared", 1), f.member(a.ID, "only-a", 1)})
		mustReplace(t, s, b.ID, 0, []group.Member{f.member(b.ID, "shared", 1)})
		mustReplace(t, s, c.ID, 0, []group.Member{f.member(c.ID, "shared-not", 1)})
		eventually(t, groupsOfIs(s, "shared", a.ID, b.ID))
		eventually(t, groupsOfIs(s, "only-a", a.ID))
		eventually(t, groupsOfIs(s, "shared-not", c.ID))
		eventually(t, groupsOfIs(s, "nobody"))
		eventually(t, groupsOfIs(s, "shar"))
	})
}

func runJoinTests(t *testing.T, newStore func(t *testing.T) GroupStore) {
	ctx := context.Background()
	f := newGroupFixture()

	requestsAre := func(t *testing.T, s GroupStore, groupID string, want ...group.Member) {
		t.Helper()
		got, err := s.JoinRequests(ctx, groupID)
		if err != nil {
			t.Fatalf("JoinRequests %s: %v", groupID, err)
		}
		if len(want) == 0 && len(got) == 0 {
			return
		}
		if diff := cmp.Diff(sortedByPerson(want), sortedByPerson(got)); diff != "" {
			t.Errorf("JoinRequests %s (-want +got):\n%s", groupID, diff)
		}
	}

	t.Run("requests are listed per group and replaced", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		a, b := f.group("GJOIN0001", "g1"), f.group("GJOIN0002", "g1")
		mustCreateGroup(t, s, a)
		mustCreateGroup(t, s, b)
		requestsAre(t, s, a.ID)
		r1, r2, rb := f.request(a.ID, "pz"), f.request(a.ID, "pa"), f.request(b.ID, "pa")
		for _, r := range []group.Member{r1, r2, rb} {
			if err := s.PutJoinRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		requestsAre(t, s, a.ID, r1, r2)
		requestsAre(t, s, b.ID, rb)
		r1.Sealed, r1.JoinedAt = []byte("asked again"), r1.JoinedAt.Add(time.Hour)
		if err := s.PutJoinRequest(ctx, r1); err != nil {
			t.Fatal(err)
		}
		requestsAre(t, s, a.ID, r1, r2)
		// A request is not a membership.
		if ms := mustMembers(t, s, a.ID, 0); len(ms) != 0 {
			t.Errorf("requests listed as %d members", len(ms))
		}
		if g := mustGetGroup(t, s, a.ID); g.Members != 0 {
			t.Errorf("requests counted as %d members", g.Members)
		}
		eventually(t, groupsOfIs(s, "pa"))
	})

	t.Run("approve moves a request onto the roster", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		g := f.group("GJOIN0003", "g1")
		mustCreateGroup(t, s, g)
		v1 := f.roster(g.ID, "m", 1, 2)
		mustReplace(t, s, g.ID, 0, v1)
		req, other := f.request(g.ID, "joiner"), f.request(g.ID, "other")
		for _, r := range []group.Member{req, other} {
			if err := s.PutJoinRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
		}

		if _, err := s.ApproveJoin(ctx, g.ID, "stranger", 1); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("ApproveJoin of no request = %v, want ErrNotFound", err)
		}
		if _, err := s.ApproveJoin(ctx, g.ID, "joiner", 0); !errors.Is(err, group.ErrConflict) {
			t.Errorf("ApproveJoin onto a stale version = %v, want ErrConflict", err)
		}
		want := g
		want.RosterVersion, want.Members = 1, 2
		if diff := cmp.Diff(want, mustGetGroup(t, s, g.ID)); diff != "" {
			t.Errorf("group after refused approvals (-want +got):\n%s", diff)
		}
		requestsAre(t, s, g.ID, req, other)

		got, err := s.ApproveJoin(ctx, g.ID, "joiner", 1)
		if err != nil {
			t.Fatal(err)
		}
		want.Members = 3
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("returned group (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, mustGetGroup(t, s, g.ID)); diff != "" {
			t.Errorf("stored group (-want +got):\n%s", diff)
		}
		joined := req
		joined.Version, joined.Status = 1, group.Active
		if diff := cmp.Diff(sortedByPerson(append(slices.Clone(v1), joined)), mustMembers(t, s, g.ID, 1)); diff != "" {
			t.Errorf("members after approval (-want +got):\n%s", diff)
		}
		requestsAre(t, s, g.ID, other)
		eventually(t, groupsOfIs(s, "joiner", g.ID))
		eventually(t, groupsOfIs(s, "other"))

		if _, err := s.ApproveJoin(ctx, g.ID, "joiner", 1); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("second ApproveJoin = %v, want ErrNotFound", err)
		}
		if g := mustGetGroup(t, s, g.ID); g.Members != 3 {
			t.Errorf("second approval left %d members, want 3", g.Members)
		}
	})

	t.Run("approve onto the first roster of a group", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		g := f.group("GJOIN0004", "g1")
		mustCreateGroup(t, s, g)
		req := f.request(g.ID, "first")
		if err := s.PutJoinRequest(ctx, req); err != nil {
			t.Fatal(err)
		}
		got, err := s.ApproveJoin(ctx, g.ID, "first", 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.RosterVersion != 0 || got.Members != 1 {
			t.Errorf("group: version %d, %d members; want 0, 1", got.RosterVersion, got.Members)
		}
		if ms := mustMembers(t, s, g.ID, 0); len(ms) != 1 || ms[0].PersonKey != "first" || ms[0].Status != group.Active {
			t.Errorf("members v0 = %+v", ms)
		}
		eventually(t, groupsOfIs(s, "first", g.ID))
		// A later roster replaces the approved member too.
		mustReplace(t, s, g.ID, 0, []group.Member{f.member(g.ID, "second", 1)})
		eventually(t, groupsOfIs(s, "first"))
	})
}

func runDailyTests(t *testing.T, newStore func(t *testing.T) GroupStore) {
	ctx := context.Background()
	f := newGroupFixture()

	list := func(groupID, date string) group.DailyList {
		return group.DailyList{
			GroupID: groupID, Date: date,
			Summary: group.Summary{Members: 120, Abnormal: 5, Red: 1, Yellow: 2, NATPositive: 1, NATStale: 3, NoData: 4},
			Sealed:  []byte{0x1f, 0x8b, 0, 1, 2, 255}, ComputedAt: f.at, ExpiresAt: f.expires,
		}
	}

	t.Run("a day's list is stored once with its alerts", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		l := list("GDAY00001", "2022-12-03")
		a1, a2 := f.alert("GDAY00001.2022-12-03.admin"), f.alert("GDAY00001.2022-12-03.grid")
		created, err := s.PutDailyList(ctx, l, []alert.Alert{a1, a2})
		if err != nil || !created {
			t.Fatalf("PutDailyList = created %v, err %v", created, err)
		}
		got, err := s.DailyList(ctx, l.GroupID, l.Date)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(l, got); diff != "" {
			t.Errorf("stored list (-want +got):\n%s", diff)
		}
		for _, a := range []alert.Alert{a1, a2} {
			got, err := s.Alert(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a, got); diff != "" {
				t.Errorf("alert %s (-want +got):\n%s", a.ID, diff)
			}
		}

		again := l
		again.Summary.Abnormal, again.Sealed, again.ComputedAt = 0, []byte("second"), f.at.Add(time.Hour)
		a1again, a3 := f.alert(a1.ID), f.alert("GDAY00001.2022-12-03.extra")
		a1again.Params = map[string]string{"id": "second"}
		created, err = s.PutDailyList(ctx, again, []alert.Alert{a1again, a3})
		if err != nil || created {
			t.Fatalf("second PutDailyList = created %v, err %v; want created=false", created, err)
		}
		got, err = s.DailyList(ctx, l.GroupID, l.Date)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(l, got); diff != "" {
			t.Errorf("list after second put (-first +got):\n%s", diff)
		}
		if got, err := s.Alert(ctx, a1.ID); err != nil || got.Params["id"] != a1.ID {
			t.Errorf("alert after second put = %v, %v; want the first", got.Params, err)
		}
		if _, err := s.Alert(ctx, a3.ID); !errors.Is(err, alert.ErrNotFound) {
			t.Errorf("second put's alert: %v, want alert.ErrNotFound", err)
		}
	})

	t.Run("lists are per group and date", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		lists := []group.DailyList{list("GDAY00002", "2022-12-03"), list("GDAY00002", "2022-12-04"), list("GDAY00003", "2022-12-03")}
		for i := range lists {
			lists[i].Summary.Members = i
			if created, err := s.PutDailyList(ctx, lists[i], nil); err != nil || !created {
				t.Fatalf("PutDailyList %d = created %v, err %v", i, created, err)
			}
		}
		for _, l := range lists {
			got, err := s.DailyList(ctx, l.GroupID, l.Date)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(l, got); diff != "" {
				t.Errorf("list %s %s (-want +got):\n%s", l.GroupID, l.Date, diff)
			}
		}
		for _, k := range [][2]string{{"GDAY00002", "2022-12-05"}, {"GDAY00003", "2022-12-04"}, {"GDAY00004", "2022-12-03"}, {"GDAY0000", "2022-12-03"}} {
			if _, err := s.DailyList(ctx, k[0], k[1]); !errors.Is(err, group.ErrNotFound) {
				t.Errorf("DailyList %s %s = %v, want ErrNotFound", k[0], k[1], err)
			}
		}
	})

	t.Run("a full roster's list", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		l := list("GDAY00005", "2022-12-03")
		// Sealed gzip does not compress further: about what 3000 entries take.
		l.Sealed = make([]byte, 150_000)
		rng := rand.NewChaCha8([32]byte{1})
		if _, err := rng.Read(l.Sealed); err != nil {
			t.Fatal(err)
		}
		if created, err := s.PutDailyList(ctx, l, nil); err != nil || !created {
			t.Fatalf("PutDailyList = created %v, err %v", created, err)
		}
		got, err := s.DailyList(ctx, l.GroupID, l.Date)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(l, got); diff != "" {
			t.Errorf("stored list differs:\n%.2000s", diff)
		}
	})
}

func runRunTests(t *testing.T, newStore func(t *testing.T) GroupStore) {
	ctx := context.Background()
	f := newGroupFixture()

	shard := func(date string, n, attempt int) group.ShardResult {
		return group.ShardResult{Date: date, RunID: "run1", Shard: n, Groups: 50, Done: 50, Attempt: attempt, UpdatedAt: f.at.Add(time.Duration(n) * time.Second)}
	}

	t.Run("an unplanned day is ErrNotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, _, err := s.Run(ctx, "2022-12-03"); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("Run of an empty store = %v, want ErrNotFound", err)
		}
		// A shard's result alone is no plan.
		if err := s.PutShardResult(ctx, shard("2022-12-03", 0, 1)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Run(ctx, "2022-12-03"); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("Run of a day with a shard result and no plan = %v, want ErrNotFound", err)
		}
	})

	t.Run("plan and shard results", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const date = "2022-12-04"
		plan := group.RunPlan{Date: date, RunID: "run1", Groups: 570, Shards: 12, PlannedAt: f.at}
		if err := s.PutRunPlan(ctx, plan); err != nil {
			t.Fatal(err)
		}
		gotPlan, results, err := s.Run(ctx, date)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(plan, gotPlan); diff != "" {
			t.Errorf("plan (-want +got):\n%s", diff)
		}
		if len(results) != 0 {
			t.Errorf("a fresh plan has %d results", len(results))
		}

		var want []group.ShardResult
		for n := 11; n >= 0; n-- { // out of order, and 10 sorts after 9
			r := shard(date, n, 1)
			if err := s.PutShardResult(ctx, r); err != nil {
				t.Fatal(err)
			}
			want = append([]group.ShardResult{r}, want...)
		}
		// Other days' runs do not mix in.
		if err := s.PutRunPlan(ctx, group.RunPlan{Date: "2022-12-05", RunID: "run1", Groups: 1, Shards: 1, PlannedAt: f.at}); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"2022-12-03", "2022-12-05"} {
			if err := s.PutShardResult(ctx, shard(d, 3, 1)); err != nil {
				t.Fatal(err)
			}
		}

		// The latest attempt replaces the shard's result, and a new plan the plan.
		retry := shard(date, 2, 2)
		retry.Done, retry.Final = 48, true
		retry.Failed = []group.GroupFailure{{GroupID: "G00000001", Reason: "health feed timeout"}, {GroupID: "G00000002", Reason: "roster unreadable"}}
		if err := s.PutShardResult(ctx, retry); err != nil {
			t.Fatal(err)
		}
		want[2] = retry
		plan.Groups, plan.PlannedAt = 571, f.at.Add(time.Minute)
		if err := s.PutRunPlan(ctx, plan); err != nil {
			t.Fatal(err)
		}

		gotPlan, results, err = s.Run(ctx, date)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(plan, gotPlan); diff != "" {
			t.Errorf("replaced plan (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, results); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		_, other, err := s.Run(ctx, "2022-12-05")
		if err != nil || len(other) != 1 || other[0].Date != "2022-12-05" {
			t.Errorf("other day's run = %+v, %v", other, err)
		}
	})

	t.Run("a new run of the day", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const date = "2022-12-06"
		first := group.RunPlan{Date: date, RunID: "run1", Groups: 100, Shards: 2, PlannedAt: f.at}
		second := first
		second.RunID, second.PlannedAt = "run2", f.at.Add(time.Hour)
		put := func(r group.ShardResult) {
			t.Helper()
			if err := s.PutShardResult(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		runIs := func(plan group.RunPlan, want ...group.ShardResult) {
			t.Helper()
			if err := s.PutRunPlan(ctx, plan); err != nil {
				t.Fatal(err)
			}
			got, results, err := s.Run(ctx, date)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(plan, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, results, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("results of %s (-want +got):\n%s", plan.RunID, diff)
			}
		}
		a0, a1 := shard(date, 0, 1), shard(date, 1, 1)
		put(a0)
		put(a1)
		runIs(first, a0, a1)
		runIs(second) // the earlier run's shards do not count
		b0 := a0
		b0.RunID, b0.Done = "run2", 49
		put(b0)
		late := a0 // a late delivery of the first run's shard 0
		late.Attempt = 2
		put(late)
		runIs(second, b0)
		runIs(first, late, a1)
	})
}

func runHealthTests(t *testing.T, newStore func(t *testing.T) GroupStore) {
	ctx := context.Background()
	f := newGroupFixture()
	t0, t1, t2 := f.at, f.at.Add(time.Minute), f.at.Add(2*time.Minute)

	healthIs := func(t *testing.T, s GroupStore, want map[string]health.Record, keys ...string) {
		t.Helper()
		got, err := s.GetHealth(ctx, keys)
		if err != nil {
			t.Fatalf("GetHealth: %v", err)
		}
		if len(want) == 0 && len(got) == 0 {
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetHealth (-want +got):\n%s", diff)
		}
	}
	mustWrite := func(t *testing.T, s GroupStore, ws ...health.Write) {
		t.Helper()
		conflicts, err := s.WriteHealth(ctx, ws)
		if err != nil || len(conflicts) != 0 {
			t.Fatalf("WriteHealth = conflicts %v, err %v", conflicts, err)
		}
	}
	alertIs := func(t *testing.T, s GroupStore, want alert.Alert) {
		t.Helper()
		got, err := s.Alert(ctx, want.ID)
		if err != nil {
			t.Fatalf("alert %s: %v", want.ID, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("alert %s (-want +got):\n%s", want.ID, diff)
		}
	}
	noAlert := func(t *testing.T, s GroupStore, id string) {
		t.Helper()
		if _, err := s.Alert(ctx, id); !errors.Is(err, alert.ErrNotFound) {
			t.Errorf("alert %s: %v, want alert.ErrNotFound", id, err)
		}
	}

	t.Run("get returns only the keys that have a record", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		healthIs(t, s, nil)
		healthIs(t, s, nil, "pa", "pb")
		ra, rc := f.record("pa", t0), f.record("pc", t1)
		mustWrite(t, s, health.Write{Record: ra}, health.Write{Record: rc})
		healthIs(t, s, map[string]health.Record{"pa": ra, "pc": rc}, "pa", "pb", "pc", "p", "pcc")
		healthIs(t, s, map[string]health.Record{"pc": rc}, "pc", "pc")
	})

	// Each case writes one record for person "p" (and its alert) on a
	// store seeded with seed, and checks what is stored afterwards.
	seeded, seedAlert := f.record("p", t1), f.alert("seed.alert")
	cases := []struct {
		name     string
		seed     bool
		prev     *time.Time
		alertID  string
		conflict bool
	}{
		{name: "a first write creates", prev: nil, alertID: "new.alert"},
		{name: "a first write on an existing record conflicts", seed: true, prev: nil, alertID: "new.alert", conflict: true},
		{name: "a write from the stored instant replaces", seed: true, prev: &t1, alertID: "new.alert"},
		{name: "a write from a stale instant conflicts", seed: true, prev: &t0, alertID: "new.alert", conflict: true},
		{name: "a write from a later instant conflicts", seed: true, prev: &t2, alertID: "new.alert", conflict: true},
		{name: "a write of a record that is gone conflicts", prev: &t1, alertID: "new.alert", conflict: true},
		{name: "a write whose alert exists conflicts", seed: true, prev: &t1, alertID: seedAlert.ID, conflict: true},
		{name: "a first write whose alert exists conflicts", prev: nil, alertID: seedAlert.ID, conflict: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			// The seed alert comes with another person's record.
			mustWrite(t, s, health.Write{Record: f.record("other", t0), Alerts: []alert.Alert{seedAlert}})
			if tc.seed {
				mustWrite(t, s, health.Write{Record: seeded})
			}
			rec := f.record("p", t2)
			a := f.alert(tc.alertID)
			a.Params = map[string]string{"from": "this write"}
			a.CreatedAt = t2
			extra := f.alert("extra.alert")
			conflicts, err := s.WriteHealth(ctx, []health.Write{{Record: rec, Prev: tc.prev, Alerts: []alert.Alert{extra, a}}})
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			if tc.conflict {
				want = []int{0}
			}
			if len(conflicts) != len(want) || (tc.conflict && conflicts[0] != 0) {
				t.Fatalf("conflicts = %v, want %v", conflicts, want)
			}
			alertIs(t, s, seedAlert)
			switch {
			case !tc.conflict:
				healthIs(t, s, map[string]health.Record{"p": rec}, "p")
				alertIs(t, s, a)
				alertIs(t, s, extra)
			case tc.seed:
				healthIs(t, s, map[string]health.Record{"p": seeded}, "p")
				noAlert(t, s, extra.ID)
			default:
				healthIs(t, s, nil, "p")
				noAlert(t, s, extra.ID)
			}
			if tc.conflict && a.ID != seedAlert.ID {
				noAlert(t, s, a.ID)
			}
		})
	}

	t.Run("a batch applies only the writes whose condition holds", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		seed := map[string]health.Record{"p1": f.record("p1", t0), "p2": f.record("p2", t0), "p3": f.record("p3", t0)}
		taken := f.alert("taken")
		mustWrite(t, s, health.Write{Record: seed["p1"]}, health.Write{Record: seed["p2"]}, health.Write{Record: seed["p3"], Alerts: []alert.Alert{taken}})

		ok := func(p string, prev *time.Time, alertIDs ...string) health.Write {
			w := health.Write{Record: f.record(p, t1), Prev: prev}
			for _, id := range alertIDs {
				w.Alerts = append(w.Alerts, f.alert(id))
			}
			return w
		}
		writes := []health.Write{
			ok("p1", &t0, "a0"),          // 0: ok
			ok("p2", nil, "a1"),          // 1: exists
			ok("p4", nil),                // 2: ok, no alerts
			ok("p3", &t2, "a3"),          // 3: stale
			ok("p5", nil, "a4", "taken"), // 4: an alert exists
			ok("p6", nil, "a5a", "a5b"),  // 5: ok
			ok("p7", &t0, "a6"),          // 6: no record
			ok("p8", nil, "a7"),          // 7: ok
			ok("p9", nil, "a8a", "a8b"),  // 8: ok
		}
		conflicts, err := s.WriteHealth(ctx, writes)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(conflicts)
		if diff := cmp.Diff([]int{1, 3, 4, 6}, conflicts); diff != "" {
			t.Errorf("conflicts (-want +got):\n%s", diff)
		}
		want := map[string]health.Record{
			"p1": writes[0].Record, "p2": seed["p2"], "p3": seed["p3"], "p4": writes[2].Record,
			"p6": writes[5].Record, "p8": writes[7].Record, "p9": writes[8].Record,
		}
		healthIs(t, s, want, "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9")
		for _, id := range []string{"a0", "a5a", "a5b", "a7", "a8a", "a8b"} {
			alertIs(t, s, f.alert(id))
		}
		alertIs(t, s, taken)
		for _, id := range []string{"a1", "a3", "a4", "a6"} {
			noAlert(t, s, id)
		}
	})

	t.Run("concurrent first writes of one person: one wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		winner := -1
		for i := range n {
			wg.Go(func() {
				rec := f.record("race", t0.Add(time.Duration(i)*time.Second))
				conflicts, err := s.WriteHealth(ctx, []health.Write{{Record: rec, Alerts: []alert.Alert{f.alert(fmt.Sprintf("race-%d", i))}}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Error(err)
				case len(conflicts) == 0 && winner >= 0:
					t.Errorf("writes %d and %d both applied", winner, i)
				case len(conflicts) == 0:
					winner = i
				}
			})
		}
		wg.Wait()
		if winner < 0 {
			t.Fatal("no write applied")
		}
		healthIs(t, s, map[string]health.Record{"race": f.record("race", t0.Add(time.Duration(winner)*time.Second))}, "race")
		for i := range n {
			if i != winner {
				noAlert(t, s, fmt.Sprintf("race-%d", i))
			}
		}
	})

	t.Run("a thousand writes in one call", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 1000
		keys := make([]string, 0, n+3)
		writes := make([]health.Write, n)
		want := map[string]health.Record{}
		for i := range n {
			p := fmt.Sprintf("bulk-%04d", i)
			keys = append(keys, p)
			writes[i] = health.Write{Record: f.record(p, t0)}
			if i%10 == 0 {
				writes[i].Alerts = []alert.Alert{f.alert(p + ".alert")}
			}
			want[p] = writes[i].Record
		}
		mustWrite(t, s, writes...)
		keys = append(keys, "bulk-x", "bulk-1000", "bulk-")
		healthIs(t, s, want, keys...)
		alertIs(t, s, f.alert("bulk-0990.alert"))

		// The second round reads first: the even writes pass what was read,
		// the odd ones claim there was nothing.
		read, err := s.GetHealth(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		var wantConflicts []int
		for i := range writes {
			p := writes[i].Record.PersonKey
			writes[i] = health.Write{Record: f.record(p, t1)}
			if i%2 == 0 {
				prev := read[p].UpdatedAt
				writes[i].Prev = &prev
				want[p] = writes[i].Record
			} else {
				wantConflicts = append(wantConflicts, i)
			}
		}
		conflicts, err := s.WriteHealth(ctx, writes)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(conflicts)
		if diff := cmp.Diff(wantConflicts, conflicts); diff != "" {
			t.Errorf("conflicts (-want +got):\n%.2000s", diff)
		}
		healthIs(t, s, want, keys...)
	})
}
