package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
)

func TestPersonRowRoundTrip(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("长", 200) // lengths past one varint byte
	cases := []registry.Person{
		{Key: "p1"},
		{Key: "p2", IDType: idcard.Passport, GridCode: "g1", Town: "环市街道", Community: "石冲社区", ResidentType: registry.Outsider,
			Status: registry.StatusMovedOut, Tokens: []string{"a", "", long}, ContentHash: "h", ImportHash: "hi", Source: "task-1",
			UpdatedAt: time.Date(2022, 12, 3, 1, 2, 3, 4, time.UTC), Sealed: []byte{0, 1, 255}},
		{Key: "p3", Community: long, Source: long, Sealed: []byte(long)},
	}
	for _, want := range cases {
		got, err := decodePerson([]byte(want.Key), encodePerson(want))
		if err != nil {
			t.Fatalf("decode %s: %v", want.Key, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("person %s (-want +got):\n%s", want.Key, diff)
		}
		row := encodePerson(want)
		for cut := range len(row) - len(want.Sealed) - timeLen {
			if _, err := decodePerson([]byte(want.Key), row[:cut]); err == nil {
				t.Fatalf("person %s cut at %d of %d bytes decoded", want.Key, cut, len(row))
			}
		}
	}
}

// A row of version 1, written before entries kept their import hash,
// reads as an entry no import has set, and is rewritten by the next
// import of its row.
func TestPersonRowVersion1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := registry.Person{
		Key: "p1", IDType: idcard.ResidentID, GridCode: "g1", Town: "环市街道", Community: "石冲社区", ResidentType: registry.Permanent,
		Status: registry.StatusActive, Tokens: []string{"a", "b"}, ContentHash: "h1", Source: "imp-old",
		UpdatedAt: time.Date(2022, 12, 3, 1, 2, 3, 4, time.UTC), Sealed: []byte{0, 1, 255},
	}
	// Version 1 is version 2 without the import hash after the content hash.
	v2 := encodePerson(p)
	v1 := append([]byte{personRowVersionV1}, v2[1:1+1+len(p.ContentHash)]...)
	v1 = append(v1, v2[1+1+len(p.ContentHash)+1:]...)
	got, err := decodePerson([]byte(p.Key), v1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("version 1 row (-want +got):\n%s", diff)
	}

	s := openTemp(t)
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPeople).Put([]byte(p.Key), v1) }); err != nil {
		t.Fatal(err)
	}
	if found := findKeys(t, s, "a"); !slices.Equal(found, []string{"p1"}) {
		t.Errorf("a finds %v in a version 1 row, want [p1]", found)
	}
	row := p
	row.ImportHash, row.Source = p.ContentHash, "imp-new"
	if n, err := s.PutPeople(ctx, []registry.Person{row}); err != nil || n != 1 {
		t.Fatalf("PutPeople of the row over a version 1 entry = %d, %v; want it written", n, err)
	}
	if n, err := s.PutPeople(ctx, []registry.Person{row}); err != nil || n != 0 {
		t.Errorf("PutPeople of the row again = %d, %v; want nothing written", n, err)
	}
}

func findKeys(t *testing.T, s *Store, token string, communities ...string) []string {
	t.Helper()
	found, err := s.Find(context.Background(), []string{token}, communities, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := found[token]
	slices.Sort(keys)
	return keys
}

// The index is memory: a reopened store builds it again from its file.
func TestRegistryIndexAfterReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gridcode.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	people := []registry.Person{
		{Key: "p1", Community: "石冲社区", ContentHash: "h1", Tokens: []string{"a", "b", "a"}},
		{Key: "p2", Community: "龙溪社区", ContentHash: "h2", Tokens: []string{"a"}},
	}
	if _, err := s.PutPeople(ctx, people); err != nil {
		t.Fatal(err)
	}
	if got := findKeys(t, s, "a"); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("before reopening: a finds %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := findKeys(t, s, "a", "石冲社区"); !slices.Equal(got, []string{"p1"}) {
		t.Errorf("after reopening: a in 石冲社区 finds %v, want [p1] (once)", got)
	}
	if got := findKeys(t, s, "b"); !slices.Equal(got, []string{"p1"}) {
		t.Errorf("after reopening: b finds %v, want [p1]", got)
	}
}

