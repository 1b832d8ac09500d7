package gridwork_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/gridwork"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
)

// The district of these tests: 石冲社区 has two grids; 白沙社区 is another
// community of the same town; 子绵村 is in another town.
var (
	shichong1 = grid.Grid{Code: "440703006107-01", Name: "石冲社区第1网格", Community: "石冲社区", Town: "环市街道"}
	shichong2 = grid.Grid{Code: "440703006107-02", Name: "石冲社区第2网格", Community: "石冲社区", Town: "环市街道"}
	baisha    = grid.Grid{Code: "440703006108-01", Name: "白沙社区第1网格", Community: "白沙社区", Town: "环市街道"}
	zimian    = grid.Grid{Code: "440703103206-01", Name: "子绵村第1网格", Community: "子绵村", Town: "杜阮镇"}
)

// now is the tests' fixed time: a Monday morning in the district.
var now = time.Date(2022, 12, 5, 2, 0, 0, 0, time.UTC)

// The callers the access rules are about.
var (
	office         = caller(auth.Principal{Subject: "office", Role: auth.DistrictAdmin})
	worker         = caller(auth.Principal{Subject: "worker-sc1", Role: auth.GridWorker, Grids: auth.ParseGrids(shichong1.Code)})
	sameCommunity  = caller(auth.Principal{Subject: "worker-sc2", Role: auth.GridWorker, Grids: auth.ParseGrids(shichong2.Code)})
	otherCommunity = caller(auth.Principal{Subject: "worker-bs", Role: auth.GridWorker, Grids: auth.ParseGrids(baisha.Code)})
	otherTown      = caller(auth.Principal{Subject: "worker-zm", Role: auth.GridWorker, Grids: auth.ParseGrids(zimian.Code)})
	// A worker of two grids in two towns; the second is 石冲's lead.
	twoGrids   = caller(auth.Principal{Subject: "worker-zm-sc1", Role: auth.GridWorker, Grids: []string{zimian.Code, shichong1.Code}})
	groupAdmin = caller(auth.Principal{Subject: "admin-G1", Role: auth.GroupAdmin, Group: "G12345678"})
	healthFeed = caller(auth.Principal{Subject: "feed", Role: auth.HealthFeed})
)

func caller(p auth.Principal) gridwork.Caller {
	return gridwork.Caller{Principal: p, From: "192.0.2.7"}
}

// roles names every caller, for tables over all of them.
var roles = []struct {
	name string
	c    gridwork.Caller
}{
	{"district_admin", office},
	{"grid_worker of the grid", worker},
	{"grid_worker of another town's grid and the grid", twoGrids},
	{"grid_worker of another grid of the community", sameCommunity},
	{"grid_worker of another community of the town", otherCommunity},
	{"grid_worker of another town", otherTown},
	{"group_admin", groupAdmin},
	{"health_feed", healthFeed},
}

// fixture is the district on the embedded store, with the grid-work
// services wired as the API wires them.
type fixture struct {
	store     *embedded.Store
	vault     *pii.Vault
	settings  *district.Settings
	followUps gridwork.FollowUps
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "gridcode.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	vault, err := pii.NewVault(bytes.Repeat([]byte{3}, pii.KeySize), bytes.Repeat([]byte{4}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	areas, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	fixed := func() time.Time { return now }
	settings := district.NewSettings(store, areas, fixed, 0)
	if err := settings.PutGrids(ctx, []grid.Grid{shichong1, shichong2, baisha, zimian}); err != nil {
		t.Fatal(err)
	}
	d := report.DefaultDeadlines()
	return &fixture{
		store: store, vault: vault, settings: settings,
		followUps: gridwork.FollowUps{
			Grids: settings, Deadlines: d, Now: fixed, Audit: gridwork.Auditor{Log: store, Now: fixed},
			Desk: &report.FollowUps{Reports: store, Updates: store, Grids: settings, Vault: vault, Deadlines: d, Now: fixed},
		},
	}
}

// search is the registry search of the fixture in scope.
func (f *fixture) search(scope string) gridwork.Search {
	return gridwork.Search{
		Searcher: &registry.Searcher{Store: f.store, Vault: f.vault}, Grids: f.settings,
		Audit: gridwork.Auditor{Log: f.store, Now: func() time.Time { return now }}, Scope: scope,
	}
}

// person is a registry entry of the fixture.
type person struct {
	name, community, address, phone, landlordPhone string
}

// addPeople stores people in the registry, placed as an import places
// them, and returns their keys in order.
func (f *fixture) addPeople(t *testing.T, people ...person) []string {
	t.Helper()
	dir, err := f.settings.Grids(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var stored []registry.Person
	var keys []string
	for i, p := range people {
		first17 := fmt.Sprintf("44070319800101%03d", i+1)
		e := registry.Entry{
			Personal: registry.Personal{Name: p.name, IDNumber: first17 + string(idcard.CheckDigit(first17)),
				Phone: p.phone, Address: p.address, LandlordPhone: p.landlordPhone},
			IDType: idcard.ResidentID, Community: p.community, ResidentType: registry.Permanent,
		}
		built, err := registry.Build(f.vault, dir, e, "test", now)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, built)
		keys = append(keys, built.Key)
	}
	if n, err := f.store.PutPeople(context.Background(), stored); err != nil || n != len(stored) {
		t.Fatalf("PutPeople = %d, %v", n, err)
	}
	return keys
}

// addReport stores a report of level in gridCode, naming community,
// submitted age before at, its welcome SMS sent.
func (f *fixture) addReport(t *testing.T, id, gridCode, community string, at time.Time, age time.Duration, level risk.Level) report.Record {
	t.Helper()
	submitted := at.Add(-age)
	r := report.Record{
		ID: id, GridCode: gridCode, Community: community, ListKey: report.ListKey(submitted, id), RiskLevel: level,
		Status: report.StatusNew, SubmittedAt: submitted, ContactDue: report.DefaultDeadlines().ContactDue(submitted, level),
	}
	a := alert.Alert{ID: report.WelcomeAlertID(id), ReportID: id, GridCode: gridCode, Status: alert.Sent, CreatedAt: submitted}
	if _, created, err := f.store.Create(context.Background(), r, a); err != nil || !created {
		t.Fatalf("create report %s: created %v, %v", id, created, err)
	}
	return r
}

// steppingClock answers start on its first call and start+step after: a
// service that asks the time twice for one answer shows it.
type steppingClock struct {
	mu          sync.Mutex
	start, step time.Duration
	calls       int
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.calls == 1 {
		return now.Add(c.start)
	}
	return now.Add(c.start + c.step)
}
