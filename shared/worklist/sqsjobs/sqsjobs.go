// Package sqsjobs carries reconciliation jobs through SQS: the worklist
// function sends them, the reconcilework function runs them. It is its own
// package so that only those two link the SQS SDK.
package sqsjobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"gridcode/shared/sqsclient"
	"gridcode/shared/worklist"
)

// Queue sends jobs to one queue.
type Queue struct {
	API sqsclient.Sender
	URL string
}

var _ worklist.JobQueue = Queue{}

// New sends to the queue at url with a client built by sqsclient.New.
func New(cfg aws.Config, endpoint, url string) Queue {
	return Queue{URL: url, API: sqsclient.New(cfg, endpoint)}
}

// Send implements worklist.JobQueue; the request stays well inside API
// Gateway's 29 s.
func (q Queue) Send(ctx context.Context, j worklist.Job) error {
	body, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return sqsclient.SendOne(ctx, q.API, q.URL, string(body), 0, "reconciliation job "+j.ReconciliationID)
}

// Handler runs the jobs of an SQS event, reporting the failed ones so
// that SQS delivers only those again, until MaxReceives.
type Handler struct {
	Reconciler *worklist.Reconciler
	// MaxReceives is the queue's maxReceiveCount: the delivery that reaches
	// it is the last, and records a failure.
	MaxReceives int
	// Reserve is the time kept back from the function's deadline to record
	// a job that ran out of time as failed.
	Reserve time.Duration
}

// Handle implements the SQS event handler.
func (h Handler) Handle(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
	if deadline, ok := ctx.Deadline(); ok && h.Reserve > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-h.Reserve))
		defer cancel()
	}
	var resp events.SQSEventResponse
	for _, m := range e.Records {
		if err := h.handle(ctx, m); err != nil {
			// err names ids and lists only: Reconciler errors carry no rows.
			slog.ErrorContext(ctx, "reconciliation job failed", "messageId", m.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func (h Handler) handle(ctx context.Context, m events.SQSMessage) error {
	var j worklist.Job
	if err := json.Unmarshal([]byte(m.Body), &j); err != nil {
		return fmt.Errorf("decode job: %w", err)
	}
	if j.ReconciliationID == "" || j.ListA == "" || j.ListB == "" {
		return fmt.Errorf("job %q: missing reconciliation id or list", j.ReconciliationID)
	}
	attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	attempt = max(attempt, 1)
	res, err := h.Reconciler.RunJob(ctx, j, attempt >= h.MaxReceives)
	if err != nil {
		return err
	}
	slog.InfoContext(ctx, "reconciliation job", "reconciliationId", res.ID, "status", res.Status, "reason", res.Reason,
		"missing", res.Missing, "created", res.Created, "seconds", res.Seconds)
	return nil
}
