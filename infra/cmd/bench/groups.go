package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/infra/bench"
	"gridcode/infra/demo"
	"gridcode/infra/gen"
	"gridcode/infra/local"
	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/district"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/healthfeed"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/refresh"
	"gridcode/shared/report"
	"gridcode/shared/secrets"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/store/embedded"
)

// The article's district: 800,000 registry people, 3,421 group codes.
const (
	districtPeople = 800_000
	districtGroups = 3421
	groupsSeed     = 1
)

// groupsOptions size the group-code benchmarks.
type groupsOptions struct {
	scale       float64 // of the district, on the embedded store
	dynamoScale float64 // of the district, on DynamoDB Local
	parallel    []int   // Worker.Parallel values tried on the embedded store
	// dynamoParallel are the Worker.Parallel values tried on DynamoDB Local.
	dynamoParallel []int
	feed           int // health updates through the feed
}

// parseParallel reads flag's "2,4,8" into the Worker.Parallel values to
// try.
func parseParallel(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-%s %q: want positive numbers separated by commas", flag, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func groupSpec(scale float64, today string) gen.Spec {
	return gen.Spec{
		Seed:   groupsSeed,
		Grids:  demo.GridCount,
		People: max(1, int(math.Round(districtPeople*scale))),
		Groups: max(1, int(math.Round(districtGroups*scale))),
		Today:  today,
	}
}

// groupStore is what the benchmarks load and refresh: either adapter.
type groupStore interface {
	group.Store
	group.DailyStore
	group.RunStore
	health.Store
	Alert(ctx context.Context, id string) (alert.Alert, error)
}

// loadedDistrict is a synthetic district loaded into a store.
type loadedDistrict struct {
	spec    gen.Spec
	src     *gen.Source
	vault   *pii.Vault
	ids     []string // group ids, sorted as GroupIDs lists them
	members int      // memberships over all groups
	health  int      // people with a health status
	// memberHealth counts the memberships of people with a status: the
	// health rows a refresh reads.
	memberHealth int
	largest      int
	median       int
}

func newVault() (*pii.Vault, error) {
	keys, err := secrets.Generate()
	if err != nil {
		return nil, err
	}
	return keys.Vault()
}

// statusOf is person i's health status at load, nil for no data: most
// green with a negative NAT within 72 h, 4% with a stale NAT or none,
// 0.5% yellow, 0.1% red (half of them NAT-positive), 3% unknown to the
// feed.
func statusOf(i int, now time.Time) *health.Status {
	r := rand.New(rand.NewPCG(groupsSeed, uint64(i)))
	n := r.IntN(1000)
	if n < 30 {
		return nil
	}
	// The feed's last word came within the last half day, the NAT before
	// it and within 71 hours.
	updated := now.Add(-time.Duration(1+r.IntN(12*60)) * time.Minute)
	nat := now.Add(-time.Duration(r.IntN(71*60)) * time.Minute)
	if nat.After(updated) {
		nat = updated
	}
	s := &health.Status{CodeColor: health.Green, NATResult: health.Negative, VaccineDoses: r.IntN(4), UpdatedAt: updated}
	switch {
	case n < 31:
		s.CodeColor = health.Red
		if r.IntN(2) == 0 {
			s.NATResult = health.Positive
		}
	case n < 36:
		s.CodeColor = health.Yellow
	case n < 76:
		if r.IntN(4) == 0 {
			s.NATResult = ""
			s.VaccineDoses = 0
			return s
		}
		nat = now.Add(-time.Duration(73*60+r.IntN(7*24*60)) * time.Minute)
	}
	s.NATAt = &nat
	return s
}

// healthWriter writes a batch of new health records.
type healthWriter func(ctx context.Context, writes []health.Write) error

// storeWrites writes with the store's own WriteHealth.
func storeWrites(st health.Store) healthWriter {
	return func(ctx context.Context, writes []health.Write) error {
		conflicts, err := st.WriteHealth(ctx, writes)
		if err == nil && len(conflicts) > 0 {
			err = fmt.Errorf("load health: %d conflicts", len(conflicts))
		}
		return err
	}
}

