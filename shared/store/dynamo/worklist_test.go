package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"gridcode/shared/store/storetest"
	"gridcode/shared/worklist"
)

func TestWorklistContract(t *testing.T) {
	storetest.RunWorklist(t, func(t *testing.T) storetest.WorklistStore {
		client, tables := freshWorkTables(t)
		return New(client, tables)
	})
}

func testTask(id, gridCode, status string) worklist.Task {
	return worklist.Task{ID: id, GridCode: gridCode, Reason: "not_in_nat", Status: status, DueOn: "2022-12-03", PersonKey: "p-" + id}
}

func TestGridSort(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status string
		want   string
	}{
		{worklist.TaskOpen, "0#2022-12-03#t1"},
		{worklist.TaskRevisit, "0#2022-12-03#t1"},
		{worklist.TaskClosed, "1#2022-12-03#t1"},
	}
	for _, c := range cases {
		t.Run(c.status, func(t *testing.T) {
			t.Parallel()
			it := newTaskItem(testTask("t1", "g1", c.status))
			if it.GridSort != c.want {
				t.Errorf("gridSort = %q, want %q", it.GridSort, c.want)
			}
			if wantOpen := c.status != worklist.TaskClosed; (it.OpenReason != "") != wantOpen {
				t.Errorf("openReason = %q for a %s task", it.OpenReason, c.status)
			}
		})
	}
}

// TestOpenTaskIndexIsSparse checks a closed task leaves the open-task
// index: its item loses openReason.
func TestOpenTaskIndexIsSparse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	if _, err := s.CreateTasks(ctx, []worklist.Task{testTask("t1", "g1", worklist.TaskOpen), testTask("t2", "g1", worklist.TaskOpen)}); err != nil {
		t.Fatal(err)
	}
	closed := testTask("t1", "g1", worklist.TaskClosed)
	closed.Version = 1
	if err := s.UpdateTask(ctx, closed, 0); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"t1 - 1#2022-12-03#t1", "t2 not_in_nat 0#2022-12-03#t2"},
		scanStrings(t, client, tables.Tasks, "taskId", "openReason", "gridSort")); diff != "" {
		t.Errorf("task items (-want +got):\n%s", diff)
	}
}

// TestCreateTasksRace makes the existence read miss a task another run
// creates meanwhile: the conditional write still creates it once.
func TestCreateTasksRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	first := testTask("t1", "g1", worklist.TaskOpen)
	first.Outcome = "first"
	if n, err := s.CreateTasks(ctx, []worklist.Task{first}); err != nil || n != 1 {
		t.Fatalf("CreateTasks = %d, %v", n, err)
	}
	blind := New(&flaky{Client: client, batchGetItem: func(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
		return &dynamodb.BatchGetItemOutput{}, nil // as if nothing existed yet
	}}, tables)
	second := testTask("t1", "g2", worklist.TaskOpen)
	n, err := blind.CreateTasks(ctx, []worklist.Task{second, testTask("t2", "g1", worklist.TaskOpen)})
	if err != nil || n != 1 {
		t.Fatalf("CreateTasks of one existing and one new task = %d, %v; want 1", n, err)
	}
	got, err := s.GetTask(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != "first" || got.GridCode != "g1" {
		t.Errorf("t1 was replaced: %+v", got)
	}
}

// TestListChunksExpire checks that chunks expire soon while their list is
// being uploaded, and with the list once it is put.
func TestListChunksExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	for n := range 3 {
		if err := s.PutListChunk(ctx, worklist.Chunk{ListID: "l1", N: n, Keys: []string{"k"}, Grids: []string{"g"}, Sealed: []byte{1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutListChunk(ctx, worklist.Chunk{ListID: "l2", N: 0, Keys: []string{"k"}, Grids: []string{""}, Sealed: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	expiries := func() map[string]int64 {
		out := map[string]int64{}
		p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(tables.ListChunks), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, item := range page.Items {
				key := item["listId"].(*types.AttributeValueMemberS).Value + "/" + item["chunk"].(*types.AttributeValueMemberN).Value
				if v, ok := item[TTLAttribute].(*types.AttributeValueMemberN); ok {
					out[key], _ = strconv.ParseInt(v.Value, 10, 64)
				} else {
					out[key] = 0
				}
			}
		}
		return out
	}
	for key, at := range expiries() {
		if d := time.Until(time.Unix(at, 0)); d < UploadExpiry-time.Hour || d > UploadExpiry+time.Hour {
			t.Errorf("chunk %s expires in %v, want about %v", key, d, UploadExpiry)
		}
	}
	listExpiry := time.Now().Add(60 * 24 * time.Hour).Unix()
	if err := s.PutList(ctx, worklist.List{ID: "l1", Chunks: 3, ExpiresAt: listExpiry}); err != nil {
		t.Fatal(err)
	}
	got := expiries()
	for n := range 3 {
		if key := fmt.Sprintf("l1/%d", n); got[key] != listExpiry {
			t.Errorf("chunk %s expires at %d, want the list's %d", key, got[key], listExpiry)
		}
	}
	if got["l2/0"] == listExpiry {
		t.Errorf("another list's chunk got l1's expiry")
	}
	// A list kept for good keeps its chunks for good.
	if err := s.PutList(ctx, worklist.List{ID: "l1", Chunks: 3}); err != nil {
		t.Fatal(err)
	}
	if at := expiries()["l1/0"]; at != 0 {
		t.Errorf("chunk of a list without expiry expires at %d", at)
	}
}
