package report

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/retention"
	"gridcode/shared/risk"
)

// Status of a report in the grid's worklist.
const StatusNew = "new"

// FollowUpCall is set when the welcome SMS could not be delivered: the
// grid worker phones the person instead (短信未送达,请电话联系).
const FollowUpCall = "sms_undelivered_call"

// Record is a report as stored. Personal fields are sealed; the lookups
// let the district find a person's reports without reading them.
type Record struct {
	ID            string       `json:"reportId"`
	GridCode      string       `json:"gridCode"`
	RoutedBy      string       `json:"routedBy"`
	ListKey       string       `json:"listKey"`
	IDType        idcard.Kind  `json:"idType"`
	ArrivalStatus string       `json:"arrivalStatus"`
	ArrivalDate   string       `json:"arrivalDate"`
	FromAreaCode  string       `json:"fromAreaCode"`
	Itinerary     []Stop       `json:"itinerary"`
	Community     string       `json:"community,omitempty"`
	Transport     string       `json:"transport,omitempty"`
	RiskLevel     risk.Level   `json:"riskLevel"`
	RiskMatches   []risk.Match `json:"riskMatches,omitempty"`
	Guidance      string       `json:"guidance"`
	Status        string       `json:"status"`
	FollowUp      string       `json:"followUp,omitempty"` // what the grid worker must do besides the usual contact
	SubmittedAt   time.Time    `json:"submittedAt"`
	// ContactDue is when the grid worker must have made first contact
	// (24 h after submission, 4 h for high risk).
	ContactDue     time.Time  `json:"contactDue"`
	FirstContactAt time.Time  `json:"firstContactAt,omitzero"`
	ClosedAt       time.Time  `json:"closedAt,omitzero"`
	FollowUps      []FollowUp `json:"followUps,omitempty"`
	Version        int        `json:"version"` // counts follow-ups, for conditional updates
	ExpiresAt      int64      `json:"expiresAt"`
	PersonLookup   string     `json:"personLookup"`
	PhoneLookup    string     `json:"phoneLookup"`
	Sealed         []byte     `json:"personalSealed"`
}

// Personal is what Record.Sealed holds.
type Personal struct {
	Name     string `json:"name"`
	IDNumber string `json:"idNumber"`
	Phone    string `json:"phone"`
	Address  string `json:"address"`
}

// Routing says how a report found its grid.
const (
	RoutedByPath      = "grid_code"
	RoutedByCommunity = "community"
	RoutedByNone      = "unassigned"
)

// ErrNotFound is returned by stores for a missing report.
var ErrNotFound = errors.New("report: not found")

// Store keeps reports with their alerts. Implementations: the DynamoDB and
// the embedded adapters in shared/store.
type Store interface {
	// Create stores the report and its alert in one transaction unless a
	// report with the same ID exists; then it stores nothing and returns the
	// existing report with created=false.
	Create(ctx context.Context, r Record, a alert.Alert) (stored Record, created bool, err error)
	// Get returns ErrNotFound for an unknown id.
	Get(ctx context.Context, id string) (Record, error)
	// ListGrid returns a grid's reports newest first.
	ListGrid(ctx context.Context, q GridQuery) (Page, error)
}

// GridQuery selects a page of one grid's reports. Since/Until bound
// SubmittedAt (half-open: Since <= t < Until); zero means unbounded.
type GridQuery struct {
	GridCode string
	Status   string
	Since    time.Time
	Until    time.Time
	After    string // the ListKey the previous page ended at
	Limit    int
}

// Page is one page of a listing; Next is empty on the last page.
type Page struct {
	Records []Record
	Next    string
}

// listKeyLayout is fixed-width, so list keys sort as strings.
const listKeyLayout = "2006-01-02T15:04:05.000000000Z"

// ListKey orders a grid's reports by submission time; the id breaks ties.
func ListKey(submittedAt time.Time, id string) string {
	return ListKeyBound(submittedAt) + "#" + id
}

// ListKeyBound is the ListKey prefix of an instant, for range bounds.
func ListKeyBound(t time.Time) string { return t.UTC().Format(listKeyLayout) }

// SplitListKey returns the instant and the report id of a list key.
func SplitListKey(key string) (time.Time, string, bool) {
	instant, id, ok := strings.Cut(key, "#")
	if !ok || id == "" || len(instant) != len(listKeyLayout) {
		return time.Time{}, "", false
	}
	t, err := time.Parse(listKeyLayout, instant)
	return t, id, err == nil
}

// ID derives a report's id from the person and the arrival date: the same
// person arriving on the same day always gets the same id, which makes the
// store's conditional write the duplicate check. Keyed, so the id reveals
// nothing about the person.
func ID(v *pii.Vault, kind idcard.Kind, number, arrivalDate string) string {
	return "r" + v.Lookup("report", string(kind), number, arrivalDate)[:25]
}

// PersonLookup finds every report of one document.
func PersonLookup(v *pii.Vault, kind idcard.Kind, number string) string {
	return v.Lookup("person", string(kind), number)
}

// PhoneLookup finds everything sent to one phone.
func PhoneLookup(v *pii.Vault, national string) string { return v.Lookup("phone", national) }

// Open decrypts the personal fields of a record.
func Open(v *pii.Vault, r Record) (Personal, error) {
	p, err := pii.OpenJSON[Personal](v, r.Sealed, r.ID)
	if err != nil {
		return Personal{}, fmt.Errorf("open report %s: %w", r.ID, err)
	}
	return p, nil
}

// Mask hides most of the ID number and the phone. The name and the
// address stay: a grid worker needs them to find the person.
func (p Personal) Mask(kind idcard.Kind) Personal {
	p.IDNumber = idcard.Mask(kind, p.IDNumber)
	p.Phone = phone.Mask(p.Phone)
	return p
}

// ExpiresAt is when a report expires (unix seconds): period
// (retention.Or) after the latest of the start of its arrival day
// (district time), when it came in, and its last follow-up. So an arrival
// planned weeks ahead is kept past the day they come, a report being
// followed up is kept while workers record what they do, and a closed one
// is kept period after it was closed (closing is the last follow-up).
func ExpiresAt(r Record, period time.Duration) int64 {
	arrival, _ := dates.Start(r.ArrivalDate) // zero for no date: ignored
	times := []time.Time{arrival, r.SubmittedAt, r.ClosedAt}
	if n := len(r.FollowUps); n > 0 {
		times = append(times, r.FollowUps[n-1].At)
	}
	return retention.Until(period, times...)
}
