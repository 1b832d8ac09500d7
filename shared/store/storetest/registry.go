package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
)

// RegistryStore keeps the population registry and its import runs.
type RegistryStore interface {
	registry.Store
	registry.ImportStore
}

// registryExpires is an expiry well in the future: DynamoDB Local really
// deletes expired items.
func registryExpires() int64 { return time.Now().Add(30 * 24 * time.Hour).Unix() }

// person makes a registry entry; hash stands for the content the import
// set, so the same hash means the same content.
func person(key, gridCode, community, hash string, tokens ...string) registry.Person {
	return registry.Person{
		Key: key, IDType: idcard.ResidentID, GridCode: gridCode, Town: "环市街道", Community: community,
		ResidentType: registry.Permanent, Status: registry.StatusActive, Tokens: tokens, ContentHash: hash,
		Source: "imp-1", UpdatedAt: base, Sealed: []byte("sealed:" + key + "\x00\xff"),
	}
}

// personCmp compares people whatever order an adapter keeps tokens in.
var personCmp = cmp.Options{
	cmpopts.SortSlices(func(a, b string) bool { return a < b }),
	cmpopts.EquateEmpty(),
}

func mustPutPeople(t *testing.T, s RegistryStore, people []registry.Person, wantWritten int) {
	t.Helper()
	written, err := s.PutPeople(context.Background(), people)
	if err != nil {
		t.Fatalf("PutPeople: %v", err)
	}
	if written != wantWritten {
		t.Fatalf("PutPeople wrote %d of %d, want %d", written, len(people), wantWritten)
	}
}

// foundIs checks, for eventually, that Find answers exactly want: each
// token's keys in any order, a token that finds nobody absent or empty.
func foundIs(s RegistryStore, tokens, communities []string, limit int, want map[string][]string) func() string {
	return func() string {
		got, err := s.Find(context.Background(), tokens, communities, limit)
		if err != nil {
			return fmt.Sprintf("Find %v in %v: %v", tokens, communities, err)
		}
		got = sortedFound(got)
		want = sortedFound(want)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Sprintf("Find %v in %v limit %d (-want +got):\n%s", tokens, communities, limit, diff)
		}
		return ""
	}
}

func sortedFound(found map[string][]string) map[string][]string {
	out := make(map[string][]string, len(found))
	for token, keys := range found {
		if len(keys) == 0 {
			continue
		}
		keys = slices.Clone(keys)
		slices.Sort(keys)
		out[token] = keys
	}
	return out
}

// RunRegistry runs the contract of registry.Store and registry.ImportStore.
// newStore returns an empty store for each test.
func RunRegistry(t *testing.T, newStore func(t *testing.T) RegistryStore) {
	t.Run("people", func(t *testing.T) { runPeopleTests(t, newStore) })
	t.Run("search", func(t *testing.T) { runSearchTests(t, newStore) })
	t.Run("imports", func(t *testing.T) { runImportTests(t, newStore) })
}

