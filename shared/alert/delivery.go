package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/sms"
)

// ErrNotFound is returned by ledgers for an unknown alert.
var ErrNotFound = errors.New("alert: not found")

// ErrClaimLost means a sender's lease ran out and another sender took the
// alert before the first one recorded its outcome.
var ErrClaimLost = errors.New("alert: claim lost")

// Ledger is the delivery record of the outbox. Every transition is a
// conditional write, so concurrent senders and retried invocations agree on
// who sends what.
type Ledger interface {
	// Due lists alerts a sender may take at now, oldest first: pending ones
	// whose retry time has come, and sending ones whose lease ran out.
	Due(ctx context.Context, now time.Time, limit int) ([]Alert, error)
	// Claim takes an alert for sending until `until` if it is due at now.
	// ok is false when it is not: sent, failed, or held by another sender.
	Claim(ctx context.Context, id string, now, until time.Time) (a Alert, ok bool, err error)
	// Settle records what became of a claimed send. It fails with
	// ErrClaimLost if the claim made until `claimedUntil` is no longer held.
	// A failed alert of a report marks the report for a phone call.
	Settle(ctx context.Context, id string, claimedUntil time.Time, o Outcome) error
}

// Replayer puts failed alerts back in the queue, for an operator who has
// fixed the cause (a provider outage that outlasted the retries, a number
// the person has since corrected).
type Replayer interface {
	// Failed lists failed alerts, oldest first.
	Failed(ctx context.Context, limit int) ([]Alert, error)
	// Requeue makes a failed alert pending again with fresh attempts; false
	// if it is not failed (anymore).
	Requeue(ctx context.Context, id string) (bool, error)
}

// Outbox takes alerts that are not written with a report: digests and,
// later, health-code alerts.
type Outbox interface {
	// Enqueue stores a pending alert unless one with its id exists; the id
	// is derived from what the alert is about, so a job run twice queues once.
	Enqueue(ctx context.Context, a Alert) (created bool, err error)
}

// Outcome of one send.
type Outcome struct {
	Status    Status // Sent, Failed, or Pending to try again at RetryAt
	MessageID string
	Reason    string
	RetryAt   time.Time
	At        time.Time
	// NotAttempted: nothing reached the provider, so the claim's attempt
	// is given back.
	NotAttempted bool
}

// Apply records an outcome on the alert: the one place an outcome changes
// an alert, whichever store keeps it.
func (a *Alert) Apply(o Outcome) {
	a.Status, a.Reason, a.ClaimedUntil = o.Status, o.Reason, 0
	if o.NotAttempted && a.Attempts > 0 {
		a.Attempts--
	}
	switch o.Status {
	case Pending:
		a.NotBefore = o.RetryAt.UnixMilli()
	case Sent, Failed:
		a.MessageID = o.MessageID
		at := o.At.UTC()
		a.SettledAt = &at
	}
}

// Requeue makes a failed alert pending again with fresh attempts; the old
// reason is kept for the record.
func (a *Alert) Requeue() {
	a.Status, a.Attempts, a.NotBefore, a.SettledAt = Pending, 0, 0, nil
	if !strings.HasPrefix(a.Reason, replayedPrefix) {
		a.Reason = replayedPrefix + a.Reason
	}
}

const replayedPrefix = "replayed after: "

// GaveUp says whether a failed alert failed for want of retries rather
// than for good (an invalid number): the ones worth replaying.
func (a Alert) GaveUp() bool {
	return a.Status == Failed && strings.HasPrefix(strings.TrimPrefix(a.Reason, replayedPrefix), gaveUpPrefix)
}

const gaveUpPrefix = "gave up after "

// Limiter makes the caller wait for its turn within the SMS budget.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Dispatcher sends due alerts through a provider, each at most once in
// every path but one: a sender that dies after the provider accepted the
// message and before Settle leaves the alert "sending"; when its lease runs
// out another sender sends it again, unless the provider keeps receipts
// (sms.Receipts: the local outbox) and says it has the message. The lease
// is longer than the provider's timeout, so a slow but live sender is not
// overtaken.
type Dispatcher struct {
	Ledger   Ledger
	Vault    *pii.Vault
	Provider sms.Provider
	Limiter  Limiter
	Now      func() time.Time

	Lease       time.Duration // how long a claim holds; default 60 s
	SendTimeout time.Duration // one provider call; default 10 s
	MaxAttempts int           // tries before a retryable failure becomes final; default 8
	Workers     int           // concurrent sends in DeliverDue; default 8
}

func (d *Dispatcher) lease() time.Duration       { return orDefault(d.Lease, time.Minute) }
func (d *Dispatcher) sendTimeout() time.Duration { return orDefault(d.SendTimeout, 10*time.Second) }

func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// Result counts what one pass did.
type Result struct {
	Sent    int `json:"sent"`
	Failed  int `json:"failed"`
	Retried int `json:"retried"`
	Skipped int `json:"skipped"` // another sender had it, or it was not due
}

// Merge adds the counts of another pass.
func (r *Result) Merge(o Result) {
	r.Sent, r.Failed, r.Retried, r.Skipped = r.Sent+o.Sent, r.Failed+o.Failed, r.Retried+o.Retried, r.Skipped+o.Skipped
}

// Handled is how many alerts a pass took (sent, failed or put back).
func (r Result) Handled() int { return r.Sent + r.Failed + r.Retried }

// Add counts what became of one alert.
func (r *Result) Add(o Status) {
	switch o {
	case Sent:
		r.Sent++
	case Failed:
		r.Failed++
	case Pending:
		r.Retried++
	default:
		r.Skipped++
	}
}

