package sqsqueue_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/sqsfake"
	"gridcode/shared/refresh"
	"gridcode/shared/refresh/sqsqueue"
)

// The real SDK client against a local endpoint that speaks the SQS JSON
// protocol: 23 shards go out as three batches of at most ten, entries the
// queue failed are sent again, and every shard arrives once.
func TestSendBatchesAndRetriesFailedEntries(t *testing.T) {
	t.Parallel()
	const url = "https://sqs.us-east-1.amazonaws.com/123456789012/refresh"
	fake := &sqsfake.Queue{URL: url}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	var shards []refresh.Shard
	for i := range 23 {
		shards = append(shards, refresh.Shard{Date: "2026-11-29", Index: i, GroupIDs: []string{"G" + string(rune('A'+i))}})
	}
	fake.FailNext(3)
	if err := (sqsqueue.Queue{API: client, URL: url}).Send(context.Background(), shards); err != nil {
		t.Fatal(err)
	}
	var got []refresh.Shard
	for _, m := range fake.Messages() {
		var s refresh.Shard
		if err := json.Unmarshal([]byte(m.Body), &s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	seen := map[int]int{}
	for _, s := range got {
		seen[s.Index]++
		if diff := cmp.Diff(shards[s.Index], s); diff != "" {
			t.Errorf("shard %d (-sent +received):\n%s", s.Index, diff)
		}
	}
	if len(got) != len(shards) || len(seen) != len(shards) {
		t.Errorf("%d messages for %d shards (%d distinct)", len(got), len(shards), len(seen))
	}
	if calls := fake.Calls(); calls != 4 {
		t.Errorf("%d SendMessageBatch calls, want 3 batches and 1 retry", calls)
	}
	if err := (sqsqueue.Queue{API: client, URL: url + "-missing"}).Send(context.Background(), shards[:1]); err == nil {
		t.Error("sending to a queue that does not exist succeeded")
	}
}
