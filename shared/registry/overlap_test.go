package registry_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
	"gridcode/shared/report"
)

// smallFile is a registry export of three people; address is the first
// person's.
func smallFile(address string) bytesSource {
	rows := []string{
		"姓名,证件号码,社区,地址,人员类型",
		"张三," + residentID(1) + ",石冲社区," + address + ",常住",
		"李四," + residentID(2) + ",石冲社区,新塘里2号,常住",
		"王五," + residentID(3) + ",子绵村,东头巷1号,常住",
	}
	return bytesSource{[]byte(strings.Join(rows, "\n") + "\n")}
}

// A door-knocking visit changes an entry; the next import of the same
// (stale) export leaves the change, and a newer export whose row changed
// overwrites it.
func TestReimportKeepsVisits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := openStore(t)
	im := newImporter(t, store, 2)
	v := im.Vault
	zhang := report.PersonLookup(v, idcard.ResidentID, residentID(1))
	li := report.PersonLookup(v, idcard.ResidentID, residentID(2))
	entryOf := func(key string) registry.Person {
		t.Helper()
		got, err := store.GetPeople(ctx, []string{key})
		if err != nil {
			t.Fatal(err)
		}
		return got[key]
	}
	put := func(p registry.Person) {
		t.Helper()
		if n, err := store.PutPeople(ctx, []registry.Person{p}); err != nil || n != 1 {
			t.Fatalf("PutPeople of a visit = %d, %v", n, err)
		}
	}
	importFile := func(id string, file bytesSource) registry.Import {
		t.Helper()
		run, err := im.Run(ctx, registry.Import{ID: id}, file, time.Time{}, nil)
		if err != nil {
			t.Fatalf("import %s: %v", id, err)
		}
		return run
	}

	importFile("imp1", smallFile("新塘里1号"))

	// 张三 moved out, as shared/worklist's visit writes it: the stored entry
	// copied, its status and content hash changed.
	gone := entryOf(zhang)
	personal, err := registry.Open(v, gone)
	if err != nil {
		t.Fatal(err)
	}
	gone.Status, gone.Source, gone.UpdatedAt = registry.StatusMovedOut, "task-1", now.Add(time.Hour)
	gone.ContentHash = registry.ContentHash(v, gone, personal)
	put(gone)
	// 李四 corrected, as a visit builds the entry anew (no ImportHash).
	fixed := entry("李四", 2, "石冲社区", "新塘里20号")
	fixed.Phone = "13800138002"
	corrected, err := registry.Build(v, testGrids(), fixed, "task-2", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	put(corrected)
	wantLi := entryOf(li)

	again := importFile("imp2", smallFile("新塘里1号"))
	if again.Written != 0 || again.Unchanged != 3 {
		t.Errorf("the same file again: written %d, unchanged %d; want 0 and 3", again.Written, again.Unchanged)
	}
	if got := entryOf(zhang); got.Status != registry.StatusMovedOut || got.Source != "task-1" {
		t.Errorf("张三 after the same file again: %s by %s, want still moved out by task-1", got.Status, got.Source)
	}
	if got := entryOf(li); got.ContentHash != wantLi.ContentHash || got.Source != "task-2" {
		t.Errorf("李四 after the same file again: written by %s, want the correction of task-2 kept", got.Source)
	}

	// A newer export: 张三 is at another address now, back on the books.
	newer := importFile("imp3", smallFile("新塘里8号"))
	if newer.Written != 1 || newer.Unchanged != 2 {
		t.Errorf("a newer file: written %d, unchanged %d; want 1 and 2", newer.Written, newer.Unchanged)
	}
	got := entryOf(zhang)
	if got.Status != registry.StatusActive || got.Source != "imp3" || got.ImportHash != got.ContentHash {
		t.Errorf("张三 after his row changed: %s by %s, want active by imp3", got.Status, got.Source)
	}
	if p, err := registry.Open(v, got); err != nil || p.Address != "新塘里8号" {
		t.Errorf("张三's address %q (%v), want 新塘里8号", p.Address, err)
	}
}

// Two runs of one import resume from the same checkpoint (a continuation
// and a redelivered S3 event): the first to write owns the import; the
// other stops with ErrConflict, adds nothing to the counts and does not
// move the checkpoint back.
func TestOverlappingRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := bytesSource{gb18030(t, registryFile())}
	straight, err := newImporter(t, openStore(t), 2).Run(ctx, registry.Import{ID: "imp"}, file, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("one after the other", func(t *testing.T) {
		t.Parallel()
		store := openStore(t)
		im := newImporter(t, store, 2)
		// The first invocation runs out of time after a chunk.
		checkpoint, err := im.Run(ctx, registry.Import{ID: "imp"}, file, now.Add(-time.Second), nil)
		if !errors.Is(err, registry.ErrPaused) {
			t.Fatalf("first run: %v, want ErrPaused", err)
		}
		// Its continuation goes on to the end...
		done, err := im.Run(ctx, checkpoint, file, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// ...and the event delivered again resumed from the same checkpoint.
		late, err := im.Run(ctx, checkpoint, file, time.Time{}, nil)
		if !errors.Is(err, registry.ErrConflict) {
			t.Fatalf("the overlapping run: %v, want ErrConflict", err)
		}
		if late.Rows != checkpoint.Rows {
			t.Errorf("the overlapping run counts %d rows, want the checkpoint's %d", late.Rows, checkpoint.Rows)
		}
		stored, err := store.GetImport(ctx, "imp")
		if err != nil {
			t.Fatal(err)
		}
		if stored != done {
			t.Errorf("stored import\n got %+v\nwant %+v", stored, done)
		}
		if stored.Status != registry.ImportDone || stored.Rows != straight.Rows || stored.Bad != straight.Bad ||
			stored.Written+stored.Unchanged != straight.Written+straight.Unchanged {
			t.Errorf("stored import %+v; want the counts of a straight run %+v", stored, straight)
		}
	})

	t.Run("at once", func(t *testing.T) {
		t.Parallel()
		store := openStore(t)
		checkpoint, err := newImporter(t, store, 2).Run(ctx, registry.Import{ID: "imp"}, file, now.Add(-time.Second), nil)
		if !errors.Is(err, registry.ErrPaused) {
			t.Fatalf("first run: %v, want ErrPaused", err)
		}
		const runs = 4
		errs := make([]error, runs)
		var wg sync.WaitGroup
		for i := range runs {
			wg.Go(func() {
				_, errs[i] = newImporter(t, store, 2).Run(ctx, checkpoint, file, time.Time{}, nil)
			})
		}
		wg.Wait()
		finished := 0
		for _, err := range errs {
			switch {
			case err == nil:
				finished++
			case !errors.Is(err, registry.ErrConflict):
				t.Errorf("a run: %v, want nil or ErrConflict", err)
			}
		}
		if finished != 1 {
			t.Errorf("%d runs finished, want 1: %v", finished, errs)
		}
		stored, err := store.GetImport(ctx, "imp")
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status != registry.ImportDone || stored.Rows != straight.Rows || stored.Bad != straight.Bad ||
			stored.Written+stored.Unchanged != straight.Written+straight.Unchanged || stored.Offset != straight.Offset {
			t.Errorf("stored import %+v; want the counts of a straight run %+v", stored, straight)
		}
	})
}
