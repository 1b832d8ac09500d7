package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/audit"
	"gridcode/shared/report"
	"gridcode/shared/retention"
	"gridcode/shared/worklist"
)

// What DynamoDB's TTL does in the cloud, the sweep does here: it deletes
// every item whose expiresAt has passed, with whatever goes with it (index
// entries, a list's chunks, an import's refused rows), and leaves alone
// items without one. The kept daily counts carry none: they stay.

// sweepKind is one bucket of items that carry expiresAt.
type sweepKind struct {
	name   string
	bucket []byte
	// drop deletes what goes with the item (k, v), in the transaction
	// that deletes it; nil when nothing does.
	drop func(tx *bolt.Tx, k, v []byte) error
}

var sweepKinds = []sweepKind{
	{"reports", bucketReports, func(tx *bolt.Tx, _, v []byte) error {
		var r report.Record
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		return tx.Bucket(bucketReportsByGrid).Delete(gridIndexKey(r.GridCode, r.ListKey))
	}},
	{"alerts", bucketAlerts, func(tx *bolt.Tx, _, v []byte) error {
		var a alert.Alert
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		return tx.Bucket(bucketAlertsDue).Delete(dueKey(a))
	}},
	{"tasks", bucketTasks, func(tx *bolt.Tx, _, v []byte) error {
		var t worklist.Task
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTasksByGrid).Delete(taskGridKey(t)); err != nil {
			return err
		}
		counts := openCounts{}
		counts.add(t, -1)
		return counts.write(tx)
	}},
	{"lists", bucketLists, func(tx *bolt.Tx, k, _ []byte) error {
		return deletePrefixed(tx.Bucket(bucketListChunks), key(string(k), ""))
	}},
	{"daily_lists", bucketDailyLists, nil},
	{"imports", bucketImports, func(tx *bolt.Tx, k, _ []byte) error {
		return deletePrefixed(tx.Bucket(bucketImportErrors), key(string(k), ""))
	}},
	{"audit", bucketAudit, func(tx *bolt.Tx, _, v []byte) error {
		var r audit.Record
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		return tx.Bucket(bucketAuditByActor).Delete(key(r.Actor, r.ID))
	}},
}

// Sweep batches: a read transaction looks at up to sweepScan items and
// picks up to sweepBatch expired ones, which one write transaction deletes;
// so the sweep never holds the writers' lock for long, however large the
// store. Variables only for a test of small batches.
var (
	sweepScan  = 10000
	sweepBatch = 500
)

// SweepExpired deletes every item whose expiresAt is at or before now
// (retention.Expired), and returns how many of each kind (reports, alerts,
// tasks, lists, daily_lists, imports, audit) it deleted. An item that
// cannot be read is left and named in the error; the sweep goes on past it.
func (s *Store) SweepExpired(ctx context.Context, now time.Time) (map[string]int, error) {
	deleted := map[string]int{}
	var errs []error
	for _, kind := range sweepKinds {
		n, err := s.sweep(ctx, kind, now)
		if n > 0 {
			deleted[kind.name] = n
		}
		if err != nil {
			if ctx.Err() != nil {
				return deleted, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("sweep %s: %w", kind.name, err))
		}
	}
	return deleted, errors.Join(errs...)
}

// expiresAt reads an item's expiresAt without the rest of it.
func expiresAt(v []byte) (int64, error) {
	var head struct {
		ExpiresAt int64 `json:"expiresAt"`
	}
	err := json.Unmarshal(v, &head)
	return head.ExpiresAt, err
}

func (s *Store) sweep(ctx context.Context, kind sweepKind, now time.Time) (int, error) {
	deleted := 0
	var errs []error
	var from []byte // where the next read starts; nil: the first key
	for {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		var expired [][]byte
		var next []byte
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(kind.bucket).Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
			}
			for scanned := 0; k != nil; k, v = c.Next() {
				if scanned == sweepScan || len(expired) == sweepBatch {
					next = bytes.Clone(k)
					return nil
				}
				scanned++
				at, err := expiresAt(v)
				if err != nil {
					errs = append(errs, fmt.Errorf("%q: %w", k, err))
					continue
				}
				if retention.Expired(at, now) {
					expired = append(expired, bytes.Clone(k))
				}
			}
			return nil
		})
		if err != nil {
			return deleted, err
		}
		if len(expired) > 0 {
			n := 0
			err := s.db.Update(func(tx *bolt.Tx) error {
				n = 0
				b := tx.Bucket(kind.bucket)
				for _, k := range expired {
					v := b.Get(k)
					if v == nil {
						continue // deleted meanwhile
					}
					// Read again: a follow-up or a visit since the read
					// may have moved the expiry.
					if at, err := expiresAt(v); err != nil || !retention.Expired(at, now) {
						continue
					}
					if kind.drop != nil {
						if err := kind.drop(tx, k, v); err != nil {
							return fmt.Errorf("%q: %w", k, err)
						}
					}
					if err := b.Delete(k); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err != nil {
				return deleted, err
			}
			deleted += n
		}
		if next == nil {
			return deleted, errors.Join(errs...)
		}
		from = next
	}
}

// deletePrefixed deletes every key of b that starts with prefix.
func deletePrefixed(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	// Delete moves the cursor to the next key, so the loop does not step.
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
