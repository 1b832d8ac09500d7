// Package sqsclient builds the SQS client of the functions that send to a
// queue. It is its own package so that only they link the SQS SDK.
package sqsclient

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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
