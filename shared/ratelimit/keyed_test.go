package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestRuleText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Rule
		wantErr bool
	}{
		{in: "30/1m", want: Rule{30, time.Minute}},
		{in: " 5 / 1h ", want: Rule{5, time.Hour}},
		{in: "off", want: Rule{}},
		{in: "0/1m", wantErr: true},
		{in: "-1/1m", wantErr: true},
		{in: "30", wantErr: true},
		{in: "30/1ms", wantErr: true},
		{in: "30/soon", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		var got Rule
		err := got.UnmarshalText([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("UnmarshalText(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil {
			var back Rule
			if err := back.UnmarshalText([]byte(got.String())); err != nil || back != got {
				t.Errorf("%q: String %q reads back as %+v, %v", tc.in, got.String(), back, err)
			}
		}
	}
}

// adapters make the two Keyed implementations afresh for a test and a
// rule; the DynamoDB one on its own table in DynamoDB Local.
var adapters = map[string]func(*testing.T, Rule) Keyed{
	"memory": func(_ *testing.T, r Rule) Keyed { return NewMemory(r, 0) },
	"dynamodb": func(t *testing.T, r Rule) Keyed {
		c, table := newCountersTable(t)
		return NewCounters(c, table, "test", r)
	},
}

// newCountersTable creates a counters table on DynamoDB Local, named after
// the test.
func newCountersTable(t *testing.T) (*dynamodb.Client, string) {
	return newTableOf(t, CountersTableSpec)
}

// keyedT0 is the clock of these tests: on a whole hour, so the windows of
// every rule here start then; in the future, so that no counter item
// DynamoDB Local holds has expired.
var keyedT0 = time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)

func TestKeyedWindows(t *testing.T) {
	rule := Rule{Limit: 3, Window: time.Minute}
	type call struct {
		key       string
		at        time.Duration // from keyedT0
		ok        bool
		retryWait time.Duration // when refused
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{"the limit, then refused until the window ends", []call{
			{"a", 0, true, 0}, {"a", time.Second, true, 0}, {"a", 2 * time.Second, true, 0},
			{"a", 10 * time.Second, false, 50 * time.Second},
			{"a", 59*time.Second + 500*time.Millisecond, false, 500 * time.Millisecond},
			{"a", time.Minute, true, 0},
		}},
		{"keys count apart", []call{
			{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, false, time.Minute},
			{"b", 0, true, 0}, {"b", 0, true, 0}, {"b", 0, true, 0}, {"b", 0, false, time.Minute},
		}},
		// Refusals are not counted: the next window has the whole limit,
		// and so does this one's count (it stays at the limit, not above).
		{"refusals do not add up", []call{
			{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0},
			{"a", 1 * time.Second, false, 59 * time.Second}, {"a", 2 * time.Second, false, 58 * time.Second},
			{"a", 61 * time.Second, true, 0}, {"a", 62 * time.Second, true, 0}, {"a", 63 * time.Second, true, 0},
			{"a", 64 * time.Second, false, 56 * time.Second},
		}},
		{"an idle window later starts afresh", []call{
			{"a", 0, true, 0}, {"a", 0, true, 0}, {"a", 0, true, 0},
			{"a", 3*time.Hour + 30*time.Second, true, 0},
		}},
	}
	for name, newLimiter := range adapters {
		t.Run(name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					l := newLimiter(t, rule)
					for i, c := range tc.calls {
						ok, wait, err := l.Allow(context.Background(), c.key, keyedT0.Add(c.at))
						if err != nil {
							t.Fatalf("call %d: %v", i, err)
						}
						if ok != c.ok || (!ok && wait != c.retryWait) {
							t.Fatalf("call %d (%s at %v): ok=%v retryAfter=%v; want ok=%v retryAfter=%v", i, c.key, c.at, ok, wait, c.ok, c.retryWait)
						}
					}
				})
			}
		})
	}
}

