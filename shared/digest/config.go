package digest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseQuietHours reads "22-7" (from 22:00 to 07:00, district time) or ""
// for no quiet hours.
func ParseQuietHours(s string) (start, end int, err error) {
	if strings.TrimSpace(s) == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	start, err1 := strconv.Atoi(strings.TrimSpace(a))
	end, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || start < 0 || start > 23 || end < 0 || end > 23 {
		return 0, 0, fmt.Errorf("quiet hours %q: want START-END in whole hours, e.g. 22-7", s)
	}
	return start, end, nil
}

// NewSchedule checks a window and quiet hours ("22-7", or "" for none).
// The window must divide a day, so windows line up with midnight.
func NewSchedule(window time.Duration, quiet string) (Schedule, error) {
	if window < time.Minute || (24*time.Hour)%window != 0 {
		return Schedule{}, fmt.Errorf("digest window %s: want at least 1m and a divisor of 24h", window)
	}
	start, end, err := ParseQuietHours(quiet)
	if err != nil {
		return Schedule{}, err
	}
	return Schedule{Window: window, QuietStart: start, QuietEnd: end}, nil
}
