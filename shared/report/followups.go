package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/textnorm"
)

// ErrClosed refuses a follow-up on a closed report: closing is the last
// thing a grid worker records.
var ErrClosed = errors.New("report: closed")

// ErrTooManyFollowUps refuses a follow-up once a report holds
// MaxFollowUps (the last one kept for closing).
var ErrTooManyFollowUps = errors.New("report: too many follow-ups")

// NoteLimit bounds a follow-up's note: a reason or a short remark, not a
// case file.
const NoteLimit = 200

// MaxFollowUps bounds the follow-ups of one report. They are stored in
// the report's item, which DynamoDB caps at 400 KB; 100 sealed notes of
// NoteLimit characters stay under 100 KB. No real case takes that many
// calls: a report that does is being misused. The last place is kept for
// closing, so a report that reached the cap can still leave the lists.
const MaxFollowUps = 100

// DefaultOverdueLookback bounds how far back Overdue looks: twice the
// 7-day itinerary window a report is about. A report still uncontacted
// after that is past helping by a phone call; the statistics still count it.
const DefaultOverdueLookback = 14 * 24 * time.Hour

// GridDirectory gives the district's current grids (district.Settings
// caches them), to check where a report is moved.
type GridDirectory interface {
	Grids(ctx context.Context) (*grid.Directory, error)
}

// FollowUps records what grid workers do about reports and lists the
// reports whose first contact is late. Who may act on a report is the
// caller's rule, which Record applies to the very record it versions.
type FollowUps struct {
	Reports   Store
	Updates   FollowUpStore
	Grids     GridDirectory
	Vault     *pii.Vault    // seals the notes
	Deadlines Deadlines     // zero means DefaultDeadlines
	Lookback  time.Duration // of Overdue; zero means DefaultOverdueLookback
	// Retention moves a report's ExpiresAt with each follow-up; zero means
	// retention.Default.
	Retention time.Duration
	Now       func() time.Time
}

// FollowUpInput is one follow-up as a grid worker submits it.
type FollowUpInput struct {
	Outcome string `json:"outcome"`
	Note    string `json:"note,omitempty"`
	ToGrid  string `json:"toGrid,omitempty"` // wrong_grid only
}

// Record appends a follow-up to a report, by the staff member by, and
// returns the report as stored. allow is the caller's access rule: it sees
// the report as read, and the update is conditional on that very version,
// so a report moved to another grid meanwhile is a conflict, never a
// follow-up by the old grid's worker. Bad input is a *fields.Error; what
// allow returns is passed through before anything else is said about the
// report; a closed report is ErrClosed, a full one ErrTooManyFollowUps; a
// report changed meanwhile is ErrConflict, for the caller to read again
// and decide.
func (f *FollowUps) Record(ctx context.Context, by, reportID string, in FollowUpInput, allow func(Record) error) (Record, error) {
	var c fields.Collector
	note := textnorm.Clean(in.Note)
	switch {
	case utf8.RuneCountInString(note) > NoteLimit:
		c.Add("note", "too_long")
	case !textnorm.Printable(note):
		c.Add("note", "invalid_characters")
	}
	switch in.Outcome {
	case OutcomeContacted, OutcomeTested, OutcomeUnreachable, OutcomeClosed:
		if in.ToGrid != "" {
			c.Add("toGrid", "not_allowed")
		}
	case OutcomeWrongGrid:
		// The next grid's worker needs to know why the report came to them.
		if note == "" {
			c.Add("note", "required")
		}
		if in.ToGrid == "" {
			c.Add("toGrid", "required")
		}
	default:
		c.Add("outcome", fields.Reason(in.Outcome, "unknown"))
	}
	if err := c.Err("invalid_follow_up"); err != nil {
		return Record{}, err
	}
	if by == "" {
		return Record{}, fmt.Errorf("follow-up on report %s: no staff member named", reportID)
	}
	if allow == nil {
		return Record{}, fmt.Errorf("follow-up on report %s: no access rule", reportID)
	}

	r, err := f.Reports.Get(ctx, reportID)
	if err != nil {
		return Record{}, fmt.Errorf("follow-up on report %s: %w", reportID, err)
	}
	if err := allow(r); err != nil {
		return Record{}, fmt.Errorf("follow-up on report %s: %w", reportID, err)
	}
	if r.Status == StatusClosed {
		return Record{}, fmt.Errorf("follow-up on report %s: %w", reportID, ErrClosed)
	}
	if n := len(r.FollowUps); n >= MaxFollowUps || (n >= MaxFollowUps-1 && in.Outcome != OutcomeClosed) {
		return Record{}, fmt.Errorf("follow-up on report %s with %d: %w", reportID, n, ErrTooManyFollowUps)
	}
	now := f.Now().UTC()
	entry := FollowUp{At: now, By: by, Outcome: in.Outcome}
	switch in.Outcome {
	case OutcomeContacted, OutcomeTested:
		if r.FirstContactAt.IsZero() {
			r.FirstContactAt = now
		}
		r.Status = StatusInProgress
	case OutcomeUnreachable:
		// An attempt, not contact: the status stays and the deadline runs.
	case OutcomeWrongGrid:
		if err := f.checkMove(ctx, r.GridCode, in.ToGrid); err != nil {
			return Record{}, err
		}
		entry.FromGrid, entry.ToGrid = r.GridCode, in.ToGrid
		r.GridCode = in.ToGrid
		// The new grid's worker learns of the report only now, so they get
		// the report's whole contact window from now: holding them to the
		// first grid's deadline would make a report moved late overdue
		// before anyone there could act on it. The cost, a report moved
		// twice waits twice, is visible in its FollowUps. A person already
		// reached keeps FirstContactAt, and so has no deadline to meet.
		r.ContactDue = f.Deadlines.ContactDue(now, r.RiskLevel)
	case OutcomeClosed:
		r.Status, r.ClosedAt = StatusClosed, now
	}
	if entry.NoteSealed, err = sealNote(f.Vault, r.ID, len(r.FollowUps), note); err != nil {
		return Record{}, err
	}
	r.FollowUps = append(r.FollowUps, entry)
	r.ExpiresAt = ExpiresAt(r, f.Retention)
	from := r.Version
	r.Version = from + 1
	if err := f.Updates.UpdateFollowUp(ctx, r, from); err != nil {
		return Record{}, fmt.Errorf("follow-up on report %s: %w", reportID, err)
	}
	return r, nil
}

