package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/infra/bench"
	"gridcode/infra/demo"
	"gridcode/infra/gen"
	"gridcode/infra/local"
	"gridcode/shared/csvin"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/registry/filesource"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/store/embedded"
	"gridcode/shared/worklist"
)

// gridworkOptions size the grid-work benchmarks (issue 5): a registry of
// the district's 800,000 people (districtPeople), imported, searched and
// reconciled against lists.
type gridworkOptions struct {
	scale       float64 // of the district's people, on the embedded store
	dynamoScale float64 // of the district's people, imported into DynamoDB Local
}

const (
	gridworkSeed = 1
	// searchCount queries, the kinds of gen.SearchKinds in turn.
	searchCount = 2000
	// findLimit is the keys per token the registry's Searcher asks Find
	// for (its unexported findLimit): the single-token baseline asks the same.
	findLimit = 500
	// Every listDiffEvery-th person of list A (5%) is someone the registry
	// does not have.
	listDiffEvery, listDiffAt = 20, 7
	// importBatchWorkers is the adapter's batchWorkers: the BatchWriteItem
	// calls one PutPeople has in flight.
	importBatchWorkers = 8
)

func gridworkPeople(scale float64) int { return max(1, int(math.Round(districtPeople*scale))) }

func gridworkRegistry(people int) (*gen.Registry, error) {
	return gen.NewRegistry(gen.Spec{Seed: gridworkSeed, Grids: demo.GridCount, People: people})
}

// writeFile writes a file with write, through a buffer.
func writeFile(path string, write func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

func fileMB(path string) float64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(info.Size()) / (1 << 20)
}

// registryRow is a record of gen's registry file as a registry.Row.
func registryRow(f []string) registry.Row {
	return registry.Row{
		Name: f[0], IDType: f[1], IDNumber: f[2], Phone: f[3], Town: f[4], Community: f[5],
		Address: f[6], ResidentType: f[7], LandlordPhone: f[8],
	}
}