// TestKeyedConcurrent: many callers on one key, through two limiters
// sharing their counts (two Lambda instances on one table; for Memory the
// same limiter twice), get exactly the limit.
func TestKeyedConcurrent(t *testing.T) {
	const limit, callers, each = 25, 16, 5
	rule := Rule{Limit: limit, Window: time.Hour}
	mem := NewMemory(rule, 0)
	c, table := newCountersTable(t)
	pairs := map[string][2]Keyed{
		"memory":   {mem, mem},
		"dynamodb": {NewCounters(c, table, "test", rule), NewCounters(c, table, "test", rule)},
	}
	for name, pair := range pairs {
		t.Run(name, func(t *testing.T) {
			var allowed, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range callers {
				l := pair[i%2]
				wg.Go(func() {
					for range each {
						ok, _, err := l.Allow(context.Background(), "one", keyedT0.Add(time.Minute))
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							allowed.Add(1)
						} else {
							refused.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if allowed.Load() != limit || refused.Load() != callers*each-limit {
				t.Errorf("%d allowed, %d refused; want %d, %d", allowed.Load(), refused.Load(), limit, callers*each-limit)
			}
		})
	}
}

func TestKeyedOff(t *testing.T) {
	t.Parallel()
	failing := &fakeAPI{err: errors.New("must not be called")}
	for name, l := range map[string]Keyed{
		"memory":   NewMemory(Rule{}, 0),
		"dynamodb": NewCounters(failing, "t", "test", Rule{}),
	} {
		for i := range 1000 {
			if ok, _, err := l.Allow(context.Background(), "k", keyedT0); !ok || err != nil {
				t.Fatalf("%s: call %d: ok=%v err=%v, want every call allowed", name, i, ok, err)
			}
		}
	}
	if failing.calls != 0 {
		t.Errorf("an unlimited Counters called DynamoDB %d times", failing.calls)
	}
}

// TestMemoryBounded: one window holds at most maxKeys keys; the keys past
// that are let through; the next window drops them all.
func TestMemoryBounded(t *testing.T) {
	t.Parallel()
	m := NewMemory(Rule{Limit: 1, Window: time.Minute}, 100)
	for i := range 150 {
		if ok, _, _ := m.Allow(context.Background(), strconv.Itoa(i), keyedT0); !ok {
			t.Fatalf("key %d refused on its first request", i)
		}
	}
	if m.Keys() != 100 {
		t.Errorf("%d keys kept, want 100", m.Keys())
	}
	// A counted key is still limited; one past the bound is not counted.
	if ok, _, _ := m.Allow(context.Background(), "5", keyedT0); ok {
		t.Error("a counted key got past its limit")
	}
	if ok, _, _ := m.Allow(context.Background(), "120", keyedT0); !ok {
		t.Error("a key past the bound was refused")
	}
	if ok, _, _ := m.Allow(context.Background(), "5", keyedT0.Add(time.Minute)); !ok || m.Keys() != 1 {
		t.Errorf("next window: ok=%v with %d keys kept, want allowed and 1 key", ok, m.Keys())
	}
}

// TestCountersItem: the item a window leaves in DynamoDB: named by
// limiter, key and window, counted up to the limit and no further, and
// expiring a minute after its window.
func TestCountersItem(t *testing.T) {
	c, table := newCountersTable(t)
	l := NewCounters(c, table, "reports-per-person", Rule{Limit: 2, Window: time.Hour})
	now := keyedT0.Add(20 * time.Minute)
	for i, want := range []bool{true, true, false, false} {
		if ok, _, err := l.Allow(context.Background(), "k3y", now); ok != want || err != nil {
			t.Fatalf("call %d: ok=%v err=%v, want %v", i, ok, err, want)
		}
	}
	id := "reports-per-person#k3y#" + strconv.FormatInt(keyedT0.Unix(), 10)
	if got := CounterID("reports-per-person", "k3y", keyedT0); got != id {
		t.Fatalf("CounterID = %q, want %q", got, id)
	}
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{CounterAttribute: &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem %s: %v (item %v)", id, err, out.Item)
	}
	hits, err := number(out.Item, hitsAttribute)
	if err != nil || hits != 2 {
		t.Errorf("hits = %d (%v), want 2: refusals must not be counted", hits, err)
	}
	ttl, err := number(out.Item, TTLAttribute)
	if want := keyedT0.Add(time.Hour + time.Minute).Unix(); err != nil || ttl != want {
		t.Errorf("%s = %d (%v), want %d (the window's end and a minute)", TTLAttribute, ttl, err, want)
	}
}

func TestCountersError(t *testing.T) {
	t.Parallel()
	broken := errors.New("throttled")
	l := NewCounters(&fakeAPI{err: broken}, "t", "reports-per-address", Rule{Limit: 1, Window: time.Minute})
	ok, _, err := l.Allow(context.Background(), "203.0.113.9", keyedT0)
	if ok || !errors.Is(err, broken) {
		t.Fatalf("Allow = %v, %v; want false and the DynamoDB error", ok, err)
	}
	if strings.Contains(err.Error(), "203.0.113.9") {
		t.Errorf("the error names the key: %v", err)
	}
}