// checkMove refuses a move to a grid that does not exist or to the grid
// the report is in. The district pool is a valid target: a worker who
// knows the report is not theirs but not whose hands it back to the office.
func (f *FollowUps) checkMove(ctx context.Context, from, to string) error {
	var c fields.Collector
	switch {
	case to == from:
		c.Add("toGrid", "same_grid")
	case to == grid.Unassigned:
	default:
		dir, err := f.Grids.Grids(ctx)
		if err != nil {
			return fmt.Errorf("grids: %w", err)
		}
		if _, ok := dir.Lookup(to); !ok {
			c.Add("toGrid", "unknown")
		}
	}
	return c.Err("invalid_follow_up")
}

// overduePageSize is the page Overdue reads the grid's reports by.
const overduePageSize = 200

// Overdue lists a grid's reports whose first contact is late, as of now:
// not closed, nobody reached yet, and at least EscalationOverdue. The most
// escalated come first, then the ones due longest ago. Only reports
// submitted within the lookback are read.
func (f *FollowUps) Overdue(ctx context.Context, gridCode string, now time.Time) ([]Record, error) {
	lookback := cmp.Or(f.Lookback, DefaultOverdueLookback)
	// One query for every status, closed ones skipped here: the store
	// filters status after reading anyway (DynamoDB's filter expression),
	// so two queries, new and in_progress, would read the grid twice.
	q := GridQuery{GridCode: gridCode, Since: now.Add(-lookback), Limit: overduePageSize}
	type late struct {
		r     Record
		level EscalationLevel
		due   time.Time
	}
	var found []late
	for {
		page, err := f.Reports.ListGrid(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("overdue reports of grid %s: %w", gridCode, err)
		}
		for _, r := range page.Records {
			if level := Escalation(r, now, f.Deadlines); level >= EscalationOverdue {
				found = append(found, late{r, level, contactDue(r, f.Deadlines)})
			}
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	slices.SortFunc(found, func(a, b late) int {
		return cmp.Or(
			cmp.Compare(b.level, a.level),
			a.due.Compare(b.due),
			cmp.Compare(a.r.ID, b.r.ID),
		)
	})
	out := make([]Record, len(found))
	for i, l := range found {
		out[i] = l.r
	}
	return out, nil
}