// checkRegistryFile is the import's baseline: the same file read with
// csvin in chunks of the importer's size, each chunk's rows checked
// (registry.CheckRow) and built (registry.Build: tokens, content hash,
// sealing) by GOMAXPROCS workers, as Importer.Run does, and nothing
// stored.
func checkRegistryFile(path string, v *pii.Vault, grids *grid.Directory, want int) (time.Duration, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, err := br.Peek(64 << 10)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, err
	}
	enc, err := csvin.Sniff(head)
	if err != nil {
		return 0, err
	}
	rd := csvin.NewReader(br, enc, 0, 0)
	header, err := rd.Next()
	if err != nil {
		return 0, err
	}
	if !slices.Equal(header.Fields, gen.RegistryHeader) {
		return 0, fmt.Errorf("registry file header %v, want %v", header.Fields, gen.RegistryHeader)
	}
	const chunkRows = 5000 // Importer's default ChunkRows
	workers := runtime.GOMAXPROCS(0)
	chunk := make([]csvin.Record, 0, chunkRows)
	rows, bad := 0, 0
	for eof := false; !eof; {
		chunk = chunk[:0]
		for len(chunk) < chunkRows {
			rec, err := rd.Next()
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				return 0, err
			}
			chunk = append(chunk, rec)
		}
		now := time.Now()
		per := (len(chunk) + workers - 1) / workers
		errs := make([]error, workers)
		badRows := make([]int, workers)
		var wg sync.WaitGroup
		for w := range workers {
			lo, hi := min(w*per, len(chunk)), min((w+1)*per, len(chunk))
			wg.Go(func() {
				for _, rec := range chunk[lo:hi] {
					e, problems := registry.CheckRow(registryRow(rec.Fields), rec.Line, now)
					if len(problems) > 0 {
						badRows[w]++
						continue
					}
					if _, err := registry.Build(v, grids, e, "bench-check", now); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return 0, err
		}
		rows += len(chunk)
		for _, b := range badRows {
			bad += b
		}
	}
	if rows != want || bad > 0 {
		return 0, fmt.Errorf("checked %d rows (%d refused), want %d good ones", rows, bad, want)
	}
	return time.Since(start), nil
}

// benchGridworkEmbedded measures issue 5's grid work on the embedded store
// over a registry of the district's size: the import of registry.csv and
// its rerun, search, and the reconciliation of two lists (and of a list
// with the registry). The store is opened as the CLI (local.Open) opens
// it: default options, an fsync per commit.
func benchGridworkEmbedded(ctx context.Context, o gridworkOptions) ([]row, error) {
	n := gridworkPeople(o.scale)
	dir, err := os.MkdirTemp("", "gridcode-bench-gridwork-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	reg, err := gridworkRegistry(n)
	if err != nil {
		return nil, err
	}
	vault, err := newVault()
	if err != nil {
		return nil, err
	}
	// The directory the CLI's import places people with: the demo
	// district's grids as stored.
	grids, err := demo.Grids(vault)
	if err != nil {
		return nil, err
	}
	directory := grid.NewDirectory(grids)

	path := filepath.Join(dir, gen.RegistryFile)
	start := time.Now()
	if err := writeFile(path, func(w io.Writer) error { return reg.WriteCSV(w, n) }); err != nil {
		return nil, err
	}
	mb := fileMB(path)
	fmt.Fprintf(os.Stderr, "bench gridwork: %s (%s rows, %.0f MB) written in %s\n", gen.RegistryFile, thousands(n), mb, time.Since(start).Round(time.Millisecond))

	checked, err := checkRegistryFile(path, vault, directory, n)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", gen.RegistryFile, err)
	}
	fmt.Fprintf(os.Stderr, "bench gridwork: read, check and build without storing: %s\n", checked.Round(time.Millisecond))

	dbPath := filepath.Join(dir, local.StoreFile)
	st, err := embedded.Open(dbPath)
	if err != nil {
		return nil, err
	}
	closeStore := st.Close
	defer func() { closeStore() }()
	im := &registry.Importer{People: st, Imports: st, Vault: vault, Grids: directory, Now: time.Now}
	src := filesource.File{Path: path}
	start = time.Now()
	run, err := im.Run(ctx, registry.Import{ID: "bench-import", Source: gen.RegistryFile}, src, time.Time{}, nil)
	imported := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if run.Status != registry.ImportDone || run.Rows != n || run.Written != n || run.Bad != 0 {
		return nil, fmt.Errorf("import of %d rows: status %s, %d rows, %d written, %d refused", n, run.Status, run.Rows, run.Written, run.Bad)
	}
	fmt.Fprintf(os.Stderr, "bench gridwork: import %s, %.0f rows/s, store %.0f MB\n", imported.Round(time.Millisecond), perSecond(n, imported), fileMB(dbPath))

	start = time.Now()
	rerun, err := im.Run(ctx, registry.Import{ID: "bench-reimport", Source: gen.RegistryFile}, src, time.Time{}, nil)
	reimported := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("re-import: %w", err)
	}
	if rerun.Written != 0 || rerun.Unchanged != n || rerun.Status != registry.ImportDone {
		return nil, fmt.Errorf("re-import of the same %d rows: status %s, written=%d (want 0), %d unchanged", n, rerun.Status, rerun.Written, rerun.Unchanged)
	}
	fmt.Fprintf(os.Stderr, "bench gridwork: re-import %s, written=%d\n", reimported.Round(time.Millisecond), rerun.Written)

	rows := []row{{
		what: fmt.Sprintf("registry import, embedded store (fsync per commit, as the CLI opens it): %s rows of %s (%.0f MB), Importer defaults (chunks of 5,000, %d workers)",
			thousands(n), gen.RegistryFile, mb, runtime.GOMAXPROCS(0)),
		result:   fmt.Sprintf("%.1f s (target 60 s for 800,000), %.0f rows/s", imported.Seconds(), perSecond(n, imported)),
		baseline: fmt.Sprintf("read the file, CheckRow and Build every row, same chunks and workers, nothing stored: %.1f s, %.0f rows/s", checked.Seconds(), perSecond(n, checked)),
		ratio:    fmt.Sprintf("%.2f", imported.Seconds()/checked.Seconds()),
	}, {
		what:     fmt.Sprintf("registry re-import of the same file, embedded store: %s rows, all unchanged", thousands(n)),
		result:   fmt.Sprintf("%.1f s, %.0f rows/s, written=%d, unchanged=%s", reimported.Seconds(), perSecond(n, reimported), rerun.Written, thousands(rerun.Unchanged)),
		baseline: fmt.Sprintf("read, check and build without storing (as above): %.1f s", checked.Seconds()),
		ratio:    fmt.Sprintf("%.2f", reimported.Seconds()/checked.Seconds()),
	}}

	// The index is built on the first search after the store opens: a
	// restart, then that first search.
	if err := closeStore(); err != nil {
		return nil, err
	}
	closeStore = func() error { return nil }
	start = time.Now()
	st, err = embedded.Open(dbPath)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	opened := time.Since(start)
	searchRow, err := benchSearch(ctx, st, reg, vault, n, opened)
	if err != nil {
		return nil, err
	}
	rows = append(rows, searchRow)

	reconcileRows, err := benchReconcile(ctx, st, reg, vault, directory, dir, n)
	if err != nil {
		return nil, err
	}
	return append(rows, reconcileRows...), nil
}

