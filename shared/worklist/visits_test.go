package worklist_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/registry"
	"gridcode/shared/worklist"
)

// visitFixture has three tasks: resident 3 (on the NAT list, not in the
// registry, grid 白沙), resident 4 (the same, in the pool) and resident 6
// (in the registry, not on the NAT list).
type visitFixture struct {
	*reconcileFixture
	three, four, six string // task ids
}

func newVisitFixture(t *testing.T) *visitFixture {
	t.Helper()
	f := &visitFixture{reconcileFixture: newReconcileFixture(t)}
	for _, run := range [][2]string{{f.nat.ID, worklist.RegistryList}, {worklist.RegistryList, f.nat.ID}} {
		if _, err := f.reconciler().Run(context.Background(), run[0], run[1]); err != nil {
			t.Fatal(err)
		}
	}
	f.three = worklist.TaskID(f.vault, f.nat.ID, worklist.RegistryList, f.key(residentID(3)))
	f.four = worklist.TaskID(f.vault, f.nat.ID, worklist.RegistryList, f.key(residentID(4)))
	f.six = worklist.TaskID(f.vault, worklist.RegistryList, f.nat.ID, f.key(residentID(6)))
	for _, id := range []string{f.three, f.four, f.six} {
		if _, err := f.desk().Get(context.Background(), id); err != nil {
			t.Fatalf("fixture task: %v", err)
		}
	}
	return f
}

func (f *visitFixture) visit(t *testing.T, taskID string, in worklist.VisitInput) worklist.Task {
	t.Helper()
	task, _, err := f.desk().Visit(context.Background(), "worker-1", taskID, in)
	if err != nil {
		t.Fatalf("visit: %v", err)
	}
	return task
}

// registrySnapshot is the stored entries of residents ns, to tell that a
// visit left them alone.
func (f *visitFixture) registrySnapshot(t *testing.T, ns ...int) map[int]registry.Person {
	t.Helper()
	out := map[int]registry.Person{}
	for _, n := range ns {
		if p, ok := f.person(t, f.key(residentID(n))); ok {
			out[n] = p
		}
	}
	return out
}

