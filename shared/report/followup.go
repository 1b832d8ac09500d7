package report

import (
	"context"
	"errors"
	"time"
)

// Report statuses after StatusNew.
const (
	StatusInProgress = "in_progress" // contacted at least once, not closed
	StatusClosed     = "closed"
)

// Follow-up outcomes a grid worker records.
const (
	Contacted   = "contacted"
	Tested      = "tested"
	Unreachable = "unreachable"
	WrongGrid   = "wrong_grid" // moves the report to ToGrid
	Closed      = "closed"
)

// FollowUp is one thing a grid worker did about a report. It holds no
// personal data: the note is a reason code or the worker's short remark
// about the case, never a name or number.
type FollowUp struct {
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Outcome  string    `json:"outcome"`
	Note     string    `json:"note,omitempty"`
	FromGrid string    `json:"fromGrid,omitempty"`
	ToGrid   string    `json:"toGrid,omitempty"`
}

// ErrConflict means the report changed since it was read.
var ErrConflict = errors.New("report: changed meanwhile")

// FollowUpStore records follow-ups.
type FollowUpStore interface {
	// UpdateFollowUp stores r's follow-up fields (Status, GridCode,
	// ListKey, ContactDue, FirstContactAt, ClosedAt, FollowUps, Version =
	// fromVersion+1) if the stored report still has fromVersion, else
	// ErrConflict. Other fields, such as FollowUp set by the SMS ledger,
	// are left as stored.
	UpdateFollowUp(ctx context.Context, r Record, fromVersion int) error
}
