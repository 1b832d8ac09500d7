// Package sqsqueue sends registry import continuations through SQS to the
// import function itself.
package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"gridcode/shared/registry/importjob"
	"gridcode/shared/sqsclient"
)

// API is the part of the SQS client the queue calls.
type API interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Queue sends continuations to one queue.
type Queue struct {
	API API
	URL string
}

var _ importjob.Queue = Queue{}

// New sends to the queue at url with a client built by sqsclient.New.
func New(cfg aws.Config, endpoint, url string) Queue {
	return Queue{URL: url, API: sqsclient.New(cfg, endpoint)}
}

// attempts bounds the tries of an entry SQS failed on its side.
const attempts = 4

// Send sends c, visible after delay (whole seconds, at most SQS's 15
// minutes). It uses SendMessageBatch with one entry, the call the
// refresh planner makes, so both speak to the same local SQS endpoint in
// tests; the IAM action is sqs:SendMessage either way.
func (q Queue) Send(ctx context.Context, c importjob.Continuation, delay time.Duration) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	entry := types.SendMessageBatchRequestEntry{
		Id: aws.String("c"), MessageBody: aws.String(string(body)),
		DelaySeconds: int32(min(delay, 15*time.Minute) / time.Second),
	}
	for attempt := 1; ; attempt++ {
		out, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: []types.SendMessageBatchRequestEntry{entry}})
		if err != nil {
			return fmt.Errorf("send continuation: %w", err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		f := out.Failed[0]
		if f.SenderFault || attempt == attempts {
			return fmt.Errorf("send continuation: %s", aws.ToString(f.Code))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
	}
}
