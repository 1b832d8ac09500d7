package gridwork

import (
	"context"
	"sort"
	"sync"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/grid"
	"gridcode/shared/report"
)

// FollowUps is the grid worker's side of a report after it came in: what
// was done about it, and what is overdue.
type FollowUps struct {
	Reports   report.Store
	Desk      *report.FollowUps
	Grids     Grids
	Deadlines report.Deadlines
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

// Record adds a follow-up to a report of the caller's grid.
func (f FollowUps) Record(ctx context.Context, c Caller, reportID string, in report.FollowUpInput) (report.Record, error) {
	r, err := f.Reports.Get(ctx, reportID)
	if err != nil {
		return report.Record{}, err
	}
	if !c.CanReadGrid(r.GridCode) {
		return report.Record{}, auth.ErrForbidden
	}
	return f.Desk.Record(ctx, c.Subject, reportID, in)
}

// Overdue lists a grid's overdue reports, most escalated first.
func (f FollowUps) Overdue(ctx context.Context, c Caller, gridCode string) ([]Due, error) {
	if !c.CanReadGrid(gridCode) {
		return nil, auth.ErrForbidden
	}
	recs, err := f.Desk.Overdue(ctx, gridCode, f.Now())
	if err != nil {
		return nil, err
	}
	return f.due(recs), nil
}

// Escalated lists, for the district office, the overdue reports of every
// grid that reached at least level (community or district), optionally of
// one community.
func (f FollowUps) Escalated(ctx context.Context, c Caller, level report.EscalationLevel, community string) ([]Due, error) {
	if !c.IsDistrictAdmin() {
		return nil, auth.ErrForbidden
	}
	dir, err := f.Grids.Grids(ctx)
	if err != nil {
		return nil, err
	}
	codes := []string{grid.Unassigned}
	for _, g := range dir.Grids() {
		if community == "" || g.Community == community {
			codes = append(codes, g.Code)
		}
	}
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
					first = err
				}
				return
			}
			for _, r := range recs {
				if report.Escalation(r, now, f.Deadlines) >= level {
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
		return all[i].ContactDue.Before(all[j].ContactDue)
	})
	return f.due(all), nil
}

func (f FollowUps) due(recs []report.Record) []Due {
	now := f.Now()
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