// Searches while an import writes see each person either before or after
// a chunk, never twice nor under a token they do not have (run with -race).
func TestRegistrySearchDuringImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	const people, rounds = 200, 20
	if err := s.BuildRegistryIndex(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			found, err := s.Find(ctx, []string{"even", "odd"}, nil, 0)
			if err != nil {
				errs <- err.Error()
				return
			}
			for token, keys := range found {
				if len(keys) != len(slices.Compact(slices.Sorted(slices.Values(keys)))) || len(keys) > people {
					select {
					case errs <- fmt.Sprintf("%s finds %d keys, some twice", token, len(keys)):
					default:
					}
					return
				}
			}
		}
	}()
	for round := range rounds {
		batch := make([]registry.Person, people)
		for i := range batch {
			token := []string{"even", "odd"}[(i+round)%2]
			batch[i] = registry.Person{Key: fmt.Sprintf("p%03d", i), ContentHash: strconv.Itoa(round), Tokens: []string{token}}
		}
		if _, err := s.PutPeople(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case msg := <-errs:
		t.Fatal(msg)
	default:
	}
	// The last round had p000 even when (0+19)%2 is odd: the tokens moved
	// twenty times, and only the last stays.
	if got := len(findKeys(t, s, "odd")); got != people/2 {
		t.Errorf("odd finds %d people, want %d", got, people/2)
	}
	if got := findKeys(t, s, "even"); len(got) != people/2 || got[0] != "p001" {
		t.Errorf("even finds %d people from %v, want %d from p001", len(got), got[:min(len(got), 1)], people/2)
	}
}

// syntheticPeople makes a registry like the district's: random keys,
// tokens shared as names, initials, house numbers and last digits are.
func syntheticPeople(n int, seed uint64) []registry.Person {
	rng := rand.New(rand.NewPCG(seed, 1))
	tok := func(kind string, space int) string {
		return fmt.Sprintf("%s%031x", kind, rng.IntN(space))
	}
	sealed := make([]byte, 360)
	people := make([]registry.Person, n)
	for i := range people {
		community := fmt.Sprintf("社区%03d", rng.IntN(139))
		people[i] = registry.Person{
			Key: fmt.Sprintf("%032x", rng.Uint64())[:32], IDType: idcard.ResidentID, GridCode: community + "-0" + strconv.Itoa(rng.IntN(3)),
			Town: "环市街道", Community: community, ResidentType: registry.Permanent, Status: registry.StatusActive,
			Tokens: []string{
				tok("n", n*3/4), tok("y", n/3), tok("i", 4000), tok("h", 60000),
				tok("p", 10000), tok("d", 10000), tok("a", n/2),
			},
			ContentHash: fmt.Sprintf("%032x", rng.Uint64())[:32], Source: "imp-bench", UpdatedAt: time.Now(), Sealed: sealed,
		}
	}
	return people
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkRegistry loads a district-sized registry (REGISTRY_BENCH_PEOPLE,
// 800,000 by default) in chunks of 5,000, then times the index build of a
// reopened store, its memory, searches and PersonKeys. Run with
// -bench=Registry -benchtime=1x.
func BenchmarkRegistry(b *testing.B) {
	n := 800_000
	if v, err := strconv.Atoi(os.Getenv("REGISTRY_BENCH_PEOPLE")); err == nil {
		n = v
	}
	ctx := context.Background()
	people := syntheticPeople(n, 1)
	path := filepath.Join(b.TempDir(), "gridcode.db")
	for range b.N {
		os.Remove(path)
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < n; i += 5000 {
			if _, err := s.PutPeople(ctx, people[i:min(i+5000, n)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "put-s")
		start = time.Now()
		if written, err := s.PutPeople(ctx, people[:5000]); err != nil || written != 0 {
			b.Fatalf("unchanged chunk wrote %d, %v", written, err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds()), "unchanged-chunk-µs")
		s.Close()

		if s, err = Open(path); err != nil {
			b.Fatal(err)
		}
		before := heapInUse()
		start = time.Now()
		if err := s.BuildRegistryIndex(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "index-build-s")
		b.ReportMetric(float64(heapInUse()-before)/(1<<20), "index-MB")

		start = time.Now()
		const finds = 10000
		for i := range finds {
			p := people[(i*7919)%n]
			found, err := s.Find(ctx, p.Tokens, []string{p.Community}, 20)
			if err != nil || !slices.Contains(found[p.Tokens[0]], p.Key) {
				b.Fatalf("Find of %s = %v, %v", p.Key, found[p.Tokens[0]], err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/finds, "find-µs")

		// A re-import that changes every tenth person's tokens.
		changed := slices.Clone(people[:50000])
		for i := 0; i < len(changed); i += 10 {
			changed[i].ContentHash += "x"
			changed[i].Tokens = append(slices.Clone(changed[i].Tokens[1:]), "new")
		}
		start = time.Now()
		for i := 0; i < len(changed); i += 5000 {
			if _, err := s.PutPeople(ctx, changed[i:i+5000]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "reimport-50k-s")

		start = time.Now()
		keys, err := s.PersonKeys(ctx)
		if err != nil || len(keys) != n {
			b.Fatalf("PersonKeys = %d, %v", len(keys), err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "person-keys-s")
		s.Close()
	}
}
