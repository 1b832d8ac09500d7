package worklist

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/retention"
)

// DefaultRetention is how long a task, and an uploaded list, is kept: the
// lists carry personal data and are only worth a few weekly rounds.
const DefaultRetention = retention.Default

// TaskExpiresAt is when a task expires, with its visits (unix seconds):
// period (retention.Or) after the latest of its creation, the start of its
// due day (a revisit planned ahead is kept past it) and its last visit
// (the one that closed it, for a closed task).
func TaskExpiresAt(t Task, period time.Duration) int64 {
	due, _ := dates.Start(t.DueOn) // zero for no date: ignored
	times := []time.Time{t.CreatedAt, due}
	if n := len(t.Visits); n > 0 {
		times = append(times, t.Visits[n-1].At)
	}
	return retention.Until(period, times...)
}

// CodeInvalidReconciliation refuses a comparison of a list with itself.
const CodeInvalidReconciliation = "invalid_reconciliation"

// ReasonSameList is the reason of listB when it names list A again.
const ReasonSameList = "same_as_list_a"

// taskBatch is how many tasks go to the store in one CreateTasks call:
// one bbolt transaction, or 40 DynamoDB batches of 25.
const taskBatch = 1000

// registryBatch bounds one GetPeople call.
const registryBatch = 1000

// Reconciler compares two lists, or a list and the registry, and turns
// the people in the first but not the second into verification tasks.
type Reconciler struct {
	Lists    Store
	Registry registry.Store
	Vault    *pii.Vault
	Now      func() time.Time
	// Retention sets the tasks' ExpiresAt; DefaultRetention when zero.
	Retention time.Duration
}

// side is one list of a comparison, keys only.
type side struct {
	kind string
	// keys in list order; for the registry, in map order.
	keys []string
	// grids[i] is the grid hint of keys[i] (the registry's grid for the
	// registry).
	grids []string
	// chunkStart[n] is the index in keys of chunk n's first row.
	chunkStart []int
}

// missing is one person of A not in B.
type missing struct {
	key   string
	hint  string // the grid hint of A's row
	chunk int    // A's chunk holding the row; -1 for the registry
	row   int    // the row within the chunk
}

// Run compares list a with list b (either may be RegistryList) and creates
// a task for every person of a that b does not have. Reruns create nothing
// new: a task's id is a keyed hash of (a, b, person), so a closed task
// stays closed. An unknown list is ErrNotFound; a == b is a *fields.Error.
//
// A task goes to the person's registry grid, else to the grid of the
// community in a's row, else to the district pool (grid.Unassigned). Its
// evidence is a's row, or the registry entry when a is the registry. When
// a is the registry, people it has as moved out are not looked for on b
// (nor counted as missing): they are expected to be absent.
//
// Only keys are compared; the sealed evidence is opened only for the chunks
// of a that hold someone missing, so two district-wide lists with a few
// percent difference compare in seconds.
//
// Run makes a new reconciliation id and records the result as done; the
// HTTP API queues a Job instead (Start) and the worker runs it (RunJob).
func (rc *Reconciler) Run(ctx context.Context, a, b string) (Reconciliation, error) {
	return rc.run(ctx, Job{ReconciliationID: newID("c", rc.Now()), ListA: a, ListB: b})
}

// sameList refuses a comparison of a list with itself.
func sameList(a, b string) error {
	if a == b {
		return &fields.Error{Code: CodeInvalidReconciliation, Problems: []fields.Problem{{Field: "listB", Reason: ReasonSameList}}}
	}
	return nil
}

// run compares j's lists and records the result, done, under j's id.
func (rc *Reconciler) run(ctx context.Context, j Job) (Reconciliation, error) {
	start := rc.Now()
	a, b := j.ListA, j.ListB
	if err := sameList(a, b); err != nil {
		return Reconciliation{}, err
	}
	sideA, err := rc.load(ctx, a)
	if err != nil {
		return Reconciliation{}, err
	}
	sideB, err := rc.load(ctx, b)
	if err != nil {
		return Reconciliation{}, err
	}

	inB := make(map[string]struct{}, len(sideB.keys))
	for _, k := range sideB.keys {
		inB[k] = struct{}{}
	}
	var gone []missing
	for n := range max(len(sideA.chunkStart), 1) {
		from, to := 0, len(sideA.keys)
		if len(sideA.chunkStart) > 0 {
			from = sideA.chunkStart[n]
			if n+1 < len(sideA.chunkStart) {
				to = sideA.chunkStart[n+1]
			}
		}
		for i := from; i < to; i++ {
			if _, ok := inB[sideA.keys[i]]; ok {
				continue
			}
			m := missing{key: sideA.keys[i], hint: sideA.grids[i], chunk: -1}
			if a != RegistryList {
				m.chunk, m.row = n, i-from
			}
			gone = append(gone, m)
		}
	}
	inB = nil

	// The registry's own entry places a person better than a list's
	// community column does; people who moved out are no longer expected
	// on any list, so the registry's side skips them.
	var people map[string]registry.Person
	if b != RegistryList && rc.Registry != nil {
		if people, err = rc.registryPeople(ctx, gone); err != nil {
			return Reconciliation{}, err
		}
	}
	if a == RegistryList {
		kept := gone[:0]
		for _, m := range gone {
			if p, ok := people[m.key]; !ok || p.Status != registry.StatusMovedOut {
				kept = append(kept, m)
			}
		}
		gone = kept
	}

	res := Reconciliation{
		ID: j.ReconciliationID, Status: ReconciliationDone, ListA: a, ListB: b,
		RowsA: len(sideA.keys), RowsB: len(sideB.keys), Missing: len(gone), At: start.UTC(),
	}
	tb := taskBuilder{rc: rc, a: a, b: b, reason: "not_in_" + sideB.kind, now: start, people: people}
	created, toPool, err := tb.createAll(ctx, gone)
	if err != nil {
		return Reconciliation{}, err
	}
	res.Created, res.ToPool = created, toPool
	res.Seconds = rc.Now().Sub(start).Seconds()
	if err := rc.Lists.PutReconciliation(ctx, res); err != nil {
		return Reconciliation{}, fmt.Errorf("record reconciliation of %s and %s: %w", a, b, err)
	}
	return res, nil
}

