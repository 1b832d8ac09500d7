// Package audit records every read or change of a person's data: who, in
// which role, did what, to whom (by person key, never by name), when and
// from where. Records are only ever appended.
package audit

import (
	"context"
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

// Log appends audit records.
type Log interface {
	// Append stores records; it never replaces one.
	Append(ctx context.Context, records []Record) error
	// ByPerson lists a person's audit records, oldest first.
	ByPerson(ctx context.Context, personKey string) ([]Record, error)
}
