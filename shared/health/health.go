// Package health holds each person's health status as the provincial feed
// reports it: health-code colour, last nucleic-acid test (NAT), vaccination.
// The status is personal data: it is stored sealed, and only the instant
// of the last update stays readable, so the store can refuse an older
// update without opening anything.
package health

import (
	"context"
	"fmt"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/pii"
)

// Color is the health-code colour.
type Color string

const (
	Green  Color = "green"
	Yellow Color = "yellow"
	Red    Color = "red"
)

// Name is the colour as people say it: 绿码, 黄码, 红码.
func (c Color) Name() string {
	switch c {
	case Green:
		return "绿码"
	case Yellow:
		return "黄码"
	case Red:
		return "红码"
	}
	return string(c)
}

// Urgent says a change to this colour must reach people at once.
func (c Color) Urgent() bool { return c == Yellow || c == Red }

// NATResult is the result of a nucleic-acid test.
type NATResult string

const (
	Negative NATResult = "negative"
	Positive NATResult = "positive"
)

// Status is what is known of one person's health.
type Status struct {
	CodeColor    Color      `json:"codeColor"`
	NATAt        *time.Time `json:"natAt,omitempty"`
	NATResult    NATResult  `json:"natResult,omitempty"`
	VaccineDoses int        `json:"vaccineDoses"`
	UpdatedAt    time.Time  `json:"updatedAt"`
}

// Record is a status as stored: keyed by the person lookup (the same key
// reports and rosters use), the status sealed to that key.
type Record struct {
	PersonKey string    `json:"personKey"`
	UpdatedAt time.Time `json:"updatedAt"`
	Sealed    []byte    `json:"statusSealed"`
}

// Seal makes the stored form of s.
func Seal(v *pii.Vault, personKey string, s Status) (Record, error) {
	sealed, err := v.SealJSON(s, "health/"+personKey)
	if err != nil {
		return Record{}, err
	}
	return Record{PersonKey: personKey, UpdatedAt: s.UpdatedAt.UTC(), Sealed: sealed}, nil
}

// Open reads the status of a record.
func Open(v *pii.Vault, r Record) (Status, error) {
	s, err := pii.OpenJSON[Status](v, r.Sealed, "health/"+r.PersonKey)
	if err != nil {
		return Status{}, fmt.Errorf("open health status: %w", err)
	}
	return s, nil
}

// Write replaces one person's status if it is still what was read, and
// stores its alerts in the same transaction.
type Write struct {
	Record Record
	// Prev is the UpdatedAt that was read; nil means there was no status.
	Prev   *time.Time
	Alerts []alert.Alert
}

// Store keeps health statuses.
type Store interface {
	// GetHealth returns the records of the keys that have one.
	GetHealth(ctx context.Context, personKeys []string) (map[string]Record, error)
	// WriteHealth applies each write whose condition holds, atomically with
	// its alerts (created only if their id is new). It returns the indexes
	// of the writes whose condition failed, or whose alert existed; those
	// changed nothing.
	WriteHealth(ctx context.Context, writes []Write) (conflicts []int, err error)
}