// load reads the keys of a list or of the registry.
func (rc *Reconciler) load(ctx context.Context, id string) (side, error) {
	if id == RegistryList {
		if rc.Registry == nil {
			return side{}, fmt.Errorf("reconcile: no registry configured: %w", ErrNotFound)
		}
		all, err := rc.Registry.PersonKeys(ctx)
		if err != nil {
			return side{}, fmt.Errorf("registry keys: %w", err)
		}
		s := side{kind: KindRegistry, keys: make([]string, 0, len(all)), grids: make([]string, 0, len(all))}
		for k, g := range all {
			s.keys = append(s.keys, k)
			s.grids = append(s.grids, g)
		}
		return s, nil
	}
	l, err := rc.Lists.GetList(ctx, id)
	if err != nil {
		return side{}, fmt.Errorf("list %s: %w", id, err)
	}
	chunks, err := rc.Lists.Chunks(ctx, id, false)
	if err != nil {
		return side{}, fmt.Errorf("chunks of list %s: %w", id, err)
	}
	s := side{kind: l.Kind, keys: make([]string, 0, l.Rows), grids: make([]string, 0, l.Rows), chunkStart: make([]int, len(chunks))}
	for i, c := range chunks {
		if c.N != i {
			return side{}, fmt.Errorf("list %s: chunk %d stored as %d", id, i, c.N)
		}
		if len(c.Grids) != len(c.Keys) {
			return side{}, fmt.Errorf("list %s chunk %d: %d grids for %d keys", id, i, len(c.Grids), len(c.Keys))
		}
		s.chunkStart[i] = len(s.keys)
		s.keys = append(s.keys, c.Keys...)
		s.grids = append(s.grids, c.Grids...)
	}
	return s, nil
}

// registryPeople reads the registry entries of the missing people.
func (rc *Reconciler) registryPeople(ctx context.Context, gone []missing) (map[string]registry.Person, error) {
	people := make(map[string]registry.Person)
	keys := make([]string, 0, registryBatch)
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		got, err := rc.Registry.GetPeople(ctx, keys)
		if err != nil {
			return fmt.Errorf("registry entries of missing people: %w", err)
		}
		for k, p := range got {
			people[k] = p
		}
		keys = keys[:0]
		return nil
	}
	for _, m := range gone {
		keys = append(keys, m.key)
		if len(keys) == registryBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	return people, flush()
}

// taskBuilder turns missing people into tasks, opening each needed chunk
// of list A once, in parallel, and storing tasks in batches.
type taskBuilder struct {
	rc     *Reconciler
	a, b   string
	reason string
	now    time.Time
	people map[string]registry.Person
}

// TaskID is the id of the task for a person of list a missing from list b:
// keyed, so it reveals nothing, and stable, so a rerun finds it.
func TaskID(v *pii.Vault, a, b, personKey string) string {
	return "t" + v.Lookup("task", a, b, personKey)[:24]
}

