// Package grouptest builds a small district on the embedded store for the
// tests of the group code: two grids with workers, groups registered and
// rostered through group.Registry, as the API does.
package grouptest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/store/embedded"
)

// Grids of the district, and their workers' phones.
var (
	Grid1 = grid.Grid{Code: "440703001001-01", Name: "白沙第一网格", Community: "白沙社区", Town: "白沙街道"}
	Grid2 = grid.Grid{Code: "440703001002-01", Name: "石冲第一网格", Community: "石冲社区", Town: "棠下镇"}

	Workers = map[string][]grid.Worker{
		Grid1.Code: {{Name: "李网格", Phone: "13600136001"}},
		Grid2.Code: {{Name: "王网格", Phone: "13600136002"}, {Name: "陈网格", Phone: "13600136003"}},
	}
)

// District is the fixture.
type District struct {
	Store    *embedded.Store
	Vault    *pii.Vault
	Settings *district.Settings
	Registry *group.Registry
	Clock    *Clock
	Office   auth.Principal
}

// Clock is a settable time source.
type Clock struct{ T time.Time }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.T }

// Vault is a fixed test vault.
func Vault(t testing.TB) *pii.Vault {
	t.Helper()
	v, err := pii.NewVault(bytes.Repeat([]byte{7}, pii.KeySize), bytes.Repeat([]byte{8}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// New opens a district at now.
func New(t testing.TB, now time.Time) *District {
	t.Helper()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "gridcode.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	areas, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	d := &District{Store: store, Vault: Vault(t), Clock: &Clock{T: now}, Office: auth.Principal{Subject: "office", Role: auth.DistrictAdmin}}
	d.Settings = district.NewSettings(store, areas, d.Clock.Now, 0)
	grids := []grid.Grid{Grid1, Grid2}
	for i := range grids {
		if err := grids[i].SealWorkers(d.Vault, Workers[grids[i].Code]); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Settings.PutGrids(context.Background(), grids); err != nil {
		t.Fatal(err)
	}
	d.Registry = &group.Registry{Store: store, Lists: store, Grids: d.Settings, Vault: d.Vault, Now: d.Clock.Now, JoinURL: "http://127.0.0.1:8080/join/"}
	return d
}

// Person is a member with a valid resident ID, different for each i.
func Person(i int) group.RosterRow {
	first17 := fmt.Sprintf("440703199%d%02d%02d%03d", i%10, 1+i%12, 1+i%28, i%1000)
	id := first17 + string(idcard.CheckDigit(first17))
	return group.RosterRow{Name: fmt.Sprintf("成员%d", i), IDType: string(idcard.ResidentID), IDNumber: id, Phone: fmt.Sprintf("139%08d", i)}
}

// PersonKey is the person key of a roster row.
func (d *District) PersonKey(row group.RosterRow) string {
	return report.PersonLookup(d.Vault, idcard.Kind(row.IDType), row.IDNumber)
}

// Group registers a group in gridCode with the given administrator phone
// and makes rows its roster.
func (d *District) Group(t testing.TB, name, gridCode, adminPhone string, rows ...group.RosterRow) group.View {
	t.Helper()
	ctx := context.Background()
	v, err := d.Registry.Register(ctx, d.Office, group.Registration{
		Name: name, Kind: "supermarket", Address: name + "地址", GridCode: gridCode, Admin: group.Admin{Name: "店长", Phone: adminPhone},
	})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	if len(rows) == 0 {
		return v
	}
	checked, err := group.CheckRoster(rows, d.Clock.Now(), nil)
	if err != nil {
		t.Fatalf("roster of %s: %v", name, err)
	}
	if v, err = d.Registry.ReplaceRoster(ctx, d.Office, v.GroupID, checked); err != nil {
		t.Fatalf("roster of %s: %v", name, err)
	}
	return v
}

// SetHealth stores a person's status directly, as the feed would.
func (d *District) SetHealth(t testing.TB, row group.RosterRow, s health.Status) {
	t.Helper()
	key := d.PersonKey(row)
	rec, err := health.Seal(d.Vault, key, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old, err := d.Store.GetHealth(ctx, []string{key})
	if err != nil {
		t.Fatal(err)
	}
	w := health.Write{Record: rec}
	if o, ok := old[key]; ok {
		w.Prev = &o.UpdatedAt
	}
	if conflicts, err := d.Store.WriteHealth(ctx, []health.Write{w}); err != nil || len(conflicts) > 0 {
		t.Fatalf("set health: conflicts %v, err %v", conflicts, err)
	}
}
