package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/infra/dynamolocal"
)

// fakeAPI counts slots in memory like the table does, and checks each
// request has the shape the table needs.
type fakeAPI struct {
	mu     sync.Mutex
	counts map[string]int64
	opens  map[string]string
	calls  int
	err    error
	clock  *fakeClock    // if set, each call moves it on by rtt
	rtt    time.Duration // the time a call takes
	table  string        // the table every call must name
}

var _ API = (*fakeAPI)(nil)

func (f *fakeAPI) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if f.clock != nil {
		f.clock.advance(f.rtt)
	}
	key, ok := in.Key[KeyAttribute].(*types.AttributeValueMemberS)
	if !ok || len(in.Key) != 1 {
		return nil, fmt.Errorf("fake: key %v", in.Key)
	}
	sec, err := strconv.ParseInt(key.Value, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("fake: key %q: %v", key.Value, err)
	}
	add, err := strconv.ParseInt(in.ExpressionAttributeValues[":add"].(*types.AttributeValueMemberN).Value, 10, 64)
	if err != nil || add < 1 {
		return nil, fmt.Errorf("fake: add %d, %v", add, err)
	}
	ttl := in.ExpressionAttributeValues[":ttl"].(*types.AttributeValueMemberN).Value
	switch {
	case aws.ToString(in.TableName) != f.table:
		return nil, fmt.Errorf("fake: table %q, want %q", aws.ToString(in.TableName), f.table)
	case ttl != strconv.FormatInt(sec+120, 10):
		return nil, fmt.Errorf("fake: expiresAt %s for second %d", ttl, sec)
	case in.ReturnValues != types.ReturnValueAllNew:
		return nil, fmt.Errorf("fake: ReturnValues %q", in.ReturnValues)
	case in.ConditionExpression != nil:
		return nil, errors.New("fake: a condition makes callers contend")
	}
	if f.counts == nil {
		f.counts = map[string]int64{}
	}
	if f.opens == nil {
		f.opens = map[string]string{}
	}
	f.counts[key.Value] += add
	if _, ok := f.opens[key.Value]; !ok {
		f.opens[key.Value] = in.ExpressionAttributeValues[":opens"].(*types.AttributeValueMemberN).Value
	}
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{
		countAttribute: &types.AttributeValueMemberN{Value: strconv.FormatInt(f.counts[key.Value], 10)},
		opensAttribute: &types.AttributeValueMemberN{Value: f.opens[key.Value]},
	}}, nil
}

func TestSharedSlots(t *testing.T) {
	t.Parallel()
	const S = 1_772_000_000 // a whole unix second
	t0 := time.Unix(S, 0)
	ms := time.Millisecond
	broken := errors.New("throttled")
	tests := []struct {
		name      string
		mps       int
		start     time.Duration // clock at the first Wait, from t0
		rtt       time.Duration
		full      int             // seconds from S already full
		before    []time.Duration // how far the clock moves before each Wait
		want      []time.Duration // slots, from t0
		wantErr   error
		wantCalls int
		apiErr    error
	}{
		{name: "idle second, back to back", mps: 4, before: make([]time.Duration, 5),
			want: []time.Duration{0, 250 * ms, 500 * ms, 750 * ms, 1000 * ms}, wantCalls: 6},
		// The slot at 850ms would be only 150ms before the next second's first.
		{name: "second opened mid-way starts at the first claim", mps: 4, start: 600 * ms, before: make([]time.Duration, 2),
			want: []time.Duration{600 * ms, 1000 * ms}, wantCalls: 3},
		{name: "slots gone by in a lull are skipped, not sent at once", mps: 4, before: []time.Duration{0, 600 * ms},
			want: []time.Duration{0, 750 * ms}, wantCalls: 3},
		{name: "slow DynamoDB: skip a round trip ahead", mps: 4, rtt: 300 * ms, before: make([]time.Duration, 2),
			want: []time.Duration{750 * ms, 1200 * ms}, wantCalls: 4},
		{name: "full seconds send the caller on", mps: 3, full: 3, before: make([]time.Duration, 2),
			want: []time.Duration{3000 * ms, 3333333333}, wantCalls: 8},
		{name: "gives up after MaxAhead seconds", mps: 2, start: 10 * ms, full: MaxAhead + 1, before: make([]time.Duration, 1),
			wantErr: ErrBusy, wantCalls: MaxAhead + 1},
		{name: "DynamoDB error", mps: 2, before: make([]time.Duration, 1), apiErr: broken, wantErr: broken, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: t0.Add(tc.start)}
			api := &fakeAPI{clock: clock, rtt: tc.rtt, table: "slots", counts: map[string]int64{}}
			api.opens = map[string]string{}
			for i := range tc.full {
				api.counts[strconv.Itoa(S+i)] = int64(tc.mps)
				api.opens[strconv.Itoa(S+i)] = strconv.Itoa((S + i) * 1e9)
			}
			api.err = tc.apiErr
			var log slotLog
			s := NewShared(api, "slots", tc.mps, clock.now)
			s.mps = tc.mps // the slot rules at exactly tc.mps, without Headroom
			s.waitUntil = func(ctx context.Context, slot time.Time) error {
				if now := clock.now(); slot.Before(now) {
					t.Errorf("slot %v is %v in the past", slot.Sub(t0), now.Sub(slot))
				}
				return log.waitUntil(ctx, slot)
			}
			var err error
			for _, d := range tc.before {
				clock.advance(d)
				if err = s.Wait(context.Background()); err != nil {
					break
				}
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Wait = %v, want %v", err, tc.wantErr)
			}
			got := make([]time.Duration, len(log.slots))
			for i, s := range log.slots {
				got[i] = s.Sub(t0)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("slots = %v, want %v", got, tc.want)
			}
			if api.calls != tc.wantCalls {
				t.Errorf("%d UpdateItem calls, want %d", api.calls, tc.wantCalls)
			}
		})
	}
}

