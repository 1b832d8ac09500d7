// Package embedded stores everything in one bbolt file for `make run` and
// for unit tests: the same ports as the DynamoDB adapter, the same rules
// (one transaction for a report and its alert, conditional create).
package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/report"
)

var (
	bucketReports       = []byte("reports")
	bucketReportsByGrid = []byte("reports_by_grid")
	bucketAlerts        = []byte("alerts")
	bucketAlertsDue     = []byte("alerts_due")
	bucketGrids         = []byte("grids")
	bucketRules         = []byte("rules")
)

// Store is the bbolt adapter.
type Store struct {
	db     *bolt.DB
	people peopleIndex // the registry's search index, see registry.go
}

var (
	_ report.Store   = (*Store)(nil)
	_ district.Store = (*Store)(nil)
	_ alert.Ledger   = (*Store)(nil)
	_ alert.Outbox   = (*Store)(nil)
	_ alert.Replayer = (*Store)(nil)
)

// Option changes how the store is opened.
type Option func(*bolt.Options)

// WithoutFsync skips fsync on commit. Only the benchmark of handler CPU
// uses it, to measure the code rather than the disk; it is not durable.
func WithoutFsync() Option { return func(o *bolt.Options) { o.NoSync = true } }

// Open opens or creates the store file.
func Open(path string, opts ...Option) (*Store, error) {
	// A large initial mmap (address space, not memory) spares the remaps
	// that block every transaction while the file grows.
	o := &bolt.Options{Timeout: 5 * time.Second, InitialMmapSize: 1 << 30, FreelistType: bolt.FreelistMapType}
	for _, opt := range opts {
		opt(o)
	}
	db, err := bolt.Open(path, 0o600, o)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Concurrent reports are committed together by db.Batch: one fsync for
	// many reports, each still durable before its 201.
	db.MaxBatchDelay = 2 * time.Millisecond
	db.MaxBatchSize = 500
	err = db.Update(func(tx *bolt.Tx) error {
		counted := tx.Bucket(bucketDailyCounts) != nil
		for _, b := range slices.Concat([][]byte{bucketReports, bucketReportsByGrid, bucketAlerts, bucketAlertsDue, bucketGrids, bucketRules, bucketDailyCounts}, groupBuckets, gridWorkBuckets) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if !counted {
			return countStoredReports(tx)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create buckets: %w", err)
	}
	return &Store{db: db}, nil
}

// Close releases the file.
func (s *Store) Close() error { return s.db.Close() }

func gridIndexKey(gridCode, listKey string) []byte {
	return []byte(gridCode + "\x00" + listKey)
}

// Create implements report.Store.
func (s *Store) Create(ctx context.Context, r report.Record, a alert.Alert) (report.Record, bool, error) {
	rb, err := json.Marshal(r)
	if err != nil {
		return report.Record{}, false, err
	}
	ab, err := json.Marshal(a)
	if err != nil {
		return report.Record{}, false, err
	}
	var stored report.Record
	var created bool
	// Batch may run the function more than once; it sets both results every time.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		reports := tx.Bucket(bucketReports)
		if existing := reports.Get([]byte(r.ID)); existing != nil {
			created = false
			return json.Unmarshal(existing, &stored)
		}
		if err := reports.Put([]byte(r.ID), rb); err != nil {
			return err
		}
		if err := tx.Bucket(bucketReportsByGrid).Put(gridIndexKey(r.GridCode, r.ListKey), []byte(r.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketAlerts).Put([]byte(a.ID), ab); err != nil {
			return err
		}
		if err := tx.Bucket(bucketAlertsDue).Put(dueKey(a), nil); err != nil {
			return err
		}
		if err := countReport(tx, r); err != nil {
			return err
		}
		stored, created = r, true
		return nil
	})
	if err != nil {
		return report.Record{}, false, fmt.Errorf("create report %s: %w", r.ID, err)
	}
	return stored, created, nil
}

// Get implements report.Store.
func (s *Store) Get(ctx context.Context, id string) (report.Record, error) {
	return getJSON[report.Record](s.db, bucketReports, []byte(id), "report "+id, report.ErrNotFound)
}

// ListGrid implements report.Store: a reverse walk of the grid index.
func (s *Store) ListGrid(ctx context.Context, q report.GridQuery) (report.Page, error) {
	prefix := []byte(q.GridCode + "\x00")
	upper := append(bytes.Clone(prefix), 0xff)
	if !q.Until.IsZero() {
		upper = gridIndexKey(q.GridCode, report.ListKeyBound(q.Until))
	}
	if q.After != "" {
		if after := gridIndexKey(q.GridCode, q.After); bytes.Compare(after, upper) < 0 {
			upper = after
		}
	}
	lower := prefix
	if !q.Since.IsZero() {
		lower = gridIndexKey(q.GridCode, report.ListKeyBound(q.Since))
	}
	var page report.Page
	err := s.db.View(func(tx *bolt.Tx) error {
		reports := tx.Bucket(bucketReports)
		c := tx.Bucket(bucketReportsByGrid).Cursor()
		var k, v []byte
		if sk, _ := c.Seek(upper); sk == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, lower) >= 0; k, v = c.Prev() {
			var r report.Record
			if err := json.Unmarshal(reports.Get(v), &r); err != nil {
				return fmt.Errorf("decode report %s: %w", v, err)
			}
			if q.Status != "" && r.Status != q.Status {
				continue
			}
			if len(page.Records) == q.Limit {
				page.Next = page.Records[len(page.Records)-1].ListKey
				return nil
			}
			page.Records = append(page.Records, r)
		}
		return nil
	})
	return page, err
}

// Alert returns one alert of the outbox (tests and the outbox page use it).
func (s *Store) Alert(ctx context.Context, id string) (alert.Alert, error) {
	return getJSON[alert.Alert](s.db, bucketAlerts, []byte(id), "alert "+id, alert.ErrNotFound)
}

// CountAlerts counts the alerts in the outbox.
func (s *Store) CountAlerts(ctx context.Context) (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketAlerts).Stats().KeyN
		return nil
	})
	return n, err
}

// ListGrids implements district.Store.
func (s *Store) ListGrids(ctx context.Context) ([]grid.Grid, error) {
	var out []grid.Grid
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGrids).ForEach(func(k, v []byte) error {
			var g grid.Grid
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("decode grid %s: %w", k, err)
			}
			out = append(out, g)
			return nil
		})
	})
	return out, err
}

// PutGrids implements district.Store.
func (s *Store) PutGrids(ctx context.Context, grids []grid.Grid) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGrids)
		for _, g := range grids {
			v, err := json.Marshal(g)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(g.Code), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetRuleSet implements district.Store.
func (s *Store) GetRuleSet(ctx context.Context, name string) ([]byte, error) {
	var body []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRules).Get([]byte(name))
		if v == nil {
			return district.ErrNoRuleSet
		}
		body = bytes.Clone(v)
		return nil
	})
	return body, err
}

// PutRuleSet implements district.Store.
func (s *Store) PutRuleSet(ctx context.Context, name string, body []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRules).Put([]byte(name), body)
	})
}
