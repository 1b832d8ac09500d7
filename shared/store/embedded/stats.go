package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/report"
	"gridcode/shared/stats"
)

var _ stats.Source = (*Store)(nil)

// bucketDailyCounts: district day -> JSON stats.Day, the reports stored
// that day by risk level. Counts only, never expired.
var bucketDailyCounts = []byte("daily_counts")

// countReport adds a report being created to its day's kept counts, in
// the transaction that stores it.
func countReport(tx *bolt.Tx, r report.Record) error {
	b := tx.Bucket(bucketDailyCounts)
	date := dates.Today(r.SubmittedAt)
	day := stats.Day{Date: date}
	if v := b.Get([]byte(date)); v != nil {
		if err := json.Unmarshal(v, &day); err != nil {
			return fmt.Errorf("decode counts of %s: %w", date, err)
		}
	}
	day.Add(r.RiskLevel, 1)
	return putJSON(b, []byte(date), day)
}

// countStoredReports counts the reports of a store from before the kept
// counts existed, once, as the bucket is created: their days keep their
// counts when they expire.
func countStoredReports(tx *bolt.Tx) error {
	return tx.Bucket(bucketReports).ForEach(func(k, v []byte) error {
		var r report.Record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode report %s: %w", k, err)
		}
		return countReport(tx, r)
	})
}

// KeptDays implements stats.Source with a walk of the range's days.
func (s *Store) KeptDays(ctx context.Context, from, to string) ([]stats.Day, error) {
	var out []stats.Day
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDailyCounts).Cursor()
		for k, v := c.Seek([]byte(from)); k != nil && string(k) <= to; k, v = c.Next() {
			var day stats.Day
			if err := json.Unmarshal(v, &day); err != nil {
				return fmt.Errorf("decode counts of %s: %w", k, err)
			}
			out = append(out, day)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kept counts %s to %s: %w", from, to, err)
	}
	return out, nil
}

// ReportsBetween implements stats.Source with a walk of every report:
// locally a district's reports are a few hundred thousand at most. Each
// row's submission time is read first and the rest decoded only in range;
// fn is called after the read transaction, so it may use the store.
func (s *Store) ReportsBetween(ctx context.Context, from, to time.Time, fn func(report.Record) error) error {
	var inRange []report.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReports).ForEach(func(k, v []byte) error {
			var head struct {
				SubmittedAt time.Time `json:"submittedAt"`
			}
			if err := json.Unmarshal(v, &head); err != nil {
				return fmt.Errorf("decode report %s: %w", k, err)
			}
			if head.SubmittedAt.Before(from) || !head.SubmittedAt.Before(to) {
				return nil
			}
			var r report.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode report %s: %w", k, err)
			}
			inRange = append(inRange, r)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("reports between %s and %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	for _, r := range inRange {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// AlertCounts implements stats.Source with a walk of the outbox, decoding
// each alert's status and creation time only.
func (s *Store) AlertCounts(ctx context.Context, from, to time.Time) (map[alert.Status]int, error) {
	out := map[alert.Status]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAlerts).ForEach(func(k, v []byte) error {
			var head struct {
				Status    alert.Status `json:"status"`
				CreatedAt time.Time    `json:"createdAt"`
			}
			if err := json.Unmarshal(v, &head); err != nil {
				return fmt.Errorf("decode alert %s: %w", k, err)
			}
			if !head.CreatedAt.Before(from) && head.CreatedAt.Before(to) {
				out[head.Status]++
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count alerts between %s and %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return out, nil
}
