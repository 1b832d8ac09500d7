package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/risk"
)

// ErrUnknownGrid is a report posted to a grid code that does not exist.
var ErrUnknownGrid = errors.New("report: unknown grid")

// Rules is what intake needs to know of the district's current rules.
// The implementation caches them; intake asks on every report.
type Rules interface {
	Grids(ctx context.Context) (*grid.Directory, error)
	RiskAreas(ctx context.Context) (risk.List, error)
	Guidance(ctx context.Context) (risk.Rules, error)
}

// Intake accepts reports.
type Intake struct {
	Store     Store
	Rules     Rules
	Vault     *pii.Vault
	Areas     *area.Catalog
	Now       func() time.Time
	Retention time.Duration // how long reports and their alerts are kept
	Deadlines Deadlines     // first-contact deadlines; zero means DefaultDeadlines
}

// Receipt is what the reporter is told.
type Receipt struct {
	ReportID  string     `json:"reportId"`
	RiskLevel risk.Level `json:"riskLevel"`
	Guidance  string     `json:"guidance"`
	GridCode  string     `json:"gridCode"`
	Duplicate bool       `json:"duplicate"`
}

// Submit checks a submission, routes and scores it, and stores it with its
// welcome SMS in one transaction. pathGrid is the grid code of the QR code
// scanned, or "" for the district-wide code. A second submission by the same
// person for the same arrival date returns the first report and queues
// nothing.
func (in *Intake) Submit(ctx context.Context, pathGrid string, s Submission) (Receipt, error) {
	grids, err := in.Rules.Grids(ctx)
	if err != nil {
		return Receipt{}, err
	}
	// A stale or mistyped grid QR code is said first: no point fixing the
	// form's fields for a code that goes nowhere.
	if _, ok := grids.Lookup(pathGrid); pathGrid != "" && !ok {
		return Receipt{}, ErrUnknownGrid
	}
	now := in.Now()
	checked, err := Check(s, now, in.Areas)
	if err != nil {
		return Receipt{}, err
	}
	gridCode, routedBy := grid.Unassigned, RoutedByNone
	switch {
	case pathGrid != "":
		gridCode, routedBy = pathGrid, RoutedByPath
	case checked.Community != "":
		if code, ok := grids.ForCommunity(checked.Community); ok {
			gridCode, routedBy = code, RoutedByCommunity
		}
	}
	list, err := in.Rules.RiskAreas(ctx)
	if err != nil {
		return Receipt{}, err
	}
	guidance, err := in.Rules.Guidance(ctx)
	if err != nil {
		return Receipt{}, err
	}
	level, matches := list.Assess(checked.Visits())
	advice := guidance.For(level)

	id := ID(in.Vault, checked.IDType, checked.IDNumber, checked.ArrivalDate)
	rec := Record{
		ID:            id,
		GridCode:      gridCode,
		RoutedBy:      routedBy,
		ListKey:       ListKey(now, id),
		IDType:        checked.IDType,
		ArrivalStatus: checked.ArrivalStatus,
		ArrivalDate:   checked.ArrivalDate,
		FromAreaCode:  checked.FromAreaCode,
		Itinerary:     checked.Itinerary,
		Community:     checked.Community,
		Transport:     checked.Transport,
		RiskLevel:     level,
		RiskMatches:   matches,
		Guidance:      advice.Text,
		Status:        StatusNew,
		SubmittedAt:   now.UTC(),
		ContactDue:    in.Deadlines.ContactDue(now, level),
		ExpiresAt:     now.Add(in.Retention).Unix(),
		PersonLookup:  PersonLookup(in.Vault, checked.IDType, checked.IDNumber),
		PhoneLookup:   PhoneLookup(in.Vault, checked.Phone),
	}
	personal := Personal{Name: checked.Name, IDNumber: checked.IDNumber, Phone: checked.Phone, Address: checked.Address}
	if rec.Sealed, err = in.Vault.SealJSON(personal, id); err != nil {
		return Receipt{}, fmt.Errorf("seal report %s: %w", id, err)
	}
	welcome, err := in.welcome(rec, checked.Phone, advice)
	if err != nil {
		return Receipt{}, err
	}
	stored, created, err := in.Store.Create(ctx, rec, welcome)
	if err != nil {
		return Receipt{}, fmt.Errorf("store report: %w", err)
	}
	return Receipt{
		ReportID:  stored.ID,
		RiskLevel: stored.RiskLevel,
		Guidance:  stored.Guidance,
		GridCode:  stored.GridCode,
		Duplicate: !created,
	}, nil
}

// WelcomeAlertID is the id of a report's welcome SMS: one per report, so a
// retried write can never queue a second one.
func WelcomeAlertID(reportID string) string { return reportID + ".welcome" }

func (in *Intake) welcome(r Record, phone string, advice risk.Guidance) (alert.Alert, error) {
	a, err := alert.New(in.Vault, WelcomeAlertID(r.ID), alert.ReportWelcome, map[string]string{"action": advice.Action}, phone, r.PhoneLookup)
	if err != nil {
		// The guidance table is checked when edited; this is a guard.
		return alert.Alert{}, fmt.Errorf("welcome sms for %s: %w", r.ID, err)
	}
	a.ReportID, a.GridCode, a.CreatedAt, a.ExpiresAt = r.ID, r.GridCode, r.SubmittedAt, r.ExpiresAt
	return a, nil
}
