package report

import (
	"time"

	"gridcode/shared/risk"
)

// Deadlines are how long a grid worker has to reach a reported person and
// how long each escalation step waits after that.
type Deadlines struct {
	Contact  time.Duration // first contact after submission
	HighRisk time.Duration // first contact for a high-risk report
	Escalate time.Duration // each step up once contact is late
}

// DefaultDeadlines: contact within 24 h, 4 h for high risk; the community
// supervisor hears of a late report one step (24 h) after it fell due, the
// district office two steps after.
func DefaultDeadlines() Deadlines {
	return Deadlines{Contact: 24 * time.Hour, HighRisk: 4 * time.Hour, Escalate: 24 * time.Hour}
}

// OrDefaults fills every zero duration from DefaultDeadlines, so a zero
// Deadlines in a struct literal means the defaults.
func (d Deadlines) OrDefaults() Deadlines {
	def := DefaultDeadlines()
	if d.Contact <= 0 {
		d.Contact = def.Contact
	}
	if d.HighRisk <= 0 {
		d.HighRisk = def.HighRisk
	}
	if d.Escalate <= 0 {
		d.Escalate = def.Escalate
	}
	return d
}

// ContactWindow is how long first contact may take for a report of level.
func (d Deadlines) ContactWindow(level risk.Level) time.Duration {
	d = d.OrDefaults()
	if level == risk.High {
		return d.HighRisk
	}
	return d.Contact
}

// EscalationStep is how long each escalation step waits for a report of
// level: Escalate, but never longer than the report's own contact window.
// A report climbs no slower than it fell due: a person who had to be
// reached within 4 h is not left another day before the community's
// supervisor hears of it. One rule for every level, so the defaults give
// 24 h steps, and 4 h for high risk.
func (d Deadlines) EscalationStep(level risk.Level) time.Duration {
	d = d.OrDefaults()
	return min(d.Escalate, d.ContactWindow(level))
}

// ContactDue is when first contact is due for a report of level that its
// grid learned of at start.
func (d Deadlines) ContactDue(start time.Time, level risk.Level) time.Time {
	return start.Add(d.ContactWindow(level)).UTC()
}

// EscalationLevel says who must act on a report whose first contact is
// late. Levels are ordered: a higher level includes the lower ones.
type EscalationLevel int

// Escalation levels.
const (
	EscalationNone      EscalationLevel = iota // contact made, closed, or not yet due
	EscalationOverdue                          // due passed: in the grid worker's overdue list
	EscalationCommunity                        // one step later: the community's supervisor
	EscalationDistrict                         // two steps later: the district office
)

var escalationNames = [...]string{"none", "overdue", "community", "district"}

func (l EscalationLevel) String() string {
	if l < 0 || int(l) >= len(escalationNames) {
		return "unknown"
	}
	return escalationNames[l]
}

// MarshalText writes the level's name, so JSON shows "community", not 2.
func (l EscalationLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Escalation says how late first contact is on r at now.
//
// A report whose welcome SMS failed (FollowUp == FollowUpCall) with no
// contact yet is overdue at once, whatever ContactDue says: the person has
// heard nothing, so the phone call is due now. The further steps still
// count from ContactDue: a failed SMS is not the grid worker's lateness,
// and the supervisors are called in on the usual clock.
func Escalation(r Record, now time.Time, d Deadlines) EscalationLevel {
	if r.Status == StatusClosed || !r.ClosedAt.IsZero() || !r.FirstContactAt.IsZero() {
		return EscalationNone
	}
	due := contactDue(r, d)
	step := d.EscalationStep(r.RiskLevel)
	level := EscalationNone
	switch {
	case !now.Before(due.Add(2 * step)):
		level = EscalationDistrict
	case !now.Before(due.Add(step)):
		level = EscalationCommunity
	case !now.Before(due):
		level = EscalationOverdue
	}
	if level == EscalationNone && r.FollowUp == FollowUpCall {
		level = EscalationOverdue
	}
	return level
}

// contactDue is r's deadline; reports stored before deadlines existed have
// none, and get the one intake would have given them.
func contactDue(r Record, d Deadlines) time.Time {
	if !r.ContactDue.IsZero() {
		return r.ContactDue
	}
	return d.ContactDue(r.SubmittedAt, r.RiskLevel)
}
