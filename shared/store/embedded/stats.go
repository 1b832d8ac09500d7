package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/report"
	"gridcode/shared/stats"
)

var _ stats.Source = (*Store)(nil)

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
