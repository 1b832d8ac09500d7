// Package sqsclient builds the SQS client of the functions that send to a
// queue, and sends one message with retries. It is its own package so that only they link the SQS SDK.
package sqsclient

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// New builds the client once, outside the handler; endpoint, when set,
// points it at a local SQS (tests, the emulator).
func New(cfg aws.Config, endpoint string) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Sender is the part of the SQS client SendOne calls. A batch of one is
// what the refresh planner sends too, so one local SQS endpoint serves
// every sender in tests; IAM authorizes it as sqs:SendMessage.
type Sender interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// sendAttempts bounds the tries of an entry SQS failed on its side.
const sendAttempts = 5

// SendOne sends body to the queue at url, visible after delay (whole
// seconds, at most SQS's 15 minutes), trying again with a short backoff
// while SQS fails the entry on its side. what names the message in errors.
func SendOne(ctx context.Context, api Sender, url, body string, delay time.Duration, what string) error {
	in := &sqs.SendMessageBatchInput{
		QueueUrl: aws.String(url),
		Entries: []types.SendMessageBatchRequestEntry{{
			Id: aws.String("m"), MessageBody: aws.String(body),
			DelaySeconds: int32(min(delay, 15*time.Minute) / time.Second),
		}},
	}
	for attempt := 1; ; attempt++ {
		out, err := api.SendMessageBatch(ctx, in)
		if err != nil {
			return fmt.Errorf("send %s: %w", what, err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		f := out.Failed[0]
		if f.SenderFault || attempt == sendAttempts {
			return fmt.Errorf("send %s: %s after %d tries", what, aws.ToString(f.Code), attempt)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
	}
}
