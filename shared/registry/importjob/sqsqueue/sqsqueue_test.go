package sqsqueue_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/sqsfake"
	"gridcode/shared/registry/importjob"
	"gridcode/shared/registry/importjob/sqsqueue"
)

// The real SDK client against the local SQS endpoint: a continuation
// arrives once, whole, even when the queue failed the first tries.
func TestSend(t *testing.T) {
	t.Parallel()
	const url = "https://sqs.us-east-1.amazonaws.com/123456789012/imports"
	for _, c := range []struct {
		name     string
		failNext int
		wantErr  bool
	}{
		{"first try", 0, false},
		{"after server faults", 2, false},
		{"failing every try", 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fake := &sqsfake.Queue{URL: url}
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			client := sqs.New(sqs.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
			})
			fake.FailNext(c.failNext)
			sent := importjob.Continuation{ImportID: "impabc", Object: importjob.Object{Bucket: "b", Key: "registry/人口.csv", ETag: "d41d8cd98f00b204e9800998ecf8427e"}}
			err := sqsqueue.Queue{API: client, URL: url}.Send(context.Background(), sent, time.Minute)
			if (err != nil) != c.wantErr {
				t.Fatalf("err %v, want error: %v", err, c.wantErr)
			}
			msgs := fake.Messages()
			if c.wantErr {
				if len(msgs) != 0 {
					t.Errorf("%d messages after a failed send", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			var got importjob.Continuation
			dec := json.NewDecoder(strings.NewReader(msgs[0].Body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sent, got); diff != "" {
				t.Errorf("message (-sent +received):\n%s", diff)
			}
		})
	}

	fake := &sqsfake.Queue{URL: url}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	q := sqsqueue.New(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}, srv.URL, url+"-missing")
	if err := q.Send(context.Background(), importjob.Continuation{ImportID: "x"}, 0); err == nil {
		t.Error("sending to a queue that does not exist succeeded")
	}
}