// TestSharedRandomArrivals plays bursts and lulls against two instances
// sharing one table, with DynamoDB taking up to 50ms a call.
func TestSharedRandomArrivals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mps     int
		maxGap  time.Duration // between arrivals
		maxRTT  time.Duration
		arrives int
	}{
		{"about the budget", 50, 40 * time.Millisecond, 50 * time.Millisecond, 2000},
		{"bursts beyond the budget", 20, 10 * time.Millisecond, 20 * time.Millisecond, 1000},
		{"sparse", 5, time.Second, 50 * time.Millisecond, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, uint64(tc.mps)))
			clock := &fakeClock{t: time.Unix(1_772_000_000, 123_000_000)}
			api := &fakeAPI{clock: clock, table: "sim"}
			var slots []time.Time
			instances := make([]*Shared, 2)
			for i := range instances {
				s := NewShared(api, "sim", tc.mps, clock.now)
				s.mps = tc.mps
				s.waitUntil = func(_ context.Context, slot time.Time) error {
					if now := clock.now(); slot.Before(now) {
						t.Errorf("slot is %v in the past", now.Sub(slot))
					}
					slots = append(slots, slot)
					return nil
				}
				instances[i] = s
			}
			for i := range tc.arrives {
				clock.advance(time.Duration(rng.Int64N(int64(tc.maxGap))) * time.Duration(rng.IntN(2)))
				api.rtt = time.Duration(rng.Int64N(int64(tc.maxRTT)))
				if err := instances[i%2].Wait(context.Background()); err != nil {
					t.Fatalf("Wait %d: %v", i, err)
				}
			}
			if got := maxInWindow(slots, time.Second); got > tc.mps {
				t.Errorf("%d slots in one 1 s window, want <= %d", got, tc.mps)
			}
			if len(slices.Compact(slices.SortedFunc(slices.Values(slots), time.Time.Compare))) != len(slots) {
				t.Error("a slot was handed out twice")
			}
		})
	}
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// newTable creates a table for Shared on DynamoDB Local, named after the test.
func newTable(t *testing.T) (*dynamodb.Client, string) { return newTableOf(t, TableSpec) }

// newTableOf creates the table spec describes on DynamoDB Local, with its
// TTL, named after the test.
func newTableOf(t *testing.T, spec func(name string) *dynamodb.CreateTableInput) (*dynamodb.Client, string) {
	t.Helper()
	c := dynamolocal.Client(t)
	name := strings.Trim(unsafeName.ReplaceAllString(t.Name(), "-"), "-")
	ctx := context.Background()
	if _, err := c.CreateTable(ctx, spec(name)); err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
	if _, err := c.UpdateTimeToLive(ctx, TimeToLive(name)); err != nil {
		t.Fatalf("UpdateTimeToLive %s: %v", name, err)
	}
	return c, name
}

func TestSharedOnDynamoDB(t *testing.T) {
	tests := []struct {
		name                      string
		mps, instances, perWorker int
		total                     int
	}{
		{"two instances, 8 goroutines each, 100/s", 100, 2, 8, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, table := newTable(t)
			// Warm DynamoDB Local up on a second long gone, so the JVM's
			// first slow answers do not count.
			warm := NewShared(c, table, tc.mps, nil)
			for range 20 {
				if _, _, err := warm.claim(context.Background(), 0, 1, time.Unix(0, 0)); err != nil {
					t.Fatal(err)
				}
			}
			var sleeps timedSleep
			limiters := make([]Limiter, tc.instances)
			for i := range limiters {
				s := NewShared(c, table, tc.mps, nil)
				s.waitUntil = sleeps.waitUntil
				limiters[i] = s
			}
			returned := run(t, limiters, tc.instances*tc.perWorker, tc.total)
			checkSends(t, tc.mps, tc.total, returned, &sleeps)
		})
	}
}

func TestWaitCancel(t *testing.T) {
	c, table := newTable(t)
	// At one message a second with the next 10 seconds taken, the next free
	// slot of each limiter is about 10 s away.
	busy := func() []Limiter {
		l := NewLocal(0.1)
		_ = l.Wait(context.Background())
		s := NewShared(c, table, 1, nil)
		now := time.Now().Unix()
		for sec := now; sec <= now+10; sec++ {
			if _, _, err := s.claim(context.Background(), sec, 1, time.Unix(sec, 0)); err != nil {
				t.Fatal(err)
			}
		}
		return []Limiter{l, s}
	}
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancel while sleeping", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline before the slot", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 3*time.Second)
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, l := range busy() {
				ctx, cancel := tc.ctx()
				began := time.Now()
				err := l.Wait(ctx)
				took := time.Since(began)
				cancel()
				if !errors.Is(err, tc.want) {
					t.Errorf("limiter %d: Wait = %v, want %v", i, err, tc.want)
				}
				// The slot is ~10 s away: well under that means it did not sleep it out.
				if took > 5*time.Second {
					t.Errorf("limiter %d: Wait took %v after the context ended", i, took)
				}
			}
		})
	}
}
