package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// API is the part of the DynamoDB client Shared uses (IAM: dynamodb:UpdateItem
// on the table).
type API interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

const (
	// KeyAttribute is the table's partition key (S): the unix second whose
	// slots the item counts.
	KeyAttribute = "window"
	// TTLAttribute is the attribute DynamoDB expires old seconds by.
	TTLAttribute = "expiresAt"
	// countAttribute is the number of slots of the second handed out so far.
	countAttribute = "sent"
	// opensAttribute is when the second's first slot is (unix nanoseconds).
	opensAttribute = "opensAt"
	// keepFor is how long a second's item outlives it before TTL deletes it.
	keepFor = 120
	// MaxAhead is how many seconds ahead Wait looks for a free slot before
	// it gives up with ErrBusy.
	MaxAhead = 60
)

// ErrBusy means every slot of the next MaxAhead seconds is taken.
var ErrBusy = errors.New("ratelimit: no free send slot in the next " + strconv.Itoa(MaxAhead) + " seconds")

// Shared is the same budget across processes, kept in one DynamoDB table: one
// item per second counts the slots of that second handed out so far. Its
// slots are only as far apart as the processes' clocks agree (Lambda hosts
// keep them within a few milliseconds).
type Shared struct {
	api       API
	table     string
	mps       int
	now       func() time.Time
	waitUntil func(ctx context.Context, slot time.Time) error // replaced by tests
	rtt       atomic.Int64                                    // the last claim's round trip
}

// NewShared returns a limiter for mps messages per second across every
// process using table; mps <= 0 means unlimited. now is the clock (nil:
// time.Now).
func NewShared(api API, table string, mps int, now func() time.Time) *Shared {
	if now == nil {
		now = time.Now
	}
	if mps > 0 {
		// The same headroom as Local, whole messages: 100 gives 98 slots a second.
		mps = max(1, int(float64(mps)*Headroom))
	}
	s := &Shared{api: api, table: table, mps: mps, now: now}
	s.waitUntil = func(ctx context.Context, slot time.Time) error { return sleepUntil(ctx, s.now, slot) }
	return s
}

// Wait blocks until the caller may send one message, or ctx ends.
//
// Each try adds to the count of one second with a single unconditional
// UpdateItem, so concurrent callers never contend on a condition: count n is
// the slot opens + (n-1)/mps, where opens is the second itself, or, when the
// second was first claimed while it was already running, the time of that
// claim (so the callers of a burst after an idle spell start together at
// once instead of each skipping the slots that went by). A slot is valid
// only if the next one would still fall in the second, which keeps slots of
// adjacent seconds 1/mps apart; a full second sends the caller on to the
// next. A slot that has already gone by (a lull in mid-second, or DynamoDB
// slow to answer) is not used, as sending at once would crowd the slots that
// follow; the caller then claims, in one add, enough slots of the same second
// to land in the future.
func (s *Shared) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.mps <= 0 {
		return nil
	}
	sec := s.now().Unix()
	last := sec + MaxAhead
	add := int64(1)
	for sec <= last {
		asked := s.now()
		start := time.Unix(sec, 0)
		// If this claim opens the second, its first slot is when the reply
		// is expected back.
		opens := asked.Add(time.Duration(s.rtt.Load()))
		if opens.Before(start) {
			opens = start
		}
		n, opens, err := s.claim(ctx, sec, add, opens)
		if err != nil {
			return err
		}
		now := s.now()
		s.rtt.Store(int64(now.Sub(asked)))
		if n > int64(s.mps) || opens.Add(s.offset(n+1)).After(start.Add(time.Second)) {
			sec++
			add = 1
			continue
		}
		slot := opens.Add(s.offset(n))
		if late := now.Sub(slot); late > 0 {
			if now.Unix() > sec {
				sec, add = now.Unix(), 1
				continue
			}
			// Skip the slots up to now plus one more round trip, the time
			// the next claim will take.
			ahead := late + now.Sub(asked)
			add = int64(math.Ceil(ahead.Seconds() * float64(s.mps)))
			continue
		}
		if err := beforeDeadline(ctx, slot); err != nil {
			return err
		}
		return s.waitUntil(ctx, slot)
	}
	return ErrBusy
}

// offset is how long after the second's first slot its nth slot comes.
func (s *Shared) offset(n int64) time.Duration {
	return time.Duration(n-1) * time.Second / time.Duration(s.mps)
}

// claim adds add to the count of second sec and returns the new count and
// when the second's first slot is (opens, unless an earlier claim set it).
func (s *Shared) claim(ctx context.Context, sec, add int64, opens time.Time) (int64, time.Time, error) {
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: strconv.FormatInt(sec, 10)}},
		UpdateExpression:         aws.String("ADD #n :add SET #ttl = :ttl, #opens = if_not_exists(#opens, :opens)"),
		ExpressionAttributeNames: map[string]string{"#n": countAttribute, "#ttl": TTLAttribute, "#opens": opensAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":add":   &types.AttributeValueMemberN{Value: strconv.FormatInt(add, 10)},
			":ttl":   &types.AttributeValueMemberN{Value: strconv.FormatInt(sec+keepFor, 10)},
			":opens": &types.AttributeValueMemberN{Value: strconv.FormatInt(opens.UnixNano(), 10)},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("ratelimit: claim slot of second %d in %s: %w", sec, s.table, err)
	}
	n, err := number(out.Attributes, countAttribute)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("ratelimit: claim slot of second %d in %s: %w", sec, s.table, err)
	}
	ns, err := number(out.Attributes, opensAttribute)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("ratelimit: claim slot of second %d in %s: %w", sec, s.table, err)
	}
	return n, time.Unix(0, ns), nil
}

func number(item map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("no number %q in the reply", name)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// TableSpec is the table Shared needs, for tests and template.yaml. Turn on
// TTL with TimeToLive as well, or old seconds are never deleted.
func TableSpec(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(KeyAttribute), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(KeyAttribute), KeyType: types.KeyTypeHash}},
	}
}

// TimeToLive turns on the expiry of old seconds in table (CreateTable cannot).
func TimeToLive(table string) *dynamodb.UpdateTimeToLiveInput {
	return &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	}
}
