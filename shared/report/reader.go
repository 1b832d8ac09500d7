package report

import (
	"context"
	"encoding/base64"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/pii"
	"gridcode/shared/risk"
)

// Reader serves reports to staff, scoped by role, with personal data
// masked.
type Reader struct {
	Store Store
	Vault *pii.Vault
}

// View is a report as staff see it.
type View struct {
	ReportID      string       `json:"reportId"`
	GridCode      string       `json:"gridCode"`
	RoutedBy      string       `json:"routedBy"`
	Status        string       `json:"status"`
	FollowUp      string       `json:"followUp,omitempty"`
	SubmittedAt   time.Time    `json:"submittedAt"`
	Person        Personal     `json:"person"`
	IDType        string       `json:"idType"`
	ArrivalStatus string       `json:"arrivalStatus"`
	ArrivalDate   string       `json:"arrivalDate"`
	FromAreaCode  string       `json:"fromAreaCode"`
	Itinerary     []Stop       `json:"itinerary"`
	Community     string       `json:"community,omitempty"`
	Transport     string       `json:"transport,omitempty"`
	RiskLevel     risk.Level   `json:"riskLevel"`
	RiskMatches   []risk.Match `json:"riskMatches"`
	Guidance      string       `json:"guidance"`
	// What the grid worker did: the first-contact deadline, the follow-ups,
	// and the version a follow-up is recorded against.
	ContactDue     time.Time      `json:"contactDue"`
	FirstContactAt time.Time      `json:"firstContactAt,omitzero"`
	ClosedAt       time.Time      `json:"closedAt,omitzero"`
	FollowUps      []FollowUpView `json:"followUps"`
	Version        int            `json:"version"`
	// PersonKey is whom the view shows, for the audit; never sent.
	PersonKey string `json:"-"`
}

// ViewPage is one page of a grid's reports.
type ViewPage struct {
	Reports   []View `json:"reports"`
	NextToken string `json:"nextToken,omitempty"`
}

// ListFilter is what a grid worker filters the list by: status, and the
// district days the reports came in (inclusive).
type ListFilter struct {
	Status string
	From   string
	To     string
	After  string
	Limit  int
}

// Page sizes of the list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Get returns one report if the caller may see its grid.
func (rd *Reader) Get(ctx context.Context, p auth.Principal, id string) (View, error) {
	rec, err := rd.Store.Get(ctx, id)
	if err != nil {
		return View{}, err
	}
	if !p.CanReadGrid(rec.GridCode) {
		return View{}, auth.ErrForbidden
	}
	return rd.view(rec)
}

// ListGrid returns a page of a grid's reports, newest first.
func (rd *Reader) ListGrid(ctx context.Context, p auth.Principal, gridCode string, f ListFilter) (ViewPage, error) {
	if !p.CanReadGrid(gridCode) {
		return ViewPage{}, auth.ErrForbidden
	}
	q := GridQuery{GridCode: gridCode, Status: f.Status, Limit: f.Limit}
	var c fields.Collector
	if f.From != "" {
		if start, ok := dates.Start(f.From); ok {
			q.Since = start
		} else {
			c.Add("from", "invalid_date")
		}
	}
	if f.To != "" {
		if _, ok := dates.Parse(f.To); ok {
			q.Until, _ = dates.Start(dates.AddDays(f.To, 1))
		} else {
			c.Add("to", "invalid_date")
		}
	}
	switch f.Status {
	case "", StatusNew, StatusInProgress, StatusClosed:
	default:
		c.Add("status", "unknown")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		c.Add("to", "before_from")
	}
	if f.After != "" {
		// The token comes back from the client: it must be a position this
		// same query could have produced.
		after, err := base64.RawURLEncoding.DecodeString(f.After)
		at, _, ok := SplitListKey(string(after))
		if err != nil || !ok || (!q.Since.IsZero() && at.Before(q.Since)) || (!q.Until.IsZero() && !at.Before(q.Until)) {
			c.Add("nextToken", "invalid")
		}
		q.After = string(after)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultPageSize
	case q.Limit < 0 || q.Limit > MaxPageSize:
		c.Add("limit", "out_of_range")
	}
	if err := c.Err("invalid_query"); err != nil {
		return ViewPage{}, err
	}
	page, err := rd.Store.ListGrid(ctx, q)
	if err != nil {
		return ViewPage{}, err
	}
	out := ViewPage{Reports: make([]View, 0, len(page.Records))}
	if page.Next != "" {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(page.Next))
	}
	for _, rec := range page.Records {
		v, err := rd.view(rec)
		if err != nil {
			return ViewPage{}, err
		}
		out.Reports = append(out.Reports, v)
	}
	return out, nil
}

func (rd *Reader) view(r Record) (View, error) {
	person, err := Open(rd.Vault, r)
	if err != nil {
		return View{}, err
	}
	matches := r.RiskMatches
	if matches == nil {
		matches = []risk.Match{}
	}
	// The notes open for whoever may read the report: its grid's workers
	// and the office, the people who act on it.
	followUps, err := OpenFollowUps(rd.Vault, r)
	if err != nil {
		return View{}, err
	}
	return View{
		PersonKey:      r.PersonLookup,
		ReportID:       r.ID,
		GridCode:       r.GridCode,
		RoutedBy:       r.RoutedBy,
		Status:         r.Status,
		FollowUp:       r.FollowUp,
		SubmittedAt:    r.SubmittedAt,
		Person:         person.Mask(r.IDType),
		IDType:         string(r.IDType),
		ArrivalStatus:  r.ArrivalStatus,
		ArrivalDate:    r.ArrivalDate,
		FromAreaCode:   r.FromAreaCode,
		Itinerary:      r.Itinerary,
		Community:      r.Community,
		Transport:      r.Transport,
		RiskLevel:      r.RiskLevel,
		RiskMatches:    matches,
		Guidance:       r.Guidance,
		ContactDue:     r.ContactDue,
		FirstContactAt: r.FirstContactAt,
		ClosedAt:       r.ClosedAt,
		FollowUps:      followUps,
		Version:        r.Version,
	}, nil
}
