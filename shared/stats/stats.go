// Package stats is the district office's view: reports per day and risk
// level, each grid's pending, overdue and closed reports, time to first
// contact, open verification tasks by reason, and SMS sent and failed.
package stats

import (
	"context"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/report"
)

// Source is what the statistics read.
type Source interface {
	// ReportsBetween calls fn for every report submitted in [from, to),
	// with at least its id, grid, risk level, status, follow-up mark and
	// times; the sealed personal data may be left out.
	ReportsBetween(ctx context.Context, from, to time.Time, fn func(report.Record) error) error
	// AlertCounts counts the alerts created in [from, to) by status.
	AlertCounts(ctx context.Context, from, to time.Time) (map[alert.Status]int, error)
	// OpenTaskCounts counts open and revisit tasks by reason.
	OpenTaskCounts(ctx context.Context) (map[string]int, error)
	// KeptDays returns the counts kept of the reports submitted on the
	// district days from..to (YYYY-MM-DD, inclusive): each day's reports by
	// risk level, counted by the store as it stored each report (Day.Add,
	// in the same transaction), Total their sum. They hold no one's data
	// and never expire, so a day keeps its counts after its reports are
	// gone. Days without reports may be left out.
	KeptDays(ctx context.Context, from, to string) ([]Day, error)
}
