package main

import (
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	t.Parallel()
	p := &progressBar{total: 1000}
	tests := []struct {
		done    int64
		rows    int
		elapsed time.Duration
		want    string
	}{
		{0, 0, 0, "[..............................]   0% 0 rows  0 rows/s  ETA --"},
		{250, 2000, 2 * time.Second, "[#######.......................]  25% 2000 rows  1000 rows/s  ETA 6s"},
		{1000, 8000, 8 * time.Second, "[##############################] 100% 8000 rows  1000 rows/s  ETA 0s"},
	}
	for _, tt := range tests {
		if got := p.line(tt.done, tt.rows, tt.elapsed); got != tt.want {
			t.Errorf("line(%d, %d, %s) = %q, want %q", tt.done, tt.rows, tt.elapsed, got, tt.want)
		}
	}
}

func TestProgressRedrawsInPlace(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	clock := time.Date(2022, 12, 5, 0, 0, 0, 0, time.UTC)
	p := newProgressBar(&out, 100, func() time.Time { return clock })
	clock = clock.Add(time.Second)
	p.update(50, 500, false)
	p.update(60, 600, false) // within 100 ms: skipped
	clock = clock.Add(time.Second)
	p.update(100, 1000, true)
	got := out.String()
	if strings.Count(got, "\r") != 2 || !strings.HasSuffix(got, "\n") || strings.Contains(got, "600 rows") {
		t.Errorf("output %q: want two redraws, the second final with a newline", got)
	}
}
