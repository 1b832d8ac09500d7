// Package local runs every function's handler in one process on the
// embedded store: what `make run` starts.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gridcode/infra/demo"
	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/digest"
	"gridcode/shared/district"
	"gridcode/shared/gridwork"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/healthfeed"
	"gridcode/shared/httpapi"
	"gridcode/shared/pii"
	"gridcode/shared/ratelimit"
	"gridcode/shared/refresh"
	"gridcode/shared/report"
	"gridcode/shared/retention"
	"gridcode/shared/secrets"
	"gridcode/shared/sms/outbox"
	"gridcode/shared/store/embedded"
	"gridcode/shared/web"
	"gridcode/shared/worklist"
)

// Retention is how long reports, alerts, tasks with their visits and the
// groups' daily lists are kept after their last change, as the cloud's
// default RetentionDays; SweepEvery deletes what expired.
const Retention = retention.Default

// SweepEvery is how often the local server deletes expired data, as
// DynamoDB's TTL does in the cloud (within days there).
const SweepEvery = time.Hour

// SMSPerSecond is the local SMS budget, as the cloud's default.
const SMSPerSecond = 20

// StoreFile is the embedded store under the data dir.
const StoreFile = "gridcode.db"

// OutboxFile is where the local SMS provider writes, under the data dir.
const OutboxFile = "sms-outbox.jsonl"

// System is the whole local back end.
type System struct {
	Handler  http.Handler
	Store    *embedded.Store
	Keys     secrets.Keyset
	Issuer   auth.Issuer
	Settings *district.Settings
	Seeded   bool // the demo district was loaded by this start
	// Routes are the patterns Handler serves, each API's and the pages'.
	Routes []string

	// Dispatcher delivers the outbox to Outbox, and Digests queues grid
	// workers' digests; Deliver runs both.
	Dispatcher *alert.Dispatcher
	Digests    *digest.Job
	Outbox     *outbox.Provider
	wake       chan struct{}

	// Planner starts a day's group refresh: by POST /v1/refresh/run, by
	// `gridcode refresh`, and every day at RefreshAt.
	Planner *refresh.Planner
	shards  *shardQueue
	// reconciles runs the reconciliations POST /v1/reconcile queues.
	reconciles *reconcileJobs

	vault *pii.Vault
	now   func() time.Time
}

// SearchScope is how far a grid worker's registry search reaches locally:
// the communities of their grid, as in the cloud's default.
const SearchScope = gridwork.ScopeCommunity

// RefreshAt is the district time of the daily group refresh.
const RefreshAt = 6 * time.Hour

// KeysFile is where the local keyset lives under the data directory.
func KeysFile(dataDir string) string { return filepath.Join(dataDir, "keys.json") }

// Open opens (or creates) the data directory and wires every handler,
// with the cloud's default limits on the public writes. On first start it
// loads the demo district.
func Open(ctx context.Context, dataDir string, now func() time.Time, opts ...embedded.Option) (*System, error) {
	return OpenWith(ctx, dataDir, now, httpapi.DefaultPublicRules(), opts...)
}

