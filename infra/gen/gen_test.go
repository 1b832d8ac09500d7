package gen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/report"
	"gridcode/shared/risk"
)

const testToday = "2022-12-05"

var files = []string{GridsFile, PeopleFile, GroupsFile, RiskAreasFile, ReportsFile, RegistryFile}

// noonOf is a fixed instant on the district date.
func noonOf(t *testing.T, day string) time.Time {
	t.Helper()
	start, ok := dates.Start(day)
	if !ok {
		t.Fatalf("bad date %q", day)
	}
	return start.Add(12 * time.Hour)
}

func loadCatalog(t *testing.T) *area.Catalog {
	t.Helper()
	c, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var v T
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s line %d: %v", filepath.Base(path), len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteDeterministic(t *testing.T) {
	t.Parallel()
	spec := Spec{Seed: 7, Grids: 30, People: 400, Groups: 20, Reports: 200, Today: testToday}
	tests := []struct {
		name     string
		other    Spec
		sameFile map[string]bool // files expected identical to spec's
	}{
		{name: "same spec", other: spec, sameFile: map[string]bool{GridsFile: true, PeopleFile: true, GroupsFile: true, RiskAreasFile: true, ReportsFile: true, RegistryFile: true}},
		{name: "other seed", other: func() Spec { s := spec; s.Seed = 8; return s }(), sameFile: map[string]bool{GridsFile: true, RiskAreasFile: true}},
		{name: "more groups", other: func() Spec { s := spec; s.Groups = 25; return s }(), sameFile: map[string]bool{GridsFile: true, PeopleFile: true, RiskAreasFile: true, ReportsFile: true, RegistryFile: true}},
	}
	base := t.TempDir()
	if err := Write(base, spec); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := Write(dir, tt.other); err != nil {
				t.Fatal(err)
			}
			for _, name := range files {
				a, err := os.ReadFile(filepath.Join(base, name))
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if same := bytes.Equal(a, b); same != tt.sameFile[name] {
					t.Errorf("%s identical = %v, want %v", name, same, tt.sameFile[name])
				}
			}
		})
	}
}

func TestWriteContents(t *testing.T) {
	t.Parallel()
	spec := Spec{Seed: 42, Grids: 410, People: 3000, Groups: 500, Reports: 2000, Today: testToday}
	dir := t.TempDir()
	if err := Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	now := noonOf(t, spec.Today)
	catalog := loadCatalog(t)

	grids := readLines[gridRow](t, filepath.Join(dir, GridsFile))
	if len(grids) != spec.Grids {
		t.Errorf("%d grids, want %d", len(grids), spec.Grids)
	}
	gridCodes := map[string]bool{}
	for _, g := range grids {
		gridCodes[g.Code] = true
	}

	people := readLines[Person](t, filepath.Join(dir, PeopleFile))
	if len(people) != spec.People {
		t.Errorf("%d people, want %d", len(people), spec.People)
	}
	registry := map[string]bool{}
	for _, p := range people {
		if _, reason := idcard.Check(idcard.ResidentID, p.IDNumber, now); reason != "" {
			t.Errorf("person id %s: %s", p.IDNumber, reason)
		}
		if _, ok := catalog.County(p.IDNumber[:6]); !ok {
			t.Errorf("person id %s: county not in the catalog", p.IDNumber)
		}
		if registry[p.IDNumber] {
			t.Errorf("person id %s twice in the registry", p.IDNumber)
		}
		registry[p.IDNumber] = true
		if _, ok := phone.Normalize(p.Phone); !ok || p.Name == "" || p.Address == "" || !gridCodes[p.GridCode] {
			t.Errorf("bad person %+v", p)
		}
	}

	groups := readLines[Group](t, filepath.Join(dir, GroupsFile))
	if len(groups) != spec.Groups {
		t.Errorf("%d groups, want %d", len(groups), spec.Groups)
	}
	sizes := make([]int, 0, len(groups))
	for _, g := range groups {
		if !gridCodes[g.GridCode] || g.Kind == "" || g.Name == "" || len(g.Members) < MinGroupSize || len(g.Members) > MaxGroupSize {
			t.Errorf("bad group %s %s %s, %d members", g.ID, g.Kind, g.GridCode, len(g.Members))
		}
		seen := map[string]bool{}
		for _, m := range g.Members {
			if !registry[m] || seen[m] {
				t.Errorf("group %s: member %s not in the registry or listed twice", g.ID, m)
			}
			seen[m] = true
		}
		sizes = append(sizes, len(g.Members))
	}
	if st := statsOf(sizes); st.median < 27 || st.median > 33 || st.mean < 45 || st.mean > 55 || st.max < 500 {
		t.Errorf("group sizes %+v, want a median about 30, a mean about 50 and a tail", st)
	}

	areas := readLines[risk.Area](t, filepath.Join(dir, RiskAreasFile))
	if err := risk.Validate(areas, func(c string) bool { _, ok := catalog.County(c); return ok }); err != nil || len(areas) == 0 {
		t.Errorf("risk areas (%d): %v", len(areas), err)
	}
	list := risk.NewList(areas)

	subs := readLines[report.Submission](t, filepath.Join(dir, ReportsFile))
	if len(subs) != spec.Reports {
		t.Errorf("%d reports, want %d", len(subs), spec.Reports)
	}
	keys := map[string]bool{}
	dups, hits, planned, stops := 0, 0, 0, 0
	for i, s := range subs {
		c, err := report.Check(s, now, catalog)
		if err != nil {
			t.Fatalf("report %d fails Check: %v\n%+v", i, err, s)
		}
		key := string(c.IDType) + "|" + c.IDNumber + "|" + c.ArrivalDate
		if keys[key] {
			dups++
		}
		keys[key] = true
		if lvl, _ := list.Assess(c.Visits()); lvl != risk.None {
			hits++
		}
		if c.ArrivalStatus == report.Planned {
			planned++
		}
		stops = max(stops, len(c.Itinerary))
	}
	if want := spec.Reports / DupEvery; dups != want {
		t.Errorf("%d duplicate reports, want %d", dups, want)
	}
	if hits == 0 || hits > spec.Reports/2 {
		t.Errorf("%d of %d reports hit the risk list, want some", hits, spec.Reports)
	}
	if planned == 0 || planned == spec.Reports || stops != 5 {
		t.Errorf("planned %d of %d, most stops %d: want a mix and up to 5 stops", planned, spec.Reports, stops)
	}
}

