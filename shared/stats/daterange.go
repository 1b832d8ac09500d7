package stats

import (
	"time"

	"gridcode/shared/dates"
	"gridcode/shared/fields"
)

// Ranges the office may ask for, in district days.
const (
	DefaultDays = 7
	MaxDays     = 92 // a quarter: the scan of reports stays bounded
)

// ParseRange reads a request's from and to, district days (YYYY-MM-DD,
// both inclusive), into the half-open instants [start, end) Build takes.
// Either may be left out: to defaults to today, from to DefaultDays days
// ending at to. Bad dates, to before from, and ranges longer than MaxDays
// are a *fields.Error.
func ParseRange(from, to string, now time.Time) (time.Time, time.Time, error) {
	var c fields.Collector
	if to == "" {
		to = dates.Today(now)
	} else if _, ok := dates.Parse(to); !ok {
		c.Add("to", "invalid_date")
	}
	if from == "" {
		if _, ok := dates.Parse(to); ok {
			from = dates.AddDays(to, -(DefaultDays - 1))
		}
	} else if _, ok := dates.Parse(from); !ok {
		c.Add("from", "invalid_date")
	}
	if err := c.Err("invalid_query"); err != nil {
		return time.Time{}, time.Time{}, err
	}
	start, _ := dates.Start(from)
	end, _ := dates.Start(dates.AddDays(to, 1))
	switch {
	case !start.Before(end):
		c.Add("to", "before_from")
	case end.Sub(start) > MaxDays*24*time.Hour:
		c.Add("to", "range_too_long")
	}
	if err := c.Err("invalid_query"); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return start, end, nil
}
