package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gridcode/infra/bench"
	"gridcode/shared/alert"
	"gridcode/shared/ratelimit"
	"gridcode/shared/secrets"
	"gridcode/shared/sms"
	"gridcode/shared/sms/outbox"
	"gridcode/shared/store/embedded"
)

// fanoutFixture is a store full of pending welcome alerts and an outbox.
type fanoutFixture struct {
	store    *embedded.Store
	provider *outbox.Provider
	d        *alert.Dispatcher
}

func newFanoutFixture(ctx context.Context, dir string, n int, limiter alert.Limiter) (*fanoutFixture, error) {
	keys, err := secrets.Generate()
	if err != nil {
		return nil, err
	}
	vault, err := keys.Vault()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	store, err := embedded.Open(filepath.Join(dir, "gridcode.db"))
	if err != nil {
		return nil, err
	}
	recs := rawRecords(n)
	for i := range recs {
		phone := fmt.Sprintf("139%08d", i)
		if recs[i].a.RecipientSealed, err = vault.Seal([]byte(phone), recs[i].a.ID); err != nil {
			return nil, err
		}
	}
	if _, err := bench.Parallel(len(recs), 64, func(i int) error {
		_, _, err := store.Create(ctx, recs[i].r, recs[i].a)
		return err
	}); err != nil {
		return nil, err
	}
	provider, err := outbox.Open(filepath.Join(dir, "sms.jsonl"), time.Now)
	if err != nil {
		return nil, err
	}
	return &fanoutFixture{store: store, provider: provider, d: &alert.Dispatcher{
		Ledger: store, Vault: vault, Provider: provider, Limiter: limiter, Now: time.Now, Workers: 64,
	}}, nil
}

func (f *fanoutFixture) close() { f.provider.Close(); f.store.Close() }

// drain delivers until nothing is due and checks every alert went out once.
func (f *fanoutFixture) drain(ctx context.Context, n int) (time.Duration, []outbox.Line, error) {
	start := time.Now()
	for {
		res, err := f.d.DeliverDue(ctx, 5000)
		if err != nil {
			return 0, nil, err
		}
		if res.Handled() == 0 {
			break
		}
	}
	elapsed := time.Since(start)
	lines, err := f.provider.List(0)
	if err != nil {
		return 0, nil, err
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l.AlertID] {
			return 0, nil, fmt.Errorf("alert %s sent twice", l.AlertID)
		}
		seen[l.AlertID] = true
	}
	if len(seen) != n {
		return 0, nil, fmt.Errorf("%d of %d alerts sent", len(seen), n)
	}
	return elapsed, lines, nil
}

// benchFanout is the delivery pipeline: pending alerts claimed, rendered,
// sent to the local outbox and settled, without and with a rate budget.
func benchFanout(ctx context.Context, alerts, budgetAlerts, mps int) ([]row, error) {
	dir, err := os.MkdirTemp("", "gridcode-bench-fanout-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	f, err := newFanoutFixture(ctx, filepath.Join(dir, "free"), alerts, ratelimit.NewLocal(0))
	if err != nil {
		return nil, err
	}
	defer f.close()
	elapsed, _, err := f.drain(ctx, alerts)
	if err != nil {
		return nil, err
	}
	rate := float64(alerts) / elapsed.Seconds()

	// Baseline: the outbox provider alone, same concurrency.
	raw, err := outbox.Open(filepath.Join(dir, "raw.jsonl"), time.Now)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	msg := rawMessage()
	rawElapsed, err := bench.Parallel(alerts, 64, func(i int) error {
		_, err := raw.Send(ctx, msg)
		return err
	})
	if err != nil {
		return nil, err
	}
	rawRate := float64(alerts) / rawElapsed.Seconds()

	g, err := newFanoutFixture(ctx, filepath.Join(dir, "budget"), budgetAlerts, ratelimit.NewLocal(float64(mps)))
	if err != nil {
		return nil, err
	}
	defer g.close()
	budgetElapsed, lines, err := g.drain(ctx, budgetAlerts)
	if err != nil {
		return nil, err
	}
	times := make([]time.Time, len(lines))
	for i, l := range lines {
		times[i] = l.SentAt
	}
	achieved := float64(budgetAlerts) / budgetElapsed.Seconds()
	return []row{
		{
			what:     fmt.Sprintf("alert fan-out, %d pending alerts, local outbox, no rate limit", alerts),
			result:   fmt.Sprintf("%.0f alerts/s, 0 duplicates", rate),
			baseline: fmt.Sprintf("outbox provider alone %.0f sends/s", rawRate),
			ratio:    fmt.Sprintf("%.2f", rate/rawRate),
		},
		{
			what:     fmt.Sprintf("alert fan-out, %d alerts, %d MPS budget (local limiter)", budgetAlerts, mps),
			result:   fmt.Sprintf("%.1f MPS achieved, busiest 1 s window %d, 0 duplicates", achieved, busiestSecond(times)),
			baseline: fmt.Sprintf("budget %d MPS", mps),
			ratio:    fmt.Sprintf("%.3f", achieved/float64(mps)),
		},
	}, nil
}

func rawMessage() sms.Message {
	return sms.Message{AlertID: "raw", To: "+8613900000000", Template: alert.ReportWelcome.Code,
		Params: map[string]string{"action": "抵达24小时内做1次核酸"}, Text: "【蓬江防疫】欢迎来(返)蓬江!", Segments: 1}
}

// busiestSecond is the most sends in any sliding 1-second window.
func busiestSecond(times []time.Time) int {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= time.Second {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// benchSharedBudget measures the cloud's limiter: two limiters, as two
// Lambda instances, sharing one budget in DynamoDB Local.
func benchSharedBudget(ctx context.Context, client *dynamodb.Client, waits, mps int) (row, error) {
	const table = "bench-send-budget"
	if _, err := client.CreateTable(ctx, ratelimit.TableSpec(table)); err != nil {
		return row{}, err
	}
	instances := []*ratelimit.Shared{
		ratelimit.NewShared(client, table, mps, time.Now),
		ratelimit.NewShared(client, table, mps, time.Now),
	}
	granted := make([]time.Time, waits)
	start := time.Now()
	if _, err := bench.Parallel(waits, 32, func(i int) error {
		if err := instances[i%2].Wait(ctx); err != nil {
			return err
		}
		granted[i] = time.Now()
		return nil
	}); err != nil {
		return row{}, err
	}
	achieved := float64(waits) / time.Since(start).Seconds()
	return row{
		what:     fmt.Sprintf("shared SMS budget on DynamoDB Local, 2 instances x 16 callers, %d sends", waits),
		result:   fmt.Sprintf("%.1f MPS achieved, busiest 1 s window %d", achieved, busiestSecond(granted)),
		baseline: fmt.Sprintf("budget %d MPS", mps),
		ratio:    fmt.Sprintf("%.3f", achieved/float64(mps)),
	}, nil
}
