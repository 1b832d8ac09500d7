package report

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gridcode/shared/pii"
)

// Report statuses after StatusNew.
const (
	StatusInProgress = "in_progress" // contacted at least once, not closed
	StatusClosed     = "closed"
)

// Follow-up outcomes a grid worker records.
const (
	OutcomeContacted   = "contacted"
	OutcomeTested      = "tested"
	OutcomeUnreachable = "unreachable"
	OutcomeWrongGrid   = "wrong_grid" // moves the report to ToGrid
	OutcomeClosed      = "closed"
)

// FollowUp is one thing a grid worker did about a report, as stored. The
// note is free text a worker types (a reason, a remark), so it will hold
// names and phone numbers sooner or later: it is sealed to the report and
// the follow-up's place in the list, like a visit's remark.
type FollowUp struct {
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Outcome    string    `json:"outcome"`
	NoteSealed []byte    `json:"noteSealed,omitempty"`
	FromGrid   string    `json:"fromGrid,omitempty"`
	ToGrid     string    `json:"toGrid,omitempty"`
}

// FollowUpView is a follow-up as the report's readers see it: the note
// opened.
type FollowUpView struct {
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Outcome  string    `json:"outcome"`
	Note     string    `json:"note,omitempty"`
	FromGrid string    `json:"fromGrid,omitempty"`
	ToGrid   string    `json:"toGrid,omitempty"`
}

// noteContext binds a note to its report and its place in the list, so a
// sealed note copied onto another report or entry does not open there.
func noteContext(reportID string, n int) string { return reportID + "/followup/" + strconv.Itoa(n) }

// sealNote seals the note of r's follow-up number n; an empty note stays
// empty.
func sealNote(v *pii.Vault, reportID string, n int, note string) ([]byte, error) {
	if note == "" {
		return nil, nil
	}
	sealed, err := v.SealJSON(note, noteContext(reportID, n))
	if err != nil {
		return nil, fmt.Errorf("seal follow-up note %d of report %s: %w", n, reportID, err)
	}
	return sealed, nil
}

// OpenFollowUps returns r's follow-ups with their notes opened, never nil.
func OpenFollowUps(v *pii.Vault, r Record) ([]FollowUpView, error) {
	out := make([]FollowUpView, len(r.FollowUps))
	for n, f := range r.FollowUps {
		out[n] = FollowUpView{At: f.At, By: f.By, Outcome: f.Outcome, FromGrid: f.FromGrid, ToGrid: f.ToGrid}
		if len(f.NoteSealed) == 0 {
			continue
		}
		note, err := pii.OpenJSON[string](v, f.NoteSealed, noteContext(r.ID, n))
		if err != nil {
			return nil, fmt.Errorf("open follow-up note %d of report %s: %w", n, r.ID, err)
		}
		out[n].Note = note
	}
	return out, nil
}

// ErrConflict means the report changed since it was read.
var ErrConflict = errors.New("report: changed meanwhile")

// FollowUpStore records follow-ups.
type FollowUpStore interface {
	// UpdateFollowUp stores r's follow-up fields (Status, GridCode,
	// ListKey, ContactDue, FirstContactAt, ClosedAt, FollowUps, ExpiresAt,
	// Version = fromVersion+1) if the stored report still has fromVersion, else
	// ErrConflict. Other fields, such as FollowUp set by the SMS ledger,
	// are left as stored.
	UpdateFollowUp(ctx context.Context, r Record, fromVersion int) error
}
