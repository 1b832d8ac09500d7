// Package dates holds the district's calendar: business days are days in
// Asia/Shanghai, written YYYY-MM-DD, which also sort as strings.
package dates

import "time"

// District is Asia/Shanghai. China has kept UTC+8 without daylight saving
// since 1991, so a fixed zone is exact for every date this system sees and
// needs no tzdata on the Lambda image.
var District = time.FixedZone("Asia/Shanghai", 8*60*60)

// Layout is the date format of the API and the store.
const Layout = "2006-01-02"

// Today is the district's calendar day at instant now.
func Today(now time.Time) string { return now.In(District).Format(Layout) }

// Parse reads a YYYY-MM-DD date as midnight in the district.
func Parse(s string) (time.Time, bool) {
	if len(s) != len(Layout) {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(Layout, s, District)
	return t, err == nil
}

// AddDays moves a valid date by n calendar days. It returns "" for an
// invalid date, and for a result outside years 0000-9999, which has no
// YYYY-MM-DD form ("10000-01-01" would sort before "9999-12-31").
func AddDays(date string, n int) string {
	t, ok := Parse(date)
	if !ok {
		return ""
	}
	if t = t.AddDate(0, 0, n); t.Year() < 0 || t.Year() > 9999 {
		return ""
	}
	return t.Format(Layout)
}

// Start is the first instant of a district day, in UTC.
func Start(date string) (time.Time, bool) {
	t, ok := Parse(date)
	return t.UTC(), ok
}
