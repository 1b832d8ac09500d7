package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"gridcode/infra/crashtest"
)

// benchCrash is the "nothing lost" proof: `gridcode serve` killed
// with SIGKILL at a random moment of each burst of reports (and of a daily
// refresh every fourth life), restarted on the same data dir, iterations
// times; then delivery settles and every acknowledged report, its SMS,
// every refresh and its morning SMS are checked. The baseline is the same
// lives ended by SIGTERM once their burst is answered. The row is printed
// whatever the run found; an error comes after the table.
func benchCrash(ctx context.Context, iterations int, sum *trustSummary) (row, error) {
	dir, err := os.MkdirTemp("", "gridcode-bench-crash-")
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(dir)
	binary, err := crashtest.Build(ctx, dir)
	if err != nil {
		return row{}, err
	}
	o := crashtest.Options{Iterations: iterations, Binary: binary, SettleAll: true, Log: os.Stderr}
	res, err := crashtest.Run(ctx, o)
	if err != nil {
		return row{}, err
	}
	o.Iterations = max(iterations/10, 5)
	base, err := crashtest.Baseline(ctx, o)
	if err != nil {
		return row{}, err
	}
	r := row{
		what: fmt.Sprintf("crash test: gridcode serve SIGKILLed at a random moment 0–250 ms into each burst (10 new reports from 4 phones, plus the last burst's unanswered ones; "+
			"every 4th life 3 new groups and today's refresh, killed 0–62 ms in), restarted on the same data dir, %d times; then delivery settled, outliving the killed senders' 60 s claims", res.Iterations),
		result: fmt.Sprintf("%d kills (%d mid-intake, %d mid-refresh, %d with an SMS in the outbox and its ledger still sending): "+
			"%d reports acknowledged, %d lost, %d alerts lost; %d of %d alerts sent, %d duplicate SMS of %d; "+
			"refreshes completed %d of %d, %d lists missing, %d built twice; %.1f s, a life %d ms, settle %.1f s",
			res.Iterations, res.KillsMidIntake, res.KillsMidRefresh, res.SendWindow,
			res.Acked, res.LostReports, res.LostAlerts, res.Sent, res.Alerts, res.DuplicateSMS, res.SMS,
			res.RefreshesCompleted, res.RefreshesStarted, res.ListsMissing, res.ListsRebuilt,
			res.Elapsed.Seconds(), res.LifeMedian.Milliseconds(), res.Settle.Seconds()),
		baseline: fmt.Sprintf("the same lives ended by SIGTERM once answered (%d): a life %d ms", base.Iterations, base.LifeMedian.Milliseconds()),
		ratio:    fmt.Sprintf("%.2f", float64(res.LifeMedian)/float64(max(base.LifeMedian, time.Millisecond))),
	}
	sum.crash = &crashSummary{kills: res.Iterations, acked: res.Acked, lostReports: res.LostReports, lostAlerts: res.LostAlerts,
		duplicateSMS: res.DuplicateSMS, sms: res.SMS}
	if res.RefreshNote != "" {
		r.result += "; " + res.RefreshNote
	}
	return r, res.Err()
}
