package dynamo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"gridcode/shared/report"
	"gridcode/shared/store/storetest"
)

func TestFollowUpContract(t *testing.T) {
	storetest.RunFollowUps(t, func(t *testing.T) storetest.FollowUpStore {
		client, tables := freshWorkTables(t)
		return New(client, tables)
	})
}

// TestFollowUpOfReportWithoutVersion updates a report stored before
// reports had versions: it counts as version 0.
func TestFollowUpOfReportWithoutVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	at := time.Date(2022, 12, 3, 1, 2, 3, 0, time.UTC)
	old := report.Record{
		ID: "r1", GridCode: "g1", ListKey: report.ListKey(at, "r1"), Status: report.StatusNew, SubmittedAt: at,
		FollowUp: report.FollowUpCall, PersonLookup: "p", PhoneLookup: "ph", Sealed: []byte{1},
	}
	item, err := marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	delete(item, "version")
	delete(item, "contactDue")
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tables.Reports), Item: item}); err != nil {
		t.Fatal(err)
	}

	ahead := old
	ahead.Version = 2
	if err := s.UpdateFollowUp(ctx, ahead, 1); !errors.Is(err, report.ErrConflict) {
		t.Fatalf("update from version 1 of an unversioned report = %v, want ErrConflict", err)
	}
	next := old
	next.Status, next.FirstContactAt, next.Version = report.StatusInProgress, at.Add(time.Hour), 1
	next.FollowUps = []report.FollowUp{{At: at.Add(time.Hour), By: "w1", Outcome: report.OutcomeContacted}}
	if err := s.UpdateFollowUp(ctx, next, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(next, got); diff != "" {
		t.Errorf("after the follow-up (-want +got):\n%s", diff)
	}
	// Cleared: an emptied follow-up list and first contact are written,
	// not left as they were.
	reopened := got
	reopened.Status, reopened.FirstContactAt, reopened.FollowUps, reopened.Version = report.StatusNew, time.Time{}, nil, 2
	if err := s.UpdateFollowUp(ctx, reopened, 1); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Get(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reopened, got); diff != "" {
		t.Errorf("after clearing (-want +got):\n%s", diff)
	}
}
