package gen_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"gridcode/infra/demo"
	"gridcode/infra/gen"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/registry/filesource"
	"gridcode/shared/report"
	"gridcode/shared/store/embedded"
)

// The searches are valid queries that find the person they were made
// for: always by name (with or without the near-miss address), and among
// the results by pinyin, initials and phone digits when the community
// has few enough bearers of them.
func TestSearchesFindTheirPerson(t *testing.T) {
	t.Parallel()
	const people, searches = 2000, 500
	ctx := context.Background()
	spec := gen.Spec{Seed: 5, Grids: demo.GridCount, People: people}
	reg, err := gen.NewRegistry(spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, gen.RegistryFile)
	var file bytes.Buffer
	if err := reg.WriteCSV(&file, people); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	vault, err := pii.NewVault(bytes.Repeat([]byte{3}, pii.KeySize), bytes.Repeat([]byte{4}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := demo.Plan(spec.Grids)
	if err != nil {
		t.Fatal(err)
	}
	store, err := embedded.Open(filepath.Join(dir, "s.db"), embedded.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2022, 12, 5, 2, 0, 0, 0, time.UTC)
	im := &registry.Importer{People: store, Imports: store, Vault: vault, Grids: grid.NewDirectory(plan), Now: func() time.Time { return now }}
	run, err := im.Run(ctx, registry.Import{ID: "searches"}, filesource.File{Path: path}, time.Time{}, nil)
	if err != nil || run.Written != people {
		t.Fatalf("import: %+v, %v", run, err)
	}

	got := reg.Searches(9, searches, people)
	if again := reg.Searches(9, searches, people); !reflect.DeepEqual(got, again) {
		t.Fatal("the same seed gave other searches")
	}
	if len(got) != searches {
		t.Fatalf("%d searches, want %d", len(got), searches)
	}
	s := &registry.Searcher{Store: store, Vault: vault}
	kinds := map[string]int{}
	found := map[string]int{}
	for i, sr := range got {
		if want := gen.SearchKinds[i%len(gen.SearchKinds)]; sr.Kind != want {
			t.Fatalf("search %d is %s, want %s", i, sr.Kind, want)
		}
		if sr.Person < 0 || sr.Person >= people {
			t.Fatalf("search %d for person %d of %d", i, sr.Person, people)
		}
		results, err := s.Search(ctx, sr.Query)
		if err != nil {
			t.Fatalf("search %d (%s): %v", i, sr.Kind, err)
		}
		key := report.PersonLookup(vault, idcard.ResidentID, reg.Row(sr.Person)[2])
		kinds[sr.Kind]++
		if slices.ContainsFunc(results, func(r registry.Result) bool { return r.Person.Key == key }) {
			found[sr.Kind]++
		}
	}
	// Each kind, and how many of its searches must find their person at
	// least: by name always; by sound, initials or phone digits, most.
	for _, tc := range []struct {
		kind     string
		minFound int
	}{
		{gen.SearchName, 100},
		{gen.SearchNearAddress, 100},
		{gen.SearchPinyin, 90},
		{gen.SearchInitials, 80},
		{gen.SearchPhone4, 95},
	} {
		if kinds[tc.kind] != searches/len(gen.SearchKinds) {
			t.Errorf("%d %s searches, want %d", kinds[tc.kind], tc.kind, searches/len(gen.SearchKinds))
		}
		if found[tc.kind] < tc.minFound {
			t.Errorf("%s: %d of %d searches found their person, want at least %d", tc.kind, found[tc.kind], kinds[tc.kind], tc.minFound)
		}
	}
}