func (tb *taskBuilder) createAll(ctx context.Context, gone []missing) (created, toPool int, err error) {
	// Work units: the missing people of one chunk of A (or a slice of the
	// registry's), so each chunk's evidence is opened by one worker.
	var units [][]missing
	for i := 0; i < len(gone); {
		j := i + 1
		for j < len(gone) && (gone[j].chunk == gone[i].chunk && gone[i].chunk >= 0 || gone[i].chunk < 0 && j-i < registryBatch) {
			j++
		}
		units = append(units, gone[i:j])
		i = j
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan []missing)
	built := make(chan []Task, 4)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		errMu.Unlock()
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				tasks, err := tb.build(ctx, u)
				if err != nil {
					fail(err)
					continue
				}
				select {
				case built <- tasks:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, u := range units {
			select {
			case work <- u:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(built) }()

	batch := make([]Task, 0, taskBatch)
	store := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := tb.rc.Lists.CreateTasks(ctx, batch)
		if err != nil {
			return fmt.Errorf("create tasks of %s against %s: %w", tb.a, tb.b, err)
		}
		created += n
		batch = batch[:0]
		return nil
	}
	// The loop drains built to the end, so no worker is left blocked.
	for tasks := range built {
		if ctx.Err() != nil {
			continue
		}
		for _, t := range tasks {
			if t.GridCode == grid.Unassigned {
				toPool++
			}
		}
		batch = append(batch, tasks...)
		if len(batch) >= taskBatch {
			if err := store(); err != nil {
				fail(err)
			}
		}
	}
	if ctx.Err() == nil {
		if err := store(); err != nil {
			fail(err)
		}
	}
	errMu.Lock()
	defer errMu.Unlock()
	if firstErr == nil {
		firstErr = ctx.Err() // the caller's context ended
	}
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return created, toPool, nil
}

// build makes the tasks of one unit.
func (tb *taskBuilder) build(ctx context.Context, unit []missing) ([]Task, error) {
	v := tb.rc.Vault
	var rows []json.RawMessage
	if c := unit[0].chunk; c >= 0 {
		chunk, err := tb.rc.Lists.Chunk(ctx, tb.a, c)
		if err != nil {
			return nil, fmt.Errorf("chunk %d of list %s: %w", c, tb.a, err)
		}
		// Only the missing people's rows are decoded: a chunk has a
		// thousand, and typically a few dozen are wanted.
		if rows, err = openChunkRows(v, chunk); err != nil {
			return nil, err
		}
	}
	today := dates.Today(tb.now)
	tasks := make([]Task, 0, len(unit))
	for _, m := range unit {
		t := Task{
			ID: TaskID(v, tb.a, tb.b, m.key), Reason: tb.reason, ListA: tb.a, ListB: tb.b, PersonKey: m.key,
			Status: TaskOpen, DueOn: today, Version: 1, CreatedAt: tb.now.UTC(), UpdatedAt: tb.now.UTC(),
		}
		t.ExpiresAt = TaskExpiresAt(t, tb.rc.Retention)
		p, inRegistry := tb.people[m.key]
		switch {
		case inRegistry && p.GridCode != "" && p.GridCode != grid.Unassigned:
			t.GridCode = p.GridCode
		case m.hint != "":
			t.GridCode = m.hint
		default:
			t.GridCode = grid.Unassigned
		}
		var ev Evidence
		if m.chunk >= 0 {
			if m.row >= len(rows) {
				return nil, fmt.Errorf("chunk %d of list %s: row %d of %d", m.chunk, tb.a, m.row, len(rows))
			}
			if err := json.Unmarshal(rows[m.row], &ev); err != nil {
				return nil, fmt.Errorf("chunk %d of list %s: row %d: %w", m.chunk, tb.a, m.row, err)
			}
		} else {
			var err error
			if ev, err = registryEvidence(v, p); err != nil {
				return nil, err
			}
		}
		sealed, err := v.SealJSON(ev, t.ID)
		if err != nil {
			return nil, fmt.Errorf("seal evidence of task %s: %w", t.ID, err)
		}
		t.EvidenceSealed = sealed
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// registryEvidence is what the registry says about a person, as a list row.
func registryEvidence(v *pii.Vault, p registry.Person) (Evidence, error) {
	if p.Key == "" {
		return Evidence{}, nil
	}
	personal, err := registry.Open(v, p)
	if err != nil {
		return Evidence{}, fmt.Errorf("registry entry for a task: %w", err)
	}
	return Evidence{
		Name: personal.Name, IDType: string(p.IDType), IDNumber: personal.IDNumber, Phone: personal.Phone,
		Community: p.Community, Address: personal.Address,
	}, nil
}

// chunkContext binds a chunk's sealed evidence to the list and chunk.
func chunkContext(listID string, n int) string { return listID + "/" + strconv.Itoa(n) }

// openChunkRows opens a chunk's evidence, leaving each row undecoded.
func openChunkRows(v *pii.Vault, c Chunk) ([]json.RawMessage, error) {
	rows, err := pii.OpenJSON[[]json.RawMessage](v, c.Sealed, chunkContext(c.ListID, c.N))
	if err != nil {
		return nil, fmt.Errorf("open chunk %d of list %s: %w", c.N, c.ListID, err)
	}
	if len(rows) != len(c.Keys) {
		return nil, fmt.Errorf("chunk %d of list %s: %d rows of evidence for %d keys", c.N, c.ListID, len(rows), len(c.Keys))
	}
	return rows, nil
}

// newID is a prefix, the instant in base 36 (so ids sort by time) and
// random bits (so two at the same millisecond differ).
func newID(prefix string, now time.Time) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+).
		panic(errors.Join(errors.New("worklist: random id"), err))
	}
	return prefix + strconv.FormatInt(now.UnixMilli(), 36) + hex.EncodeToString(b[:])
}
