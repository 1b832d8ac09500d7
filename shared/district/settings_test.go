package district_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
)

// flakyStore fails every read once broken, as DynamoDB does when throttled
// or unreachable.
type flakyStore struct {
	*embedded.Store
	broken atomic.Bool
	reads  atomic.Int64
}

var errUnreachable = errors.New("store unreachable")

func (f *flakyStore) ListGrids(ctx context.Context) ([]grid.Grid, error) {
	f.reads.Add(1)
	if f.broken.Load() {
		return nil, errUnreachable
	}
	return f.Store.ListGrids(ctx)
}

func TestSettingsCacheAndFallBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &flakyStore{Store: db}
	areas, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2022, 12, 5, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	s := district.NewSettings(store, areas, now, 30*time.Second)

	if _, err := s.Grids(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGrids(ctx, []grid.Grid{{Code: "g1", Community: "石冲社区"}}); err != nil {
		t.Fatal(err)
	}
	dir, err := s.Grids(ctx)
	if _, ok := dir.Lookup("g1"); err != nil || !ok {
		t.Fatalf("a write through Settings is not seen at once (err %v)", err)
	}
	reads := store.reads.Load()
	for range 5 {
		if _, err := s.RiskAreas(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := store.reads.Load(); got != reads {
		t.Fatalf("%d reloads within the TTL, want none", got-reads)
	}

	// Past the TTL with the store down: the last settings are still served.
	store.broken.Store(true)
	clock = clock.Add(time.Minute)
	dir, err = s.Grids(ctx)
	if err != nil {
		t.Fatalf("a failed reload stopped service: %v", err)
	}
	if _, ok := dir.Lookup("g1"); !ok {
		t.Fatal("stale settings lost g1")
	}
	if err := s.SetRiskAreas(ctx, []risk.Area{{AreaCode: "110105", Level: risk.High, From: "2022-12-01"}}); err != nil {
		t.Fatal(err)
	}
	store.broken.Store(false)
	list, err := s.RiskAreas(ctx)
	if err != nil || len(list.Areas()) != 1 {
		t.Fatalf("after recovery: %d areas, %v", len(list.Areas()), err)
	}

	// Nothing cached yet and the store down: the error is returned.
	store.broken.Store(true)
	fresh := district.NewSettings(store, areas, now, 30*time.Second)
	if _, err := fresh.Grids(ctx); !errors.Is(err, errUnreachable) {
		t.Fatalf("cold start with the store down: %v, want the store's error", err)
	}
}