// OpenWith is Open with the public writes' limits rules, counted in memory
// (httpapi.PublicRules{} for none: benchmarks send thousands of reports
// from one address).
func OpenWith(ctx context.Context, dataDir string, now func() time.Time, rules httpapi.PublicRules, opts ...embedded.Option) (*System, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	keys, err := secrets.FromFile(KeysFile(dataDir))
	if err != nil {
		return nil, err
	}
	vault, err := keys.Vault()
	if err != nil {
		return nil, err
	}
	issuer, err := auth.NewIssuer(keys.TokenKey)
	if err != nil {
		return nil, err
	}
	areas, err := area.Load()
	if err != nil {
		return nil, err
	}
	site, err := web.New()
	if err != nil {
		return nil, err
	}
	store, err := embedded.Open(filepath.Join(dataDir, StoreFile), opts...)
	if err != nil {
		return nil, err
	}
	// One process makes every change through this Settings, which drops its
	// cache on write; the TTL only bounds how stale a hand-edited file gets.
	settings := district.NewSettings(store, areas, now, time.Minute)
	sys := &System{Store: store, Keys: keys, Issuer: issuer, Settings: settings, wake: make(chan struct{}, 1), vault: vault, now: now}
	if sys.Seeded, err = seedDemo(ctx, store, settings, vault, now()); err != nil {
		store.Close()
		return nil, err
	}
	if sys.Outbox, err = outbox.Open(filepath.Join(dataDir, OutboxFile), now); err != nil {
		store.Close()
		return nil, err
	}
	sys.Dispatcher = &alert.Dispatcher{
		Ledger: store, Vault: vault, Provider: sys.Outbox, Limiter: ratelimit.NewLocal(SMSPerSecond), Now: now,
	}
	sys.Digests = &digest.Job{
		Schedule: digest.DefaultSchedule, Grids: settings, Reports: store, Outbox: store, Vault: vault, Now: now, Retention: Retention,
	}
	sys.shards = newShardQueue(&refresh.Worker{
		Groups: store, Lists: store, Health: store, Runs: store, Vault: vault, Now: now,
		// 16 groups at a time share their commits: a quarter faster than 4 (make bench).
		NATLimit: group.DefaultNATLimit, Retention: Retention, Parallel: 16,
	}, 2*time.Second, sys.wakeDelivery)
	sys.Planner = &refresh.Planner{Groups: store, Runs: store, Queue: sys.shards, Now: now}
	staff := httpapi.Staff{Issuer: issuer, Now: now}
	mux := &routes{ServeMux: http.NewServeMux()}
	limit := func(r ratelimit.Rule) httpapi.Limit { return httpapi.Limit{Keyed: ratelimit.NewMemory(r, 0), Now: now} }
	httpapi.IntakeAPI{Intake: &report.Intake{
		Store: wakeOnCreate{Store: store, wake: sys.wakeDelivery}, Rules: settings, Vault: vault, Areas: areas, Now: now, Retention: Retention,
		Gate: limit(rules.ReportsPerPerson),
	}, PerAddress: limit(rules.ReportsPerAddress)}.Register(mux)
	httpapi.ReportsAPI{Reader: &report.Reader{Store: store, Vault: vault}, Audit: gridwork.Auditor{Log: store, Now: now}, Staff: staff}.Register(mux)
	httpapi.DirectoryAPI{Settings: settings, Areas: areas, ReportURL: ReportURL, Staff: staff}.Register(mux)
	httpapi.GroupsAPI{JoinsPerAddress: limit(rules.JoinsPerAddress), Registry: &group.Registry{
		Store: store, Lists: store, Grids: settings, Vault: vault, Now: now, JoinURL: JoinURL, Gate: limit(rules.JoinsPerPerson),
	}, Audit: gridwork.Auditor{Log: store, Now: now}, Staff: staff}.Register(mux)
	httpapi.HealthAPI{Feed: &healthfeed.Feed{
		Store: wakeOnHealth{Store: store, wake: sys.wakeDelivery}, Groups: store, Homes: store, Grids: settings, Vault: vault, Now: now, Retention: Retention,
	}, Staff: staff}.Register(mux)
	httpapi.RefreshAPI{Planner: sys.Planner, Runs: store, Staff: staff}.Register(mux)
	httpapi.NewRegistryAPI(store, settings, vault, now, SearchScope, staff).Register(mux)
	sys.reconciles = newReconcileJobs(&worklist.Reconciler{Lists: store, Registry: store, Vault: vault, Now: now, Retention: Retention}, 2*time.Second)
	httpapi.NewWorklistAPI(store, settings, vault, now, staff, sys.reconciles).WithRetention(Retention).Register(mux)
	httpapi.NewFollowUpsAPI(store, settings, vault, now, staff).WithRetention(Retention).Register(mux)
	httpapi.StatsAPI{Source: store, Grids: settings, Deadlines: report.DefaultDeadlines(), Staff: staff}.Register(mux)
	site.Register(mux)
	// The local runner's window on the phone network: what was "sent".
	mux.HandleFunc("GET /dev/sms", sys.Outbox.Handler().ServeHTTP)
	sys.Routes = mux.patterns
	sys.Handler = httpapi.Logged(httpapi.Bounded(mux))
	// A data dir from before the registry existed gets the demo registry
	// too; its file marks it as loaded.
	if _, err := os.Stat(filepath.Join(dataDir, DemoRegistryFile)); sys.Seeded || errors.Is(err, os.ErrNotExist) {
		if err := sys.seedRegistry(ctx, dataDir); err != nil {
			sys.Close()
			return nil, err
		}
	}
	return sys, nil
}