func TestVisitOutcomes(t *testing.T) {
	t.Parallel()
	corrected := entry(3, "白沙社区", "白沙大道5号")
	corrected.Name = " 三 "
	corrected.Phone = "+86 139 0013 9000"
	newPerson := entry(8, "", "白沙大道5号之一")
	newPersonShort := entry(8, "白沙", "白沙大道5号之二")
	newPersonElsewhere := entry(8, "石冲社区", "长庚里5号")

	for _, tc := range []struct {
		name      string
		task      func(f *visitFixture) string
		in        worklist.VisitInput
		wantWrote int // the resident whose registry entry the visit wrote, 0 for none
		check     func(t *testing.T, f *visitFixture, task worklist.Task, details worklist.VisitDetails)
	}{
		{
			name:      "verified with the registry entry corrected",
			task:      func(f *visitFixture) string { return f.three },
			in:        worklist.VisitInput{Outcome: worklist.Verified, Corrected: &corrected, Remark: "租户,与房东核实"},
			wantWrote: 3,
			check: func(t *testing.T, f *visitFixture, task worklist.Task, d worklist.VisitDetails) {
				p, ok := f.person(t, f.key(residentID(3)))
				if !ok {
					t.Fatal("the corrected person is not in the registry")
				}
				if p.Source != task.ID || p.Status != registry.StatusActive || p.GridCode != baisha.Code {
					t.Errorf("registry entry source %q status %q grid %q", p.Source, p.Status, p.GridCode)
				}
				personal, err := registry.Open(f.vault, p)
				if err != nil {
					t.Fatal(err)
				}
				if personal.Name != "三" || personal.Phone != "13900139000" || personal.Address != "白沙大道5号" {
					t.Errorf("registry entry %+v: want the corrected, normalised data", personal)
				}
				if d.Corrected == nil || d.Corrected.Name != "三" || d.Remark != "租户,与房东核实" {
					t.Errorf("visit details %+v", d)
				}
			},
		},
		{
			name: "verified as registered: the registry is left alone",
			task: func(f *visitFixture) string { return f.six },
			in:   worklist.VisitInput{Outcome: worklist.Verified},
			check: func(t *testing.T, f *visitFixture, task worklist.Task, d worklist.VisitDetails) {
				p, _ := f.person(t, f.key(residentID(6)))
				if p.Source != "import-test" {
					t.Errorf("registry entry rewritten by %q", p.Source)
				}
				if len(task.Visits[0].Sealed) != 0 || d != (worklist.VisitDetails{}) {
					t.Errorf("a visit without personal data sealed %d bytes", len(task.Visits[0].Sealed))
				}
			},
		},
		{
			name:      "moved out",
			task:      func(f *visitFixture) string { return f.six },
			in:        worklist.VisitInput{Outcome: worklist.MovedOut},
			wantWrote: 6,
			check: func(t *testing.T, f *visitFixture, task worklist.Task, d worklist.VisitDetails) {
				p, _ := f.person(t, f.key(residentID(6)))
				if p.Status != registry.StatusMovedOut || p.Source != task.ID {
					t.Errorf("registry entry status %q source %q, want moved out by the task", p.Status, p.Source)
				}
				personal, err := registry.Open(f.vault, p)
				if err != nil || personal.Name != "居民6" {
					t.Errorf("moved-out entry opens to %+v, %v", personal, err)
				}
			},
		},
		{
			name: "moved out, never registered",
			task: func(f *visitFixture) string { return f.four },
			in:   worklist.VisitInput{Outcome: worklist.MovedOut},
			check: func(t *testing.T, f *visitFixture, task worklist.Task, d worklist.VisitDetails) {
				if _, ok := f.person(t, f.key(residentID(4))); ok {
					t.Error("moving out someone unregistered registered them")
				}
			},
		},
		{
			name:      "a new person found, in the task's community",
			task:      func(f *visitFixture) string { return f.three },
			in:        worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &newPerson},
			wantWrote: 8,
			check: func(t *testing.T, f *visitFixture, task worklist.Task, d worklist.VisitDetails) {
				p, ok := f.person(t, f.key(residentID(8)))
				if !ok {
					t.Fatal("the new person is not in the registry")
				}
				if p.Community != baisha.Community || p.GridCode != baisha.Code || p.Source != task.ID {
					t.Errorf("new person in %q grid %q source %q, want the task's community", p.Community, p.GridCode, p.Source)
				}
				if d.NewPerson == nil || d.NewPerson.IDNumber != residentID(8) {
					t.Errorf("visit details %+v", d)
				}
			},
		},
		{
			name:      "a new person found, the task's community written short",
			task:      func(f *visitFixture) string { return f.three },
			in:        worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &newPersonShort},
			wantWrote: 8,
			check: func(t *testing.T, f *visitFixture, task worklist.Task, d worklist.VisitDetails) {
				p, _ := f.person(t, f.key(residentID(8)))
				if p.Community != baisha.Community || p.GridCode != baisha.Code {
					t.Errorf("new person in %q grid %q, want 白沙社区", p.Community, p.GridCode)
				}
			},
		},
		{
			name:      "a new person found by the district office on a pool task, in any community",
			task:      func(f *visitFixture) string { return f.four },
			in:        worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &newPersonElsewhere},
			wantWrote: 8,
			check: func(t *testing.T, f *visitFixture, task worklist.Task, d worklist.VisitDetails) {
				p, _ := f.person(t, f.key(residentID(8)))
				if p.Community != shichong1.Community || p.GridCode == grid.Unassigned {
					t.Errorf("new person in %q grid %q, want 石冲社区", p.Community, p.GridCode)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newVisitFixture(t)
			id := tc.task(f)
			task, wrote, err := f.desk().Visit(context.Background(), "worker-1", id, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: f.key(residentID(tc.wantWrote)), false: ""}[tc.wantWrote != 0]; wrote != want {
				t.Errorf("the visit says it wrote %q, want resident %d's %q", wrote, tc.wantWrote, want)
			}
			if task.Status != worklist.TaskClosed || task.Outcome != tc.in.Outcome || task.Version != 2 || !task.UpdatedAt.Equal(monday) {
				t.Errorf("task status %q outcome %q version %d", task.Status, task.Outcome, task.Version)
			}
			wantVisit := worklist.Visit{At: monday, By: "worker-1", Outcome: tc.in.Outcome, Sealed: task.Visits[0].Sealed}
			if diff := cmp.Diff([]worklist.Visit{wantVisit}, task.Visits); diff != "" {
				t.Errorf("visits (-want +got):\n%s", diff)
			}
			stored, err := f.desk().Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(task, stored); diff != "" {
				t.Errorf("stored task (-returned +stored):\n%s", diff)
			}
			d, err := worklist.OpenVisit(f.vault, stored, 0)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, f, stored, d)

			_, _, err = f.desk().Visit(context.Background(), "worker-2", id, worklist.VisitInput{Outcome: worklist.Verified})
			if !errors.Is(err, worklist.ErrClosed) {
				t.Errorf("visiting a closed task: %v, want ErrClosed", err)
			}
		})
	}
}

