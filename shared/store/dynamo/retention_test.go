package dynamo

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/alert"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/storetest"
	"gridcode/shared/worklist"
)

func TestRetentionContract(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore {
		client, tables := freshWorkTables(t)
		return New(client, tables)
	})
}

// TestExpiryIsTheTTLAttribute reads the raw items: DynamoDB's TTL deletes
// an item only by a Number attribute of unix seconds, on a table whose TTL
// names it. DynamoDB Local does not delete expired items while a test
// runs, so what is checked here is what TTL will act on: the attribute,
// its type and value, as created and as moved by a follow-up and a visit;
// and that the kept counts carry none, on a table without TTL.
func TestExpiryIsTheTTLAttribute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)

	ttlOf := func(table string, key map[string]types.AttributeValue) (int64, bool) {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item == nil {
			t.Fatalf("get %s item %v: %v", table, key, err)
		}
		v, ok := out.Item[TTLAttribute]
		if !ok {
			return 0, false
		}
		n, isNumber := v.(*types.AttributeValueMemberN)
		if !isNumber {
			t.Fatalf("%s: %s is %T, want a Number (TTL ignores any other type)", table, TTLAttribute, v)
		}
		secs, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			t.Fatalf("%s: %s = %q, want whole unix seconds", table, TTLAttribute, n.Value)
		}
		return secs, true
	}
	wantTTL := func(what, table string, key map[string]types.AttributeValue, want int64) {
		t.Helper()
		if got, ok := ttlOf(table, key); !ok || got != want {
			t.Errorf("%s: %s = %d (present %v), want %d", what, TTLAttribute, got, ok, want)
		}
	}

	at := time.Date(2022, 12, 3, 1, 2, 3, 0, time.UTC)
	created := time.Now().Add(28 * 24 * time.Hour).Unix()
	closed := time.Now().Add(50 * 24 * time.Hour).Unix()
	r := report.Record{
		ID: "r1", GridCode: "g1", ListKey: report.ListKey(at, "r1"), Status: report.StatusNew, RiskLevel: risk.High,
		SubmittedAt: at, ExpiresAt: created, PersonLookup: "p1", PhoneLookup: "ph1",
	}
	a := alert.Alert{ID: report.WelcomeAlertID("r1"), Template: alert.ReportWelcome.Code, RecipientLookup: "ph1", ReportID: "r1",
		GridCode: "g1", Status: alert.Pending, CreatedAt: at, ExpiresAt: created}
	if _, _, err := s.Create(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	reportKey := map[string]types.AttributeValue{"reportId": sAttr("r1")}
	alertKey := map[string]types.AttributeValue{"alertId": sAttr(a.ID)}
	wantTTL("new report", tables.Reports, reportKey, created)
	wantTTL("welcome SMS", tables.Alerts, alertKey, created)

	r.Status, r.ClosedAt, r.ExpiresAt = report.StatusClosed, at.Add(time.Hour), closed
	r.FollowUps = []report.FollowUp{{At: r.ClosedAt, By: "w1", Outcome: report.OutcomeClosed}}
	if err := s.UpdateFollowUp(ctx, r, 0); err != nil {
		t.Fatal(err)
	}
	wantTTL("closed report", tables.Reports, reportKey, closed)
	wantTTL("welcome SMS after the closing", tables.Alerts, alertKey, created)

	task := worklist.Task{ID: "t1", GridCode: "g1", Reason: "not_in_nat", Status: worklist.TaskOpen, DueOn: "2022-12-03", PersonKey: "p1", ExpiresAt: created}
	if _, err := s.CreateTasks(ctx, []worklist.Task{task}); err != nil {
		t.Fatal(err)
	}
	taskKey := map[string]types.AttributeValue{"taskId": sAttr("t1")}
	wantTTL("new task", tables.Tasks, taskKey, created)
	task.Status, task.Version, task.ExpiresAt = worklist.TaskClosed, 1, closed
	task.Visits = []worklist.Visit{{At: at.Add(time.Hour), By: "w1", Outcome: worklist.Verified}}
	if err := s.UpdateTask(ctx, task, 0); err != nil {
		t.Fatal(err)
	}
	wantTTL("visited task", tables.Tasks, taskKey, closed)

	// TTL is on where these expire, and off for the kept counts.
	for table, on := range map[string]bool{tables.Reports: true, tables.Alerts: true, tables.Tasks: true, tables.DailyCounts: false} {
		out, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		d := out.TimeToLiveDescription
		enabled := d != nil && d.TimeToLiveStatus == types.TimeToLiveStatusEnabled && aws.ToString(d.AttributeName) == TTLAttribute
		if enabled != on {
			t.Errorf("%s: TTL on %s is %v, want %v", table, TTLAttribute, enabled, on)
		}
	}
	counts, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tables.DailyCounts)})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts.Items) != 1 {
		t.Fatalf("%d kept count items, want 1", len(counts.Items))
	}
	for _, item := range counts.Items {
		if _, ok := item[TTLAttribute]; ok {
			t.Errorf("a kept count carries %s: %v", TTLAttribute, item)
		}
		if n, ok := item["high"].(*types.AttributeValueMemberN); !ok || n.Value != "1" {
			t.Errorf("kept count %v, want high = 1", item)
		}
	}
}