// routes is the local mux, keeping each pattern mounted.
type routes struct {
	*http.ServeMux
	patterns []string
}

func (r *routes) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	r.patterns = append(r.patterns, pattern)
	r.ServeMux.HandleFunc(pattern, h)
}

// JoinURL is where a group's QR code leads locally (the self-join page);
// the group id is appended.
const JoinURL = "http://127.0.0.1:8080/join/"

// ReportURL is the local report form the report QR codes open; a grid's
// code appends /<gridCode>.
const ReportURL = "http://127.0.0.1:8080/r"

// Close stops the reconciliation jobs, then releases the store and the
// outbox file.
func (s *System) Close() error {
	if s.reconciles != nil {
		s.reconciles.close()
	}
	return errors.Join(s.Outbox.Close(), s.Store.Close())
}

// Deliver is the local fan-out: it sends due alerts whenever a report
// queues one, and every second for retries; beside it, every minute, it
// queues the grid workers' digests, so a long backlog does not hold them
// up; and on start and every SweepEvery it deletes expired data. It runs
// until ctx ends.
func (s *System) Deliver(ctx context.Context) {
	var background sync.WaitGroup
	background.Go(func() { s.queueDigests(ctx) })
	background.Go(func() { s.shards.run(ctx) })
	background.Go(func() { s.refreshDaily(ctx) })
	background.Go(func() { s.sweepExpired(ctx) })
	// The registry's search index lives in memory: build it now rather than
	// on the first search.
	background.Go(func() {
		if err := s.Store.BuildRegistryIndex(ctx); err != nil && ctx.Err() == nil {
			slog.ErrorContext(ctx, "build registry index", "err", err)
		}
	})
	defer background.Wait()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for {
			res, err := s.Dispatcher.DeliverDue(ctx, 500)
			if err != nil {
				slog.ErrorContext(ctx, "deliver alerts", "err", err)
			}
			if err != nil || res.Handled() == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-tick.C:
		}
	}
}