// latency formats a short duration: microseconds below a millisecond.
func latency(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000)
	}
	return fmt.Sprintf("%.2f ms", ms(d))
}

// quantiles returns the median and the 99th percentile of times, sorting them.
func quantiles(times []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(times)
	return times[len(times)/2], times[len(times)*99/100]
}

// benchSearch runs the first search after opening the store (which builds
// the in-memory index), then searchCount searches of mixed kinds, one at
// a time, beside a single-token Find for each.
func benchSearch(ctx context.Context, st *embedded.Store, reg *gen.Registry, vault *pii.Vault, n int, opened time.Duration) (row, error) {
	searches := reg.Searches(gridworkSeed, searchCount, n)
	s := &registry.Searcher{Store: st, Vault: vault}
	start := time.Now()
	if _, err := s.Search(ctx, searches[0].Query); err != nil {
		return row{}, fmt.Errorf("first search: %w", err)
	}
	first := time.Since(start)

	times := make([]time.Duration, len(searches))
	byKind := map[string][]time.Duration{}
	foundByKind := map[string]int{}
	found := 0
	for i, sr := range searches {
		start := time.Now()
		results, err := s.Search(ctx, sr.Query)
		times[i] = time.Since(start)
		if err != nil {
			return row{}, fmt.Errorf("search %d (%s): %w", i, sr.Kind, err)
		}
		byKind[sr.Kind] = append(byKind[sr.Kind], times[i])
		key := report.PersonLookup(vault, idcard.ResidentID, reg.Row(sr.Person)[2])
		if slices.ContainsFunc(results, func(r registry.Result) bool { return r.Person.Key == key }) {
			found++
			foundByKind[sr.Kind]++
		}
	}
	for _, kind := range gen.SearchKinds {
		p50, p99 := quantiles(byKind[kind])
		fmt.Fprintf(os.Stderr, "bench gridwork: search by %s: p50 %s, p99 %s, the person sought among the results %d of %d times\n",
			kind, latency(p50), latency(p99), foundByKind[kind], len(byKind[kind]))
	}

	// Baseline: the first token of each query (its name as written, or
	// the phone digits) alone, in the same scope, straight from the index.
	base := make([]time.Duration, len(searches))
	for i, sr := range searches {
		qt, err := sr.Query.Tokens(vault)
		if err != nil {
			return row{}, err
		}
		tok := qt.PhoneLast4
		if len(qt.Name) > 0 {
			tok = qt.Name[0]
		}
		start := time.Now()
		if _, err := st.Find(ctx, []string{tok}, sr.Query.Communities, findLimit); err != nil {
			return row{}, err
		}
		base[i] = time.Since(start)
	}
	slowest := slices.Max(times)
	p50, p99 := quantiles(times)
	b50, b99 := quantiles(base)
	return row{
		what: fmt.Sprintf("registry search, embedded store: %s queries over %s people, one at a time, %d each of name in community, pinyin, initials, name + near-miss address, phone last 4; first search after opening the store %.1f s (builds the in-memory index; open %.0f ms)",
			thousands(len(searches)), thousands(n), len(searches)/len(gen.SearchKinds), first.Seconds(), ms(opened)),
		result: fmt.Sprintf("p50 %s, p99 %s (target 20 ms), max %s; the person sought among the results in %.1f%%",
			latency(p50), latency(p99), latency(slowest), 100*float64(found)/float64(len(searches))),
		baseline: fmt.Sprintf("single-token Store.Find (the query's first token, same scope, limit %d) p50 %s, p99 %s", findLimit, latency(b50), latency(b99)),
		ratio:    fmt.Sprintf("p50 %.0f, p99 %.0f", float64(p50)/float64(b50), float64(p99)/float64(b99)),
	}, nil
}

