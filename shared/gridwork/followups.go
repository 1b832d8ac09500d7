package gridwork

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/report"
)

// FollowUps is the grid worker's side of a report after it came in: what
// was done about it, and what is overdue.
type FollowUps struct {
	Desk      *report.FollowUps // reads, versions and seals; its Vault opens the notes
	Grids     Grids
	Deadlines report.Deadlines
	Audit     Auditor
	Now       func() time.Time
}

// Due is an overdue report in a worklist: no contact yet, past its deadline.
type Due struct {
	ReportID    string    `json:"reportId"`
	GridCode    string    `json:"gridCode"`
	Community   string    `json:"community,omitempty"`
	RiskLevel   string    `json:"riskLevel"`
	Status      string    `json:"status"`
	FollowUp    string    `json:"followUp,omitempty"`
	SubmittedAt time.Time `json:"submittedAt"`
	ContactDue  time.Time `json:"contactDue"`
	Escalation  string    `json:"escalation"`
}

// Recorded is a report after a follow-up, as the worker who recorded it
// sees it: where it is now, its deadline and its follow-ups, notes opened.
type Recorded struct {
	ReportID       string                `json:"reportId"`
	GridCode       string                `json:"gridCode"`
	Status         string                `json:"status"`
	Version        int                   `json:"version"`
	ContactDue     time.Time             `json:"contactDue"`
	FirstContactAt time.Time             `json:"firstContactAt"`
	ClosedAt       time.Time             `json:"closedAt"`
	FollowUps      []report.FollowUpView `json:"followUps"`
}

// Record adds a follow-up to a report of the caller's grid. The grid is
// checked on the very read the follow-up is versioned against: a report
// moved away meanwhile is a conflict, not a follow-up by the old grid.
func (f FollowUps) Record(ctx context.Context, c Caller, reportID string, in report.FollowUpInput) (Recorded, error) {
	if err := requireGridWork(c); err != nil {
		return Recorded{}, err
	}
	r, err := f.Desk.Record(ctx, c.Subject, reportID, in, func(r report.Record) error {
		if !c.CanReadGrid(r.GridCode) {
			return auth.ErrForbidden
		}
		return nil
	})
	if err != nil {
		return Recorded{}, err
	}
	if err := f.Audit.Record(ctx, c, "report.follow_up", r.PersonLookup); err != nil {
		return Recorded{}, err
	}
	views, err := report.OpenFollowUps(f.Desk.Vault, r)
	if err != nil {
		return Recorded{}, err
	}
	return Recorded{
		ReportID: r.ID, GridCode: r.GridCode, Status: r.Status, Version: r.Version,
		ContactDue: r.ContactDue, FirstContactAt: r.FirstContactAt, ClosedAt: r.ClosedAt, FollowUps: views,
	}, nil
}

// Overdue lists a grid's overdue reports, most escalated first.
func (f FollowUps) Overdue(ctx context.Context, c Caller, gridCode string) ([]Due, error) {
	if !c.CanReadGrid(gridCode) {
		return nil, auth.ErrForbidden
	}
	now := f.Now()
	recs, err := f.Desk.Overdue(ctx, gridCode, now)
	if err != nil {
		return nil, err
	}
	return f.due(recs, now), nil
}

// Escalated lists, for the district office, the overdue reports of every
// grid that reached at least level (community or district), optionally of
// one community. The community is named as people write it (石冲 for
// 石冲社区); one the directory does not know is a *fields.Error. Its
// reports are those of its grids, and those of the district pool that
// name it.
func (f FollowUps) Escalated(ctx context.Context, c Caller, level report.EscalationLevel, community string) ([]Due, error) {
	if err := requireGridWork(c); err != nil {
		return nil, err
	}
	dir, err := f.Grids.Grids(ctx)
	if err != nil {
		return nil, err
	}
	// names are the communities asked for: nil for every one.
	var names []string
	if community != "" {
		name, ok := communityName(dir, community)
		if !ok {
			if !c.IsDistrictAdmin() {
				return nil, auth.ErrForbidden
			}
			return nil, &fields.Error{Code: "invalid_query", Problems: []fields.Problem{{Field: "community", Reason: "unknown"}}}
		}
		names = []string{name}
	}
	if !c.IsDistrictAdmin() {
		// A community's supervisor is the worker of its lead grid, the one
		// that takes the community's reports and passes them on; a worker
		// of several lead grids supervises each of their communities.
		var supervised []string
		for _, code := range c.Grids {
			own, ok := dir.Lookup(code)
			if !ok {
				continue
			}
			if lead, _ := dir.ForCommunity(own.Community); lead == own.Code && !slices.Contains(supervised, own.Community) {
				supervised = append(supervised, own.Community)
			}
		}
		if len(supervised) == 0 || (names != nil && !slices.Contains(supervised, names[0])) {
			return nil, auth.ErrForbidden
		}
		if names == nil {
			names = supervised
		}
	}
	inCommunity := func(report.Record) bool { return true }
	codes := []string{grid.Unassigned}
	if names != nil {
		// The pool holds reports of every community (those whose
		// community matched no grid, or handed back by a worker): only the
		// ones naming these communities are their supervisor's.
		inCommunity = func(r report.Record) bool {
			if r.GridCode != grid.Unassigned {
				return true
			}
			named, ok := communityName(dir, r.Community)
			return ok && slices.Contains(names, named)
		}
		for _, g := range dir.Grids() {
			if slices.Contains(names, g.Community) {
				codes = append(codes, g.Code)
			}
		}
	} else {
		for _, g := range dir.Grids() {
			codes = append(codes, g.Code)
		}
	}
	// One instant for the whole answer: the filter, the order and the
	// levels shown must agree on which side of a step each report is.
	now := f.Now()
	var (
		mu    sync.Mutex
		all   []report.Record
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, 16)
	)
	for _, code := range codes {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			recs, err := f.Desk.Overdue(ctx, code, now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("escalated reports: %w", err)
				}
				return
			}
			for _, r := range recs {
				if report.Escalation(r, now, f.Deadlines) >= level && inCommunity(r) {
					all = append(all, r)
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	sort.SliceStable(all, func(i, j int) bool {
		li, lj := report.Escalation(all[i], now, f.Deadlines), report.Escalation(all[j], now, f.Deadlines)
		if li != lj {
			return li > lj
		}
		if !all[i].ContactDue.Equal(all[j].ContactDue) {
			return all[i].ContactDue.Before(all[j].ContactDue)
		}
		return all[i].ID < all[j].ID
	})
	return f.due(all, now), nil
}

// communityName is the directory's name of the community written name,
// however it was written.
func communityName(dir *grid.Directory, name string) (string, bool) {
	if name == "" {
		return "", false
	}
	code, ok := dir.ForCommunity(name)
	if !ok {
		return "", false
	}
	g, ok := dir.Lookup(code)
	return g.Community, ok
}

func (f FollowUps) due(recs []report.Record, now time.Time) []Due {
	out := make([]Due, 0, len(recs))
	for _, r := range recs {
		out = append(out, Due{
			ReportID: r.ID, GridCode: r.GridCode, Community: r.Community, RiskLevel: string(r.RiskLevel),
			Status: r.Status, FollowUp: r.FollowUp, SubmittedAt: r.SubmittedAt, ContactDue: r.ContactDue,
			Escalation: report.Escalation(r, now, f.Deadlines).String(),
		})
	}
	return out
}