// Deliver sends one alert if it is due and nobody else holds it. The
// returned status is what became of it (empty when it was not taken). An
// error means the ledger could not be read or written: the caller retries.
func (d *Dispatcher) Deliver(ctx context.Context, id string) (Status, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	now := d.Now()
	until := now.Add(d.lease())
	a, ok, err := d.Ledger.Claim(ctx, id, now, until)
	if err != nil || !ok {
		return "", err
	}
	o := d.send(ctx, a, until)
	// The outcome is recorded even when the caller is stopping: a message
	// the provider took must not be left to look unsent.
	settleCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.sendTimeout())
	defer cancel()
	if err := d.Ledger.Settle(settleCtx, id, until, o); err != nil {
		return "", err
	}
	return o.Status, nil
}

// send makes one attempt and says what it came to. It never returns a
// message's personal data in a reason. The claim runs until `until`: the
// send must start early enough to finish within it, or another sender
// could take the alert over while this one still sends.
func (d *Dispatcher) send(ctx context.Context, a Alert, until time.Time) Outcome {
	fail := func(reason string) Outcome { return Outcome{Status: Failed, Reason: reason, At: d.Now()} }
	// An earlier claim that was not given back may have reached the
	// provider without being recorded. A provider that keeps receipts says
	// whether it did; if it cannot say, the alert is sent again (twice
	// rather than never).
	if r, ok := d.Provider.(sms.Receipts); ok && a.Attempts > 1 {
		if id, sent, err := r.Receipt(ctx, a.ID); err == nil && sent {
			return Outcome{Status: Sent, MessageID: id, At: d.Now()}
		}
	}
	t, ok := lookup(a.Template)
	if !ok {
		return fail("unknown template " + a.Template)
	}
	params, err := a.OpenParams(d.Vault)
	if err != nil {
		return fail("parameters do not open")
	}
	text, err := t.Render(params)
	if err != nil {
		return fail(err.Error())
	}
	national, err := d.Vault.Open(a.RecipientSealed, a.ID)
	if err != nil {
		return fail("recipient does not open")
	}
	to := phone.E164(string(national))
	if to == "" {
		return fail("recipient is not a mobile number")
	}
	// Waiting for a slot is not an attempt: a budget that is full, or a
	// slot too late for the claim, puts the alert back as it was.
	waitCtx, cancelWait := context.WithTimeout(ctx, until.Sub(d.Now())-d.sendTimeout()-settleMargin)
	err = d.Limiter.Wait(waitCtx)
	cancelWait()
	if err != nil {
		now := d.Now()
		return Outcome{Status: Pending, Reason: "no send slot: " + err.Error(), RetryAt: now, At: now, NotAttempted: true}
	}
	// Once started, a Publish is not cancelled with the caller: a message
	// the provider may already hold must get its answer recorded.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.sendTimeout())
	defer cancel()
	id, err := d.Provider.Send(sendCtx, sms.Message{
		AlertID: a.ID, To: to, Template: t.Code, Params: params, Text: text, Segments: Segments(text),
	})
	switch {
	case err == nil:
		return Outcome{Status: Sent, MessageID: id, At: d.Now()}
	case errors.Is(err, sms.ErrPermanent):
		return fail(err.Error())
	default:
		return d.retry(a, err.Error())
	}
}

// settleMargin is the time kept after a send for recording it within the claim.
const settleMargin = 5 * time.Second

// retry puts an alert back with exponential backoff, or fails it for good
// after MaxAttempts (the attempt just made counts). A provider call that
// timed out may have been delivered: that is the crash window's twin, and
// retrying is the choice that loses nothing.
func (d *Dispatcher) retry(a Alert, reason string) Outcome {
	max := d.MaxAttempts
	if max <= 0 {
		max = 8
	}
	now := d.Now()
	if a.Attempts >= max {
		return Outcome{Status: Failed, Reason: fmt.Sprintf(gaveUpPrefix+"%d attempts: %s", a.Attempts, reason), At: now}
	}
	backoff := time.Second << min(a.Attempts, 9) // 2 s, 4 s, … up to about 8.5 min
	return Outcome{Status: Pending, Reason: reason, RetryAt: now.Add(backoff), At: now}
}

// DeliverDue sends the alerts due now, up to limit. One alert's failure
// does not stop the others; ledger errors are joined.
func (d *Dispatcher) DeliverDue(ctx context.Context, limit int) (Result, error) {
	due, err := d.Ledger.Due(ctx, d.Now(), limit)
	if err != nil {
		return Result{}, fmt.Errorf("list due alerts: %w", err)
	}
	ids := make([]string, len(due))
	for i, a := range due {
		ids[i] = a.ID
	}
	res, errs := d.DeliverAll(ctx, ids)
	return res, errors.Join(errs...)
}

// DeliverAll delivers the alerts on Workers goroutines. errs[i] is the
// ledger error of ids[i], if any. Once ctx ends no further delivery starts,
// and the ones not started carry ctx's error.
func (d *Dispatcher) DeliverAll(ctx context.Context, ids []string) (Result, []error) {
	workers := d.Workers
	if workers <= 0 {
		workers = 8
	}
	errs := make([]error, len(ids))
	next := make(chan int)
	var mu sync.Mutex
	var res Result
	var wg sync.WaitGroup
	for range min(workers, len(ids)) {
		wg.Go(func() {
			for i := range next {
				status, err := d.Deliver(ctx, ids[i])
				mu.Lock()
				if errs[i] = err; err == nil {
					res.Add(status)
				}
				mu.Unlock()
			}
		})
	}
	for i := range ids {
		select {
		case next <- i:
			continue
		case <-ctx.Done():
		}
		// Not started: the caller reports these back for another try.
		for j := i; j < len(ids); j++ {
			errs[j] = ctx.Err()
		}
		break
	}
	close(next)
	wg.Wait()
	return res, errs
}
