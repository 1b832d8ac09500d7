package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"gridcode/shared/digest"
)

// ErrUnknownEvent is a payload that is not an EventBridge scheduled event.
var ErrUnknownEvent = errors.New("digest: not a scheduled event")

// scheduledEventType is the detail-type of an EventBridge rule's schedule.
const scheduledEventType = "Scheduled Event"

// runner is the digest job as the handler sees it.
type runner interface {
	Run(ctx context.Context) (digest.Result, error)
}

// result is what an invocation returns.
type result struct {
	Grids  int `json:"grids"`  // grids with something to report this window
	Queued int `json:"queued"` // digests queued by this run (0 when an earlier run did it)
}

type handler struct {
	job runner
}

// Handle runs the job for a scheduled event. A run in which some grids
// failed returns an error, so that it counts as a failed invocation in
// the metrics; the other grids' digests are queued all the same.
func (h handler) Handle(ctx context.Context, raw json.RawMessage) (result, error) {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return result{}, fmt.Errorf("%w: %v", ErrUnknownEvent, err)
	}
	if ev.DetailType != scheduledEventType {
		return result{}, fmt.Errorf("%w: detail-type %q", ErrUnknownEvent, ev.DetailType)
	}
	res, err := h.job.Run(ctx)
	out := result{Grids: res.Grids, Queued: res.Queued}
	if err != nil {
		slog.ErrorContext(ctx, "digest run failed", "grids", out.Grids, "queued", out.Queued, "err", err)
		return out, err
	}
	slog.InfoContext(ctx, "digest run", "grids", out.Grids, "queued", out.Queued)
	return out, nil
}