func TestReports(t *testing.T) {
	t.Parallel()
	catalog := loadCatalog(t)
	communities := []string{"石冲社区", "子绵村", "滨江社区"}
	tests := []struct {
		name        string
		seed        int64
		n           int
		today       string
		communities []string
		dupEvery    int
		wantDups    int
	}{
		{name: "none", seed: 1, n: 0, today: testToday},
		{name: "distinct", seed: 1, n: 3000, today: testToday, communities: communities},
		{name: "every 2nd", seed: 2, n: 1001, today: testToday, communities: communities, dupEvery: 2, wantDups: 500},
		{name: "every 7th", seed: 3, n: 700, today: "2024-02-29", communities: communities, dupEvery: 7, wantDups: 100},
		{name: "every 33rd", seed: 4, n: 5000, today: "2023-01-01", dupEvery: 33, wantDups: 151},
		{name: "dupEvery 1 means none", seed: 5, n: 50, today: testToday, dupEvery: 1},
		{name: "fewer than dupEvery", seed: 6, n: 9, today: testToday, dupEvery: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			subs := Reports(tt.seed, tt.n, tt.today, tt.communities, tt.dupEvery)
			if len(subs) != tt.n {
				t.Fatalf("got %d reports, want %d", len(subs), tt.n)
			}
			now := noonOf(t, tt.today)
			persons := map[string]bool{}
			arrivals := map[string]bool{}
			dups := 0
			for i, s := range subs {
				c, err := report.Check(s, now, catalog)
				if err != nil {
					t.Fatalf("report %d fails Check: %v\n%+v", i, err, s)
				}
				if c.Community != "" && !contains(tt.communities, c.Community) {
					t.Errorf("report %d goes to %q, not one of the communities", i, c.Community)
				}
				person := string(c.IDType) + "|" + c.IDNumber
				if arrivals[person+"|"+c.ArrivalDate] {
					dups++
					continue
				}
				if persons[person] {
					t.Errorf("report %d: person %s reports twice with different arrivals", i, c.IDNumber)
				}
				persons[person] = true
				arrivals[person+"|"+c.ArrivalDate] = true
			}
			if dups != tt.wantDups {
				t.Errorf("%d duplicates, want %d", dups, tt.wantDups)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "tiny", args: []string{"-seed", "3", "-grids", "5", "-people", "50", "-groups", "4", "-reports", "20", "-today", testToday}},
		{name: "no groups or reports", args: []string{"-grids", "1", "-people", "0", "-groups", "0", "-reports", "0", "-today", testToday}},
		{name: "bad today", args: []string{"-grids", "5", "-people", "5", "-groups", "0", "-reports", "0", "-today", "2022-02-30"}, wantErr: true},
		{name: "no grids", args: []string{"-grids", "0", "-people", "5", "-groups", "0", "-reports", "0"}, wantErr: true},
		{name: "groups without people", args: []string{"-grids", "5", "-people", "0", "-groups", "3", "-reports", "0"}, wantErr: true},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: true},
		{name: "stray argument", args: []string{"-grids", "5", "extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "gen")
			var out bytes.Buffer
			err := Command(append([]string{"-out", dir}, tt.args...), &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Command error = %v, want error %v\n%s", err, tt.wantErr, out.String())
			}
			if tt.wantErr {
				return
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != len(files) {
				t.Errorf("printed %d lines, want %d:\n%s", len(lines), len(files), out.String())
			}
			for i, name := range files {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("file %s: %v", name, err)
				}
				if i < len(lines) && !strings.Contains(lines[i], name) {
					t.Errorf("line %d = %q, want it about %s", i, lines[i], name)
				}
			}
		})
	}
}