// load puts the district of spec into st: every person's health status
// in large batches (through writeHealth), then every group with its
// administrator and roster, with workers goroutines.
func load(ctx context.Context, st groupStore, writeHealth healthWriter, spec gen.Spec, workers int) (*loadedDistrict, error) {
	src, err := gen.NewSource(spec)
	if err != nil {
		return nil, err
	}
	vault, err := newVault()
	if err != nil {
		return nil, err
	}
	d := &loadedDistrict{spec: spec, src: src, vault: vault}
	now := time.Now()
	start := time.Now()

	const healthBatch = 10_000
	var withHealth atomic.Int64
	batches := (spec.People + healthBatch - 1) / healthBatch
	if _, err := bench.Parallel(batches, workers, func(b int) error {
		writes := make([]health.Write, 0, healthBatch)
		for i := b * healthBatch; i < min((b+1)*healthBatch, spec.People); i++ {
			s := statusOf(i, now)
			if s == nil {
				continue
			}
			rec, err := health.Seal(vault, report.PersonLookup(vault, idcard.ResidentID, src.PersonID(i)), *s)
			if err != nil {
				return err
			}
			writes = append(writes, health.Write{Record: rec})
		}
		// In key order the B+tree takes them page by page.
		slices.SortFunc(writes, func(a, b health.Write) int { return strings.Compare(a.Record.PersonKey, b.Record.PersonKey) })
		if err := writeHealth(ctx, writes); err != nil {
			return err
		}
		withHealth.Add(int64(len(writes)))
		return nil
	}); err != nil {
		return nil, err
	}
	d.health = int(withHealth.Load())
	fmt.Fprintf(os.Stderr, "bench groups: %d health statuses of %d people loaded in %s\n", d.health, spec.People, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	sizes := make([]int, spec.Groups)
	ids := make([]string, spec.Groups)
	var memberHealth atomic.Int64
	if _, err := bench.Parallel(spec.Groups, workers, func(i int) error {
		gg, people := src.Group(i)
		for _, j := range people {
			if statusOf(j, now) != nil {
				memberHealth.Add(1)
			}
		}
		g, members, err := groupOf(vault, src, gg, people, now)
		if err != nil {
			return err
		}
		if _, created, err := st.CreateGroup(ctx, g); err != nil || !created {
			return fmt.Errorf("create group %s: created %v, %v", g.ID, created, err)
		}
		stored, err := st.ReplaceRoster(ctx, g.ID, 0, members)
		if err != nil {
			return err
		}
		if stored.Members != len(members) {
			return fmt.Errorf("group %s: %d members stored of %d", g.ID, stored.Members, len(members))
		}
		sizes[i], ids[i] = len(members), g.ID
		return nil
	}); err != nil {
		return nil, err
	}
	for _, n := range sizes {
		d.members += n
	}
	d.memberHealth = int(memberHealth.Load())
	slices.Sort(ids)
	d.ids = ids
	slices.Sort(sizes)
	d.median, d.largest = sizes[len(sizes)/2], sizes[len(sizes)-1]
	fmt.Fprintf(os.Stderr, "bench groups: %d groups, %d members (median %d, largest %d) loaded in %s\n",
		spec.Groups, d.members, d.median, d.largest, time.Since(start).Round(time.Millisecond))
	return d, nil
}

// groupOf is a generated group as the registry stores it: its first member
// is its administrator, and everyone is on roster version 1.
func groupOf(v *pii.Vault, src *gen.Source, gg gen.Group, people []int, now time.Time) (group.Group, []group.Member, error) {
	persons := make([]gen.Person, len(people))
	for k, j := range people {
		persons[k] = src.Person(j)
	}
	kind, ok := group.ParseKind(gg.Kind)
	if !ok {
		kind = "property_manager" // gen's "property"
	}
	admin := group.Admin{Name: persons[0].Name, Phone: persons[0].Phone}
	g := group.Group{
		ID: gg.ID, Name: gg.Name, Kind: kind, Address: gg.Name + "地址", GridCode: gg.GridCode,
		AdminLookup: report.PhoneLookup(v, admin.Phone), CreatedAt: now.Add(-30 * 24 * time.Hour).UTC(),
	}
	if err := g.SealAdmin(v, admin); err != nil {
		return group.Group{}, nil, err
	}
	members := make([]group.Member, len(persons))
	for k, p := range persons {
		m := group.Member{
			GroupID: g.ID, PersonKey: report.PersonLookup(v, idcard.ResidentID, p.IDNumber), Version: 1,
			Status: group.Active, IDType: idcard.ResidentID, JoinedAt: now.Add(-time.Duration(k%30+1) * 24 * time.Hour).UTC(),
		}
		if err := m.SealPersonal(v, group.Personal{Name: p.Name, IDNumber: p.IDNumber, Phone: p.Phone}); err != nil {
			return group.Group{}, nil, err
		}
		members[k] = m
	}
	return g, members, nil
}

// shardList is the queue of one run: the planner's shards, delivered one
// at a time afterwards as the local runtime's queue does.
type shardList struct {
	mu     sync.Mutex
	shards []refresh.Shard
}

func (q *shardList) Send(ctx context.Context, s []refresh.Shard) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shards = append(q.shards, s...)
	return nil
}

