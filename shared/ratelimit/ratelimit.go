// Package ratelimit keeps SMS sends within a messages-per-second budget
// (Limiter: Local, Shared), and counts requests per key against an abuse
// limit (Keyed: Memory, Counters; see keyed.go).
//
// The two SMS limiters hand out slots: points in time spaced 1/mps apart, one per
// message, and make the caller sleep until its slot. As no two slots are
// closer than 1/mps, no 1-second window holds more than mps sends, and under
// load every slot is used. Local keeps the slots in memory (one process);
// Shared keeps them in a DynamoDB table so all concurrent Lambda invocations
// share one budget.
package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Limiter makes the caller wait for its turn to send one message.
type Limiter interface {
	Wait(ctx context.Context) error
}

var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Shared)(nil)
)

// Local spaces sends evenly at mps per second within one process (make run,
// tests, benchmarks).
type Local struct {
	interval  time.Duration // 0: unlimited
	now       func() time.Time
	waitUntil func(ctx context.Context, slot time.Time) error // replaced by tests

	mu   sync.Mutex
	next time.Time // earliest free slot
}

// Headroom is the share of the budget both limiters hand out. Slots are exact,
// but a provider stamps a message a little after its slot; the 2% spare
// keeps scheduling jitter from putting budget+1 messages into one second.
const Headroom = 0.98

// NewLocal returns a limiter for mps messages per second (less Headroom);
// mps <= 0 means unlimited.
func NewLocal(mps float64) *Local {
	l := &Local{now: time.Now}
	if mps > 0 {
		mps *= Headroom
		l.interval = time.Duration(float64(time.Second) / mps)
		// Rounding to whole nanoseconds must never make the rate exceed mps.
		if float64(time.Second)/float64(l.interval) > mps {
			l.interval++
		}
	}
	l.waitUntil = func(ctx context.Context, slot time.Time) error { return sleepUntil(ctx, l.now, slot) }
	return l
}

// Wait blocks until the caller may send one message, or ctx ends. A slot
// given up by a cancelled caller is not handed out again: that can only
// lower the rate.
func (l *Local) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.interval == 0 {
		return nil
	}
	l.mu.Lock()
	slot := l.now()
	if slot.Before(l.next) {
		slot = l.next
	}
	l.next = slot.Add(l.interval)
	l.mu.Unlock()
	if err := beforeDeadline(ctx, slot); err != nil {
		return err
	}
	return l.waitUntil(ctx, slot)
}

// sleepUntil sleeps until slot by the clock now, or until ctx ends.
func sleepUntil(ctx context.Context, now func() time.Time, slot time.Time) error {
	d := slot.Sub(now())
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// beforeDeadline fails at once, rather than after a pointless sleep, when
// ctx ends before slot: a Lambda then keeps its remaining time to report.
func beforeDeadline(ctx context.Context, slot time.Time) error {
	if dl, ok := ctx.Deadline(); ok && slot.After(dl) {
		return fmt.Errorf("ratelimit: next free slot %s is after the deadline: %w",
			slot.Format(time.RFC3339Nano), context.DeadlineExceeded)
	}
	return nil
}
