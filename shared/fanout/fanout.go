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
// events.DynamoDBEventResponse, a scheduled event an alert.Result.
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
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.id
	}
	d := *h.Dispatcher
	if h.Workers > 0 {
		d.Workers = h.Workers
	}
	res, errs := d.DeliverAll(ctx, ids)
	for i, err := range errs {
		if err != nil {
			slog.ErrorContext(ctx, "deliver alert", "alertId", jobs[i].id, "err", err)
		}
	}

	out := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for i, err := range errs {
		if err != nil {
			out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: jobs[i].seq})
		}
	}
	slog.InfoContext(ctx, "stream batch",
		"records", len(ev.Records), "pending", len(jobs), "sent", res.Sent, "failed", res.Failed,
		"retried", res.Retried, "skipped", res.Skipped, "errors", len(out.BatchItemFailures))
	return out
}

// sweep sends what is due: retries whose time has come and alerts whose
// sender's lease ran out.
func (h Handler) sweep(ctx context.Context) (alert.Result, error) {
	limit := h.SweepLimit
	if limit <= 0 {
		limit = 500
	}
	// Pass after pass until nothing is due or time runs short: after a
	// stream outage the sweep is what catches up.
	var out alert.Result
	var err error
	for ctx.Err() == nil {
		var res alert.Result
		res, err = h.Dispatcher.DeliverDue(ctx, limit)
		out.Merge(res)
		if err != nil || res.Handled() < limit {
			break
		}
	}
	slog.InfoContext(ctx, "sweep", "sent", out.Sent, "failed", out.Failed, "retried", out.Retried, "skipped", out.Skipped, "err", err)
	if err != nil {
		return out, fmt.Errorf("sweep: %w", err)
	}
	return out, nil
}