type sizeStats struct {
	groups, total, median, max int
	mean                       float64
	large                      int // 1000 members or more
}

func statsOf(sizes []int) sizeStats {
	s := slices.Sorted(slices.Values(sizes))
	st := sizeStats{groups: len(s)}
	if len(s) == 0 {
		return st
	}
	for _, n := range s {
		st.total += n
		if n >= 1000 {
			st.large++
		}
	}
	st.median, st.max, st.mean = s[len(s)/2], s[len(s)-1], float64(st.total)/float64(len(s))
	return st
}

// The article's district, 3,421 groups, has about 171,000 members: a
// median near 30 and a long tail up to 2,000. A tenth of the groups has a
// tenth of the members, whatever the seed.
func TestGroupSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		groups         int
		total          int
		tolerance      float64 // of total
		minMax         int     // the largest group has at least this many
		minLarge       int     // groups of 1000 or more
		wantCapReached bool
	}{
		{groups: 3421, total: 171_000, tolerance: 0.02, minMax: 1800, minLarge: 5},
		// Seven or so large groups: where the largest falls in the tail
		// moves the total most.
		{groups: 342, total: 17_100, tolerance: 0.1, minMax: 600},
	}
	for _, seed := range []int64{1, 2, 42, 1234567} {
		for _, tt := range tests {
			sizes := make([]int, tt.groups)
			for i := range sizes {
				sizes[i] = groupSize(seed, i)
			}
			st := statsOf(sizes)
			if d := float64(st.total-tt.total) / float64(tt.total); d < -tt.tolerance || d > tt.tolerance {
				t.Errorf("seed %d, %d groups: %d members, want %d ± %.0f%%", seed, tt.groups, st.total, tt.total, 100*tt.tolerance)
			}
			if st.median < 28 || st.median > 32 || st.max > MaxGroupSize || st.max < tt.minMax || st.large < tt.minLarge || slices.Min(sizes) < MinGroupSize {
				t.Errorf("seed %d, %d groups: %+v", seed, tt.groups, st)
			}
		}
	}
	for _, u := range []float64{0, 1e-12, 0.5, 0.98, 1 - 1e-12, 1} {
		if n := sizeAt(u); n < MinGroupSize || n > MaxGroupSize {
			t.Errorf("sizeAt(%g) = %d", u, n)
		}
	}
	if sizeAt(1) != MaxGroupSize || sizeAt(0) != MinGroupSize {
		t.Errorf("the ends of the distribution: %d, %d", sizeAt(0), sizeAt(1))
	}
}

// Source gives what Write writes.
func TestSourceMatchesFiles(t *testing.T) {
	t.Parallel()
	spec := Spec{Seed: 9, Grids: 40, People: 2000, Groups: 30, Reports: 0, Today: testToday}
	dir := t.TempDir()
	if err := Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(spec)
	if err != nil {
		t.Fatal(err)
	}
	people := readLines[Person](t, filepath.Join(dir, PeopleFile))
	for i, p := range people {
		if got := src.Person(i); got != p {
			t.Fatalf("person %d: %+v, file has %+v", i, got, p)
		}
		if got := src.PersonID(i); got != p.IDNumber {
			t.Fatalf("person %d: id %s, file has %s", i, got, p.IDNumber)
		}
	}
	groups := readLines[Group](t, filepath.Join(dir, GroupsFile))
	i := 0
	err = src.Groups(func(g Group, members []Person) error {
		if i >= len(groups) {
			t.Fatalf("more than %d groups", len(groups))
		}
		if !reflect.DeepEqual(g, groups[i]) {
			t.Errorf("group %d: %+v, file has %+v", i, g, groups[i])
		}
		alone, idx := src.Group(i)
		if !reflect.DeepEqual(alone, groups[i]) || len(idx) != len(members) {
			t.Errorf("group %d alone: %+v", i, alone)
		}
		for k, m := range members {
			if m != people[idx[k]] || m.IDNumber != g.Members[k] {
				t.Errorf("group %d member %d: %+v", i, k, m)
			}
		}
		i++
		return nil
	})
	if err != nil || i != len(groups) {
		t.Errorf("Groups: %d groups, %v", i, err)
	}
	if _, err := NewSource(Spec{Grids: 0}); err == nil {
		t.Error("NewSource accepted a bad spec")
	}
}
