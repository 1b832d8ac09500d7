// Package audit records every read or change of a person's data: who, in
// which role, did what, to whom (by person key, never by name), when and
// from where. Records are only ever appended.
package audit

import (
	"context"
	"errors"
	"time"
)

// Record is one audited access.
type Record struct {
	ID        string    `json:"auditId"` // unique: time-ordered, then random
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"` // the token's subject
	Role      string    `json:"role"`
	Action    string    `json:"action"` // e.g. registry.search_result, task.visit
	PersonKey string    `json:"personKey"`
	From      string    `json:"from,omitempty"` // client address
	ExpiresAt int64     `json:"expiresAt"`
}

// Equal says r and o are the same record, their instants compared as
// instants (a record read back may come in another time zone).
func (r Record) Equal(o Record) bool {
	if !r.At.Equal(o.At) {
		return false
	}
	r.At = o.At
	return r == o
}

// ErrExists is returned by Append for a record whose id another record
// holds.
var ErrExists = errors.New("audit: another record has this id")

// Log appends audit records.
type Log interface {
	// Append stores records; it never replaces one. A record equal (Equal)
	// to the one stored under its id is taken as written: a retry after a
	// lost answer appends the same records again. A different record under
	// a stored id is ErrExists. A record without an ID or PersonKey is
	// refused. After an error some of the records may be stored: append
	// them all again.
	Append(ctx context.Context, records []Record) error
	// ByPerson lists a person's audit records, oldest first.
	ByPerson(ctx context.Context, personKey string) ([]Record, error)
	// ByActor lists what one actor (a token's subject) read or changed,
	// oldest first.
	ByActor(ctx context.Context, actor string) ([]Record, error)
}
