package retention_test

import (
	"testing"
	"time"

	"gridcode/shared/retention"
)

func TestUntil(t *testing.T) {
	t.Parallel()
	at := time.Date(2022, 12, 3, 1, 2, 3, 0, time.UTC)
	day := 24 * time.Hour
	cases := []struct {
		name   string
		period time.Duration
		times  []time.Time
		want   int64
	}{
		{"the period after the only time", 7 * day, []time.Time{at}, at.Add(7 * day).Unix()},
		{"after the latest, in any order", 7 * day, []time.Time{at.Add(time.Hour), at, at.Add(-day)}, at.Add(time.Hour + 7*day).Unix()},
		{"zero times are ignored", 7 * day, []time.Time{{}, at, {}}, at.Add(7 * day).Unix()},
		{"no period is the default", 0, []time.Time{at}, at.Add(retention.Default).Unix()},
		{"a negative period is the default", -day, []time.Time{at}, at.Add(retention.Default).Unix()},
		{"nothing to count from never expires", 7 * day, []time.Time{{}}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := retention.Until(c.period, c.times...); got != c.want {
				t.Errorf("Until = %d, want %d", got, c.want)
			}
		})
	}
	if retention.Default != 28*day {
		t.Errorf("Default = %v, want 28 days", retention.Default)
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	now := time.Unix(1670000000, 500)
	for _, c := range []struct {
		expiresAt int64
		want      bool
	}{{0, false}, {1670000000 - 1, true}, {1670000000, true}, {1670000000 + 1, false}} {
		if got := retention.Expired(c.expiresAt, now); got != c.want {
			t.Errorf("Expired(%d) at %d = %v, want %v", c.expiresAt, now.Unix(), got, c.want)
		}
	}
}

func TestDays(t *testing.T) {
	t.Parallel()
	if d, err := retention.Days("RETENTION_DAYS", 28); err != nil || d != retention.Default {
		t.Errorf("Days(28) = %v, %v", d, err)
	}
	for _, n := range []int{0, -1} {
		if _, err := retention.Days("RETENTION_DAYS", n); err == nil {
			t.Errorf("Days(%d) was accepted", n)
		}
	}
}