// runRefresh plans date and delivers every shard once, one shard at a
// time, with parallel groups per shard, and checks every group is done.
// runRefresh refreshes the day daysBack days ago with the clock set back
// as far, so that every try does the same work: a day's lists are built
// with their morning SMS only on that day.
func runRefresh(ctx context.Context, st groupStore, d *loadedDistrict, daysBack, parallel int) (time.Duration, error) {
	now := func() time.Time { return time.Now().AddDate(0, 0, -daysBack) }
	date := dates.Today(now())
	q := &shardList{}
	planner := &refresh.Planner{Groups: st, Runs: st, Queue: q, ShardSize: refresh.DefaultShardSize, Now: now}
	worker := &refresh.Worker{
		Groups: st, Lists: st, Health: st, Runs: st, Vault: d.vault, Now: now,
		NATLimit: group.DefaultNATLimit, Retention: local.Retention, Parallel: parallel,
	}
	start := time.Now()
	if _, err := planner.Plan(ctx, date); err != nil {
		return 0, err
	}
	for _, s := range q.shards {
		if err := worker.Refresh(ctx, s, refresh.Delivery{Attempt: 1}); err != nil {
			return 0, fmt.Errorf("refresh %s shard %d: %w", date, s.Index, err)
		}
	}
	elapsed := time.Since(start)
	p, err := refresh.Read(ctx, st, date)
	if err != nil {
		return 0, err
	}
	if !p.Complete || p.Done != len(d.ids) || len(p.Failed) > 0 {
		return 0, fmt.Errorf("refresh %s: %d of %d groups done, %d failed", date, p.Done, len(d.ids), len(p.Failed))
	}
	if _, err := st.Alert(ctx, refresh.DailyAlertID(d.ids[0], date)); err != nil {
		return 0, fmt.Errorf("refresh %s: the first group's morning SMS: %w", date, err)
	}
	return elapsed, nil
}

// tryRefresh runs the whole refresh once with each Worker.Parallel, each
// on a day of its own (a day's lists are built once), and returns the
// fastest, which, and all the times. detail, if not nil, says more about
// each try; it is called once before the first.
func tryRefresh(ctx context.Context, st groupStore, d *loadedDistrict, where string, parallel []int, detail func() string) (time.Duration, int, string, error) {
	today := dates.Today(time.Now())
	// A warm-up, untimed, on a day of its own: the first try would pay
	// for cold caches (and DynamoDB Local's JIT).
	warm := &refresh.Worker{
		Groups: st, Lists: st, Health: st, Runs: st, Vault: d.vault, Now: time.Now,
		NATLimit: group.DefaultNATLimit, Retention: local.Retention, Parallel: parallel[0],
	}
	shard := refresh.Shard{Date: dates.AddDays(today, -len(parallel)), GroupIDs: d.ids[:min(2*refresh.DefaultShardSize, len(d.ids))]}
	if err := warm.Refresh(ctx, shard, refresh.Delivery{Attempt: 1}); err != nil {
		return 0, 0, "", fmt.Errorf("warm-up: %w", err)
	}
	if detail != nil {
		detail()
	}
	best, bestP := time.Duration(0), 0
	var tried []string
	for k, p := range parallel {
		elapsed, err := runRefresh(ctx, st, d, k, p)
		if err != nil {
			return 0, 0, "", err
		}
		fmt.Fprintf(os.Stderr, "bench groups: %s refresh, Parallel %d: %s, %.0f members/s\n", where, p, elapsed.Round(time.Millisecond), perSecond(d.members, elapsed))
		if detail != nil {
			fmt.Fprintf(os.Stderr, "bench groups:   %s\n", detail())
		}
		tried = append(tried, fmt.Sprintf("%d: %.1f s", p, elapsed.Seconds()))
		if bestP == 0 || elapsed < best {
			best, bestP = elapsed, p
		}
	}
	return best, bestP, strings.Join(tried, ", "), nil
}

