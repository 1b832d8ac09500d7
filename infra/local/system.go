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
	"time"

	"gridcode/infra/demo"
	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/digest"
	"gridcode/shared/district"
	"gridcode/shared/httpapi"
	"gridcode/shared/pii"
	"gridcode/shared/ratelimit"
	"gridcode/shared/report"
	"gridcode/shared/secrets"
	"gridcode/shared/sms/outbox"
	"gridcode/shared/store/embedded"
)

// Retention of reports locally, as in the cloud's default.
const Retention = 60 * 24 * time.Hour

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

	// Dispatcher delivers the outbox to Outbox, and Digests queues grid
	// workers' digests; Deliver runs both.
	Dispatcher *alert.Dispatcher
	Digests    *digest.Job
	Outbox     *outbox.Provider
	wake       chan struct{}
}

// KeysFile is where the local keyset lives under the data directory.
func KeysFile(dataDir string) string { return filepath.Join(dataDir, "keys.json") }

// Open opens (or creates) the data directory and wires every handler.
// On first start it loads the demo district.
func Open(ctx context.Context, dataDir string, now func() time.Time, opts ...embedded.Option) (*System, error) {
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
	store, err := embedded.Open(filepath.Join(dataDir, StoreFile), opts...)
	if err != nil {
		return nil, err
	}
	// One process makes every change through this Settings, which drops its
	// cache on write; the TTL only bounds how stale a hand-edited file gets.
	settings := district.NewSettings(store, areas, now, time.Minute)
	sys := &System{Store: store, Keys: keys, Issuer: issuer, Settings: settings, wake: make(chan struct{}, 1)}
	if sys.Seeded, err = seedDemo(ctx, store, settings, vault, dates.Today(now())); err != nil {
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
	staff := httpapi.Staff{Issuer: issuer, Now: now}
	mux := http.NewServeMux()
	httpapi.IntakeAPI{Intake: &report.Intake{
		Store: wakeOnCreate{Store: store, wake: sys.wake}, Rules: settings, Vault: vault, Areas: areas, Now: now, Retention: Retention,
	}}.Register(mux)
	httpapi.ReportsAPI{Reader: &report.Reader{Store: store, Vault: vault}, Staff: staff}.Register(mux)
	httpapi.DirectoryAPI{Settings: settings, Staff: staff}.Register(mux)
	// The local runner's window on the phone network: what was "sent".
	mux.Handle("GET /dev/sms", sys.Outbox.Handler())
	sys.Handler = httpapi.Logged(mux)
	return sys, nil
}

// Close releases the store and the outbox file.
func (s *System) Close() error { return errors.Join(s.Outbox.Close(), s.Store.Close()) }

// Deliver is the local fan-out: it sends due alerts whenever a report
// queues one, and every second for retries; beside it, every minute, it
// queues the grid workers' digests, so a long backlog does not hold them
// up. It runs until ctx ends.
func (s *System) Deliver(ctx context.Context) {
	digests := make(chan struct{})
	go func() { s.queueDigests(ctx); close(digests) }()
	defer func() { <-digests }()
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

// wakeOnCreate wakes the local fan-out when a report queues an alert, as
// the DynamoDB stream does in the cloud.
type wakeOnCreate struct {
	report.Store
	wake chan<- struct{}
}

func (w wakeOnCreate) Create(ctx context.Context, r report.Record, a alert.Alert) (report.Record, bool, error) {
	stored, created, err := w.Store.Create(ctx, r, a)
	if created {
		select {
		case w.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return stored, created, err
}

// seedDemo loads the demo district into an empty store: 410 grids and a
// sample risk-area list. A store that has grids is left alone.
func seedDemo(ctx context.Context, store *embedded.Store, settings *district.Settings, vault *pii.Vault, today string) (bool, error) {
	existing, err := store.ListGrids(ctx)
	if err != nil || len(existing) > 0 {
		return false, err
	}
	grids, err := demo.Grids(vault)
	if err != nil {
		return false, fmt.Errorf("demo grids: %w", err)
	}
	if err := settings.SetRiskAreas(ctx, demo.RiskAreas(today)); err != nil {
		return false, fmt.Errorf("demo risk areas: %w", err)
	}
	// Grids last: their presence marks the seed as done.
	if err := settings.PutGrids(ctx, grids); err != nil {
		return false, err
	}
	return true, nil
}