func runPeopleTests(t *testing.T, newStore func(t *testing.T) RegistryStore) {
	ctx := context.Background()

	t.Run("people round-trip and unknown keys are absent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		bare := person("p3", "", "", "h3")
		bare.Tokens, bare.Town, bare.ResidentType = nil, "", registry.Floating
		people := []registry.Person{
			person("p1", "g1", "石冲社区", "h1", "tName1", "tPhone1"),
			person("p2", "g2", "龙溪社区", "h2", "tName2"),
			bare,
		}
		mustPutPeople(t, s, people, 3)
		got, err := s.GetPeople(ctx, []string{"p1", "p2", "p3", "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]registry.Person{"p1": people[0], "p2": people[1], "p3": people[2]}
		if diff := cmp.Diff(want, got, personCmp); diff != "" {
			t.Errorf("GetPeople (-want +got):\n%s", diff)
		}
		none, err := s.GetPeople(ctx, nil)
		if err != nil || len(none) != 0 {
			t.Errorf("GetPeople(nil) = %v, %v; want nothing", none, err)
		}
	})

	t.Run("an unchanged content hash is not rewritten", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := []registry.Person{
			person("p1", "g1", "石冲社区", "h1", "t1"),
			person("p2", "g1", "石冲社区", "h2", "t2"),
		}
		mustPutPeople(t, s, first, 2)
		mustPutPeople(t, s, first, 0)

		// Same hash, other fields: the store must not even look at them.
		same := person("p1", "g9", "龙溪社区", "h1", "t1", "t9")
		same.Source, same.UpdatedAt = "imp-2", base.Add(time.Hour)
		changed := person("p2", "g2", "石冲社区", "h2b", "t2")
		changed.Source = "imp-2"
		added := person("p3", "g3", "石冲社区", "h3", "t3")
		mustPutPeople(t, s, []registry.Person{same, changed, added}, 2)

		got, err := s.GetPeople(ctx, []string{"p1", "p2", "p3"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]registry.Person{"p1": first[0], "p2": changed, "p3": added}
		if diff := cmp.Diff(want, got, personCmp); diff != "" {
			t.Errorf("after the second import (-want +got):\n%s", diff)
		}
	})

	t.Run("a re-imported row leaves what visits changed since", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// imported is an import's row: its ImportHash is its ContentHash.
		imported := func(key, hash string, tokens ...string) registry.Person {
			p := person(key, "g1", "石冲社区", hash, tokens...)
			p.ImportHash = hash
			return p
		}
		get := func(key string) registry.Person {
			t.Helper()
			got, err := s.GetPeople(ctx, []string{key})
			if err != nil {
				t.Fatal(err)
			}
			return got[key]
		}
		same := func(step string, want registry.Person) {
			t.Helper()
			if diff := cmp.Diff(want, get(want.Key), personCmp); diff != "" {
				t.Errorf("%s (-want +got):\n%s", step, diff)
			}
		}

		row := imported("p1", "h1", "tRow")
		mustPutPeople(t, s, []registry.Person{row}, 1)
		same("imported", row)

		// A visit marks p1 moved out, copying the entry (its ImportHash too).
		gone := row
		gone.Status, gone.ContentHash, gone.Source, gone.Tokens = registry.StatusMovedOut, "h1-gone", "task-1", []string{"tVisit"}
		mustPutPeople(t, s, []registry.Person{gone}, 1)
		same("moved out", gone)

		// The same export again: p1 stays moved out, its tokens too.
		again := row
		again.Source = "imp-2"
		mustPutPeople(t, s, []registry.Person{again}, 0)
		same("after the same row again", gone)
		eventually(t, foundIs(s, []string{"tRow", "tVisit"}, nil, 10, map[string][]string{"tVisit": {"p1"}}))

		// A visit that builds the entry anew (a correction) carries no
		// ImportHash, or another one: the entry keeps the import's.
		for i, carried := range []string{"", "h-other"} {
			corrected := person("p1", "g2", "石冲社区", fmt.Sprintf("h1-corrected-%d", i), "tVisit")
			corrected.Source, corrected.ImportHash = "task-2", carried
			mustPutPeople(t, s, []registry.Person{corrected}, 1)
			corrected.ImportHash = "h1"
			same("corrected", corrected)
			mustPutPeople(t, s, []registry.Person{again}, 0)
			same("corrected, after the same row again", corrected)
		}

		// A newer export whose row changed overwrites the entry.
		changed := imported("p1", "h2", "tRow2")
		changed.Source = "imp-3"
		mustPutPeople(t, s, []registry.Person{changed}, 1)
		same("after a changed row", changed)
		eventually(t, foundIs(s, []string{"tRow2", "tVisit"}, nil, 10, map[string][]string{"tRow2": {"p1"}}))

		// A person a visit found, then an export with a row equal to the
		// entry: written once, to record that the row was imported.
		found := person("p2", "g1", "石冲社区", "h3", "tFound")
		found.Source = "task-3"
		mustPutPeople(t, s, []registry.Person{found}, 1)
		same("found by a visit", found)
		rowOfFound := imported("p2", "h3", "tFound")
		mustPutPeople(t, s, []registry.Person{rowOfFound}, 1)
		same("its row imported", rowOfFound)
		mustPutPeople(t, s, []registry.Person{rowOfFound}, 0)
	})

	t.Run("many people in one call", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 1203 // more than any batch an adapter sends at once
		people := make([]registry.Person, n)
		wantGrids := make(map[string]string, n)
		// Out of key order, as an import's rows come.
		for i := range n {
			key := fmt.Sprintf("p%05d", (i*7919)%n)
			people[i] = person(key, fmt.Sprintf("g%d", i%5), "石冲社区", "h-"+key, "t-"+key, "shared")
			wantGrids[key] = people[i].GridCode
		}
		mustPutPeople(t, s, people, n)
		keys := make([]string, 0, 250)
		for i := 0; i < n; i += 5 {
			keys = append(keys, people[i].Key)
		}
		got, err := s.GetPeople(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(keys) {
			t.Fatalf("GetPeople of %d keys returned %d", len(keys), len(got))
		}
		for _, k := range keys {
			if got[k].Key != k || got[k].ContentHash != "h-"+k {
				t.Fatalf("GetPeople[%s] = %+v", k, got[k])
			}
		}
		eventually(t, func() string {
			pk, err := s.PersonKeys(ctx)
			if err != nil {
				return fmt.Sprintf("PersonKeys: %v", err)
			}
			if diff := cmp.Diff(wantGrids, pk); diff != "" {
				return "PersonKeys (-want +got):\n" + diff
			}
			return ""
		})
		eventually(t, foundIs(s, []string{"t-p00042"}, nil, 10, map[string][]string{"t-p00042": {"p00042"}}))
	})

	t.Run("person keys follow a move to another grid", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		pk, err := s.PersonKeys(ctx)
		if err != nil || len(pk) != 0 {
			t.Fatalf("PersonKeys of an empty registry = %v, %v", pk, err)
		}
		mustPutPeople(t, s, []registry.Person{
			person("p1", "g1", "石冲社区", "h1"),
			person("p2", "g1", "石冲社区", "h2"),
			person("p3", "", "", "h3"), // no known grid yet
		}, 3)
		mustPutPeople(t, s, []registry.Person{person("p2", "g2", "龙溪社区", "h2b")}, 1)
		want := map[string]string{"p1": "g1", "p2": "g2", "p3": ""}
		eventually(t, func() string {
			got, err := s.PersonKeys(ctx)
			if err != nil {
				return fmt.Sprintf("PersonKeys: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				return "PersonKeys (-want +got):\n" + diff
			}
			return ""
		})
	})
}