func (s *System) queueDigests(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if _, err := s.Digests.Run(ctx); err != nil {
			slog.ErrorContext(ctx, "queue digests", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sweepExpired deletes expired data on start and every SweepEvery, as
// DynamoDB's TTL does in the cloud.
func (s *System) sweepExpired(ctx context.Context) {
	tick := time.NewTicker(SweepEvery)
	defer tick.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			slog.ErrorContext(ctx, "sweep expired data", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sweep deletes what expired by the system's clock (embedded.SweepExpired)
// and logs how much of each kind went.
func (s *System) Sweep(ctx context.Context) (map[string]int, error) {
	deleted, err := s.Store.SweepExpired(ctx, s.now())
	if len(deleted) > 0 {
		attrs := []any{}
		for kind, n := range deleted {
			attrs = append(attrs, kind, n)
		}
		slog.InfoContext(ctx, "swept expired data", attrs...)
	}
	return deleted, err
}

// refreshDaily plans each day's group refresh once the district clock
// passes RefreshAt, and on start if today's run was missed (the machine was
// off at 06:00): the office finds today's lists whenever it looks.
func (s *System) refreshDaily(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for started := true; ; started = false {
		now := s.Planner.Now()
		today := dates.Today(now)
		if started {
			// Runs under way when the server stopped had their queue in
			// this process: yesterday's and today's (planned by hand before
			// 06:00 too) go on. Older days' runs wait for a new plan.
			for _, day := range []string{dates.AddDays(today, -1), today} {
				if p, err := refresh.Read(ctx, s.Store, day); err == nil && !p.Complete {
					if _, err := s.Planner.Restart(ctx, day); err != nil && ctx.Err() == nil {
						slog.ErrorContext(ctx, "resume refresh", "date", day, "err", err)
					}
				}
			}
		}
		if start, _ := dates.Start(today); !now.Before(start.Add(RefreshAt)) {
			_, err := refresh.Read(ctx, s.Store, today)
			if errors.Is(err, group.ErrNotFound) {
				_, err = s.Planner.Plan(ctx, today)
			}
			if err != nil && ctx.Err() == nil {
				slog.ErrorContext(ctx, "daily refresh", "date", today, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Refresh runs a day's refresh to the end in this process: the CLI's
// `gridcode refresh`, with the server stopped.
func (s *System) Refresh(ctx context.Context, date string) (refresh.Progress, error) {
	if _, err := s.Planner.Plan(ctx, date); err != nil {
		return refresh.Progress{}, err
	}
	if err := s.shards.drain(ctx); err != nil {
		return refresh.Progress{}, err
	}
	return refresh.Read(ctx, s.Store, date)
}

// wakeDelivery wakes the local fan-out when an alert was queued, as the
// DynamoDB stream does in the cloud.
func (s *System) wakeDelivery() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// wakeOnCreate wakes the fan-out when a report queued its welcome SMS.
type wakeOnCreate struct {
	report.Store
	wake func()
}

func (w wakeOnCreate) Create(ctx context.Context, r report.Record, a alert.Alert) (report.Record, bool, error) {
	stored, created, err := w.Store.Create(ctx, r, a)
	if created {
		w.wake()
	}
	return stored, created, err
}

// wakeOnHealth wakes the fan-out when a health change queued alerts.
type wakeOnHealth struct {
	health.Store
	wake func()
}

func (w wakeOnHealth) WriteHealth(ctx context.Context, writes []health.Write) ([]int, error) {
	conflicts, err := w.Store.WriteHealth(ctx, writes)
	for _, wr := range writes {
		if len(wr.Alerts) > 0 {
			w.wake()
			break
		}
	}
	return conflicts, err
}

// seedDemo loads the demo district into an empty store: 410 grids, a
// sample risk-area list, and three groups with rosters and health data.
// A store that has grids is left alone.
func seedDemo(ctx context.Context, store *embedded.Store, settings *district.Settings, vault *pii.Vault, now time.Time) (bool, error) {
	existing, err := store.ListGrids(ctx)
	if err != nil || len(existing) > 0 {
		return false, err
	}
	grids, err := demo.Grids(vault)
	if err != nil {
		return false, fmt.Errorf("demo grids: %w", err)
	}
	if err := settings.SetRiskAreas(ctx, demo.RiskAreas(dates.Today(now))); err != nil {
		return false, fmt.Errorf("demo risk areas: %w", err)
	}
	groups, err := demo.Groups(vault, now)
	if err != nil {
		return false, fmt.Errorf("demo groups: %w", err)
	}
	for _, g := range groups {
		if _, _, err := store.CreateGroup(ctx, g.Group); err != nil {
			return false, err
		}
		if _, err := store.ReplaceRoster(ctx, g.Group.ID, 0, g.Members); err != nil {
			return false, err
		}
		writes := make([]health.Write, len(g.Health))
		for i, rec := range g.Health {
			writes[i] = health.Write{Record: rec}
		}
		if _, err := store.WriteHealth(ctx, writes); err != nil {
			return false, err
		}
	}
	// Grids last: their presence marks the seed as done.
	if err := settings.PutGrids(ctx, grids); err != nil {
		return false, err
	}
	return true, nil
}
