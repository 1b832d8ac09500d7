// Package bench measures intake under load and prints the figures beside a
// baseline measured in the same run: machines here are shared and noisy, so
// only ratios compare across runs.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Load is the result of one load run.
type Load struct {
	Requests int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Status   map[int]int
	Failures int // transport errors
}

// Rate is requests per second.
func (l Load) Rate() float64 { return float64(l.Requests) / l.Elapsed.Seconds() }

// Post sends every body once to url from `clients` concurrent clients and
// records each latency.
func Post(ctx context.Context, url string, bodies [][]byte, clients int) Load {
	transport := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	latencies := make([]time.Duration, len(bodies))
	statuses := make([]int, len(bodies))
	var next atomic.Int64
	var failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[i] = time.Since(t0)
				statuses[i] = resp.StatusCode
			}
		}()
	}
	wg.Wait()
	l := Load{Requests: len(bodies), Elapsed: time.Since(start), Status: map[int]int{}, Failures: int(failures.Load())}
	for _, s := range statuses {
		l.Status[s]++
	}
	slices.Sort(latencies)
	l.P50 = latencies[len(latencies)/2]
	l.P99 = latencies[len(latencies)*99/100]
	return l
}

// Parallel runs op(i) for i in [0,n) on `workers` goroutines and returns
// the elapsed time and the first error.
func Parallel(n, workers int, op func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("op %d: %w", i, err) })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}
