package worklist_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/worklist"
)

// The district of the tests: 石冲社区 has two grids (its lead grid is
// shichong1), 白沙社区 one.
var (
	shichong1 = grid.Grid{Code: "440703006107-01", Name: "石冲第一网格", Community: "石冲社区", Town: "环市街道"}
	shichong2 = grid.Grid{Code: "440703006107-02", Name: "石冲第二网格", Community: "石冲社区", Town: "环市街道"}
	baisha    = grid.Grid{Code: "440703001001-01", Name: "白沙第一网格", Community: "白沙社区", Town: "白沙街道"}
)

// monday is the fixed clock of the tests: 2026-11-30 09:30 in the district.
var monday = time.Date(2026, 11, 30, 1, 30, 0, 0, time.UTC)

// stores is what a domain test needs: both ports, on one store.
type stores interface {
	worklist.Store
	registry.Store
}

type fixture struct {
	store stores
	vault *pii.Vault
	grids *grid.Directory
	now   time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	v, err := pii.NewVault(bytes.Repeat([]byte{7}, pii.KeySize), bytes.Repeat([]byte{8}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		store: openStore(t),
		vault: v,
		grids: grid.NewDirectory([]grid.Grid{shichong1, shichong2, baisha}),
		now:   monday,
	}
}

func (f *fixture) clock() time.Time { return f.now }

func (f *fixture) uploader() *worklist.Uploader {
	return &worklist.Uploader{Store: f.store, Vault: f.vault, Grids: f.grids, Now: f.clock}
}

func (f *fixture) reconciler() *worklist.Reconciler {
	return &worklist.Reconciler{Lists: f.store, Registry: f.store, Vault: f.vault, Now: f.clock}
}

func (f *fixture) desk() *worklist.Desk {
	return &worklist.Desk{Tasks: f.store, Registry: f.store, Vault: f.vault, Grids: f.grids, Now: f.clock}
}

// upload stores a list given as CSV text and fails the test on an error.
func (f *fixture) upload(t testing.TB, kind, csv string) worklist.List {
	t.Helper()
	l, _, err := f.uploader().Upload(context.Background(), "test "+kind, kind, "office", strings.NewReader(csv))
	if err != nil {
		t.Fatalf("upload %s: %v", kind, err)
	}
	return l
}

// key is the person key of a resident ID.
func (f *fixture) key(id string) string { return report.PersonLookup(f.vault, idcard.ResidentID, id) }

// register puts people in the registry as an import would.
func (f *fixture) register(t testing.TB, entries ...registry.Entry) {
	t.Helper()
	people := make([]registry.Person, 0, len(entries))
	for _, e := range entries {
		p, err := registry.Build(f.vault, f.grids, e, "import-test", f.now)
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, p)
	}
	if _, err := f.store.PutPeople(context.Background(), people); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) person(t testing.TB, key string) (registry.Person, bool) {
	t.Helper()
	got, err := f.store.GetPeople(context.Background(), []string{key})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := got[key]
	return p, ok
}

// residentID makes a valid resident ID of a person born in 1990 in 江门
// with sequence n.
func residentID(n int) string {
	first17 := fmt.Sprintf("44070319900101%03d", n%1000)
	if n >= 1000 {
		// Other birth days keep the ids distinct past 999 people.
		day := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/1000)
		first17 = fmt.Sprintf("440703%s%03d", day.Format("20060102"), n%1000)
	}
	return first17 + string(idcard.CheckDigit(first17))
}

// entry is a registry entry of resident n in a community.
func entry(n int, community, address string) registry.Entry {
	return registry.Entry{
		Personal:     registry.Personal{Name: fmt.Sprintf("居民%d", n), IDNumber: residentID(n), Phone: "13800138000", Address: address},
		IDType:       idcard.ResidentID,
		Community:    community,
		ResidentType: registry.Permanent,
	}
}