func TestVisitNotHomeThenVerified(t *testing.T) {
	t.Parallel()
	f := newVisitFixture(t)
	task := f.visit(t, f.four, worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft, NotePhone: "１３９００１３９０００"})
	if task.Status != worklist.TaskRevisit || task.DueOn != "2026-12-01" || task.Visits[0].RevisitOn != "2026-12-01" {
		t.Errorf("after a note: status %q due %s revisit %s, want revisit tomorrow", task.Status, task.DueOn, task.Visits[0].RevisitOn)
	}
	d, err := worklist.OpenVisit(f.vault, task, 0)
	if err != nil || d.NotePhone != "13900139000" {
		t.Errorf("note phone %q, %v", d.NotePhone, err)
	}
	if strings.Contains(string(task.Visits[0].Sealed), "13900139000") {
		t.Error("the note's phone is stored in the clear")
	}

	task = f.visit(t, f.four, worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft, NotePhone: "13900139000", RevisitOn: "2026-12-04", Remark: "周末在家"})
	if task.Status != worklist.TaskRevisit || task.DueOn != "2026-12-04" || task.Version != 3 {
		t.Errorf("second note: status %q due %s version %d", task.Status, task.DueOn, task.Version)
	}
	f.now = f.now.AddDate(0, 0, 4)
	task = f.visit(t, f.four, worklist.VisitInput{Outcome: worklist.Verified})
	if task.Status != worklist.TaskClosed || len(task.Visits) != 3 || task.Version != 4 {
		t.Fatalf("after the third visit: status %q, %d visits, version %d", task.Status, len(task.Visits), task.Version)
	}
	d, err = worklist.OpenVisit(f.vault, task, 1)
	if err != nil || d.Remark != "周末在家" {
		t.Errorf("second visit details %+v, %v", d, err)
	}
	// Each visit's data is bound to its place in the history.
	swapped := task
	swapped.Visits = []worklist.Visit{task.Visits[1], task.Visits[0]}
	if _, err := worklist.OpenVisit(f.vault, swapped, 0); err == nil {
		t.Error("a visit's data opened at another place in the history")
	}
	if _, err := worklist.OpenVisit(f.vault, task, 3); !errors.Is(err, worklist.ErrNotFound) {
		t.Errorf("visit 3 of 3: %v, want ErrNotFound", err)
	}
}

