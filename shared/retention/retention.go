// Package retention is the district's data-minimisation rule: personal
// data is kept a period (RETENTION_DAYS, 28 days by default) after the
// last thing that happened to it, then it expires. A record carries the
// instant it expires as unix seconds (expiresAt): DynamoDB's TTL deletes it
// after that instant, the embedded store's sweep alike. What each record's
// "last thing" is belongs to its package (report.ExpiresAt,
// worklist.TaskExpiresAt); this package holds the period and the sum.
package retention

import (
	"fmt"
	"time"
)

// DefaultDays is the period when none is configured: four weeks, two
// 14-day isolation rounds, after which a report or a visit helps no one.
const DefaultDays = 28

// Default is DefaultDays as a duration.
const Default = DefaultDays * 24 * time.Hour

// Days is a configured number of days as a period; fewer than one day is
// refused, naming the variable it came from.
func Days(name string, n int) (time.Duration, error) {
	if n < 1 {
		return 0, fmt.Errorf("config: %s must be at least 1, got %d", name, n)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// Or is period, or Default when period is zero or negative (a component
// built without one keeps the district's rule rather than expiring at once).
func Or(period time.Duration) time.Duration {
	if period <= 0 {
		return Default
	}
	return period
}

// Until is when a record expires, as unix seconds: period (Or) after the
// latest of times. Zero times are ignored; with none left it is 0, which
// both stores read as "never" (DynamoDB leaves items whose TTL is more
// than five years past).
func Until(period time.Duration, times ...time.Time) int64 {
	var last time.Time
	for _, t := range times {
		if t.After(last) {
			last = t
		}
	}
	if last.IsZero() {
		return 0
	}
	return last.Add(Or(period)).Unix()
}

// Expired says whether a record with expiresAt is past it at now: what the
// embedded store's sweep deletes. Zero never expires.
func Expired(expiresAt int64, now time.Time) bool {
	return expiresAt > 0 && expiresAt <= now.Unix()
}