// benchReconcile uploads two lists of n people, 5% apart, and reconciles
// them, then the first against the registry.
func benchReconcile(ctx context.Context, st *embedded.Store, reg *gen.Registry, vault *pii.Vault, directory *grid.Directory, dir string, n int) ([]row, error) {
	// List A, the NAT list: the registry's people but every
	// listDiffEvery-th, who is someone the registry does not have. List B,
	// the residence-code list: the registry file itself.
	pathA, pathB := filepath.Join(dir, "nat-list.csv"), filepath.Join(dir, gen.RegistryFile)
	missing := 0
	for i := range n {
		if i%listDiffEvery == listDiffAt {
			missing++
		}
	}
	err := writeFile(pathA, func(w io.Writer) error {
		return reg.WriteRowsCSV(w, n, func(i int) []string {
			if i%listDiffEvery == listDiffAt {
				return reg.Row(n + i)
			}
			return reg.Row(i)
		})
	})
	if err != nil {
		return nil, err
	}
	up := &worklist.Uploader{Store: st, Vault: vault, Grids: directory, Now: time.Now}
	upload := func(path, kind string) (worklist.List, time.Duration, error) {
		f, err := os.Open(path)
		if err != nil {
			return worklist.List{}, 0, err
		}
		defer f.Close()
		start := time.Now()
		l, rowErrs, err := up.Upload(ctx, "bench "+kind, kind, "bench", f)
		took := time.Since(start)
		if err != nil {
			return l, 0, fmt.Errorf("upload %s: %w", filepath.Base(path), err)
		}
		if len(rowErrs) > 0 || l.Rows != n {
			return l, 0, fmt.Errorf("upload %s: %d rows stored, %d refused, want %d", filepath.Base(path), l.Rows, l.Bad, n)
		}
		fmt.Fprintf(os.Stderr, "bench gridwork: upload of %s: %s, %.0f rows/s\n", filepath.Base(path), took.Round(time.Millisecond), perSecond(n, took))
		return l, took, nil
	}
	a, upA, err := upload(pathA, worklist.KindNAT)
	if err != nil {
		return nil, err
	}
	b, upB, err := upload(pathB, worklist.KindResidenceCode)
	if err != nil {
		return nil, err
	}

	rc := &worklist.Reconciler{Lists: st, Registry: st, Vault: vault, Now: time.Now}
	reconcile := func(listB string) (worklist.Reconciliation, time.Duration, error) {
		start := time.Now()
		res, err := rc.Run(ctx, a.ID, listB)
		took := time.Since(start)
		if err != nil {
			return res, 0, err
		}
		if res.Missing != missing || res.Created != missing {
			return res, 0, fmt.Errorf("reconcile %s with %s: %d missing, %d tasks created, want %d", a.ID, listB, res.Missing, res.Created, missing)
		}
		fmt.Fprintf(os.Stderr, "bench gridwork: reconcile with %s: %s, %d tasks (%d to the pool)\n", listB, took.Round(time.Millisecond), res.Created, res.ToPool)
		return res, took, nil
	}
	listKeys := func(id string) ([]string, error) {
		chunks, err := st.Chunks(ctx, id, false)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, n)
		for _, c := range chunks {
			keys = append(keys, c.Keys...)
		}
		if len(keys) != n {
			return nil, fmt.Errorf("list %s: %d keys, want %d", id, len(keys), n)
		}
		return keys, nil
	}

	lists, took, err := reconcile(b.ID)
	if err != nil {
		return nil, err
	}
	// Baseline: both lists' keys, read and sorted.
	start := time.Now()
	for _, id := range []string{a.ID, b.ID} {
		keys, err := listKeys(id)
		if err != nil {
			return nil, err
		}
		slices.Sort(keys)
	}
	readLists := time.Since(start)

	withRegistry, tookRegistry, err := reconcile(worklist.RegistryList)
	if err != nil {
		return nil, err
	}
	// Baseline: list A's keys and the registry's, read and sorted.
	start = time.Now()
	keysA, err := listKeys(a.ID)
	if err != nil {
		return nil, err
	}
	slices.Sort(keysA)
	people, err := st.PersonKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(people) != n {
		return nil, fmt.Errorf("registry: %d people, want %d", len(people), n)
	}
	if sorted := slices.Sorted(maps.Keys(people)); len(sorted) != n {
		return nil, fmt.Errorf("registry: %d keys sorted, want %d", len(sorted), n)
	}
	readRegistry := time.Since(start)

	tasks := func(res worklist.Reconciliation, d time.Duration) string {
		return fmt.Sprintf("%.1f s (target 10 s), %s tasks created (%s of list A missing, %s to the district pool)",
			d.Seconds(), thousands(res.Created), thousands(res.Missing), thousands(res.ToPool))
	}
	return []row{{
		what: fmt.Sprintf("reconcile two uploaded lists of %s people, 5%% apart, embedded store (list A, NAT: the registry's people with every %dth replaced by someone not in it; list B, residence code: %s); uploads (worklist.Uploader) %.1f s and %.1f s, %.0f and %.0f rows/s",
			thousands(n), listDiffEvery, gen.RegistryFile, upA.Seconds(), upB.Seconds(), perSecond(n, upA), perSecond(n, upB)),
		result:   tasks(lists, took),
		baseline: fmt.Sprintf("read both lists' keys (Chunks without evidence) and sort them: %.2f s", readLists.Seconds()),
		ratio:    fmt.Sprintf("%.1f", took.Seconds()/readLists.Seconds()),
	}, {
		what:     fmt.Sprintf("reconcile list A against the registry (%s people), embedded store", thousands(n)),
		result:   tasks(withRegistry, tookRegistry),
		baseline: fmt.Sprintf("read list A's keys and the registry's (PersonKeys) and sort them: %.2f s", readRegistry.Seconds()),
		ratio:    fmt.Sprintf("%.1f", tookRegistry.Seconds()/readRegistry.Seconds()),
	}}, nil
}

