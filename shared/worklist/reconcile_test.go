package worklist_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/registry"
	"gridcode/shared/worklist"
)

// reconcileFixture: the registry has residents 1, 2, 6 and 7 (moved out);
// the NAT list has 1, 2, 3 and 4; the residence-code list 1 and 3.
type reconcileFixture struct {
	*fixture
	nat, residence worklist.List
	gridOf         map[int]string // the registry's grid of resident n
}

func newReconcileFixture(t *testing.T) *reconcileFixture {
	t.Helper()
	f := &reconcileFixture{fixture: newFixture(t), gridOf: map[int]string{}}
	f.register(t,
		entry(1, "石冲社区", "新塘里96号"),
		entry(2, "白沙社区", "白沙大道1号"),
		entry(6, "石冲社区", "长庚里3号"),
		entry(7, "白沙社区", "白沙大道9号"),
	)
	for _, n := range []int{1, 2, 6, 7} {
		p, ok := f.person(t, f.key(residentID(n)))
		if !ok {
			t.Fatalf("resident %d not in the registry", n)
		}
		if p.GridCode == "" || p.GridCode == grid.Unassigned {
			t.Fatalf("resident %d placed in %q: the fixture needs a real grid", n, p.GridCode)
		}
		f.gridOf[n] = p.GridCode
	}
	seven, _ := f.person(t, f.key(residentID(7)))
	seven.Status = registry.StatusMovedOut
	seven.ContentHash += "-moved"
	if _, err := f.store.PutPeople(context.Background(), []registry.Person{seven}); err != nil {
		t.Fatal(err)
	}

	f.nat = f.upload(t, worklist.KindNAT, "姓名,证件号码,社区,检测点\n"+
		"一,"+residentID(1)+",石冲社区,A点\n"+
		"二,"+residentID(2)+",石冲社区,A点\n"+ // the list says 石冲, the registry 白沙
		"三,"+residentID(3)+",白沙,B点\n"+
		"四,"+residentID(4)+",不知道哪里,C点\n")
	f.residence = f.upload(t, worklist.KindResidenceCode, "证件号码\n"+residentID(1)+"\n"+residentID(3)+"\n")
	return f
}

// tasks are every task, by id.
func (f *fixture) tasks(t *testing.T) map[string]worklist.Task {
	t.Helper()
	out := map[string]worklist.Task{}
	for _, g := range []string{shichong1.Code, shichong2.Code, baisha.Code, grid.Unassigned} {
		q := worklist.TaskQuery{GridCode: g, WithClosed: true, Limit: 100}
		for {
			page, err := f.store.GridTasks(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range page.Tasks {
				out[task.ID] = task
			}
			if page.Next == "" {
				break
			}
			q.After = page.Next
		}
	}
	return out
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	type wantTask struct {
		resident int
		grid     string // "" for the registry's grid of the resident
		evidence worklist.Evidence
	}
	for _, tc := range []struct {
		name       string
		a, b       func(f *reconcileFixture) string
		rowsA      int
		rowsB      int
		reason     string
		want       []wantTask
		wantToPool int
	}{
		{
			name: "a list against the registry", reason: "not_in_registry",
			a: func(f *reconcileFixture) string { return f.nat.ID }, b: func(*reconcileFixture) string { return worklist.RegistryList },
			rowsA: 4, rowsB: 4, wantToPool: 1,
			want: []wantTask{
				{resident: 3, grid: baisha.Code, evidence: worklist.Evidence{Name: "三", IDType: "resident_id", IDNumber: residentID(3), Community: "白沙", Place: "B点"}},
				{resident: 4, grid: grid.Unassigned, evidence: worklist.Evidence{Name: "四", IDType: "resident_id", IDNumber: residentID(4), Community: "不知道哪里", Place: "C点"}},
			},
		},
		{
			name: "the registry against a list: who moved out is not looked for", reason: "not_in_nat",
			a: func(*reconcileFixture) string { return worklist.RegistryList }, b: func(f *reconcileFixture) string { return f.nat.ID },
			rowsA: 4, rowsB: 4,
			want: []wantTask{
				{resident: 6, evidence: worklist.Evidence{Name: "居民6", IDType: "resident_id", IDNumber: residentID(6), Phone: "13800138000", Community: "石冲社区", Address: "长庚里3号"}},
			},
		},
		{
			name: "two lists: the registry's grid beats the list's community", reason: "not_in_residence_code",
			a: func(f *reconcileFixture) string { return f.nat.ID }, b: func(f *reconcileFixture) string { return f.residence.ID },
			rowsA: 4, rowsB: 2, wantToPool: 1,
			want: []wantTask{
				{resident: 2, evidence: worklist.Evidence{Name: "二", IDType: "resident_id", IDNumber: residentID(2), Community: "石冲社区", Place: "A点"}},
				{resident: 4, grid: grid.Unassigned, evidence: worklist.Evidence{Name: "四", IDType: "resident_id", IDNumber: residentID(4), Community: "不知道哪里", Place: "C点"}},
			},
		},
		{
			name: "nobody missing", reason: "not_in_nat",
			a: func(f *reconcileFixture) string { return f.residence.ID }, b: func(f *reconcileFixture) string { return f.nat.ID },
			rowsA: 2, rowsB: 4,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newReconcileFixture(t)
			a, b := tc.a(f), tc.b(f)
			res, err := f.reconciler().Run(context.Background(), a, b)
			if err != nil {
				t.Fatal(err)
			}
			wantRes := worklist.Reconciliation{ID: res.ID, Status: worklist.ReconciliationDone, ListA: a, ListB: b, RowsA: tc.rowsA, RowsB: tc.rowsB,
				Missing: len(tc.want), Created: len(tc.want), ToPool: tc.wantToPool, At: monday}
			if diff := cmp.Diff(wantRes, res); diff != "" {
				t.Errorf("reconciliation (-want +got):\n%s", diff)
			}

			tasks := f.tasks(t)
			if len(tasks) != len(tc.want) {
				t.Errorf("%d tasks, want %d", len(tasks), len(tc.want))
			}
			for _, w := range tc.want {
				key := f.key(residentID(w.resident))
				id := worklist.TaskID(f.vault, a, b, key)
				task, ok := tasks[id]
				if !ok {
					t.Errorf("no task for resident %d", w.resident)
					continue
				}
				wantGrid := w.grid
				if wantGrid == "" {
					wantGrid = f.gridOf[w.resident]
				}
				want := worklist.Task{ID: id, GridCode: wantGrid, Reason: tc.reason, ListA: a, ListB: b, PersonKey: key,
					Status: worklist.TaskOpen, DueOn: "2026-11-30", Version: 1, CreatedAt: monday, UpdatedAt: monday,
					EvidenceSealed: task.EvidenceSealed, ExpiresAt: monday.Add(worklist.DefaultRetention).Unix()}
				if diff := cmp.Diff(want, task); diff != "" {
					t.Errorf("task of resident %d (-want +got):\n%s", w.resident, diff)
				}
				ev, err := worklist.OpenEvidence(f.vault, task)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(w.evidence, ev); diff != "" {
					t.Errorf("evidence of resident %d (-want +got):\n%s", w.resident, diff)
				}
			}

			// A rerun finds the same people and creates nothing.
			f.now = f.now.Add(24 * 60 * 60 * 1e9)
			again, err := f.reconciler().Run(context.Background(), a, b)
			if err != nil {
				t.Fatal(err)
			}
			if again.Missing != len(tc.want) || again.Created != 0 || again.ID == res.ID {
				t.Errorf("rerun: %+v; want %d missing, none created, a new id", again, len(tc.want))
			}
			if n := len(f.tasks(t)); n != len(tc.want) {
				t.Errorf("%d tasks after the rerun, want %d", n, len(tc.want))
			}
		})
	}
}

