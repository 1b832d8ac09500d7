package worklist

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
	// ReasonRegistered refuses newPerson.idNumber: the registry has the
	// person already (a correction is a verified visit of their own task).
	ReasonRegistered = "already_registered"
	// ReasonOutsideTask refuses corrected.community or newPerson.community:
	// not the community of the task's grid, where the worker knocked.
	ReasonOutsideTask = "outside_task_community"
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
	// Retention moves a task's ExpiresAt with each visit (TaskExpiresAt);
	// zero means retention.Default.
	Retention time.Duration
}

// Get returns a task; ErrNotFound for an unknown id.
func (d *Desk) Get(ctx context.Context, id string) (Task, error) {
	t, err := d.Tasks.GetTask(ctx, id)
	if err != nil {
		return Task{}, fmt.Errorf("task %s: %w", id, err)
	}
	return t, nil
}

// Visit records one visit of a task by worker by, and returns the task as
// stored and the person key whose registry entry the visit wrote ("" if
// none), for the audit.
//
// The task is written first, conditional on the version read, with the
// visit's details sealed in it; then the registry is made to say what the
// stored visit found. So a visit refused as ErrConflict (another worker's
// visit came first) changes nothing, and a visit whose registry write
// failed is in the task's history: the same worker sending the same visit
// again (the same outcome and details, the same district day) finds it as
// the task's last visit, and the registry effect is applied again, which
// changes nothing when it is already there, and the retry answers as the
// first try should have.
//
// Bad input is a *fields.Error and changes nothing; a closed task is
// ErrClosed; a task changed since it was read (another worker's visit) is
// ErrConflict.
func (d *Desk) Visit(ctx context.Context, by, taskID string, in VisitInput) (t Task, wrote string, err error) {
	now := d.Now()
	if t, err = d.Get(ctx, taskID); err != nil {
		return Task{}, "", err
	}
	checked, checkErr := d.check(t, in, now)
	if checkErr == nil {
		retry, err := d.isRetry(t, by, checked, now)
		if err != nil {
			return Task{}, "", err
		}
		if retry {
			// The stored visit's details are the ones checked again.
			if wrote, err = d.applyToRegistry(ctx, t, t.Visits[len(t.Visits)-1], checked.details); err != nil {
				return Task{}, "", err
			}
			return t, wrote, nil
		}
	}
	if t.Status == TaskClosed {
		return Task{}, "", fmt.Errorf("visit task %s: %w", taskID, ErrClosed)
	}
	if checkErr != nil {
		return Task{}, "", checkErr
	}
	if err := d.checkNewPerson(ctx, checked); err != nil {
		return Task{}, "", err
	}

	visit := Visit{At: now.UTC(), By: by, Outcome: checked.outcome, RevisitOn: checked.revisitOn}
	if checked.details != (VisitDetails{}) {
		if visit.Sealed, err = d.Vault.SealJSON(checked.details, visitContext(t.ID, len(t.Visits))); err != nil {
			return Task{}, "", fmt.Errorf("seal visit of task %s: %w", t.ID, err)
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
	t.ExpiresAt = TaskExpiresAt(t, d.Retention)
	// The stores name the task and the version in their errors.
	if err := d.Tasks.UpdateTask(ctx, t, from); err != nil {
		return Task{}, "", err
	}
	if wrote, err = d.applyToRegistry(ctx, t, visit, checked.details); err != nil {
		return Task{}, "", err
	}
	return t, wrote, nil
}

// isRetry says the task's last visit is this one sent again: by the same
// worker, the same district day, with the same outcome and details. A
// second note left on another day, or by another worker, is a visit of its
// own.
func (d *Desk) isRetry(t Task, by string, c checkedVisit, now time.Time) (bool, error) {
	if len(t.Visits) == 0 {
		return false, nil
	}
	n := len(t.Visits) - 1
	last := t.Visits[n]
	if last.By != by || last.Outcome != c.outcome || last.RevisitOn != c.revisitOn || dates.Today(last.At) != dates.Today(now) {
		return false, nil
	}
	stored, err := OpenVisit(d.Vault, t, n)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(stored, c.details), nil
}

// checkNewPerson refuses a new person the registry has already: a visit
// adds people, it does not rewrite (or move) someone else's entry.
func (d *Desk) checkNewPerson(ctx context.Context, c checkedVisit) error {
	if c.outcome != NewPersonFound || c.details.NewPerson == nil {
		return nil
	}
	e := c.details.NewPerson
	key := report.PersonLookup(d.Vault, e.IDType, e.IDNumber)
	got, err := d.Registry.GetPeople(ctx, []string{key})
	if err != nil {
		return fmt.Errorf("registry entry of a new person: %w", err)
	}
	if _, ok := got[key]; ok {
		return &fields.Error{Code: CodeInvalidVisit, Problems: []fields.Problem{{Field: "newPerson.idNumber", Reason: ReasonRegistered}}}
	}
	return nil
}

// checkedVisit is a VisitInput that passed check, normalised.
type checkedVisit struct {
	outcome   string
	revisitOn string
	details   VisitDetails
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
			e, ok := d.checkEntryInTask(&c, "corrected", t, *in.Corrected, now)
			if ok && report.PersonLookup(d.Vault, e.IDType, e.IDNumber) != t.PersonKey {
				c.Add("corrected.idNumber", ReasonOther)
			}
			out.details.Corrected = &e
		}
	case NewPersonFound:
		if in.NewPerson == nil {
			c.Add("newPerson", "required")
		} else {
			e, _ := d.checkEntryInTask(&c, "newPerson", t, *in.NewPerson, now)
			out.details.NewPerson = &e
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

// applyToRegistry makes the registry say what visit v of task t found
// (its details opened), and returns the person key it wrote. Applied again
// it changes nothing: PutPeople skips an entry already as built, and an
// entry this task marked moved out stays so.
func (d *Desk) applyToRegistry(ctx context.Context, t Task, v Visit, details VisitDetails) (string, error) {
	switch {
	case v.Outcome == Verified && details.Corrected != nil:
		return d.putEntry(ctx, t, *details.Corrected, v.At)
	case v.Outcome == NewPersonFound && details.NewPerson != nil:
		key := report.PersonLookup(d.Vault, details.NewPerson.IDType, details.NewPerson.IDNumber)
		got, err := d.Registry.GetPeople(ctx, []string{key})
		if err != nil {
			return "", fmt.Errorf("registry entry of task %s: %w", t.ID, err)
		}
		// Someone else (an import) registered them between the check and
		// now: their entry stays as it is.
		if p, ok := got[key]; ok && p.Source != t.ID {
			return "", nil
		}
		return d.putEntry(ctx, t, *details.NewPerson, v.At)
	case v.Outcome == MovedOut:
		got, err := d.Registry.GetPeople(ctx, []string{t.PersonKey})
		if err != nil {
			return "", fmt.Errorf("registry entry of task %s: %w", t.ID, err)
		}
		p, ok := got[t.PersonKey]
		switch {
		case !ok:
			return "", nil
		case p.Status == registry.StatusMovedOut && p.Source == t.ID:
			return p.Key, nil // this visit's, written by an earlier try
		case p.Status == registry.StatusMovedOut:
			return "", nil
		}
		gone, err := movedOut(d.Vault, p, t.ID, v.At)
		if err != nil {
			return "", fmt.Errorf("registry entry of task %s: %w", t.ID, err)
		}
		if _, err := d.Registry.PutPeople(ctx, []registry.Person{gone}); err != nil {
			return "", fmt.Errorf("write registry for task %s: %w", t.ID, err)
		}
		return p.Key, nil
	}
	return "", nil
}

// putEntry writes an entry a visit of t checked, as of the visit's time.
func (d *Desk) putEntry(ctx context.Context, t Task, e registry.Entry, at time.Time) (string, error) {
	p, err := registry.Build(d.Vault, d.Grids, e, t.ID, at)
	if err != nil {
		return "", fmt.Errorf("registry entry of task %s: %w", t.ID, err)
	}
	if _, err := d.Registry.PutPeople(ctx, []registry.Person{p}); err != nil {
		return "", fmt.Errorf("write registry for task %s: %w", t.ID, err)
	}
	return p.Key, nil
}

// movedOut is p marked as moved out, its content hash set anew with the
// status, so PutPeople writes it. A later import of the same row leaves it
// moved out; a changed row in a newer export (the person is back on the
// district's books) makes the entry active again.
func movedOut(v *pii.Vault, p registry.Person, source string, now time.Time) (registry.Person, error) {
	personal, err := registry.Open(v, p)
	if err != nil {
		return registry.Person{}, err
	}
	p.Status = registry.StatusMovedOut
	// Not an import's row: the store keeps the entry's own ImportHash.
	p.ImportHash = ""
	p.ContentHash = registry.ContentHash(v, p, personal)
	p.Source = source
	p.UpdatedAt = now.UTC()
	return p, nil
}

// checkEntryInTask checks an entry typed at the door of task t (see
// checkEntry) and keeps it in the community of the task's grid, where the
// worker knocked: an empty community is the grid's (with its town), and
// another one is refused, so that a worker writes only the registry of the
// community they work in. The district pool's tasks, which only the
// district office sees, take any community; a grid the directory no longer
// has takes none.
func (d *Desk) checkEntryInTask(c *fields.Collector, prefix string, t Task, e registry.Entry, now time.Time) (registry.Entry, bool) {
	pool := t.GridCode == grid.Unassigned
	var home grid.Grid
	known := false
	if !pool && d.Grids != nil {
		home, known = d.Grids.Lookup(t.GridCode)
	}
	if known && textnorm.Clean(e.Community) == "" {
		e.Community = home.Community
		if textnorm.Clean(e.Town) == "" {
			e.Town = home.Town
		}
	}
	out, documentOK := checkEntry(c, prefix, e, now)
	if pool || out.Community == "" {
		return out, documentOK // an empty community is refused as required
	}
	if !known || !d.inCommunityOf(home, out) {
		c.Add(prefix+".community", ReasonOutsideTask)
	}
	return out, documentOK
}

// inCommunityOf says the registry would place e in g's community.
func (d *Desk) inCommunityOf(g grid.Grid, e registry.Entry) bool {
	code, ok := d.Grids.ForPlace(e.Town, e.Community, e.Address)
	if !ok {
		return false
	}
	placed, ok := d.Grids.Lookup(code)
	return ok && placed.Community == g.Community && placed.Town == g.Town
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