// benchGridworkDynamo imports a smaller registry into DynamoDB Local
// through the adapter, beside raw BatchWriteItem calls of the same items.
func benchGridworkDynamo(ctx context.Context, client *dynamodb.Client, o gridworkOptions) (row, error) {
	n := gridworkPeople(o.dynamoScale)
	tables := dynamo.Tables{Registry: "bench-registry", RegistryIndex: "bench-registry-index", Imports: "bench-imports", ImportErrors: "bench-import-errors"}
	raw := dynamo.Tables{Registry: "bench-raw-registry", RegistryIndex: "bench-raw-registry-index"}
	warm := dynamo.Tables{Registry: "bench-warm-registry", RegistryIndex: "bench-warm-registry-index"}
	for _, t := range []dynamo.Tables{tables, raw, warm} {
		if err := dynamo.CreateTables(ctx, client, t); err != nil {
			return row{}, err
		}
	}
	dir, err := os.MkdirTemp("", "gridcode-bench-gridwork-dynamo-")
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(dir)
	reg, err := gridworkRegistry(n)
	if err != nil {
		return row{}, err
	}
	vault, err := newVault()
	if err != nil {
		return row{}, err
	}
	grids, err := demo.Grids(vault)
	if err != nil {
		return row{}, err
	}
	directory := grid.NewDirectory(grids)
	path := filepath.Join(dir, gen.RegistryFile)
	if err := writeFile(path, func(w io.Writer) error { return reg.WriteCSV(w, n) }); err != nil {
		return row{}, err
	}

	// The items the import writes, built and marshalled beforehand for the
	// raw baseline: each person's item and one index item per token.
	now := time.Now()
	var personItems, indexItems []map[string]types.AttributeValue
	for i := range n {
		e, problems := registry.CheckRow(registryRow(reg.Row(i)), i+2, now)
		if len(problems) > 0 {
			return row{}, fmt.Errorf("registry row %d refused: %v", i, problems)
		}
		p, err := registry.Build(vault, directory, e, "bench-raw", now)
		if err != nil {
			return row{}, err
		}
		item, err := attributevalue.MarshalMapWithOptions(p, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
		if err != nil {
			return row{}, err
		}
		personItems = append(personItems, item)
		for _, tok := range p.Tokens {
			indexItems = append(indexItems, map[string]types.AttributeValue{
				"token": &types.AttributeValueMemberS{Value: tok}, "communityPerson": &types.AttributeValueMemberS{Value: p.Community + "#" + p.Key},
			})
		}
	}
	items := len(personItems) + len(indexItems)

	// A warm-up, untimed, into tables of its own: the first writes would
	// pay for DynamoDB Local's JIT.
	w := min(1000, n)
	if _, err := rawBatchWrite(ctx, client, warm, personItems[:w], indexItems[:w*len(indexItems)/n]); err != nil {
		return row{}, fmt.Errorf("warm-up: %w", err)
	}

	st := dynamo.New(client, tables)
	im := &registry.Importer{People: st, Imports: st, Vault: vault, Grids: directory, Now: time.Now}
	start := time.Now()
	run, err := im.Run(ctx, registry.Import{ID: "bench-dynamo-import", Source: gen.RegistryFile}, filesource.File{Path: path}, time.Time{}, nil)
	imported := time.Since(start)
	if err != nil {
		return row{}, fmt.Errorf("dynamodb import: %w", err)
	}
	if run.Status != registry.ImportDone || run.Rows != n || run.Written != n {
		return row{}, fmt.Errorf("dynamodb import of %d rows: status %s, %d rows, %d written, %d refused", n, run.Status, run.Rows, run.Written, run.Bad)
	}
	fmt.Fprintf(os.Stderr, "bench gridwork: DynamoDB Local import of %d rows (%d items): %s\n", n, items, imported.Round(time.Millisecond))

	rawTook, err := rawBatchWrite(ctx, client, raw, personItems, indexItems)
	if err != nil {
		return row{}, fmt.Errorf("raw batch writes: %w", err)
	}
	importRate, rawRate := perSecond(items, imported), perSecond(items, rawTook)
	return row{
		what: fmt.Sprintf("registry import, DynamoDB Local, fresh tables: %s rows of %s through Importer and the adapter (%s person items + %s index items)",
			thousands(n), gen.RegistryFile, thousands(len(personItems)), thousands(len(indexItems))),
		result:   fmt.Sprintf("%.0f rows/s, %.0f items/s (%.1f s)", perSecond(n, imported), importRate, imported.Seconds()),
		baseline: fmt.Sprintf("raw BatchWriteItem of the same items, marshalled beforehand, 25 a call, %d calls at a time, fresh tables: %.0f items/s (%.1f s)", importBatchWorkers, rawRate, rawTook.Seconds()),
		ratio:    fmt.Sprintf("%.2f", importRate/rawRate),
	}, nil
}

// rawBatchWrite writes the index items, then the person items, 25 a call
// with importBatchWorkers calls in flight, retrying what DynamoDB leaves
// unprocessed.
func rawBatchWrite(ctx context.Context, client *dynamodb.Client, t dynamo.Tables, people, index []map[string]types.AttributeValue) (time.Duration, error) {
	var total time.Duration
	for _, part := range []struct {
		table string
		items []map[string]types.AttributeValue
	}{{t.RegistryIndex, index}, {t.Registry, people}} {
		batches := (len(part.items) + 24) / 25
		took, err := bench.Parallel(batches, importBatchWorkers, func(b int) error {
			reqs := make([]types.WriteRequest, 0, 25)
			for _, item := range part.items[b*25 : min(b*25+25, len(part.items))] {
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
			}
			pending := map[string][]types.WriteRequest{part.table: reqs}
			for attempt := 0; len(pending) > 0; attempt++ {
				if attempt == 10 {
					return fmt.Errorf("batch write %s: %d items still unprocessed", part.table, len(pending[part.table]))
				}
				if attempt > 0 {
					time.Sleep(time.Duration(25<<attempt) * time.Millisecond)
				}
				out, err := client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
				if err != nil {
					return err
				}
				pending = out.UnprocessedItems
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		total += took
	}
	return total, nil
}
