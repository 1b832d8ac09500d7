// Package sqsqueue sends refresh shards to the workers through SQS.
package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"gridcode/shared/refresh"
	"gridcode/shared/sqsclient"
)

// API is the part of the SQS client the queue calls.
type API interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Queue sends shards to one queue.
type Queue struct {
	API API
	URL string
}

var _ refresh.Queue = Queue{}

// New sends to the queue at url with a client built by sqsclient.New.
func New(cfg aws.Config, endpoint, url string) Queue {
	return Queue{URL: url, API: sqsclient.New(cfg, endpoint)}
}

// batchSize is the most messages one SendMessageBatch takes.
const batchSize = 10

// Send sends the shards ten at a time, retrying the entries SQS failed.
func (q Queue) Send(ctx context.Context, shards []refresh.Shard) error {
	for start := 0; start < len(shards); start += batchSize {
		var entries []types.SendMessageBatchRequestEntry
		for _, s := range shards[start:min(start+batchSize, len(shards))] {
			body, err := json.Marshal(s)
			if err != nil {
				return err
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(s.Index)), MessageBody: aws.String(string(body))})
		}
		for attempt := 0; len(entries) > 0; attempt++ {
			if attempt > 0 {
				if attempt > 5 {
					return fmt.Errorf("send shards: %d entries still failing", len(entries))
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
				}
			}
			out, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
			if err != nil {
				return fmt.Errorf("send shards: %w", err)
			}
			failed := make(map[string]bool, len(out.Failed))
			for _, f := range out.Failed {
				if f.SenderFault {
					return fmt.Errorf("send shard %s: %s", aws.ToString(f.Id), aws.ToString(f.Code))
				}
				failed[aws.ToString(f.Id)] = true
			}
			retry := entries[:0]
			for _, e := range entries {
				if failed[aws.ToString(e.Id)] {
					retry = append(retry, e)
				}
			}
			entries = retry
		}
	}
	return nil
}
