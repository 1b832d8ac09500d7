package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/audit"
)

// bucketAudit: person key \x00 audit id -> JSON Record. Ids are
// time-ordered, so a person's records are in the order they happened.
var bucketAudit = []byte("audit")

// bucketAuditByActor: actor \x00 audit id -> person key, the index
// ByActor walks (a record is stored once, under its person).
var bucketAuditByActor = []byte("audit_by_actor")

var _ audit.Log = (*Store)(nil)

// Append implements audit.Log in one transaction: if any record's id is
// taken by another record, none is stored. Every read of personal data
// appends, so concurrent requests share a commit (Batch).
func (s *Store) Append(ctx context.Context, records []audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		for _, r := range records {
			if r.ID == "" || r.PersonKey == "" {
				return errors.New("an audit record without an id or person")
			}
			k := key(r.PersonKey, r.ID)
			if v := b.Get(k); v != nil {
				var stored audit.Record
				if err := json.Unmarshal(v, &stored); err != nil {
					return fmt.Errorf("decode audit record %s: %w", r.ID, err)
				}
				if !stored.Equal(r) {
					return fmt.Errorf("%s: %w", r.ID, audit.ErrExists)
				}
				continue
			}
			if err := putJSON(b, k, r); err != nil {
				return err
			}
			if err := tx.Bucket(bucketAuditByActor).Put(key(r.Actor, r.ID), []byte(r.PersonKey)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit records: %w", len(records), err)
	}
	return nil
}

// ByPerson implements audit.Log with a seek to the person's records.
func (s *Store) ByPerson(ctx context.Context, personKey string) ([]audit.Record, error) {
	var out []audit.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPrefixed(tx.Bucket(bucketAudit), key(personKey, ""), func(k, v []byte) error {
			var r audit.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode audit record %q: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// ByActor implements audit.Log through the actor index.
func (s *Store) ByActor(ctx context.Context, actor string) ([]audit.Record, error) {
	var out []audit.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		records := tx.Bucket(bucketAudit)
		return eachPrefixed(tx.Bucket(bucketAuditByActor), key(actor, ""), func(k, personKey []byte) error {
			id := k[len(actor)+1:]
			v := records.Get(key(string(personKey), string(id)))
			if v == nil {
				return nil // expired under its person
			}
			var r audit.Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode audit record %q: %w", id, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}
