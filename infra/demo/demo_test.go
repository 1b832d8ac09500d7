package demo

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/area"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/risk"
)

func testVault(t *testing.T) *pii.Vault {
	t.Helper()
	v, err := pii.NewVault(bytes.Repeat([]byte{1}, pii.KeySize), bytes.Repeat([]byte{2}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGrids(t *testing.T) {
	t.Parallel()
	v := testVault(t)
	grids, err := Grids(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(grids) != GridCount {
		t.Fatalf("got %d grids, want %d", len(grids), GridCount)
	}
	cs, err := Communities()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 139 {
		t.Errorf("got %d communities, want 139", len(cs))
	}
	perCommunity := map[string]int{}
	codes := map[string]bool{}
	for _, g := range grids {
		if codes[g.Code] {
			t.Errorf("duplicate grid code %s", g.Code)
		}
		codes[g.Code] = true
		perCommunity[g.Community]++
		ws, err := g.OpenWorkers(v)
		if err != nil {
			t.Fatalf("workers of %s: %v", g.Code, err)
		}
		if len(ws) < 1 || len(ws) > 3 {
			t.Errorf("%s has %d workers, want 1–3", g.Code, len(ws))
		}
		for _, w := range ws {
			if n, ok := phone.Normalize(w.Phone); !ok || n != w.Phone || w.Name == "" {
				t.Errorf("%s: bad worker %+v", g.Code, w)
			}
		}
	}
	for _, c := range cs {
		if n := perCommunity[c.Name]; n < 2 || n > 4 {
			t.Errorf("community %s has %d grids, want 2–4", c.Name, n)
		}
	}
	want := map[string]struct{ community, town, name string }{
		"440703006107-01": {"石冲社区", "环市街道", "石冲社区第1网格"},
		"440703103206-01": {"子绵村", "杜阮镇", "子绵村第1网格"},
	}
	for _, g := range grids {
		if w, ok := want[g.Code]; ok {
			if g.Community != w.community || g.Town != w.town || g.Name != w.name {
				t.Errorf("grid %s = %+v, want %+v", g.Code, g, w)
			}
			delete(want, g.Code)
		}
	}
	for code := range want {
		t.Errorf("grid %s missing", code)
	}
}

func TestGridsDeterministic(t *testing.T) {
	t.Parallel()
	v := testVault(t)
	a, err := Grids(v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Grids(v)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		wa, _ := a[i].OpenWorkers(v)
		wb, _ := b[i].OpenWorkers(v)
		if a[i].Code != b[i].Code || !cmp.Equal(wa, wb) {
			t.Fatalf("grid %d differs between calls: %s %v / %s %v", i, a[i].Code, wa, b[i].Code, wb)
		}
	}
}

func TestWorkersBoundToGrid(t *testing.T) {
	t.Parallel()
	v := testVault(t)
	grids, err := Grids(v)
	if err != nil {
		t.Fatal(err)
	}
	moved := grids[0]
	moved.Code = grids[1].Code
	if _, err := moved.OpenWorkers(v); err == nil {
		t.Error("workers sealed for one grid opened on another")
	}
	moved.WorkersSealed = nil
	if ws, err := moved.OpenWorkers(v); err != nil || ws != nil {
		t.Errorf("grid without workers: %v, %v; want none, nil", ws, err)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n       int
		min, mx int // grids per community that has any
		wantErr bool
	}{
		{n: 0, wantErr: true},
		{n: 1, min: 1, mx: 1},
		{n: 50, min: 1, mx: 1},
		{n: 139, min: 1, mx: 1},
		{n: 410, min: 2, mx: 4},
		{n: 1000, min: 7, mx: 9},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			grids, err := Plan(tt.n)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Plan(%d) error = %v, want error %v", tt.n, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(grids) != tt.n {
				t.Fatalf("Plan(%d) gave %d grids", tt.n, len(grids))
			}
			again, _ := Plan(tt.n)
			if diff := cmp.Diff(grids, again); diff != "" {
				t.Errorf("Plan(%d) not deterministic (-first +second):\n%s", tt.n, diff)
			}
			per := map[string]int{}
			seen := map[string]bool{}
			for i, g := range grids {
				if seen[g.Code] {
					t.Errorf("duplicate code %s", g.Code)
				}
				seen[g.Code] = true
				if i > 0 && grids[i-1].Code >= g.Code {
					t.Errorf("codes not sorted at %s", g.Code)
				}
				per[g.Community]++
			}
			for c, k := range per {
				if k < tt.min || k > tt.mx {
					t.Errorf("Plan(%d): %s has %d grids, want %d–%d", tt.n, c, k, tt.min, tt.mx)
				}
			}
		})
	}
}

func TestRiskAreas(t *testing.T) {
	t.Parallel()
	catalog, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	known := func(code string) bool { _, ok := catalog.County(code); return ok }
	tests := []struct {
		today   string
		wantNil bool
	}{
		{today: "2022-12-05"},
		{today: "2024-03-01"},
		{today: "2022-13-01", wantNil: true},
		{today: "", wantNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.today, func(t *testing.T) {
			t.Parallel()
			areas := RiskAreas(tt.today)
			if tt.wantNil {
				if areas != nil {
					t.Fatalf("RiskAreas(%q) = %v, want nil", tt.today, areas)
				}
				return
			}
			if err := risk.Validate(areas, known); err != nil {
				t.Fatalf("RiskAreas(%q) invalid: %v", tt.today, err)
			}
			var open, expired, high, low int
			for _, a := range areas {
				switch {
				case a.To == "":
					open++
				case a.To < tt.today:
					expired++
				}
				if a.From > tt.today {
					t.Errorf("%s starts after today", a.AreaCode)
				}
				switch a.Level {
				case risk.High:
					high++
				case risk.Low:
					low++
				}
			}
			if open < 2 || expired != 1 || high == 0 || low == 0 {
				t.Errorf("want open-ended, one expired, high and low; got open %d expired %d high %d low %d", open, expired, high, low)
			}
		})
	}
}