func TestVisitRefusesBadInput(t *testing.T) {
	t.Parallel()
	other := entry(9, "白沙社区", "白沙大道5号")
	bad := registry.Entry{Personal: registry.Personal{Name: "", IDNumber: residentID(8)[:17] + "0", Phone: "12345", Address: "x"},
		IDType: idcard.ResidentID, Community: "白沙社区", ResidentType: "tourist"}
	if residentID(8)[17] == '0' {
		bad.IDNumber = residentID(8)[:17] + "1"
	}
	long := strings.Repeat("很", worklist.MaxRemarkRunes+1)
	// Resident 1 is registered in 石冲: a worker of 白沙 must not rewrite
	// or move their entry as a "new" person.
	registered := entry(1, "", "白沙大道5号")
	registered.Name = "改名"
	elsewhere := entry(8, "石冲社区", "长庚里5号")
	movedAway := entry(3, "石冲", "长庚里5号")
	wrongTown := entry(8, "白沙社区", "白沙大道5号")
	wrongTown.Town = "环市街道"
	for _, tc := range []struct {
		name string
		in   worklist.VisitInput
		want []fields.Problem
	}{
		{"no outcome", worklist.VisitInput{}, []fields.Problem{{Field: "outcome", Reason: "required"}}},
		{"unknown outcome", worklist.VisitInput{Outcome: "gone_fishing"}, []fields.Problem{{Field: "outcome", Reason: "unknown"}}},
		{"note without a phone", worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft}, []fields.Problem{{Field: "notePhone", Reason: "required"}}},
		{"note with a landline, a past day", worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft, NotePhone: "0750-3301234", RevisitOn: "2026-11-29"},
			[]fields.Problem{{Field: "notePhone", Reason: "invalid"}, {Field: "revisitOn", Reason: "past"}}},
		{"revisit on no date", worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft, NotePhone: "13900139000", RevisitOn: "2026-13-01"},
			[]fields.Problem{{Field: "revisitOn", Reason: "invalid"}}},
		{"new person missing", worklist.VisitInput{Outcome: worklist.NewPersonFound}, []fields.Problem{{Field: "newPerson", Reason: "required"}}},
		{"new person with bad fields", worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &bad}, []fields.Problem{
			{Field: "newPerson.name", Reason: "required"}, {Field: "newPerson.idNumber", Reason: "checksum"},
			{Field: "newPerson.phone", Reason: "invalid"}, {Field: "newPerson.residentType", Reason: "unknown"},
		}},
		{"corrected entry of another person", worklist.VisitInput{Outcome: worklist.Verified, Corrected: &other},
			[]fields.Problem{{Field: "corrected.idNumber", Reason: worklist.ReasonOther}}},
		{"fields the outcome does not take", worklist.VisitInput{Outcome: worklist.MovedOut, NotePhone: "13900139000", NewPerson: &other, RevisitOn: "2026-12-01"},
			[]fields.Problem{{Field: "newPerson", Reason: "unexpected"}, {Field: "notePhone", Reason: "unexpected"}, {Field: "revisitOn", Reason: "unexpected"}}},
		{"a new person the registry has", worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &registered},
			[]fields.Problem{{Field: "newPerson.idNumber", Reason: worklist.ReasonRegistered}}},
		{"a new person in another community", worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &elsewhere},
			[]fields.Problem{{Field: "newPerson.community", Reason: worklist.ReasonOutsideTask}}},
		{"a new person in the task's community of another town", worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &wrongTown},
			[]fields.Problem{{Field: "newPerson.community", Reason: worklist.ReasonOutsideTask}}},
		{"corrected into another community", worklist.VisitInput{Outcome: worklist.Verified, Corrected: &movedAway},
			[]fields.Problem{{Field: "corrected.community", Reason: worklist.ReasonOutsideTask}}},
		{"remark too long", worklist.VisitInput{Outcome: worklist.Verified, Remark: long}, []fields.Problem{{Field: "remark", Reason: "too_long"}}},
		{"remark with a control character", worklist.VisitInput{Outcome: worklist.Verified, Remark: "a\u202eb"}, []fields.Problem{{Field: "remark", Reason: "invalid_characters"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newVisitFixture(t)
			before := f.registrySnapshot(t, 1, 2, 6, 7)
			_, _, err := f.desk().Visit(context.Background(), "worker-1", f.three, tc.in)
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != worklist.CodeInvalidVisit {
				t.Fatalf("error %v: want a *fields.Error %s", err, worklist.CodeInvalidVisit)
			}
			if diff := cmp.Diff(tc.want, fe.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			task, err := f.desk().Get(context.Background(), f.three)
			if err != nil || task.Version != 1 || len(task.Visits) != 0 {
				t.Errorf("task after a refused visit: version %d, %d visits, %v", task.Version, len(task.Visits), err)
			}
			for _, n := range []int{3, 8, 9} {
				if _, ok := f.person(t, f.key(residentID(n))); ok {
					t.Errorf("a refused visit registered resident %d", n)
				}
			}
			if diff := cmp.Diff(before, f.registrySnapshot(t, 1, 2, 6, 7)); diff != "" {
				t.Errorf("a refused visit changed the registry (-before +after):\n%s", diff)
			}
		})
	}
}

func TestVisitUnknownTask(t *testing.T) {
	t.Parallel()
	f := newVisitFixture(t)
	_, _, err := f.desk().Visit(context.Background(), "worker-1", "tnope", worklist.VisitInput{Outcome: worklist.Verified})
	if !errors.Is(err, worklist.ErrNotFound) {
		t.Errorf("error %v, want ErrNotFound", err)
	}
}

// staleTasks hands out the task as it was when the wrapper was made: the
// worker's screen after someone else's visit.
type staleTasks struct {
	worklist.Store
	stale worklist.Task
}

