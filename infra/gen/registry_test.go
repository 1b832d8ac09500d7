package gen

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The registry file holds the people of people.jsonl, in their grid's town
// and community, as the district's export names its columns.
func TestRegistryFileMatchesPeople(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := Spec{Seed: 3, Grids: 12, People: 200, Today: testToday}
	if err := Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	people := readLines[Person](t, filepath.Join(dir, PeopleFile))
	grids := readLines[gridRow](t, filepath.Join(dir, GridsFile))
	raw, err := os.ReadFile(filepath.Join(dir, RegistryFile))
	if err != nil {
		t.Fatal(err)
	}
	text, ok := strings.CutPrefix(string(raw), "\uFEFF")
	if !ok {
		t.Fatal("registry.csv has no UTF-8 BOM")
	}
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(people)+1 || strings.Join(rows[0], ",") != strings.Join(RegistryHeader, ",") {
		t.Fatalf("%d rows, header %v; want %d people and %v", len(rows), rows[0], len(people), RegistryHeader)
	}
	kinds := map[string]int{}
	for i, p := range people {
		row := rows[i+1]
		var g gridRow
		for _, c := range grids {
			if c.Code == p.GridCode {
				g = c
			}
		}
		if row[0] != p.Name || row[2] != p.IDNumber || row[3] != p.Phone || row[4] != g.Town || row[5] != g.Community || row[6] != p.Address {
			t.Fatalf("row %d = %v, want person %+v in %+v", i+1, row, p, g)
		}
		kinds[row[7]]++
		if (row[7] == "常住") != (row[8] == "") {
			t.Errorf("row %d: resident type %s with landlord phone %q", i+1, row[7], row[8])
		}
	}
	if kinds["常住"] == 0 || kinds["流动"] == 0 || kinds["外来"] == 0 {
		t.Errorf("resident types %v, want all three", kinds)
	}
}
