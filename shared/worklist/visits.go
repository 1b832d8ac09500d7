package worklist

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/textnorm"
)

// ErrClosed means the task is closed: a later knock at the door is a new
// task, not a visit of this one.
var ErrClosed = errors.New("worklist: task closed")

// CodeInvalidVisit refuses a visit; its problems name the fields.
const CodeInvalidVisit = "invalid_visit"

// Reasons of visit problems, besides "required" and the reasons of the
// registry entry's fields.
const (
	ReasonUnknown    = "unknown"        // outcome: not one of the outcomes
	ReasonInvalid    = "invalid"        // notePhone, revisitOn: not a mobile number, not a date
	ReasonPast       = "past"           // revisitOn: before today
	ReasonUnexpected = "unexpected"     // a field the outcome does not take
	ReasonOther      = "another_person" // corrected: a document other than the task's person
	ReasonTooLong    = "too_long"
	ReasonCharacters = "invalid_characters"
)

// MaxRemarkRunes bounds the worker's remark.
const MaxRemarkRunes = 200

// VisitInput is what a grid worker reports after knocking at the door.
type VisitInput struct {
	Outcome string
	// Corrected, for Verified, is the person's registry entry as found at
	// the door; it must be the task's person (the same document).
	Corrected *registry.Entry
	// NewPerson, for NewPersonFound, is someone living there the registry
	// lacks.
	NewPerson *registry.Entry
	// NotePhone (required) and RevisitOn (optional, YYYY-MM-DD, default the
	// next district day), for NotHomeNoteLeft.
	NotePhone, RevisitOn string
	Remark               string
}

// VisitDetails is what a Visit's Sealed holds.
type VisitDetails struct {
	NotePhone string          `json:"notePhone,omitempty"`
	Corrected *registry.Entry `json:"corrected,omitempty"`
	NewPerson *registry.Entry `json:"newPerson,omitempty"`
	Remark    string          `json:"remark,omitempty"`
}

// Desk records door-knocking visits and their effect on the registry.
// Access checks (which grid's worker may visit which task) are the HTTP
// layer's.
type Desk struct {
	Tasks    Store
	Registry registry.Store
	Vault    *pii.Vault
	Grids    *grid.Directory
	Now      func() time.Time
}

// Get returns a task; ErrNotFound for an unknown id.
func (d *Desk) Get(ctx context.Context, id string) (Task, error) {
	t, err := d.Tasks.GetTask(ctx, id)
	if err != nil {
		return Task{}, fmt.Errorf("task %s: %w", id, err)
	}
	return t, nil
}

// Visit records one visit of a task by worker by. The registry is written
// before the task: PutPeople changes nothing when the entry is already as
// written, so a retry after a failed task write converges on the same
// registry and one visit. Bad input is a *fields.Error and changes nothing;
// a closed task is ErrClosed; a task changed since it was read (another
// worker's visit) is ErrConflict.
func (d *Desk) Visit(ctx context.Context, by, taskID string, in VisitInput) (Task, error) {
	now := d.Now()
	t, err := d.Get(ctx, taskID)
	if err != nil {
		return Task{}, err
	}
	if t.Status == TaskClosed {
		return Task{}, fmt.Errorf("visit task %s: %w", taskID, ErrClosed)
	}
	checked, err := d.check(t, in, now)
	if err != nil {
		return Task{}, err
	}
	if err := d.applyToRegistry(ctx, t, checked, now); err != nil {
		return Task{}, err
	}

	visit := Visit{At: now.UTC(), By: by, Outcome: checked.outcome, RevisitOn: checked.revisitOn}
	if checked.details != (VisitDetails{}) {
		if visit.Sealed, err = d.Vault.SealJSON(checked.details, visitContext(t.ID, len(t.Visits))); err != nil {
			return Task{}, fmt.Errorf("seal visit of task %s: %w", t.ID, err)
		}
	}
	from := t.Version
	t.Visits = append(t.Visits, visit)
	t.Outcome = checked.outcome
	t.Version = from + 1
	t.UpdatedAt = now.UTC()
	if checked.outcome == NotHomeNoteLeft {
		t.Status, t.DueOn = TaskRevisit, checked.revisitOn
	} else {
		t.Status = TaskClosed
	}
	if err := d.Tasks.UpdateTask(ctx, t, from); err != nil {
		return Task{}, fmt.Errorf("update task %s: %w", t.ID, err)
	}
	return t, nil
}

// checkedVisit is a VisitInput that passed check, normalised.
type checkedVisit struct {
	outcome   string
	revisitOn string
	details   VisitDetails
	entry     *registry.Entry // to upsert: the corrected or new person
}

