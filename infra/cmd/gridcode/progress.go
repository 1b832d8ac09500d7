package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws one line, redrawn in place: how far through the file,
// rows done, rows per second and the time left at that rate.
type progressBar struct {
	out   io.Writer
	total int64 // bytes of the file
	start time.Time
	last  time.Time
	now   func() time.Time
}

func newProgressBar(out io.Writer, total int64, now func() time.Time) *progressBar {
	t := now()
	return &progressBar{out: out, total: total, start: t, now: now}
}

const barWidth = 30

// line renders the bar for done bytes and rows at elapsed.
func (p *progressBar) line(done int64, rows int, elapsed time.Duration) string {
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(done)/float64(p.total), 1)
	}
	filled := int(frac * barWidth)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(rows) / s
	}
	eta := "--"
	if frac > 0 && frac < 1 && elapsed > 0 {
		left := time.Duration(float64(elapsed) * (1 - frac) / frac)
		eta = left.Round(time.Second).String()
	} else if frac >= 1 {
		eta = "0s"
	}
	return fmt.Sprintf("[%s%s] %3.0f%% %d rows  %.0f rows/s  ETA %s",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), frac*100, rows, rate, eta)
}

// update redraws at most ten times a second, and always when final.
func (p *progressBar) update(done int64, rows int, final bool) {
	t := p.now()
	if !final && t.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = t
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.out, "\r%s%s", p.line(done, rows, t.Sub(p.start)), end)
}
