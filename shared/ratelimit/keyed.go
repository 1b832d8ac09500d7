package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Keyed is a request limit per key (a client address, a person's keyed
// lookup): Allow counts one request of key at now and says whether it fits
// the limit; when it does not, retryAfter is how long until it would, and
// the refused request is not counted. err means the count could not be
// kept (ok is then false); what to do about that is the caller's choice.
type Keyed interface {
	Allow(ctx context.Context, key string, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

var (
	_ Keyed = (*Memory)(nil)
	_ Keyed = (*Counters)(nil)
)

// Rule is at most Limit requests of one key per Window. Windows are fixed
// and aligned (now.Truncate(Window)), the same on every process, so a
// window's count is one number wherever it is kept; a client can fit up to
// twice Limit into one Window's length across a boundary, which is fine for
// abuse limits. Limit <= 0 (the zero Rule) limits nothing.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Off reports whether r limits nothing.
func (r Rule) Off() bool { return r.Limit <= 0 || r.Window <= 0 }

// window is the window now falls in: [start, end).
func (r Rule) window(now time.Time) (start, end time.Time) {
	start = now.Truncate(r.Window)
	return start, start.Add(r.Window)
}

// String is the rule as UnmarshalText reads it: "30/1m0s", or "off".
func (r Rule) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.Limit) + "/" + r.Window.String()
}

// UnmarshalText reads "LIMIT/WINDOW" (30/1m, 5/1h: a count and a Go
// duration of at least a second) or "off"; the functions' config reads
// their limits with it.
func (r *Rule) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "off" {
		*r = Rule{}
		return nil
	}
	n, w, ok := strings.Cut(s, "/")
	limit, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || limit < 1 {
		return fmt.Errorf("ratelimit: rule %q: want LIMIT/WINDOW (e.g. 30/1m) or off, LIMIT at least 1", s)
	}
	window, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || window < time.Second {
		return fmt.Errorf("ratelimit: rule %q: the window must be a duration of at least 1s (e.g. 1m, 1h)", s)
	}
	*r = Rule{Limit: limit, Window: window}
	return nil
}

// DefaultMaxKeys bounds the keys a Memory counts in one window.
const DefaultMaxKeys = 100_000

// Memory keeps the counts of one process (make run, tests). As windows are
// aligned, all keys share one: when it ends, every count goes at once, so
// memory holds only the keys seen in the current window, at most maxKeys of
// them. A key beyond that is let through uncounted: refusing it would let
// anyone who sprays enough addresses lock everyone else out.
type Memory struct {
	rule    Rule
	maxKeys int

	mu     sync.Mutex
	start  time.Time // of the window counts is for
	counts map[string]int
}

// NewMemory returns a limiter of rule keeping at most maxKeys keys (<= 0:
// DefaultMaxKeys).
func NewMemory(rule Rule, maxKeys int) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Memory{rule: rule, maxKeys: maxKeys, counts: map[string]int{}}
}

// Allow counts one request of key at now.
func (m *Memory) Allow(_ context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if m.rule.Off() {
		return true, 0, nil
	}
	start, end := m.rule.window(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !start.Equal(m.start) {
		if start.Before(m.start) {
			// A clock set back: this window's count is gone; count it anew
			// rather than in a later window's.
			return true, 0, nil
		}
		m.start, m.counts = start, map[string]int{}
	}
	n, seen := m.counts[key]
	switch {
	case n >= m.rule.Limit:
		return false, end.Sub(now), nil
	case !seen && len(m.counts) >= m.maxKeys:
		return true, 0, nil
	}
	m.counts[key] = n + 1
	return true, 0, nil
}

// Keys is how many keys the current window counts (for tests).
func (m *Memory) Keys() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.counts)
}

const (
	// CounterAttribute is the partition key (S) of the counters' table:
	// the limiter's name, the key and the window's start.
	CounterAttribute = "counter"
	// hitsAttribute is the number of requests counted in the window.
	hitsAttribute = "hits"
	// counterSlack is how long a counter outlives its window before TTL
	// deletes it; once the window is over, nothing reads it again.
	counterSlack = time.Minute
)

// Counters keeps the counts in a DynamoDB table shared by every Lambda
// instance: one item per limiter, key and window, counted by one
// conditional UpdateItem (IAM: dynamodb:UpdateItem on the table) that adds
// one only while the count is under the limit, so a refused request writes
// nothing. Items expire by TTLAttribute after their window.
type Counters struct {
	api   API
	table string
	name  string
	rule  Rule
}

// NewCounters returns a limiter of rule whose items in table are named
// after name (a table may hold many limiters: "reports-per-address").
func NewCounters(api API, table, name string, rule Rule) *Counters {
	return &Counters{api: api, table: table, name: name, rule: rule}
}

// Allow counts one request of key at now.
func (c *Counters) Allow(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if c.rule.Off() {
		return true, 0, nil
	}
	start, end := c.rule.window(now)
	_, err := c.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.table),
		Key: map[string]types.AttributeValue{
			CounterAttribute: &types.AttributeValueMemberS{Value: CounterID(c.name, key, start)},
		},
		UpdateExpression:         aws.String("ADD #n :one SET #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :limit"),
		ExpressionAttributeNames: map[string]string{"#n": hitsAttribute, "#ttl": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   &types.AttributeValueMemberN{Value: "1"},
			":limit": &types.AttributeValueMemberN{Value: strconv.Itoa(c.rule.Limit)},
			":ttl":   &types.AttributeValueMemberN{Value: strconv.FormatInt(end.Add(counterSlack).Unix(), 10)},
		},
	})
	var full *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &full):
		return false, end.Sub(now), nil
	case err != nil:
		// Never the key in the error: it may be a client's address.
		return false, 0, fmt.Errorf("ratelimit: count %s in %s: %w", c.name, c.table, err)
	}
	return true, 0, nil
}

// CounterID is the item that counts key's requests to limiter name in the
// window starting at start.
func CounterID(name, key string, start time.Time) string {
	return name + "#" + key + "#" + strconv.FormatInt(start.Unix(), 10)
}

// CountersTableSpec is the table Counters needs, for tests and
// template.yaml. Turn on TTL with TimeToLive as well, or old windows are
// never deleted.
func CountersTableSpec(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(CounterAttribute), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(CounterAttribute), KeyType: types.KeyTypeHash}},
	}
}
