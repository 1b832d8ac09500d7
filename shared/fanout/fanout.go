// Package fanout is the Lambda event adapter of alert delivery: the alerts
// table's DynamoDB stream delivers each new pending alert within seconds,
// and an EventBridge schedule sweeps what the stream could not finish
// (retries whose time has come, claims of senders that died).
//
// Why the stream and not SQS: the alert is already written in the same
// transaction as its report (the outbox), so the stream is the outbox's
// change feed with no second write that could be lost between the two; a
// stream record is retried per shard in order, and with
// ReportBatchItemFailures only from the first failed record on. What a
// stream cannot do (wait: a retry in 2 s, 4 s, …) the sweep does, from the
// ledger's own retry time.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"gridcode/shared/alert"
)

// ErrUnknownEvent is a payload that is neither a DynamoDB stream batch nor
// a scheduled event.
var ErrUnknownEvent = errors.New("fanout: unknown event")

// Handler delivers alerts from Lambda events.
type Handler struct {
	Dispatcher *alert.Dispatcher
	SweepLimit int // alerts one sweep takes at most; default 500
	Workers    int // concurrent deliveries of one stream batch; default 8
}

// SweepResult is what a scheduled invocation returns.
type SweepResult struct {
	Sent    int `json:"sent"`
	Failed  int `json:"failed"`
	Retried int `json:"retried"`
	Skipped int `json:"skipped"`
}

// probe is the part of a payload that says what event it is.
type probe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
}

const (
	dynamoDBSource     = "aws:dynamodb"
	scheduledEventType = "Scheduled Event"
	// answerMargin is kept free before the invocation's deadline: no new
	// delivery starts, the ones in flight finish their provider call (up to
	// the dispatcher's 10 s send timeout) and record it, and the handler
	// still answers with the records it did not finish, instead of timing
	// out and having the whole batch retried.
	answerMargin = 20 * time.Second
)

// Handle is the function's handler: a stream batch returns its
// events.DynamoDBEventResponse, a scheduled event a SweepResult.
func (h Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-answerMargin))
		defer cancel()
	}
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownEvent, err)
	}
	switch {
	case len(p.Records) > 0:
		for i, r := range p.Records {
			if r.EventSource != dynamoDBSource {
				return nil, fmt.Errorf("%w: record %d comes from %q, not %s", ErrUnknownEvent, i, r.EventSource, dynamoDBSource)
			}
		}
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode DynamoDB stream event: %w", err)
		}
		return h.stream(ctx, ev), nil
	case p.DetailType == scheduledEventType:
		return h.sweep(ctx)
	}
	return nil, ErrUnknownEvent
}

// pendingAlert returns the id of the alert a record asks to deliver: an
// insert or change that leaves the alert pending. Sent, failed and sending
// images, and removals (TTL), ask for nothing.
func pendingAlert(r events.DynamoDBEventRecord) (string, bool) {
	if r.EventName != string(events.DynamoDBOperationTypeInsert) && r.EventName != string(events.DynamoDBOperationTypeModify) {
		return "", false
	}
	img := r.Change.NewImage
	if s, ok := img["status"]; !ok || s.DataType() != events.DataTypeString || s.String() != string(alert.Pending) {
		return "", false
	}
	for _, m := range []map[string]events.DynamoDBAttributeValue{r.Change.Keys, img} {
		if v, ok := m["alertId"]; ok && v.DataType() == events.DataTypeString && v.String() != "" {
			return v.String(), true
		}
	}
	return "", false
}

// stream delivers the batch's pending alerts on Workers goroutines. A
// record whose Deliver fails (the ledger could not be read or written) is
// reported by its sequence number, so Lambda retries from there on and
// never re-sends the batch: records already delivered are sent, and their
// claims refuse a second send anyway. A provider failure is not an error
// here: the dispatcher has recorded it (retry time, or failed for good).
func (h Handler) stream(ctx context.Context, ev events.DynamoDBEvent) events.DynamoDBEventResponse {
	type job struct {
		seq, id string
	}
	var jobs []job
	for _, r := range ev.Records {
		if id, ok := pendingAlert(r); ok {
			jobs = append(jobs, job{seq: r.Change.SequenceNumber, id: id})
		}
	}
	workers := h.Workers
	if workers <= 0 {
		workers = 8
	}
	failed := make([]bool, len(jobs))
	var res alert.Result
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				status, err := h.Dispatcher.Deliver(ctx, jobs[i].id)
				mu.Lock()
				if err != nil {
					failed[i] = true
				} else {
					count(&res, status)
				}
				mu.Unlock()
				if err != nil {
					slog.ErrorContext(ctx, "deliver alert", "alertId", jobs[i].id, "err", err)
				}
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()

	out := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for i, f := range failed {
		if f {
			out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: jobs[i].seq})
		}
	}
	slog.InfoContext(ctx, "stream batch",
		"records", len(ev.Records), "pending", len(jobs), "sent", res.Sent, "failed", res.Failed,
		"retried", res.Retried, "skipped", res.Skipped, "errors", len(out.BatchItemFailures))
	return out
}

// count adds what became of one alert; an empty status means another
// sender had it, or it was not due.
func count(r *alert.Result, s alert.Status) {
	switch s {
	case alert.Sent:
		r.Sent++
	case alert.Failed:
		r.Failed++
	case alert.Pending:
		r.Retried++
	default:
		r.Skipped++
	}
}

// sweep sends what is due: retries whose time has come and alerts whose
// sender's lease ran out.
func (h Handler) sweep(ctx context.Context) (SweepResult, error) {
	limit := h.SweepLimit
	if limit <= 0 {
		limit = 500
	}
	// Pass after pass until nothing is due or time runs short: after a
	// stream outage the sweep is what catches up.
	var out SweepResult
	var err error
	for ctx.Err() == nil {
		var res alert.Result
		res, err = h.Dispatcher.DeliverDue(ctx, limit)
		out.Sent, out.Failed, out.Retried, out.Skipped = out.Sent+res.Sent, out.Failed+res.Failed, out.Retried+res.Retried, out.Skipped+res.Skipped
		if err != nil || res.Sent+res.Failed+res.Retried < limit {
			break
		}
	}
	slog.InfoContext(ctx, "sweep", "sent", out.Sent, "failed", out.Failed, "retried", out.Retried, "skipped", out.Skipped, "err", err)
	if err != nil {
		return out, fmt.Errorf("sweep: %w", err)
	}
	return out, nil
}