// readRows is the refresh's baseline: the member rows and health rows of
// every group, read with parallel readers, nothing opened, nothing
// written.
func readRows(ctx context.Context, st groupStore, d *loadedDistrict, parallel int) (time.Duration, error) {
	var members, records atomic.Int64
	elapsed, err := bench.Parallel(len(d.ids), parallel, func(i int) error {
		ms, err := st.Members(ctx, d.ids[i], 1)
		if err != nil {
			return err
		}
		keys := make([]string, len(ms))
		for k, m := range ms {
			keys[k] = m.PersonKey
		}
		recs, err := st.GetHealth(ctx, keys)
		if err != nil {
			return err
		}
		members.Add(int64(len(ms)))
		records.Add(int64(len(recs)))
		return nil
	})
	if err != nil {
		return 0, err
	}
	if int(members.Load()) != d.members || int(records.Load()) != d.memberHealth {
		return 0, fmt.Errorf("read %d members (want %d), %d health records (want %d)", members.Load(), d.members, records.Load(), d.memberHealth)
	}
	return elapsed, nil
}

func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// thousands formats n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func districtLabel(d *loadedDistrict) string {
	return fmt.Sprintf("%s groups, %s members (median %d, largest %d), %s people",
		thousands(len(d.ids)), thousands(d.members), d.median, d.largest, thousands(d.spec.People))
}