func (s staleTasks) GetTask(context.Context, string) (worklist.Task, error) { return s.stale, nil }

// TestVisitConflict: two workers visit one task at once; the one whose
// task write loses is refused, and its visit changes nothing, in the task
// or in the registry (resident 6 is registered).
func TestVisitConflict(t *testing.T) {
	t.Parallel()
	f := newVisitFixture(t)
	before, err := f.desk().Get(context.Background(), f.six)
	if err != nil {
		t.Fatal(err)
	}
	f.visit(t, f.six, worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft, NotePhone: "13900139000"})
	registered := f.registrySnapshot(t, 6)

	late := f.desk()
	late.Tasks = staleTasks{Store: f.store, stale: before}
	_, wrote, err := late.Visit(context.Background(), "worker-2", f.six, worklist.VisitInput{Outcome: worklist.MovedOut})
	if !errors.Is(err, worklist.ErrConflict) {
		t.Fatalf("error %v, want ErrConflict", err)
	}
	if n := strings.Count(err.Error(), f.six); n != 1 {
		t.Errorf("error %q names the task %d times, want once", err, n)
	}
	if wrote != "" {
		t.Errorf("a refused visit says it wrote %q", wrote)
	}
	task, _ := f.desk().Get(context.Background(), f.six)
	if task.Status != worklist.TaskRevisit || len(task.Visits) != 1 {
		t.Errorf("the first visit was overwritten: status %q, %d visits", task.Status, len(task.Visits))
	}
	if diff := cmp.Diff(registered, f.registrySnapshot(t, 6)); diff != "" {
		t.Errorf("a refused visit changed the registry (-before +after):\n%s", diff)
	}
}

// failingUpdates fails the first UpdateTask, as a lost connection would.
type failingUpdates struct {
	worklist.Store
	failed *bool
}

var errLost = errors.New("connection lost")

func (s failingUpdates) UpdateTask(ctx context.Context, t worklist.Task, from int) error {
	if !*s.failed {
		*s.failed = true
		return errLost
	}
	return s.Store.UpdateTask(ctx, t, from)
}

// failingPeople fails the first PutPeople, as a lost connection would.
type failingPeople struct {
	registry.Store
	failed *bool
}

func (s failingPeople) PutPeople(ctx context.Context, people []registry.Person) (int, error) {
	if !*s.failed {
		*s.failed = true
		return 0, errLost
	}
	return s.Store.PutPeople(ctx, people)
}

