package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/report"
)

// dueKey orders the outbox by creation; an alert is in the due index while
// it is pending or being sent.
func dueKey(a alert.Alert) []byte {
	return []byte(report.ListKeyBound(a.CreatedAt) + "#" + a.ID)
}

// dueKeyPrefix is the length of a due key before the alert id.
var dueKeyPrefix = len(report.ListKeyBound(time.Time{})) + 1

func isDue(a alert.Alert, nowMs int64) bool {
	switch a.Status {
	case alert.Pending:
		return a.NotBefore <= nowMs
	case alert.Sending:
		return a.ClaimedUntil < nowMs
	}
	return false
}

// Due implements alert.Ledger with a walk of the due index.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]alert.Alert, error) {
	var out []alert.Alert
	nowMs := now.UnixMilli()
	err := s.db.View(func(tx *bolt.Tx) error {
		alerts := tx.Bucket(bucketAlerts)
		c := tx.Bucket(bucketAlertsDue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			id := k[dueKeyPrefix:]
			var a alert.Alert
			if err := json.Unmarshal(alerts.Get(id), &a); err != nil {
				return fmt.Errorf("decode alert %s: %w", id, err)
			}
			if isDue(a, nowMs) {
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}

// update runs change on one alert inside a batched transaction; change
// says whether to write it back.
func (s *Store) update(id string, change func(tx *bolt.Tx, a *alert.Alert) (bool, error)) (alert.Alert, error) {
	var a alert.Alert
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlerts)
		v := b.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("alert %s: %w", id, alert.ErrNotFound)
		}
		a = alert.Alert{}
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("decode alert %s: %w", id, err)
		}
		write, err := change(tx, &a)
		if err != nil || !write {
			return err
		}
		nv, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), nv)
	})
	return a, err
}

// Claim implements alert.Ledger.
func (s *Store) Claim(ctx context.Context, id string, now, until time.Time) (alert.Alert, bool, error) {
	var ok bool
	a, err := s.update(id, func(_ *bolt.Tx, a *alert.Alert) (bool, error) {
		ok = isDue(*a, now.UnixMilli())
		if ok {
			a.Status, a.ClaimedUntil = alert.Sending, until.UnixMilli()
			a.Attempts++
		}
		return ok, nil
	})
	if err != nil {
		return alert.Alert{}, false, err
	}
	return a, ok, nil
}

// Settle implements alert.Ledger.
func (s *Store) Settle(ctx context.Context, id string, claimedUntil time.Time, o alert.Outcome) error {
	_, err := s.update(id, func(tx *bolt.Tx, a *alert.Alert) (bool, error) {
		if a.Status != alert.Sending || a.ClaimedUntil != claimedUntil.UnixMilli() {
			return false, fmt.Errorf("settle alert %s: %w", id, alert.ErrClaimLost)
		}
		a.Apply(o)
		if a.Status == alert.Pending {
			return true, nil
		}
		if err := tx.Bucket(bucketAlertsDue).Delete(dueKey(*a)); err != nil {
			return false, err
		}
		if a.Status == alert.Failed && a.ReportID != "" {
			return true, markFollowUp(tx, a.ReportID)
		}
		return true, nil
	})
	return err
}

// markFollowUp asks the report's grid worker to phone the person.
func markFollowUp(tx *bolt.Tx, reportID string) error {
	b := tx.Bucket(bucketReports)
	v := b.Get([]byte(reportID))
	if v == nil {
		return nil // expired with its retention; nothing to follow up
	}
	var r report.Record
	if err := json.Unmarshal(v, &r); err != nil {
		return fmt.Errorf("decode report %s: %w", reportID, err)
	}
	r.FollowUp = report.FollowUpCall
	nv, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(reportID), nv)
}

// Enqueue implements alert.Outbox.
func (s *Store) Enqueue(ctx context.Context, a alert.Alert) (bool, error) {
	v, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	var created bool
	err = s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAlerts)
		if created = b.Get([]byte(a.ID)) == nil; !created {
			return nil
		}
		if err := b.Put([]byte(a.ID), v); err != nil {
			return err
		}
		return tx.Bucket(bucketAlertsDue).Put(dueKey(a), nil)
	})
	if err != nil {
		return false, fmt.Errorf("enqueue alert %s: %w", a.ID, err)
	}
	return created, nil
}

// Failed implements alert.Replayer with a walk of all alerts: an operator's
// command, not a hot path.
func (s *Store) Failed(ctx context.Context, limit int) ([]alert.Alert, error) {
	var out []alert.Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAlerts).ForEach(func(k, v []byte) error {
			var a alert.Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode alert %s: %w", k, err)
			}
			if a.Status == alert.Failed {
				out = append(out, a)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b alert.Alert) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out[:min(limit, len(out))], err
}

// Requeue implements alert.Replayer.
func (s *Store) Requeue(ctx context.Context, id string) (bool, error) {
	var requeued bool
	_, err := s.update(id, func(tx *bolt.Tx, a *alert.Alert) (bool, error) {
		if requeued = a.Status == alert.Failed; !requeued {
			return false, nil
		}
		a.Requeue()
		return true, tx.Bucket(bucketAlertsDue).Put(dueKey(*a), nil)
	})
	return requeued, err
}
