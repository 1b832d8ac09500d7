package report_test

import (
	"testing"
	"time"

	"gridcode/shared/report"
)

// A report is kept the retention after the latest of its arrival day,
// when it came in, and its last follow-up.
func TestExpiresAt(t *testing.T) {
	t.Parallel()
	const period = 28 * 24 * time.Hour
	cst := time.FixedZone("CST", 8*3600)
	in := time.Date(2022, 12, 5, 10, 0, 0, 0, cst) // came in on the 5th, 10:00 district time
	rec := func(arrival string, followUps ...time.Time) report.Record {
		r := report.Record{ArrivalDate: arrival, SubmittedAt: in.UTC()}
		for _, at := range followUps {
			r.FollowUps = append(r.FollowUps, report.FollowUp{At: at.UTC()})
		}
		return r
	}
	closed := rec("2022-12-05", in.Add(time.Hour), in.Add(40*24*time.Hour))
	closed.Status, closed.ClosedAt = report.StatusClosed, in.Add(40*24*time.Hour).UTC()
	cases := []struct {
		name string
		r    report.Record
		want time.Time
	}{
		{"arrived that day: from when it came in", rec("2022-12-05"), in.Add(period)},
		{"arrived days before: from when it came in", rec("2022-11-25"), in.Add(period)},
		{"planned: from the start of the arrival day", rec("2022-12-30"), time.Date(2022, 12, 30, 0, 0, 0, 0, cst).Add(period)},
		{"followed up: from the last follow-up", rec("2022-12-05", in.Add(2*time.Hour), in.Add(20*24*time.Hour)), in.Add(20*24*time.Hour + period)},
		{"a follow-up before a planned arrival moves nothing", rec("2022-12-30", in.Add(time.Hour)), time.Date(2022, 12, 30, 0, 0, 0, 0, cst).Add(period)},
		{"closed late: from the closing", closed, in.Add(40*24*time.Hour + period)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := report.ExpiresAt(c.r, period); got != c.want.Unix() {
				t.Errorf("ExpiresAt = %v, want %v", time.Unix(got, 0).In(cst), c.want)
			}
		})
	}
}