// benchGroupsEmbedded loads the district into a bbolt file and measures
// the full daily refresh, trying each Worker.Parallel, beside reading the
// same rows; then the health feed on the same store.
func benchGroupsEmbedded(ctx context.Context, o groupsOptions) ([]row, error) {
	dir, err := os.MkdirTemp("", "gridcode-bench-groups-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gridcode.db")
	today := dates.Today(time.Now())

	// Loading skips the fsyncs; the measured store is opened as the local
	// runtime opens it.
	loading, err := embedded.Open(path, embedded.WithoutFsync())
	if err != nil {
		return nil, err
	}
	d, err := load(ctx, loading, storeWrites(loading), groupSpec(o.scale, today), 4*runtime.NumCPU())
	if cerr := loading.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// One fsync for the whole load, so the refresh's first commit does
		// not write out the file.
		err = syncFile(path)
	}
	if err != nil {
		return nil, err
	}
	st, err := embedded.Open(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()

	best, bestP, tried, err := tryRefresh(ctx, st, d, "embedded", o.parallel, nil)
	if err != nil {
		return nil, err
	}
	read, err := readRows(ctx, st, d, bestP)
	if err != nil {
		return nil, err
	}
	rows := []row{{
		what: fmt.Sprintf("full daily refresh, embedded store: %s; shards of %d one at a time, Worker.Parallel %d (best of %s)",
			districtLabel(d), refresh.DefaultShardSize, bestP, tried),
		result:   fmt.Sprintf("%.1f s, %.0f members/s", best.Seconds(), perSecond(d.members, best)),
		baseline: fmt.Sprintf("read the same member and health rows (Members + GetHealth per group, %d readers, no decryption, no writes) %.2f s, %.0f members/s", bestP, read.Seconds(), perSecond(d.members, read)),
		ratio:    fmt.Sprintf("%.1f", best.Seconds()/read.Seconds()),
	}}
	if o.feed > 0 {
		r, err := benchHealthFeed(ctx, st, d, o.feed)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// syncFile flushes a file written without fsync to the disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchHealthFeed applies n updates of registry people, batches of
// healthfeed.MaxBatch from one sender, to the loaded store; the baseline
// writes the same sealed records with WriteHealth in the same batches.
func benchHealthFeed(ctx context.Context, st *embedded.Store, d *loadedDistrict, n int) (row, error) {
	areas, err := area.Load()
	if err != nil {
		return row{}, err
	}
	settings := district.NewSettings(st, areas, time.Now, time.Minute)
	grids, err := demo.Grids(d.vault)
	if err != nil {
		return row{}, err
	}
	if err := settings.PutGrids(ctx, grids); err != nil {
		return row{}, err
	}
	feed := &healthfeed.Feed{Store: st, Groups: st, Grids: settings, Vault: d.vault, Now: time.Now, Retention: local.Retention}

	// n distinct people spread over the registry, each with a new status
	// from a minute ago.
	n = min(n, d.spec.People)
	stride := d.spec.People / n
	now := time.Now()
	at := now.Add(-time.Minute).UTC()
	updates := make([]healthfeed.Update, n)
	people := make([]string, n)
	for u := range updates {
		i := u*stride + u%stride
		people[u] = d.src.PersonID(i)
		r := rand.New(rand.NewPCG(groupsSeed+1, uint64(u)))
		color, result := health.Green, health.Negative
		switch k := r.IntN(1000); {
		case k < 1:
			color, result = health.Red, health.Positive
		case k < 6:
			color = health.Yellow
		}
		nat := at.Add(-time.Duration(r.IntN(48*60)) * time.Minute)
		doses := r.IntN(4)
		updates[u] = healthfeed.Update{
			IDType: string(idcard.ResidentID), IDNumber: people[u], CodeColor: string(color),
			NATAt: &nat, NATResult: string(result), VaccineDoses: &doses, UpdatedAt: &at,
		}
	}
	var res healthfeed.Result
	start := time.Now()
	for b := 0; b < n; b += healthfeed.MaxBatch {
		r, err := feed.Apply(ctx, healthfeed.Batch{Updates: updates[b:min(b+healthfeed.MaxBatch, n)]})
		if err != nil {
			return row{}, err
		}
		res.Received += r.Received
		res.Applied += r.Applied
		res.Stale += r.Stale
		res.Alerts += r.Alerts
	}
	feedElapsed := time.Since(start)
	if res.Applied != n {
		return row{}, fmt.Errorf("feed: %+v of %d updates", res, n)
	}

	// The same statuses a second later, sealed beforehand: only the
	// writing is timed. Each is conditional on the feed's write.
	writes := make([]health.Write, n)
	for u, up := range updates {
		s := health.Status{CodeColor: health.Color(up.CodeColor), NATAt: up.NATAt, NATResult: health.NATResult(up.NATResult), VaccineDoses: *up.VaccineDoses, UpdatedAt: at.Add(time.Second)}
		rec, err := health.Seal(d.vault, report.PersonLookup(d.vault, idcard.ResidentID, people[u]), s)
		if err != nil {
			return row{}, err
		}
		writes[u] = health.Write{Record: rec, Prev: &at}
	}
	start = time.Now()
	for b := 0; b < n; b += healthfeed.MaxBatch {
		conflicts, err := st.WriteHealth(ctx, writes[b:min(b+healthfeed.MaxBatch, n)])
		if err != nil {
			return row{}, err
		}
		if len(conflicts) > 0 {
			return row{}, fmt.Errorf("raw health writes: %d conflicts in batch %d: the feed did not write them", len(conflicts), b/healthfeed.MaxBatch)
		}
	}
	rawElapsed := time.Since(start)
	feedRate, rawRate := perSecond(n, feedElapsed), perSecond(n, rawElapsed)
	return row{
		what: fmt.Sprintf("health feed, embedded store: %s updates of %s people in batches of %d through Feed.Apply, one sender (%d alerts queued)",
			thousands(n), thousands(d.spec.People), healthfeed.MaxBatch, res.Alerts),
		result:   fmt.Sprintf("%.0f updates/s (%.1f s)", feedRate, feedElapsed.Seconds()),
		baseline: fmt.Sprintf("raw WriteHealth of the same sealed records, batches of %d: %.0f/s", healthfeed.MaxBatch, rawRate),
		ratio:    fmt.Sprintf("%.2f", feedRate/rawRate),
	}, nil
}

// benchGroupsDynamo loads a smaller district into DynamoDB Local and
// measures the same refresh.
func benchGroupsDynamo(ctx context.Context, client *dynamodb.Client, o groupsOptions) (row, error) {
	tables := dynamo.Tables{
		Alerts: "bench-groups-alerts", Groups: "bench-groups", Members: "bench-members", Health: "bench-health",
		DailyLists: "bench-daily-lists", RefreshRuns: "bench-refresh-runs",
	}
	if err := createGroupTables(ctx, client, tables); err != nil {
		return row{}, err
	}
	api := newTimedAPI(client)
	st := dynamo.New(api, tables)
	today := dates.Today(time.Now())
	d, err := load(ctx, st, loadHealth(st), groupSpec(o.dynamoScale, today), 16)
	if err != nil {
		return row{}, err
	}
	ids, err := st.GroupIDs(ctx)
	if err != nil {
		return row{}, err
	}
	if !slices.Equal(ids, d.ids) {
		return row{}, errors.New("dynamodb: GroupIDs does not list the loaded groups")
	}
	best, parallel, tried, err := tryRefresh(ctx, st, d, "DynamoDB Local", o.dynamoParallel, api.reset)
	if err != nil {
		return row{}, err
	}
	read, err := readRows(ctx, st, d, parallel)
	if err != nil {
		return row{}, err
	}
	return row{
		what: fmt.Sprintf("full daily refresh, DynamoDB Local (alerts table without its stream): %s; shards of %d one at a time, Worker.Parallel %d (best of %s)",
			districtLabel(d), refresh.DefaultShardSize, parallel, tried),
		result:   fmt.Sprintf("%.0f members/s (%.1f s)", perSecond(d.members, best), best.Seconds()),
		baseline: fmt.Sprintf("read the same member and health rows (Members + GetHealth per group, %d readers, no decryption, no writes) %.0f members/s (%.1f s)", parallel, perSecond(d.members, read), read.Seconds()),
		ratio:    fmt.Sprintf("%.1f", best.Seconds()/read.Seconds()),
	}, nil
}

// createGroupTables creates the tables as dynamo.CreateTables does, but
// the alerts table without its stream. DynamoDB Local slows every write to
// a table with a stream by the stream records that tables created before
// it wrote, even tables since deleted: after the intake rows, which leave
// some 60,000, the refresh's TransactWriteItems (daily list and alert)
// took 10 to 40 times as long and the whole refresh 8 times. DynamoDB
// itself has no such cost, and nothing reads the stream here.
func createGroupTables(ctx context.Context, client *dynamodb.Client, t dynamo.Tables) error {
	alerts := t.Alerts
	t.Alerts = ""
	if err := dynamo.CreateTables(ctx, client, t); err != nil {
		return err
	}
	for _, in := range dynamo.TableSpecs(dynamo.Tables{Alerts: alerts}) {
		in.StreamSpecification = nil
		_, err := client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", *in.TableName, err)
		}
	}
	return nil
}

// loadHealth writes with the adapter's bulk load: WriteHealth's
// conditional PutItem per record would take half a minute here.
func loadHealth(st *dynamo.Store) healthWriter {
	return func(ctx context.Context, writes []health.Write) error {
		recs := make([]health.Record, len(writes))
		for i, w := range writes {
			recs[i] = w.Record
		}
		return st.LoadHealth(ctx, recs)
	}
}

// timedAPI is the DynamoDB client with the time of each operation summed
// by name, to say where a DynamoDB refresh spends its time.
type timedAPI struct {
	*dynamodb.Client
	mu    sync.Mutex
	calls map[string]int
	total map[string]time.Duration
}

func newTimedAPI(c *dynamodb.Client) *timedAPI {
	return &timedAPI{Client: c, calls: map[string]int{}, total: map[string]time.Duration{}}
}

func (t *timedAPI) note(op string, start time.Time) {
	d := time.Since(start)
	t.mu.Lock()
	t.calls[op]++
	t.total[op] += d
	t.mu.Unlock()
}

// reset returns the summary so far and starts again.
func (t *timedAPI) reset() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ops := slices.Sorted(maps.Keys(t.calls))
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s %d calls, mean %.1f ms", op, t.calls[op], float64(t.total[op].Microseconds())/1000/float64(t.calls[op]))
	}
	clear(t.calls)
	clear(t.total)
	return strings.Join(parts, "; ")
}

func (t *timedAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	defer t.note("GetItem", time.Now())
	return t.Client.GetItem(ctx, in, opts...)
}

func (t *timedAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	defer t.note("PutItem", time.Now())
	return t.Client.PutItem(ctx, in, opts...)
}

func (t *timedAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	defer t.note("UpdateItem", time.Now())
	return t.Client.UpdateItem(ctx, in, opts...)
}

func (t *timedAPI) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	defer t.note("Query", time.Now())
	return t.Client.Query(ctx, in, opts...)
}

func (t *timedAPI) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	defer t.note("Scan", time.Now())
	return t.Client.Scan(ctx, in, opts...)
}

func (t *timedAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	defer t.note("BatchWriteItem", time.Now())
	return t.Client.BatchWriteItem(ctx, in, opts...)
}

func (t *timedAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	defer t.note("BatchGetItem", time.Now())
	return t.Client.BatchGetItem(ctx, in, opts...)
}

func (t *timedAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	defer t.note("TransactWriteItems", time.Now())
	return t.Client.TransactWriteItems(ctx, in, opts...)
}