func TestReconcileRefuses(t *testing.T) {
	t.Parallel()
	f := newReconcileFixture(t)
	for _, tc := range []struct {
		name, a, b string
		check      func(error) bool
	}{
		{"a list with itself", f.nat.ID, f.nat.ID, isFieldsError},
		{"the registry with itself", worklist.RegistryList, worklist.RegistryList, isFieldsError},
		{"an unknown list A", "lnope", f.nat.ID, func(err error) bool { return errors.Is(err, worklist.ErrNotFound) }},
		{"an unknown list B", worklist.RegistryList, "lnope", func(err error) bool { return errors.Is(err, worklist.ErrNotFound) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.reconciler().Run(context.Background(), tc.a, tc.b)
			if !tc.check(err) {
				t.Errorf("error %v", err)
			}
		})
	}
	if n := len(f.tasks(t)); n != 0 {
		t.Errorf("refused comparisons made %d tasks", n)
	}
}

func isFieldsError(err error) bool {
	var fe *fields.Error
	return errors.As(err, &fe) && fe.Code == worklist.CodeInvalidReconciliation
}

// TestReconcileManyChunks compares lists spread over several chunks, with
// the missing people in some chunks only, and a rerun that adds people.
func TestReconcileManyChunks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const people = 3*worklist.ChunkRows + 250
	communities := []string{"石冲社区", "白沙", ""}
	var a, b strings.Builder
	a.WriteString("证件号码,社区,姓名\n")
	b.WriteString("证件号码\n")
	var missing []int
	for i := range people {
		fmt.Fprintf(&a, "%s,%s,人%d\n", residentID(i), communities[i%3], i)
		// Chunk 1 (rows 1000-1999) has nobody missing; the others every 97th.
		if i%97 == 0 && (i < worklist.ChunkRows || i >= 2*worklist.ChunkRows) {
			missing = append(missing, i)
			continue
		}
		fmt.Fprintf(&b, "%s\n", residentID(i))
	}
	listA := f.upload(t, worklist.KindNAT, a.String())
	listB := f.upload(t, worklist.KindVenueCode, b.String())
	res, err := f.reconciler().Run(context.Background(), listA.ID, listB.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantPool := 0
	for _, i := range missing {
		if i%3 == 2 {
			wantPool++
		}
	}
	if res.Missing != len(missing) || res.Created != len(missing) || res.ToPool != wantPool || res.RowsA != people || res.RowsB != people-len(missing) {
		t.Fatalf("reconciliation %+v: want %d missing and created, %d to the pool", res, len(missing), wantPool)
	}
	tasks := f.tasks(t)
	var got []int
	for _, task := range tasks {
		ev, err := worklist.OpenEvidence(f.vault, task)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscanf(ev.Name, "人%d", &n); err != nil {
			t.Fatalf("evidence name %q", ev.Name)
		}
		if ev.IDNumber != residentID(n) || task.PersonKey != f.key(residentID(n)) {
			t.Errorf("task %s: evidence of row %d does not match its person", task.ID, n)
		}
		wantGrid := map[int]string{0: shichong1.Code, 1: baisha.Code, 2: grid.Unassigned}[n%3]
		if task.GridCode != wantGrid {
			t.Errorf("row %d in grid %s, want %s", n, task.GridCode, wantGrid)
		}
		got = append(got, n)
	}
	sort.Ints(got)
	if diff := cmp.Diff(missing, got); diff != "" {
		t.Errorf("tasks for rows (-want +got):\n%s", diff)
	}
}