func runSearchTests(t *testing.T, newStore func(t *testing.T) RegistryStore) {
	t.Run("an empty registry finds nobody", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		eventually(t, foundIs(s, []string{"t1", "t2"}, nil, 10, map[string][]string{}))
		eventually(t, foundIs(s, []string{"t1"}, []string{"石冲社区"}, 10, map[string][]string{}))
	})

	t.Run("find scopes by community", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var people []registry.Person
		for i := range 4 {
			people = append(people, person(fmt.Sprintf("a%d", i), "g1", "石冲社区", fmt.Sprintf("ha%d", i), "shared", fmt.Sprintf("ua%d", i)))
		}
		for i := range 3 {
			people = append(people, person(fmt.Sprintf("b%d", i), "g2", "石冲社区东", fmt.Sprintf("hb%d", i), "shared"))
		}
		people = append(people, person("c0", "", "", "hc0", "shared", "ua0"))
		mustPutPeople(t, s, people, len(people))

		all := []string{"a0", "a1", "a2", "a3", "b0", "b1", "b2", "c0"}
		cases := []struct {
			name        string
			tokens      []string
			communities []string
			want        map[string][]string
		}{
			{"every community", []string{"shared"}, nil, map[string][]string{"shared": all}},
			{"one community", []string{"shared"}, []string{"石冲社区"}, map[string][]string{"shared": {"a0", "a1", "a2", "a3"}}},
			// A community whose name starts with another's is another community.
			{"the longer name", []string{"shared"}, []string{"石冲社区东"}, map[string][]string{"shared": {"b0", "b1", "b2"}}},
			{"two communities", []string{"shared", "ua0"}, []string{"石冲社区", "石冲社区东"},
				map[string][]string{"shared": {"a0", "a1", "a2", "a3", "b0", "b1", "b2"}, "ua0": {"a0"}}},
			{"several tokens", []string{"ua0", "ua3", "nobody"}, nil, map[string][]string{"ua0": {"a0", "c0"}, "ua3": {"a3"}}},
			{"a community nobody lives in", []string{"shared"}, []string{"龙溪社区"}, map[string][]string{}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				eventually(t, foundIs(s, c.tokens, c.communities, 100, c.want))
			})
		}
	})

	t.Run("find returns at most limit keys per token", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		s := newStore(t)
		var people []registry.Person
		members := map[string]bool{}
		for i := range 12 {
			community := []string{"石冲社区", "龙溪社区"}[i%2]
			key := fmt.Sprintf("p%02d", i)
			people = append(people, person(key, "g1", community, "h"+key, "common"))
			members[key] = true
		}
		people = append(people, person("solo", "g1", "石冲社区", "hsolo", "rare"))
		mustPutPeople(t, s, people, len(people))
		eventually(t, foundIs(s, []string{"common"}, nil, 100, map[string][]string{"common": slices.Sorted(maps.Keys(members))}))

		for _, scope := range [][]string{nil, {"石冲社区", "龙溪社区"}} {
			found, err := s.Find(ctx, []string{"common", "rare"}, scope, 5)
			if err != nil {
				t.Fatal(err)
			}
			common := found["common"]
			if len(common) != 5 {
				t.Errorf("Find limit 5 in %v: %d keys for common, want 5", scope, len(common))
			}
			seen := map[string]bool{}
			for _, k := range common {
				if !members[k] || seen[k] {
					t.Errorf("Find limit 5 in %v: key %q is not one of the people, or twice", scope, k)
				}
				seen[k] = true
			}
			if diff := cmp.Diff([]string{"solo"}, found["rare"]); diff != "" {
				t.Errorf("Find limit 5 in %v, rare token (-want +got):\n%s", scope, diff)
			}
		}
	})

	t.Run("a changed person's tokens are replaced", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPutPeople(t, s, []registry.Person{
			person("p1", "g1", "石冲社区", "h1", "tOld", "tKept"),
			person("p2", "g1", "石冲社区", "h2", "tOld"),
		}, 2)
		eventually(t, foundIs(s, []string{"tOld", "tKept"}, nil, 10, map[string][]string{"tOld": {"p1", "p2"}, "tKept": {"p1"}}))

		// p1 moves to another community and changes name: tOld goes, tNew comes.
		mustPutPeople(t, s, []registry.Person{person("p1", "g2", "龙溪社区", "h1b", "tKept", "tNew")}, 1)
		eventually(t, foundIs(s, []string{"tOld", "tKept", "tNew"}, nil, 10,
			map[string][]string{"tOld": {"p2"}, "tKept": {"p1"}, "tNew": {"p1"}}))
		eventually(t, foundIs(s, []string{"tKept", "tNew"}, []string{"石冲社区"}, 10, map[string][]string{}))
		eventually(t, foundIs(s, []string{"tKept", "tNew"}, []string{"龙溪社区"}, 10,
			map[string][]string{"tKept": {"p1"}, "tNew": {"p1"}}))

		// Dropping every token takes the person out of the search.
		mustPutPeople(t, s, []registry.Person{person("p1", "g2", "龙溪社区", "h1c")}, 1)
		eventually(t, foundIs(s, []string{"tOld", "tKept", "tNew"}, nil, 10, map[string][]string{"tOld": {"p2"}}))
	})

	t.Run("tokens of an unchanged hash are left alone", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPutPeople(t, s, []registry.Person{person("p1", "g1", "石冲社区", "h1", "t1")}, 1)
		mustPutPeople(t, s, []registry.Person{person("p1", "g1", "石冲社区", "h1", "t2")}, 0)
		eventually(t, foundIs(s, []string{"t1", "t2"}, nil, 10, map[string][]string{"t1": {"p1"}}))
	})
}

