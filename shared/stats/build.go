package stats

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/grid"
	"gridcode/shared/report"
	"gridcode/shared/risk"
)

// Stats is the district office's view of a range of district days, ready
// to be sent as JSON.
type Stats struct {
	From         string         `json:"from"` // first district day
	To           string         `json:"to"`   // last district day, inclusive
	GeneratedAt  time.Time      `json:"generatedAt"`
	Days         []Day          `json:"days"`
	Grids        []GridLoad     `json:"grids"`
	FirstContact Minutes        `json:"firstContact"`
	OpenTasks    map[string]int `json:"openTasks"` // open and revisit tasks by reason
	SMS          SMS            `json:"sms"`
}

// Day counts the reports submitted on one district day by risk level.
// The level fields' names are the levels' (risk.Level): the DynamoDB
// adapter adds to the attribute a report's level names.
type Day struct {
	Date   string `json:"date"`
	Total  int    `json:"total"`
	None   int    `json:"none"`
	Low    int    `json:"low"`
	Medium int    `json:"medium"`
	High   int    `json:"high"`
}

// Add counts n reports of level; an unknown level counts as none.
func (d *Day) Add(level risk.Level, n int) {
	switch level {
	case risk.Low:
		d.Low += n
	case risk.Medium:
		d.Medium += n
	case risk.High:
		d.High += n
	default:
		d.None += n
	}
	d.Total += n
}

// keep folds a day's kept counts into its live ones. The kept counts
// include every report stored since the store began counting, and the live
// reports are those of them not yet expired, so per level the larger is
// the day's count: the kept one, or the live one for reports stored
// before counting began (until they expire too). Never the sum, which
// would count a live report twice.
func (d *Day) keep(k Day) {
	d.None, d.Low, d.Medium, d.High = max(d.None, k.None), max(d.Low, k.Low), max(d.Medium, k.Medium), max(d.High, k.High)
	d.Total = d.None + d.Low + d.Medium + d.High
}

// GridLoad is where one grid stands with the reports of the range.
type GridLoad struct {
	GridCode  string `json:"gridCode"`
	Name      string `json:"name,omitempty"`
	Community string `json:"community,omitempty"`
	Town      string `json:"town,omitempty"`
	Pending   int    `json:"pending"`   // not closed
	Overdue   int    `json:"overdue"`   // first contact late: report.EscalationOverdue or above
	Escalated int    `json:"escalated"` // of those, late enough for the community's supervisor or above
	Closed    int    `json:"closed"`
}

// Minutes summarises how long first contact took.
type Minutes struct {
	Count  int     `json:"count"`
	Median float64 `json:"medianMinutes"`
	P90    float64 `json:"p90Minutes"`
}

// SMS counts the range's alerts by where their delivery stands.
type SMS struct {
	Sent    int `json:"sent"`
	Failed  int `json:"failed"`
	Pending int `json:"pending"` // queued, being sent, or waiting for a retry
}

// Build computes the statistics of the reports submitted in [from, to),
// as they stand at now. The days count the reports kept (Source.KeptDays)
// as well as the live ones, so a day's reports by risk level outlive the
// reports' retention; everything else (grids, first contact, SMS) is of
// the reports and alerts not yet expired. grids names the grids; only those with a report
// in the range are listed, with the district's unassigned pool always
// last. Pending and overdue count the range's reports only: a report
// submitted before from is not counted, however late it is.
func Build(ctx context.Context, src Source, grids []grid.Grid, from, to, now time.Time, d report.Deadlines) (Stats, error) {
	if !from.Before(to) {
		return Stats{}, fmt.Errorf("stats: range %s to %s is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	out := Stats{
		From:        dates.Today(from),
		To:          dates.Today(to.Add(-time.Nanosecond)),
		GeneratedAt: now.UTC(),
	}
	dayIndex := map[string]int{}
	for day := out.From; day <= out.To; day = dates.AddDays(day, 1) {
		dayIndex[day] = len(out.Days)
		out.Days = append(out.Days, Day{Date: day})
	}
	loads := map[string]*GridLoad{grid.Unassigned: {GridCode: grid.Unassigned}}
	var contactMinutes []float64
	err := src.ReportsBetween(ctx, from, to, func(r report.Record) error {
		if r.SubmittedAt.Before(from) || !r.SubmittedAt.Before(to) {
			return nil // the source's bounds are the contract; a stray row is not counted
		}
		out.Days[dayIndex[dates.Today(r.SubmittedAt)]].Add(r.RiskLevel, 1)

		load := loads[r.GridCode]
		if load == nil {
			load = &GridLoad{GridCode: r.GridCode}
			loads[r.GridCode] = load
		}
		if r.Status == report.StatusClosed {
			load.Closed++
		} else {
			load.Pending++
		}
		switch level := report.Escalation(r, now, d); {
		case level >= report.EscalationCommunity:
			load.Escalated++
			load.Overdue++
		case level >= report.EscalationOverdue:
			load.Overdue++
		}

		if !r.FirstContactAt.IsZero() {
			// A clock that ran behind at the desk must not make contact
			// faster than instant.
			contactMinutes = append(contactMinutes, max(0, r.FirstContactAt.Sub(r.SubmittedAt).Minutes()))
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("stats: reports: %w", err)
	}
	kept, err := src.KeptDays(ctx, out.From, out.To)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: kept counts: %w", err)
	}
	for _, k := range kept {
		i, ok := dayIndex[k.Date]
		start, _ := dates.Start(k.Date)
		end, _ := dates.Start(dates.AddDays(k.Date, 1))
		// A kept count is of a whole day: a range that cuts a day counts
		// that day's live reports only.
		if ok && !start.Before(from) && !end.After(to) {
			out.Days[i].keep(k)
		}
	}

	byCode := make(map[string]grid.Grid, len(grids))
	for _, g := range grids {
		byCode[g.Code] = g
	}
	for code, load := range loads {
		if g, ok := byCode[code]; ok {
			load.Name, load.Community, load.Town = g.Name, g.Community, g.Town
		}
		out.Grids = append(out.Grids, *load)
	}
	slices.SortFunc(out.Grids, func(a, b GridLoad) int {
		// The pool is the office's own list: last, after every grid.
		if pa, pb := a.GridCode == grid.Unassigned, b.GridCode == grid.Unassigned; pa != pb {
			if pa {
				return 1
			}
			return -1
		}
		return strings.Compare(a.GridCode, b.GridCode)
	})

	out.FirstContact = summarise(contactMinutes)

	if out.OpenTasks, err = src.OpenTaskCounts(ctx); err != nil {
		return Stats{}, fmt.Errorf("stats: open tasks: %w", err)
	}
	if out.OpenTasks == nil {
		out.OpenTasks = map[string]int{}
	}
	alerts, err := src.AlertCounts(ctx, from, to)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: alerts: %w", err)
	}
	out.SMS = SMS{
		Sent:    alerts[alert.Sent],
		Failed:  alerts[alert.Failed],
		Pending: alerts[alert.Pending] + alerts[alert.Sending],
	}
	return out, nil
}

// summarise takes the median and the 90th percentile by nearest rank: each
// is a time some report actually took, not an interpolation between two.
func summarise(minutes []float64) Minutes {
	if len(minutes) == 0 {
		return Minutes{}
	}
	slices.Sort(minutes)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(minutes)))) - 1
		return math.Round(minutes[max(i, 0)]*10) / 10
	}
	return Minutes{Count: len(minutes), Median: rank(0.5), P90: rank(0.9)}
}
