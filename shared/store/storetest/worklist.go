package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gridcode/shared/worklist"
)

// WorklistStore keeps uploaded lists, verification tasks and
// reconciliations.
type WorklistStore interface {
	worklist.Store
}

func list(id string, at time.Time) worklist.List {
	return worklist.List{
		ID: id, Name: "12月3日全员核酸 " + id, Kind: worklist.KindNAT, Rows: 1500, Bad: 3, Chunks: 2,
		CreatedAt: at, CreatedBy: "office-1", ExpiresAt: registryExpires(),
	}
}

// chunk makes chunk n of a list with rows rows; every third row has no
// grid, as rows whose community routes nowhere.
func chunk(listID string, n, rows int) worklist.Chunk {
	c := worklist.Chunk{ListID: listID, N: n, Keys: make([]string, rows), Grids: make([]string, rows)}
	for i := range rows {
		c.Keys[i] = fmt.Sprintf("%s-%d-%04d", listID, n, i)
		if i%3 != 0 {
			c.Grids[i] = fmt.Sprintf("g%d", i%7)
		}
	}
	c.Sealed = []byte(fmt.Sprintf("evidence of %s/%d\x00\xff", listID, n))
	return c
}

func task(id, gridCode, status, dueOn string) worklist.Task {
	return worklist.Task{
		ID: id, GridCode: gridCode, Reason: "not_in_" + worklist.KindRegistry, ListA: "l1", ListB: worklist.RegistryList,
		PersonKey: "p-" + id, Status: status, DueOn: dueOn, CreatedAt: base, UpdatedAt: base,
		EvidenceSealed: []byte("evidence:" + id + "\x00\xff"), ExpiresAt: registryExpires(),
	}
}

func mustCreateTasks(t *testing.T, s WorklistStore, tasks []worklist.Task, wantCreated int) {
	t.Helper()
	created, err := s.CreateTasks(context.Background(), tasks)
	if err != nil {
		t.Fatalf("CreateTasks: %v", err)
	}
	if created != wantCreated {
		t.Fatalf("CreateTasks created %d of %d, want %d", created, len(tasks), wantCreated)
	}
}

func mustGetTask(t *testing.T, s WorklistStore, id string) worklist.Task {
	t.Helper()
	got, err := s.GetTask(context.Background(), id)
	if err != nil {
		t.Fatalf("GetTask %s: %v", id, err)
	}
	return got
}

var taskCmp = cmpopts.EquateEmpty()

// gridTasksPageSize is small, so that every listing the contract checks
// takes several pages.
const gridTasksPageSize = 2

// allGridTasks reads every page of a grid's tasks.
func allGridTasks(s WorklistStore, gridCode string, withClosed bool, limit int) ([]worklist.Task, error) {
	var all []worklist.Task
	q := worklist.TaskQuery{GridCode: gridCode, WithClosed: withClosed, Limit: limit}
	for range 1000 {
		page, err := s.GridTasks(context.Background(), q)
		if err != nil {
			return nil, err
		}
		if len(page.Tasks) > limit {
			return nil, fmt.Errorf("a page of %d tasks, limit %d", len(page.Tasks), limit)
		}
		all = append(all, page.Tasks...)
		if page.Next == "" {
			return all, nil
		}
		if len(page.Tasks) == 0 || page.Next != worklist.TaskPosition(page.Tasks[len(page.Tasks)-1]) {
			return nil, fmt.Errorf("page after %q: next %q is not the position of its last task", q.After, page.Next)
		}
		q.After = page.Next
	}
	return nil, errors.New("more than 1000 pages")
}

