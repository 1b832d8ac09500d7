// Package sqsqueue sends registry import continuations through SQS to the
// import function itself.
package sqsqueue

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"gridcode/shared/registry/importjob"
	"gridcode/shared/sqsclient"
)

// Queue sends continuations to one queue.
type Queue struct {
	API sqsclient.Sender
	URL string
}

var _ importjob.Queue = Queue{}

// New sends to the queue at url with a client built by sqsclient.New.
func New(cfg aws.Config, endpoint, url string) Queue {
	return Queue{URL: url, API: sqsclient.New(cfg, endpoint)}
}

// Send sends c, visible after delay.
func (q Queue) Send(ctx context.Context, c importjob.Continuation, delay time.Duration) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return sqsclient.SendOne(ctx, q.API, q.URL, string(body), delay, "continuation of "+c.ImportID)
}