func (d *Desk) check(t Task, in VisitInput, now time.Time) (checkedVisit, error) {
	var c fields.Collector
	out := checkedVisit{outcome: in.Outcome}
	today := dates.Today(now)
	unexpected := func(field string, given bool) {
		if given {
			c.Add(field, ReasonUnexpected)
		}
	}

	switch in.Outcome {
	case Verified, MovedOut, NewPersonFound, NotHomeNoteLeft:
	default:
		c.Add("outcome", fields.Reason(in.Outcome, ReasonUnknown))
	}
	unexpected("corrected", in.Corrected != nil && in.Outcome != Verified)
	unexpected("newPerson", in.NewPerson != nil && in.Outcome != NewPersonFound)
	unexpected("notePhone", in.NotePhone != "" && in.Outcome != NotHomeNoteLeft)
	unexpected("revisitOn", in.RevisitOn != "" && in.Outcome != NotHomeNoteLeft)

	switch in.Outcome {
	case Verified:
		if in.Corrected != nil {
			e, ok := checkEntry(&c, "corrected", d.inTaskPlace(t, *in.Corrected), now)
			if ok && report.PersonLookup(d.Vault, e.IDType, e.IDNumber) != t.PersonKey {
				c.Add("corrected.idNumber", ReasonOther)
			}
			out.entry, out.details.Corrected = &e, &e
		}
	case NewPersonFound:
		if in.NewPerson == nil {
			c.Add("newPerson", "required")
		} else {
			e, _ := checkEntry(&c, "newPerson", d.inTaskPlace(t, *in.NewPerson), now)
			out.entry, out.details.NewPerson = &e, &e
		}
	case NotHomeNoteLeft:
		if p, ok := phone.Normalize(in.NotePhone); ok {
			out.details.NotePhone = p
		} else {
			c.Add("notePhone", fields.Reason(in.NotePhone, ReasonInvalid))
		}
		out.revisitOn = dates.AddDays(today, 1)
		if in.RevisitOn != "" {
			switch _, ok := dates.Parse(in.RevisitOn); {
			case !ok:
				c.Add("revisitOn", ReasonInvalid)
			case in.RevisitOn < today:
				c.Add("revisitOn", ReasonPast)
			default:
				out.revisitOn = in.RevisitOn
			}
		}
	}

	if in.Remark != "" {
		remark := textnorm.Clean(in.Remark)
		switch {
		case utf8.RuneCountInString(remark) > MaxRemarkRunes:
			c.Add("remark", ReasonTooLong)
		case !textnorm.Printable(remark):
			c.Add("remark", ReasonCharacters)
		}
		out.details.Remark = remark
	}
	if err := c.Err(CodeInvalidVisit); err != nil {
		return checkedVisit{}, err
	}
	return out, nil
}

// applyToRegistry makes the registry say what the visit found.
func (d *Desk) applyToRegistry(ctx context.Context, t Task, c checkedVisit, now time.Time) error {
	switch {
	case c.entry != nil:
		p, err := registry.Build(d.Vault, d.Grids, *c.entry, t.ID, now)
		if err != nil {
			return fmt.Errorf("registry entry of task %s: %w", t.ID, err)
		}
		if _, err := d.Registry.PutPeople(ctx, []registry.Person{p}); err != nil {
			return fmt.Errorf("write registry for task %s: %w", t.ID, err)
		}
	case c.outcome == MovedOut:
		got, err := d.Registry.GetPeople(ctx, []string{t.PersonKey})
		if err != nil {
			return fmt.Errorf("registry entry of task %s: %w", t.ID, err)
		}
		p, ok := got[t.PersonKey]
		if !ok || p.Status == registry.StatusMovedOut {
			return nil
		}
		gone, err := movedOut(d.Vault, p, t.ID, now)
		if err != nil {
			return fmt.Errorf("registry entry of task %s: %w", t.ID, err)
		}
		if _, err := d.Registry.PutPeople(ctx, []registry.Person{gone}); err != nil {
			return fmt.Errorf("write registry for task %s: %w", t.ID, err)
		}
	}
	return nil
}

// movedOut is p marked as moved out, its content hash set anew with the
// status, so PutPeople writes it and a later import of the same row (the
// person is back on the district's books) makes the entry active again.
func movedOut(v *pii.Vault, p registry.Person, source string, now time.Time) (registry.Person, error) {
	personal, err := registry.Open(v, p)
	if err != nil {
		return registry.Person{}, err
	}
	p.Status = registry.StatusMovedOut
	p.ContentHash = registry.ContentHash(v, p, personal)
	p.Source = source
	p.UpdatedAt = now.UTC()
	return p, nil
}

// inTaskPlace fills an entry's community and town, when the worker left
// them out, with those of the task's grid: the worker is at the door there.
func (d *Desk) inTaskPlace(t Task, e registry.Entry) registry.Entry {
	if e.Community != "" || d.Grids == nil {
		return e
	}
	if g, ok := d.Grids.Lookup(t.GridCode); ok {
		e.Community = g.Community
		if e.Town == "" {
			e.Town = g.Town
		}
	}
	return e
}

func visitContext(taskID string, n int) string { return taskID + "/visit/" + strconv.Itoa(n) }

// OpenEvidence opens what list A said about the task's person.
func OpenEvidence(v *pii.Vault, t Task) (Evidence, error) {
	ev, err := pii.OpenJSON[Evidence](v, t.EvidenceSealed, t.ID)
	if err != nil {
		return Evidence{}, fmt.Errorf("open evidence of task %s: %w", t.ID, err)
	}
	return ev, nil
}

// OpenVisit opens the personal data of the task's visit n (0 the first),
// for the task's history; a visit that recorded none gives zero details.
func OpenVisit(v *pii.Vault, t Task, n int) (VisitDetails, error) {
	if n < 0 || n >= len(t.Visits) {
		return VisitDetails{}, fmt.Errorf("visit %d of task %s: %w", n, t.ID, ErrNotFound)
	}
	if len(t.Visits[n].Sealed) == 0 {
		return VisitDetails{}, nil
	}
	d, err := pii.OpenJSON[VisitDetails](v, t.Visits[n].Sealed, visitContext(t.ID, n))
	if err != nil {
		return VisitDetails{}, fmt.Errorf("open visit %d of task %s: %w", n, t.ID, err)
	}
	return d, nil
}
