package sqsjobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/sqsfake"
	"gridcode/shared/pii"
	"gridcode/shared/sqsclient"
	"gridcode/shared/store/embedded"
	"gridcode/shared/worklist"
	"gridcode/shared/worklist/sqsjobs"
)

// The real SDK client against the local SQS endpoint: the job arrives
// once, whole, even when the queue failed the first tries.
func TestSend(t *testing.T) {
	t.Parallel()
	const url = "https://sqs.us-east-1.amazonaws.com/123456789012/reconcile"
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
			cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
			q := sqsjobs.Queue{API: sqsclient.New(cfg, srv.URL), URL: url}
			fake.FailNext(c.failNext)
			sent := worklist.Job{ReconciliationID: "cabc", ListA: "l1", ListB: worklist.RegistryList}
			err := q.Send(context.Background(), sent)
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
			var got worklist.Job
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
}

// The handler runs each message's job on the embedded store, and reports
// only the messages to deliver again.
func TestHandle(t *testing.T) {
	t.Parallel()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "gridcode.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := pii.NewVault(bytes.Repeat([]byte{7}, pii.KeySize), bytes.Repeat([]byte{8}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 1, 30, 0, 0, time.UTC)
	ctx := context.Background()
	for _, id := range []string{"l1", "l2"} {
		if err := store.PutList(ctx, worklist.List{ID: id, Name: id, Kind: worklist.KindNAT, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	h := sqsjobs.Handler{
		Reconciler:  &worklist.Reconciler{Lists: store, Registry: store, Vault: v, Now: func() time.Time { return now }},
		MaxReceives: 3, Reserve: time.Second,
	}
	msg := func(id string, body any, receives int) events.SQSMessage {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		return events.SQSMessage{MessageId: id, Body: string(raw), Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}
	}
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
		msg("ok", worklist.Job{ReconciliationID: "c1", ListA: "l1", ListB: "l2"}, 1),
		msg("gone", worklist.Job{ReconciliationID: "c2", ListA: "l1", ListB: "nope"}, 1),
		msg("garbled", "not a job", 1),
		msg("empty", worklist.Job{}, 1),
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []events.SQSBatchItemFailure{{ItemIdentifier: "garbled"}, {ItemIdentifier: "empty"}}
	if diff := cmp.Diff(want, resp.BatchItemFailures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	for id, want := range map[string][2]string{
		"c1": {worklist.ReconciliationDone, ""},
		"c2": {worklist.ReconciliationFailed, worklist.FailedListNotFound},
	} {
		got, err := store.GetReconciliation(ctx, id)
		if err != nil {
			t.Fatalf("reconciliation %s: %v", id, err)
		}
		if got.Status != want[0] || got.Reason != want[1] {
			t.Errorf("reconciliation %s: %s (%q), want %s (%q)", id, got.Status, got.Reason, want[0], want[1])
		}
	}
}
