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

// Gate admits one more submission of a person or refuses it: the
// per-person abuse limit. personKey is the person's keyed lookup
// (PersonLookup), never the document number.
type Gate interface {
	Admit(ctx context.Context, personKey string) error
}

// Intake accepts reports.
type Intake struct {
	Store     Store
	Rules     Rules
	Vault     *pii.Vault
	Areas     *area.Catalog
	Now       func() time.Time
	Retention time.Duration // of reports and their welcome SMS (ExpiresAt); zero means retention.Default
	Deadlines Deadlines     // first-contact deadlines; zero means DefaultDeadlines
	Gate      Gate          // the per-person limit; nil admits every person
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
//
// A checked submission then passes Gate: a person over their limit is
// refused with Gate's error and nothing stored, unless this is a
// resubmission of a report already stored (a phone that retries, a person
// who taps again), which is answered as any duplicate is. Bad submissions
// are refused before Gate and do not count.
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
	id := ID(in.Vault, checked.IDType, checked.IDNumber, checked.ArrivalDate)
	personKey := PersonLookup(in.Vault, checked.IDType, checked.IDNumber)
	if in.Gate != nil {
		if err := in.Gate.Admit(ctx, personKey); err != nil {
			return in.refused(ctx, id, err)
		}
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
		PersonLookup:  personKey,
		PhoneLookup:   PhoneLookup(in.Vault, checked.Phone),
	}
	rec.ExpiresAt = ExpiresAt(rec, in.Retention)
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
	return receipt(stored, !created), nil
}

func receipt(r Record, duplicate bool) Receipt {
	return Receipt{ReportID: r.ID, RiskLevel: r.RiskLevel, Guidance: r.Guidance, GridCode: r.GridCode, Duplicate: duplicate}
}

// refused answers a submission the gate refused: the stored report if it
// is a resubmission of one, else the refusal. Only this path reads the
// report first, so an admitted submission costs no extra read.
func (in *Intake) refused(ctx context.Context, id string, refusal error) (Receipt, error) {
	stored, err := in.Store.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return Receipt{}, refusal
	case err != nil:
		return Receipt{}, fmt.Errorf("read report %s after a refusal: %w", id, err)
	}
	return receipt(stored, true), nil
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