func importRun(id string, at time.Time) registry.Import {
	return registry.Import{
		ID: id, Source: "s3://district-uploads/registry/2022-12.csv", Status: registry.ImportRunning,
		StartedAt: at, UpdatedAt: at, ExpiresAt: registryExpires(),
	}
}

func runImportTests(t *testing.T, newStore func(t *testing.T) RegistryStore) {
	ctx := context.Background()

	// put writes run as the version after its own.
	put := func(t *testing.T, s RegistryStore, run *registry.Import) {
		t.Helper()
		next := *run
		next.Version++
		if err := s.PutImport(ctx, next, run.Version); err != nil {
			t.Fatalf("PutImport %s at version %d: %v", run.ID, run.Version, err)
		}
		*run = next
	}

	t.Run("an import's checkpoint round-trips", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.GetImport(ctx, "imp1"); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("GetImport of an unknown id = %v, want ErrNotFound", err)
		}
		run := importRun("imp1", base)
		put(t, s, &run)
		got, err := s.GetImport(ctx, "imp1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(run, got); diff != "" || got.Version != 1 {
			t.Errorf("started import, version %d (-want +got):\n%s", got.Version, diff)
		}

		run.Offset, run.Line, run.Rows, run.Written, run.Unchanged, run.Bad = 1<<33+17, 800_001, 800_000, 799_000, 990, 10
		run.UpdatedAt = base.Add(40 * time.Second)
		put(t, s, &run)
		run.Status, run.FinishedAt, run.UpdatedAt = registry.ImportDone, base.Add(50*time.Second), base.Add(50*time.Second)
		put(t, s, &run)
		other := importRun("imp10", base)
		other.Status, other.Reason = registry.ImportFailed, "no_header"
		put(t, s, &other)
		for _, want := range []registry.Import{run, other} {
			got, err := s.GetImport(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("import %s (-want +got):\n%s", want.ID, diff)
			}
		}
	})

	t.Run("a checkpoint is written only over the version its writer read", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		stored := func() registry.Import {
			t.Helper()
			got, err := s.GetImport(ctx, "imp1")
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		// Two runs of one import (an S3 event and its redelivery) both find
		// no record: the first to start owns the import.
		first, second := importRun("imp1", base), importRun("imp1", base.Add(time.Second))
		put(t, s, &first)
		second.Version = 1
		if err := s.PutImport(ctx, second, 0); !errors.Is(err, registry.ErrConflict) {
			t.Fatalf("PutImport of a second start = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff(first, stored()); diff != "" {
			t.Errorf("after the refused start (-want +got):\n%s", diff)
		}

		// Both resume from version 1 (a continuation and a redelivered
		// event): one moves the checkpoint, the other's is refused, and
		// cannot move it back either.
		ahead, behind := first, first
		ahead.Offset, ahead.Line, ahead.Rows = 9000, 200, 199
		put(t, s, &ahead)
		behind.Offset, behind.Line, behind.Rows = 5000, 100, 99
		for _, from := range []int{1, 0, 3} {
			behind.Version = from + 1
			if err := s.PutImport(ctx, behind, from); !errors.Is(err, registry.ErrConflict) {
				t.Errorf("PutImport over version %d of a record at 2 = %v, want ErrConflict", from, err)
			}
		}
		if diff := cmp.Diff(ahead, stored()); diff != "" {
			t.Errorf("after the refused checkpoints (-want +got):\n%s", diff)
		}
		put(t, s, &ahead)
		if got := stored(); got.Version != 3 {
			t.Errorf("version %d after three writes", got.Version)
		}

		// A version that does not follow the one read is a caller's bug.
		wrong := ahead
		wrong.Version = ahead.Version + 2
		if err := s.PutImport(ctx, wrong, ahead.Version); err == nil || errors.Is(err, registry.ErrConflict) {
			t.Errorf("PutImport of version %d over %d = %v, want an error other than ErrConflict", wrong.Version, ahead.Version, err)
		}
	})

	t.Run("concurrent starts of one import: one wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				run := importRun("imp1", base.Add(time.Duration(i)*time.Second))
				run.Version = 1
				errs[i] = s.PutImport(ctx, run, 0)
			})
		}
		wg.Wait()
		oneWins(t, errs, registry.ErrConflict)
	})

	t.Run("row errors are ordered by line and replaced per chunk", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		rowErrs := func(field string, lines ...int) []registry.RowError {
			out := make([]registry.RowError, len(lines))
			for i, l := range lines {
				out[i] = registry.RowError{Line: l, Field: field, Reason: "invalid"}
			}
			return out
		}
		list := func(importID string) []registry.RowError {
			t.Helper()
			got, err := s.RowErrors(ctx, importID)
			if err != nil {
				t.Fatalf("RowErrors %s: %v", importID, err)
			}
			return got
		}
		if got := list("imp1"); len(got) != 0 {
			t.Fatalf("RowErrors before any = %v", got)
		}
		// Chunks stored out of order, with first lines whose decimal strings
		// sort otherwise (10 < 2 < 100002 as text).
		chunks := []struct {
			first int
			errs  []registry.RowError
		}{
			{100002, rowErrs("phone", 100002, 100500)},
			{2, append(rowErrs("idNumber", 3, 9), registry.RowError{Line: 9, Field: "name", Reason: "required"})},
			{10, rowErrs("community", 10, 11)},
		}
		for _, c := range chunks {
			if err := s.PutRowErrors(ctx, "imp1", c.first, c.errs); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutRowErrors(ctx, "imp10", 2, rowErrs("name", 4)); err != nil {
			t.Fatal(err)
		}
		want := slices.Concat(chunks[1].errs, chunks[2].errs, chunks[0].errs)
		if diff := cmp.Diff(want, list("imp1")); diff != "" {
			t.Errorf("row errors (-want +got):\n%s", diff)
		}

		// A resumed import redoes the chunk at line 2 and finds one error
		// fewer, and the chunk at line 10 clean.
		if err := s.PutRowErrors(ctx, "imp1", 2, rowErrs("idNumber", 9)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRowErrors(ctx, "imp1", 10, nil); err != nil {
			t.Fatal(err)
		}
		want = slices.Concat(rowErrs("idNumber", 9), chunks[0].errs)
		if diff := cmp.Diff(want, list("imp1")); diff != "" {
			t.Errorf("row errors after the redo (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(rowErrs("name", 4), list("imp10")); diff != "" {
			t.Errorf("another import's row errors (-want +got):\n%s", diff)
		}
	})

	t.Run("a chunk of many row errors", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// Every row of a 5,000-row chunk refused, the longest field name.
		errs := make([]registry.RowError, 5000)
		for i := range errs {
			errs[i] = registry.RowError{Line: 2 + i, Field: "landlordPhone", Reason: "invalid"}
		}
		if err := s.PutRowErrors(ctx, "imp1", 2, errs); err != nil {
			t.Fatal(err)
		}
		got, err := s.RowErrors(ctx, "imp1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(errs, got); diff != "" {
			t.Errorf("row errors (-want +got):\n%s", diff)
		}
	})
}
