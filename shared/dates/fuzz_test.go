package dates

import (
	"testing"
	"time"
)

// FuzzParse checks the district calendar every date field goes through: a
// date Parse accepts is midnight in the district and formats back to the
// very text given (so accepted dates compare as strings), AddDays moves it
// and back, and Start and Today agree with it. Anything else is refused
// with the zero time.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2022-12-05", "2024-02-29", "2023-02-29", "2022-13-01", "2022-12-32", "0000-01-01", "9999-12-31",
		"2022-1-05", "２０２２-１２-０５", "2022/12/05", "2022-12-05T00:00", "+022-12-05", "-001-12-31",
		" 2022-12-5", "20221205", "", "2022-12-0\x00",
	} {
		f.Add(s, int16(1))
	}
	f.Fuzz(func(t *testing.T, s string, days int16) {
		d, ok := Parse(s)
		if !ok {
			if !d.IsZero() {
				t.Fatalf("Parse(%q) refused but returned %v", s, d)
			}
			if AddDays(s, int(days)) != "" {
				t.Fatalf("AddDays(%q) moved a date Parse refuses", s)
			}
			return
		}
		if got := d.Format(Layout); got != s {
			t.Fatalf("Parse(%q) formats back as %q", s, got)
		}
		if d.Location() != District || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
			t.Fatalf("Parse(%q) = %v: not midnight in the district", s, d)
		}
		start, ok := Start(s)
		if !ok || !start.Equal(d) || start.Location() != time.UTC {
			t.Fatalf("Start(%q) = %v, %v", s, start, ok)
		}
		if Today(start) != s || Today(start.Add(24*time.Hour-time.Nanosecond)) != s {
			t.Fatalf("Today of %q's first and last instant differ from it", s)
		}
		moved := AddDays(s, int(days))
		if moved == "" {
			// Only past year 9999 or before year 0 is there no date to give.
			if y := d.AddDate(0, 0, int(days)).Year(); y >= 0 && y <= 9999 {
				t.Fatalf("AddDays(%q, %d) = \"\" within years 0-9999", s, days)
			}
			return
		}
		if back := AddDays(moved, -int(days)); back != s {
			t.Fatalf("AddDays(AddDays(%q, %d), %d) = %q", s, days, -days, back)
		}
		if (days > 0) != (moved > s) || (days == 0) != (moved == s) {
			t.Fatalf("AddDays(%q, %d) = %q: strings sort unlike the dates", s, days, moved)
		}
	})
}
