package stats_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/stats"
)

// FuzzParseRange checks the date range of GET /v1/stats: an accepted
// range is whole district days, from before to, at most MaxDays long, and
// the days asked for when both were given; a refused one is a
// *fields.Error "invalid_query" naming from or to with a stable reason.
func FuzzParseRange(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"2022-12-01", "2022-12-05"}, {"2022-12-05", "2022-12-01"}, {"2022-01-01", "2022-12-31"},
		{"2022-09-04", "2022-12-04"}, {"2022-09-03", "2022-12-04"}, {"2022-12-05", ""}, {"", "2022-12-05"},
		{"2022-02-30", "x"}, {"9999-12-31", "9999-12-31"}, {"", "0000-01-03"}, {"２０２２-１２-０１", ""},
	} {
		f.Add(s[0], s[1], int64(1670202000))
	}
	f.Fuzz(func(t *testing.T, from, to string, unix int64) {
		now := time.Unix(unix%(400*365*24*3600), 0) // 1570 to 2370, dates of four digits
		start, end, err := stats.ParseRange(from, to, now)
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != "invalid_query" || len(fe.Problems) == 0 {
				t.Fatalf("ParseRange(%q, %q) = %v: want a *fields.Error invalid_query", from, to, err)
			}
			for _, p := range fe.Problems {
				ok := p.Field == "from" && p.Reason == "invalid_date" ||
					p.Field == "to" && slices.Contains([]string{"invalid_date", "before_from", "range_too_long"}, p.Reason)
				if !ok {
					t.Fatalf("ParseRange(%q, %q): problem %+v", from, to, p)
				}
				if p.Reason == "before_from" && from != "" && to != "" && from <= to && inYears(from) && inYears(to) {
					t.Fatalf("ParseRange(%q, %q) = before_from", from, to)
				}
			}
			if !start.IsZero() || !end.IsZero() {
				t.Fatal("refused range with instants")
			}
			return
		}
		if !start.Before(end) || end.Sub(start) > stats.MaxDays*24*time.Hour || end.Sub(start)%(24*time.Hour) != 0 {
			t.Fatalf("ParseRange(%q, %q) = [%v, %v)", from, to, start, end)
		}
		first, last := dates.Today(start), dates.Today(end.Add(-time.Nanosecond))
		if s, _ := dates.Start(first); !s.Equal(start) {
			t.Fatalf("start %v is not the start of a district day", start)
		}
		if (from != "" && first != from) || (to != "" && last != to) {
			t.Fatalf("ParseRange(%q, %q) = %s to %s", from, to, first, last)
		}
		if to == "" && last != dates.Today(now) {
			t.Fatalf("ParseRange(%q, \"\") ends %s, not today %s", from, last, dates.Today(now))
		}
	})
}

// inYears says the date is of the years whose neighbours have dates too:
// a range that needs a day past 9999-12-31 or before 0000-01-01 has no
// instants to give.
func inYears(d string) bool { return d >= "0001-01-01" && d < "9999-12-31" }
