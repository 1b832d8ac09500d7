package local

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"gridcode/shared/refresh"
)

// MaxReceives is how often the local queue delivers a shard before it
// gives up on it, as the cloud queue's maxReceiveCount.
const MaxReceives = 3

// shardQueue is the in-process stand-in for the refresh SQS queue: the
// same messages, redelivered after a failure until MaxReceives, the last
// delivery marked final. Shards run one at a time, each with the worker's
// own parallelism, so a refresh leaves the intake its share of the CPU.
type shardQueue struct {
	worker  *refresh.Worker
	backoff time.Duration // before a redelivery (the cloud's visibility timeout)
	after   func()        // after each shard: the delivery loop sends its SMS

	mu      sync.Mutex
	pending []delivery
	signal  chan struct{}
}

type delivery struct {
	shard   refresh.Shard
	attempt int
	due     time.Time
}

func newShardQueue(w *refresh.Worker, backoff time.Duration, after func()) *shardQueue {
	return &shardQueue{worker: w, backoff: backoff, after: after, signal: make(chan struct{}, 1)}
}

// Send implements refresh.Queue.
func (q *shardQueue) Send(ctx context.Context, shards []refresh.Shard) error {
	q.mu.Lock()
	for _, s := range shards {
		q.pending = append(q.pending, delivery{shard: s, attempt: 1})
	}
	q.mu.Unlock()
	q.poke()
	return nil
}

func (q *shardQueue) poke() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// run delivers shards until ctx ends.
func (q *shardQueue) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for q.deliverOne(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		case <-tick.C:
		}
	}
}

// deliverOne delivers the first due shard, and says whether there was one.
func (q *shardQueue) deliverOne(ctx context.Context) bool {
	q.mu.Lock()
	now := time.Now()
	i := -1
	for j, d := range q.pending {
		if !d.due.After(now) {
			i = j
			break
		}
	}
	if i < 0 || ctx.Err() != nil {
		q.mu.Unlock()
		return false
	}
	d := q.pending[i]
	q.pending = append(q.pending[:i], q.pending[i+1:]...)
	q.mu.Unlock()

	err := q.worker.Refresh(ctx, d.shard, refresh.Delivery{Attempt: d.attempt, Final: d.attempt >= MaxReceives})
	if err != nil {
		slog.ErrorContext(ctx, "refresh shard failed", "date", d.shard.Date, "shard", d.shard.Index, "attempt", d.attempt, "err", err)
	}
	q.mu.Lock()
	if err != nil && d.attempt < MaxReceives && ctx.Err() == nil {
		q.pending = append(q.pending, delivery{shard: d.shard, attempt: d.attempt + 1, due: time.Now().Add(q.backoff)})
	}
	q.mu.Unlock()
	if q.after != nil {
		q.after()
	}
	return true
}

// drain delivers until nothing is queued, waiting out redelivery delays:
// the CLI's refresh, which runs without the server.
func (q *shardQueue) drain(ctx context.Context) error {
	for {
		if q.deliverOne(ctx) {
			continue
		}
		q.mu.Lock()
		left := len(q.pending)
		q.mu.Unlock()
		if left == 0 || ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