// TestVisitRetry: a visit whose registry write failed is in the task's
// history already; the same worker sending it again gets it applied and
// answered, and nothing is recorded twice.
func TestVisitRetry(t *testing.T) {
	t.Parallel()
	newPerson := entry(8, "白沙社区", "白沙大道7号")
	corrected := entry(3, "白沙社区", "白沙大道5号")
	for _, tc := range []struct {
		name     string
		task     func(f *visitFixture) string
		in       worklist.VisitInput
		resident int
		applied  func(p registry.Person, ok bool) bool
	}{
		{"a new person found", func(f *visitFixture) string { return f.three },
			worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &newPerson, Remark: "新租客"}, 8,
			func(p registry.Person, ok bool) bool { return ok && p.GridCode == baisha.Code }},
		{"verified with a correction", func(f *visitFixture) string { return f.three },
			worklist.VisitInput{Outcome: worklist.Verified, Corrected: &corrected}, 3,
			func(p registry.Person, ok bool) bool { return ok && p.Status == registry.StatusActive }},
		{"moved out", func(f *visitFixture) string { return f.six },
			worklist.VisitInput{Outcome: worklist.MovedOut}, 6,
			func(p registry.Person, ok bool) bool { return ok && p.Status == registry.StatusMovedOut }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newVisitFixture(t)
			id, key := tc.task(f), f.key(residentID(tc.resident))
			d := f.desk()
			failed := false
			d.Registry = failingPeople{Store: f.store, failed: &failed}
			if _, _, err := d.Visit(context.Background(), "worker-1", id, tc.in); !errors.Is(err, errLost) {
				t.Fatalf("first try: %v, want the lost connection", err)
			}
			stored, _ := f.desk().Get(context.Background(), id)
			if stored.Status != worklist.TaskClosed || len(stored.Visits) != 1 {
				t.Fatalf("after the failed registry write: task %q with %d visits, want closed with the visit", stored.Status, len(stored.Visits))
			}
			if p, ok := f.person(t, key); tc.applied(p, ok) {
				t.Fatal("the registry was written although PutPeople failed")
			}

			// The retry comes an hour later, the same day.
			f.now = f.now.Add(time.Hour)
			task, wrote, err := d.Visit(context.Background(), "worker-1", id, tc.in)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if wrote != key {
				t.Errorf("the retry says it wrote %q, want %q", wrote, key)
			}
			if diff := cmp.Diff(stored, task); diff != "" {
				t.Errorf("the retry changed the task (-stored +returned):\n%s", diff)
			}
			p, ok := f.person(t, key)
			if !tc.applied(p, ok) || p.Source != id || !p.UpdatedAt.Equal(monday) {
				t.Errorf("after the retry: entry %+v (present %v); want the visit's effect, by the task, as of the visit", p, ok)
			}
			// Once more: nothing changes, and it still answers.
			if _, wrote, err := d.Visit(context.Background(), "worker-1", id, tc.in); err != nil || wrote != key {
				t.Errorf("second retry: wrote %q, %v", wrote, err)
			}
			if again, _ := f.person(t, key); again.ContentHash != p.ContentHash || !again.UpdatedAt.Equal(p.UpdatedAt) {
				t.Error("the second retry rewrote the registry entry")
			}

			// Not retries: another worker, other details, another day.
			other := tc.in
			other.Remark = "另一次"
			for name, try := range map[string]func() error{
				"another worker": func() error {
					_, _, err := d.Visit(context.Background(), "worker-2", id, tc.in)
					return err
				},
				"other details": func() error {
					_, _, err := d.Visit(context.Background(), "worker-1", id, other)
					return err
				},
				"the next day": func() error {
					late := *d
					late.Now = func() time.Time { return monday.AddDate(0, 0, 1) }
					_, _, err := late.Visit(context.Background(), "worker-1", id, tc.in)
					return err
				},
			} {
				if err := try(); !errors.Is(err, worklist.ErrClosed) {
					t.Errorf("%s: %v, want ErrClosed", name, err)
				}
			}
		})
	}
}

func TestVisitRetryAfterFailedTaskWrite(t *testing.T) {
	t.Parallel()
	f := newVisitFixture(t)
	newPerson := entry(8, "白沙社区", "白沙大道7号")
	d := f.desk()
	failed := false
	d.Tasks = failingUpdates{Store: f.store, failed: &failed}
	in := worklist.VisitInput{Outcome: worklist.NewPersonFound, NewPerson: &newPerson}
	if _, _, err := d.Visit(context.Background(), "worker-1", f.three, in); !errors.Is(err, errLost) {
		t.Fatalf("first try: %v, want the lost connection", err)
	}
	// The task is written first: a visit that did not get into the task's
	// history has no effect on the registry.
	if _, ok := f.person(t, f.key(residentID(8))); ok {
		t.Fatal("the registry was written for a visit the task does not hold")
	}
	task, wrote, err := d.Visit(context.Background(), "worker-1", f.three, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(task.Visits) != 1 || task.Version != 2 || task.Status != worklist.TaskClosed || wrote != f.key(residentID(8)) {
		t.Errorf("after the retry: %d visits, version %d, status %q, wrote %q", len(task.Visits), task.Version, task.Status, wrote)
	}
	p, ok := f.person(t, f.key(residentID(8)))
	if !ok || p.GridCode != baisha.Code {
		t.Errorf("the new person after the retry: %+v, present %v", p, ok)
	}
}

// TestVisitNoteSentAgain: the same note sent twice the same day is one
// visit; left again another day, it is a second one.
func TestVisitNoteSentAgain(t *testing.T) {
	t.Parallel()
	f := newVisitFixture(t)
	note := worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft, NotePhone: "13900139000", RevisitOn: "2026-12-04"}
	first := f.visit(t, f.four, note)
	if again := f.visit(t, f.four, note); again.Version != first.Version || len(again.Visits) != 1 {
		t.Errorf("the same note again: version %d, %d visits; want the first visit only", again.Version, len(again.Visits))
	}
	f.now = f.now.AddDate(0, 0, 1)
	if next := f.visit(t, f.four, note); next.Version != first.Version+1 || len(next.Visits) != 2 {
		t.Errorf("the note left again the next day: version %d, %d visits; want a second visit", next.Version, len(next.Visits))
	}
}
