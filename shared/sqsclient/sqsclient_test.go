package sqsclient_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"gridcode/infra/sqsfake"
	"gridcode/shared/sqsclient"
)

// The client built with an endpoint sends there, with the config's
// region and credentials.
func TestNewUsesTheEndpoint(t *testing.T) {
	t.Parallel()
	const url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
	fake := &sqsfake.Queue{URL: url}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	client := sqsclient.New(cfg, srv.URL)
	_, err := client.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{
		QueueUrl: aws.String(url),
		Entries:  []types.SendMessageBatchRequestEntry{{Id: aws.String("1"), MessageBody: aws.String("hello")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := fake.Messages(); len(msgs) != 1 || msgs[0].Body != "hello" {
		t.Errorf("the local endpoint got %+v, want one message hello", msgs)
	}
}
