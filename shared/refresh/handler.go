package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"gridcode/shared/dates"
	"gridcode/shared/group"
)

// ScheduledEvent is what the 06:00 schedule sends the planner: the
// EventBridge "Scheduled Event" shape, its time filled in by EventBridge
// Scheduler with the time the run was scheduled for.
type ScheduledEvent struct {
	DetailType string    `json:"detail-type"`
	Time       time.Time `json:"time"`
}

// PlanHandler is the planner function's handler.
type PlanHandler struct {
	Planner *Planner
}

// Handle plans the district day of the scheduled time: a delayed or
// retried invocation still plans the day it was meant for.
func (h PlanHandler) Handle(ctx context.Context, e ScheduledEvent) (group.RunPlan, error) {
	at := e.Time
	if at.IsZero() {
		at = h.Planner.Now()
	}
	plan, err := h.Planner.Plan(ctx, dates.Today(at))
	if errors.Is(err, ErrInProgress) {
		// Scheduler may deliver an invocation twice: the run it asked for
		// is going on.
		slog.InfoContext(ctx, "refresh already in progress", "date", dates.Today(at))
		return group.RunPlan{Date: dates.Today(at)}, nil
	}
	if err != nil {
		return group.RunPlan{}, err
	}
	slog.InfoContext(ctx, "refresh planned", "date", plan.Date, "groups", plan.Groups, "shards", plan.Shards)
	return plan, nil
}

// ShardHandler is the worker function's handler of SQS batches.
type ShardHandler struct {
	Worker *Worker
	// MaxReceives is the queue's maxReceiveCount: the delivery that reaches
	// it is the last before the dead-letter queue.
	MaxReceives int
}

// Handle refreshes each message's shard and reports the messages whose
// shard had a failed group, so SQS delivers only those again.
func (h ShardHandler) Handle(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range e.Records {
		if err := h.handle(ctx, m); err != nil {
			slog.ErrorContext(ctx, "refresh shard failed", "messageId", m.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func (h ShardHandler) handle(ctx context.Context, m events.SQSMessage) error {
	var s Shard
	if err := json.Unmarshal([]byte(m.Body), &s); err != nil {
		return fmt.Errorf("decode shard: %w", err)
	}
	attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	attempt = max(attempt, 1)
	return h.Worker.Refresh(ctx, s, Delivery{Attempt: attempt, Final: attempt >= h.MaxReceives})
}
