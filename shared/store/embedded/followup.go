package embedded

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/report"
)

var _ report.FollowUpStore = (*Store)(nil)

// UpdateFollowUp implements report.FollowUpStore. The stored report is
// read inside the transaction and only the follow-up fields are copied
// onto it, so what the SMS ledger marked meanwhile stays; a new grid or
// list position moves the report's grid index entry with it.
func (s *Store) UpdateFollowUp(ctx context.Context, r report.Record, fromVersion int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		reports := tx.Bucket(bucketReports)
		v := reports.Get([]byte(r.ID))
		if v == nil {
			return report.ErrNotFound
		}
		var stored report.Record
		if err := json.Unmarshal(v, &stored); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if stored.Version != fromVersion {
			return fmt.Errorf("version %d, now %d: %w", fromVersion, stored.Version, report.ErrConflict)
		}
		oldIndexKey := gridIndexKey(stored.GridCode, stored.ListKey)
		stored.Status, stored.GridCode, stored.ListKey = r.Status, r.GridCode, r.ListKey
		stored.ContactDue, stored.FirstContactAt, stored.ClosedAt = r.ContactDue, r.FirstContactAt, r.ClosedAt
		stored.FollowUps, stored.ExpiresAt, stored.Version = r.FollowUps, r.ExpiresAt, fromVersion+1
		if newIndexKey := gridIndexKey(stored.GridCode, stored.ListKey); string(newIndexKey) != string(oldIndexKey) {
			byGrid := tx.Bucket(bucketReportsByGrid)
			if err := byGrid.Delete(oldIndexKey); err != nil {
				return err
			}
			if err := byGrid.Put(newIndexKey, []byte(stored.ID)); err != nil {
				return err
			}
		}
		return putJSON(reports, []byte(stored.ID), stored)
	})
	if err != nil {
		return fmt.Errorf("update follow-up of report %s: %w", r.ID, err)
	}
	return nil
}