// gridTasksAre checks, for eventually, that GridTasks lists the tasks of
// wantIDs in that order, page by page, each as GetTask returns it.
func gridTasksAre(s WorklistStore, gridCode string, withClosed bool, wantIDs ...string) func() string {
	return func() string {
		ctx := context.Background()
		got, err := allGridTasks(s, gridCode, withClosed, gridTasksPageSize)
		if err != nil {
			return fmt.Sprintf("GridTasks %s: %v", gridCode, err)
		}
		ids := make([]string, len(got))
		for i, tk := range got {
			ids[i] = tk.ID
		}
		if diff := cmp.Diff(wantIDs, ids, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Sprintf("GridTasks %s withClosed %v (-want +got):\n%s", gridCode, withClosed, diff)
		}
		for _, tk := range got {
			cur, err := s.GetTask(ctx, tk.ID)
			if err != nil {
				return fmt.Sprintf("GetTask %s: %v", tk.ID, err)
			}
			if diff := cmp.Diff(cur, tk, taskCmp); diff != "" {
				return fmt.Sprintf("GridTasks %s lists task %s (-current +listed):\n%s", gridCode, tk.ID, diff)
			}
		}
		return ""
	}
}

func openCountsAre(s WorklistStore, want map[string]int) func() string {
	return func() string {
		got, err := s.OpenTaskCounts(context.Background())
		if err != nil {
			return fmt.Sprintf("OpenTaskCounts: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			return "OpenTaskCounts (-want +got):\n" + diff
		}
		return ""
	}
}

// RunWorklist runs the contract of worklist.Store. newStore returns an
// empty store for each test.
func RunWorklist(t *testing.T, newStore func(t *testing.T) WorklistStore) {
	t.Run("lists", func(t *testing.T) { runListTests(t, newStore) })
	t.Run("tasks", func(t *testing.T) { runTaskTests(t, newStore) })
}

func runListTests(t *testing.T, newStore func(t *testing.T) WorklistStore) {
	ctx := context.Background()

	t.Run("a list is visible once put, newest first", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.PutListChunk(ctx, chunk("l1", 0, 10)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetList(ctx, "l1"); !errors.Is(err, worklist.ErrNotFound) {
			t.Fatalf("GetList before PutList = %v, want ErrNotFound", err)
		}
		lists, err := s.Lists(ctx)
		if err != nil || len(lists) != 0 {
			t.Fatalf("Lists before PutList = %v, %v", lists, err)
		}
		l1, l2, l3 := list("l1", base), list("l2", base.Add(time.Hour)), list("l3", base.Add(-time.Hour))
		l3.Kind, l3.Chunks = worklist.KindVenueCode, 0
		for _, l := range []worklist.List{l1, l2, l3} {
			if err := s.PutList(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetList(ctx, "l1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(l1, got); diff != "" {
			t.Errorf("GetList (-want +got):\n%s", diff)
		}
		eventually(t, func() string {
			got, err := s.Lists(ctx)
			if err != nil {
				return fmt.Sprintf("Lists: %v", err)
			}
			if diff := cmp.Diff([]worklist.List{l2, l1, l3}, got); diff != "" {
				return "Lists (-want +got):\n" + diff
			}
			return ""
		})
	})

	t.Run("chunks with and without evidence", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// Numbered so that their decimal strings sort otherwise, and put out
		// of order.
		chunks := []worklist.Chunk{chunk("l1", 0, worklist.ChunkRows), chunk("l1", 2, 7), chunk("l1", 10, 1), chunk("l1", 1, 500)}
		for _, c := range []worklist.Chunk{chunks[2], chunks[0], chunks[3], chunks[1]} {
			if err := s.PutListChunk(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		// Another list whose id starts with this one's.
		if err := s.PutListChunk(ctx, chunk("l10", 0, 3)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutList(ctx, list("l1", base)); err != nil {
			t.Fatal(err)
		}
		inOrder := []worklist.Chunk{chunks[0], chunks[3], chunks[1], chunks[2]}

		withEvidence, err := s.Chunks(ctx, "l1", true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(inOrder, withEvidence); diff != "" {
			t.Errorf("Chunks with evidence (-want +got):\n%s", diff)
		}
		bare, err := s.Chunks(ctx, "l1", false)
		if err != nil {
			t.Fatal(err)
		}
		var wantBare []worklist.Chunk
		for _, c := range inOrder {
			c.Sealed = nil
			wantBare = append(wantBare, c)
		}
		if diff := cmp.Diff(wantBare, bare, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Chunks without evidence (-want +got):\n%s", diff)
		}
		one, err := s.Chunk(ctx, "l1", 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(chunks[3], one); diff != "" {
			t.Errorf("Chunk 1 (-want +got):\n%s", diff)
		}
		for _, n := range []int{3, 11} {
			if _, err := s.Chunk(ctx, "l1", n); !errors.Is(err, worklist.ErrNotFound) {
				t.Errorf("Chunk %d of l1 = %v, want ErrNotFound", n, err)
			}
		}
		if _, err := s.Chunk(ctx, "nope", 0); !errors.Is(err, worklist.ErrNotFound) {
			t.Errorf("Chunk of an unknown list = %v, want ErrNotFound", err)
		}
	})

	t.Run("a chunk put again is replaced", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if err := s.PutListChunk(ctx, chunk("l1", 0, 20)); err != nil {
			t.Fatal(err)
		}
		again := chunk("l1", 0, 5)
		again.Sealed = []byte("second upload")
		if err := s.PutListChunk(ctx, again); err != nil {
			t.Fatal(err)
		}
		got, err := s.Chunks(ctx, "l1", true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]worklist.Chunk{again}, got); diff != "" {
			t.Errorf("Chunks (-want +got):\n%s", diff)
		}
	})

	t.Run("a failed upload's chunks are deleted", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// More chunks than one DynamoDB batch deletes.
		const n = 27
		for i := range n {
			if err := s.PutListChunk(ctx, chunk("l1", i, 3)); err != nil {
				t.Fatal(err)
			}
		}
		other := chunk("l10", 0, 3) // a list whose id starts with l1's
		if err := s.PutListChunk(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteListChunks(ctx, "l1"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Chunks(ctx, "l1", true)
		if err != nil || len(got) != 0 {
			t.Errorf("after DeleteListChunks: %d chunks, %v; want none", len(got), err)
		}
		if _, err := s.Chunk(ctx, "l1", n-1); !errors.Is(err, worklist.ErrNotFound) {
			t.Errorf("Chunk after DeleteListChunks = %v, want ErrNotFound", err)
		}
		kept, err := s.Chunks(ctx, "l10", true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]worklist.Chunk{other}, kept); diff != "" {
			t.Errorf("another list's chunks (-want +got):\n%s", diff)
		}
		if err := s.DeleteListChunks(ctx, "nope"); err != nil {
			t.Errorf("DeleteListChunks of a list without chunks = %v", err)
		}
	})

	t.Run("reconciliations are recorded", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.GetReconciliation(ctx, "rc1"); !errors.Is(err, worklist.ErrNotFound) {
			t.Fatalf("GetReconciliation of an unknown id = %v, want ErrNotFound", err)
		}
		running := worklist.Reconciliation{ID: "rc1", Status: worklist.ReconciliationRunning, ListA: "l1", ListB: worklist.RegistryList, At: base}
		if err := s.PutReconciliation(ctx, running); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetReconciliation(ctx, "rc1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(running, got); diff != "" {
			t.Errorf("running reconciliation (-want +got):\n%s", diff)
		}
		done := worklist.Reconciliation{ID: "rc1", Status: worklist.ReconciliationDone, ListA: "l1", ListB: worklist.RegistryList,
			RowsA: 800_000, RowsB: 790_000, Missing: 40_000, Created: 39_000, ToPool: 120, At: base, Seconds: 1.25}
		if err := s.PutReconciliation(ctx, done); err != nil {
			t.Fatalf("PutReconciliation of the result: %v", err)
		}
		if got, err = s.GetReconciliation(ctx, "rc1"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(done, got); diff != "" {
			t.Errorf("finished reconciliation (-want +got):\n%s", diff)
		}
		failed := worklist.Reconciliation{ID: "rc2", Status: worklist.ReconciliationFailed, Reason: "list_not_found", ListA: "l1", ListB: "l2", At: base}
		if err := s.PutReconciliation(ctx, failed); err != nil {
			t.Fatal(err)
		}
		if got, err = s.GetReconciliation(ctx, "rc2"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(failed, got); diff != "" {
			t.Errorf("failed reconciliation (-want +got):\n%s", diff)
		}
	})
}

func runTaskTests(t *testing.T, newStore func(t *testing.T) WorklistStore) {
	ctx := context.Background()

	t.Run("create tasks is idempotent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if _, err := s.GetTask(ctx, "t1"); !errors.Is(err, worklist.ErrNotFound) {
			t.Fatalf("GetTask of an unknown id = %v, want ErrNotFound", err)
		}
		first := []worklist.Task{
			task("t1", "g1", worklist.TaskOpen, "2022-12-03"),
			task("t2", "g1", worklist.TaskOpen, "2022-12-03"),
			task("t3", "unassigned", worklist.TaskOpen, "2022-12-03"),
		}
		first[0].Visits = []worklist.Visit{{At: base, By: "w1", Outcome: worklist.NotHomeNoteLeft, RevisitOn: "2022-12-04", Sealed: []byte{1, 0}}}
		mustCreateTasks(t, s, first, 3)
		for _, want := range first {
			if diff := cmp.Diff(want, mustGetTask(t, s, want.ID), taskCmp); diff != "" {
				t.Errorf("task %s (-want +got):\n%s", want.ID, diff)
			}
		}

		// A rerun of the reconciliation: t1 again (with other content, which
		// must not replace it) and t4 new.
		rerun := task("t1", "g2", worklist.TaskOpen, "2022-12-09")
		mustCreateTasks(t, s, []worklist.Task{rerun, first[1], task("t4", "g1", worklist.TaskOpen, "2022-12-09")}, 1)
		if diff := cmp.Diff(first[0], mustGetTask(t, s, "t1"), taskCmp); diff != "" {
			t.Errorf("t1 after the rerun (-want +got):\n%s", diff)
		}
		eventually(t, gridTasksAre(s, "g2", true))
		mustCreateTasks(t, s, nil, 0)
	})

	t.Run("many tasks in one call", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 263 // more than any batch an adapter sends at once
		tasks := make([]worklist.Task, n)
		for i := range n {
			tasks[i] = task(fmt.Sprintf("t%04d", i), fmt.Sprintf("g%d", i%3), worklist.TaskOpen, "2022-12-03")
		}
		mustCreateTasks(t, s, tasks[:100], 100)
		mustCreateTasks(t, s, tasks, n-100)
		eventually(t, openCountsAre(s, map[string]int{"not_in_registry": n}))
		var g0 []string
		for i := 0; i < n; i += 3 {
			g0 = append(g0, tasks[i].ID)
		}
		eventually(t, gridTasksAre(s, "g0", false, g0...))
	})

	t.Run("grid tasks: open and revisit by due date, then closed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustCreateTasks(t, s, []worklist.Task{
			task("a", "g1", worklist.TaskOpen, "2022-12-05"),
			task("b", "g1", worklist.TaskRevisit, "2022-12-03"),
			task("c", "g1", worklist.TaskOpen, "2022-12-04"),
			task("d", "g1", worklist.TaskClosed, "2022-12-01"),
			task("e", "g1", worklist.TaskOpen, "2022-12-04"),
			task("f", "g1", worklist.TaskClosed, "2022-12-02"),
			task("g", "g1", worklist.TaskRevisit, "2022-12-06"),
			task("h", "g10", worklist.TaskOpen, "2022-12-01"), // a grid whose code starts with g1's
			task("i", "g", worklist.TaskOpen, "2022-12-01"),
		}, 9)
		eventually(t, gridTasksAre(s, "g1", false, "b", "c", "e", "a", "g"))
		eventually(t, gridTasksAre(s, "g1", true, "b", "c", "e", "a", "g", "d", "f"))
		eventually(t, gridTasksAre(s, "g10", true, "h"))
		eventually(t, gridTasksAre(s, "g", true, "i"))
		eventually(t, gridTasksAre(s, "g2", true))
	})

	t.Run("grid tasks page by page", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustCreateTasks(t, s, []worklist.Task{
			task("a", "g1", worklist.TaskOpen, "2022-12-05"),
			task("b", "g1", worklist.TaskRevisit, "2022-12-03"),
			task("c", "g1", worklist.TaskOpen, "2022-12-04"),
			task("d", "g1", worklist.TaskClosed, "2022-12-01"),
			task("e", "g1", worklist.TaskOpen, "2022-12-04"),
			task("f", "g1", worklist.TaskClosed, "2022-12-02"),
			task("h", "g10", worklist.TaskOpen, "2022-12-01"),
		}, 7)
		all := []string{"b", "c", "e", "a", "d", "f"}
		eventually(t, gridTasksAre(s, "g1", true, all...))
		for _, limit := range []int{1, 3, 4, 6, 7, 200} {
			got, err := allGridTasks(s, "g1", true, limit)
			if err != nil {
				t.Fatalf("limit %d: %v", limit, err)
			}
			ids := make([]string, len(got))
			for i, tk := range got {
				ids[i] = tk.ID
			}
			if diff := cmp.Diff(all, ids); diff != "" {
				t.Errorf("pages of %d (-want +got):\n%s", limit, diff)
			}
		}

		for _, tc := range []struct {
			name     string
			q        worklist.TaskQuery
			want     []string
			wantNext string
		}{
			{"a full first page", worklist.TaskQuery{GridCode: "g1", Limit: 2}, []string{"b", "c"}, "0#2022-12-04#c"},
			{"the open tasks end exactly at the limit", worklist.TaskQuery{GridCode: "g1", Limit: 4}, []string{"b", "c", "e", "a"}, ""},
			{"the open ones end the page: closed ones follow", worklist.TaskQuery{GridCode: "g1", WithClosed: true, Limit: 4}, []string{"b", "c", "e", "a"}, "0#2022-12-05#a"},
			{"after the last open task", worklist.TaskQuery{GridCode: "g1", WithClosed: true, After: "0#2022-12-05#a", Limit: 4}, []string{"d", "f"}, ""},
			{"after a position no task holds", worklist.TaskQuery{GridCode: "g1", After: "0#2022-12-04#d", Limit: 10}, []string{"e", "a"}, ""},
			{"after a closed position, open tasks only", worklist.TaskQuery{GridCode: "g1", After: "1#2022-12-01#d", Limit: 10}, nil, ""},
			{"after every task", worklist.TaskQuery{GridCode: "g1", WithClosed: true, After: "1#2022-12-02#f", Limit: 10}, nil, ""},
			{"another grid's position", worklist.TaskQuery{GridCode: "g10", After: "0#2022-12-01#h", Limit: 10}, nil, ""},
		} {
			page, err := s.GridTasks(ctx, tc.q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			ids := make([]string, len(page.Tasks))
			for i, tk := range page.Tasks {
				ids[i] = tk.ID
			}
			if diff := cmp.Diff(tc.want, ids, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
			if page.Next != tc.wantNext {
				t.Errorf("%s: next %q, want %q", tc.name, page.Next, tc.wantNext)
			}
		}
		for _, bad := range []worklist.TaskQuery{{GridCode: "g1"}, {GridCode: "g1", Limit: -1}, {GridCode: "g1", Limit: 10, After: "2#2022-12-01#d"}} {
			if _, err := s.GridTasks(ctx, bad); err == nil {
				t.Errorf("GridTasks(%+v) = nil error, want one", bad)
			}
		}
	})

	t.Run("update task is conditional and moves its grid", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustCreateTasks(t, s, []worklist.Task{
			task("t1", "g1", worklist.TaskOpen, "2022-12-03"),
			task("t2", "g1", worklist.TaskOpen, "2022-12-04"),
			task("t3", "g2", worklist.TaskOpen, "2022-12-05"),
		}, 3)
		eventually(t, gridTasksAre(s, "g1", false, "t1", "t2"))

		read := mustGetTask(t, s, "t1")
		visited := read
		visited.Version = 1
		visited.Status, visited.Outcome, visited.DueOn = worklist.TaskRevisit, worklist.NotHomeNoteLeft, "2022-12-06"
		visited.UpdatedAt = base.Add(2 * time.Hour)
		visited.Visits = append(visited.Visits, worklist.Visit{At: base.Add(2 * time.Hour), By: "w1",
			Outcome: worklist.NotHomeNoteLeft, RevisitOn: "2022-12-06", Sealed: []byte("note\x00")})
		if err := s.UpdateTask(ctx, visited, 0); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(visited, mustGetTask(t, s, "t1"), taskCmp); diff != "" {
			t.Errorf("after the visit (-want +got):\n%s", diff)
		}
		eventually(t, gridTasksAre(s, "g1", false, "t2", "t1"))

		stale := read
		stale.Version, stale.Status = 1, worklist.TaskClosed
		if err := s.UpdateTask(ctx, stale, 0); !errors.Is(err, worklist.ErrConflict) {
			t.Fatalf("update from a stale version = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff(visited, mustGetTask(t, s, "t1"), taskCmp); diff != "" {
			t.Errorf("a conflicting update changed the task (-want +got):\n%s", diff)
		}

		// The person lives in another grid: the task moves there.
		moved := visited
		moved.Version, moved.GridCode = 2, "g2"
		if err := s.UpdateTask(ctx, moved, 1); err != nil {
			t.Fatal(err)
		}
		eventually(t, gridTasksAre(s, "g1", true, "t2"))
		eventually(t, gridTasksAre(s, "g2", false, "t3", "t1"))

		closed := moved
		closed.Version, closed.Status, closed.Outcome = 3, worklist.TaskClosed, worklist.Verified
		if err := s.UpdateTask(ctx, closed, 2); err != nil {
			t.Fatal(err)
		}
		eventually(t, gridTasksAre(s, "g2", false, "t3"))
		eventually(t, gridTasksAre(s, "g2", true, "t3", "t1"))

		unknown := task("nope", "g1", worklist.TaskClosed, "2022-12-03")
		unknown.Version = 1
		err := s.UpdateTask(ctx, unknown, 0)
		if !errors.Is(err, worklist.ErrConflict) && !errors.Is(err, worklist.ErrNotFound) {
			t.Errorf("update of an unknown task = %v, want ErrConflict or ErrNotFound", err)
		}
		if _, err := s.GetTask(ctx, "nope"); !errors.Is(err, worklist.ErrNotFound) {
			t.Errorf("an update created the unknown task: GetTask = %v", err)
		}
	})

	t.Run("concurrent updates of one version: one wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustCreateTasks(t, s, []worklist.Task{task("t1", "g1", worklist.TaskOpen, "2022-12-03")}, 1)
		read := mustGetTask(t, s, "t1")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := read
				u.Version = 1
				u.Visits = []worklist.Visit{{At: base.Add(time.Hour), By: fmt.Sprintf("w%d", i), Outcome: worklist.Verified}}
				errs[i] = s.UpdateTask(ctx, u, 0)
			}()
		}
		wg.Wait()
		oneWins(t, errs, worklist.ErrConflict)
		if got := mustGetTask(t, s, "t1"); got.Version != 1 || len(got.Visits) != 1 {
			t.Errorf("after the race: version %d, %d visits; want 1 and 1", got.Version, len(got.Visits))
		}
	})

	t.Run("open task counts by reason", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		eventually(t, openCountsAre(s, map[string]int{}))
		nat := task("n1", "g2", worklist.TaskOpen, "2022-12-03")
		nat.Reason = "not_in_" + worklist.KindNAT
		mustCreateTasks(t, s, []worklist.Task{
			task("r1", "g1", worklist.TaskOpen, "2022-12-03"),
			task("r2", "g1", worklist.TaskRevisit, "2022-12-03"),
			task("r3", "unassigned", worklist.TaskOpen, "2022-12-03"),
			task("r4", "g1", worklist.TaskClosed, "2022-12-03"),
			nat,
		}, 5)
		eventually(t, openCountsAre(s, map[string]int{"not_in_registry": 3, "not_in_nat": 1}))

		done := mustGetTask(t, s, "n1")
		done.Version, done.Status = 1, worklist.TaskClosed
		if err := s.UpdateTask(ctx, done, 0); err != nil {
			t.Fatal(err)
		}
		eventually(t, openCountsAre(s, map[string]int{"not_in_registry": 3}))
	})
}
