package e2e_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"gridcode/infra/dynamolocal"
	"gridcode/infra/lambdarie"
	"gridcode/infra/sqsfake"
	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/refresh"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

// refreshPerson is someone on a roster. Name, ID number and phone are
// personal data: sealed in the tables, never in the logs.
type refreshPerson struct {
	name, idNumber, phone string
	// The code colour, the last NAT (natHours before seeding) and its
	// result; noData: the feed has nothing on the person.
	color    health.Color
	natHours int
	nat      health.NATResult
	noData   bool
}

// refreshPeople cover every row kind of the daily list.
var refreshPeople = []refreshPerson{
	{name: "张伟", idNumber: refreshResidentID("44070319850312001"), phone: "13912340001", color: health.Green, natHours: 20, nat: health.Negative},
	{name: "李娜", idNumber: refreshResidentID("44070319900101002"), phone: "13912340002", color: health.Red, natHours: 10, nat: health.Positive},
	{name: "王芳", idNumber: refreshResidentID("44070319781120003"), phone: "13912340003", color: health.Yellow, natHours: 30, nat: health.Negative},
	{name: "刘洋", idNumber: refreshResidentID("44070320010605004"), phone: "13912340004", color: health.Green, natHours: 80, nat: health.Negative}, // NAT older than NAT_LIMIT
	{name: "陈静", idNumber: refreshResidentID("44070319671231005"), phone: "13912340005", noData: true},
	{name: "赵磊", idNumber: refreshResidentID("44070319950228006"), phone: "13912340006", color: health.Green, natHours: 5, nat: health.Negative},
}

// refreshGroup is a seeded group and what its daily list must say.
type refreshGroup struct {
	name, address, grid string
	kind                group.Kind
	admin               group.Admin
	members             []int // indexes into refreshPeople
	summary             group.Summary
	order               []string // member names as the list orders them: worst first, then by name
	id                  string   // set when seeded
}

// refreshGroups: 赵磊, 王芳 and 刘洋 are each in two groups; 新开酒家 has
// nobody on it.
func refreshGroups() []refreshGroup {
	return []refreshGroup{
		{
			name: "惠民超市", address: "白沙街道建设路12号", grid: "440703001001-01", kind: "supermarket",
			admin: group.Admin{Name: "黄店长", Phone: "13800138001"}, members: []int{0, 1, 2, 5},
			summary: group.Summary{Members: 4, Abnormal: 2, Red: 1, Yellow: 1, NATPositive: 1},
			order:   []string{"李娜", "王芳", "张伟", "赵磊"},
		},
		{
			name: "江华KTV", address: "棠下镇江华路8号", grid: "440703006107-01", kind: "ktv",
			admin: group.Admin{Name: "周经理", Phone: "13800138002"}, members: []int{3, 4},
			summary: group.Summary{Members: 2, Abnormal: 2, NATStale: 1, NoData: 1},
			order:   []string{"刘洋", "陈静"},
		},
		{
			name: "新开酒家", address: "棠下镇石冲路3号", grid: "440703006107-01", kind: "restaurant",
			admin: group.Admin{Name: "吴老板", Phone: "13800138003"},
		},
		{
			name: "白沙小学", address: "白沙街道学府路1号", grid: "440703001001-01", kind: "school",
			admin: group.Admin{Name: "郑校长", Phone: "13800138004"}, members: []int{5},
			summary: group.Summary{Members: 1},
			order:   []string{"赵磊"},
		},
		{
			name: "蓬江网吧", address: "白沙街道跃进路21号", grid: "440703001001-01", kind: "internet_cafe",
			admin: group.Admin{Name: "孙网管", Phone: "13800138005"}, members: []int{2, 3},
			summary: group.Summary{Members: 2, Abnormal: 2, Yellow: 1, NATStale: 1},
			order:   []string{"王芳", "刘洋"},
		},
	}
}

// The worker's settings, as template.yaml gives them.
const (
	refreshMaxReceives   = 3
	refreshRetentionDays = 60
)

// TestRefresh runs the daily group refresh as the cloud does: the planner
// on its 06:00 schedule event, the worker on the SQS batches of the shards
// the planner queued, both built as Lambda binaries under the emulator,
// against DynamoDB Local and a local SQS endpoint.
func TestRefresh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	planEvent, runAt := refreshScheduledEvent(t, time.Now())
	date := dates.Today(runAt)
	sqsFixture, err := os.ReadFile(filepath.Join("testdata", "sqs-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, sqsFixture, &events.SQSEvent{})
	queueURL := refreshQueueURL(t, sqsFixture)

	// DynamoDB Local first: it skips the test (or fails it in CI) when it is
	// not installed, before any time goes into builds.
	db := dynamolocal.Client(t)
	endpoint := dynamolocal.Endpoint(t)
	prefix := "refresh-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	tables := dynamo.Tables{
		Groups: prefix + "groups", Members: prefix + "members", Health: prefix + "health",
		DailyLists: prefix + "daily", RefreshRuns: prefix + "runs", Alerts: prefix + "alerts",
	}
	if err := dynamo.CreateTables(ctx, db, tables); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(db, tables)

	keysFile, _, vault := testKeys(t)

	groups := seedRefresh(ctx, t, store, vault, time.Now())
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.id
	}
	slices.Sort(ids)

	queue := &sqsfake.Queue{URL: queueURL}
	sqsServer := httptest.NewServer(queue)
	t.Cleanup(sqsServer.Close)

	// Each function gets the variables template.yaml gives it, with the
	// key file for KEYS_PARAMETER and the local endpoints.
	common := []string{"KEYS_FILE=" + keysFile, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON"}
	planner := lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/refreshplan"), append(slices.Clone(common),
		"GROUPS_TABLE="+tables.Groups, "REFRESH_RUNS_TABLE="+tables.RefreshRuns,
		"REFRESH_QUEUE_URL="+queueURL, "SQS_ENDPOINT="+sqsServer.URL, "SHARD_SIZE=2")...)
	worker := lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/refreshwork"), append(slices.Clone(common),
		"GROUPS_TABLE="+tables.Groups, "MEMBERS_TABLE="+tables.Members, "HEALTH_TABLE="+tables.Health,
		"DAILY_LISTS_TABLE="+tables.DailyLists, "REFRESH_RUNS_TABLE="+tables.RefreshRuns, "ALERTS_TABLE="+tables.Alerts,
		"MAX_RECEIVES="+strconv.Itoa(refreshMaxReceives), "NAT_LIMIT=72h",
		"RETENTION_DAYS="+strconv.Itoa(refreshRetentionDays), "PARALLEL_GROUPS=8")...)

	// 1. The schedule fires: 5 groups in shards of 2, queued for the day of
	// the scheduled time in the district.
	var messages []sqsfake.Message
	var wantShards []refresh.Shard
	var plan group.RunPlan
	if !t.Run("plan", func(t *testing.T) {
		before := time.Now()
		out, err := planner.Invoke(ctx, planEvent)
		if err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&plan); err != nil {
			t.Fatalf("planner answered %s, not a run plan (%v)\nfunction output:\n%s", out, err, planner.Output())
		}
		if plan.Date != date || plan.Groups != 5 || plan.Shards != 3 || plan.RunID == "" {
			t.Errorf("plan %+v; want %s (the district day of %s), a run id, 5 groups, 3 shards", plan, date, runAt.Format(time.RFC3339))
		}
		for i := 0; i < len(ids); i += 2 {
			wantShards = append(wantShards, refresh.Shard{Date: date, RunID: plan.RunID, Index: len(wantShards), GroupIDs: ids[i:min(i+2, len(ids))]})
		}
		if plan.PlannedAt.Before(before) || plan.PlannedAt.After(after) {
			t.Errorf("plannedAt %s is not the time of the invocation", plan.PlannedAt)
		}
		stored, shards, err := store.Run(ctx, date)
		if err != nil {
			t.Fatalf("the run of %s is not in the RefreshRuns table: %v", date, err)
		}
		if diff := cmp.Diff(plan, stored); diff != "" || len(shards) != 0 {
			t.Errorf("stored plan (-returned +stored):\n%s\nshard results before any worker ran: %+v", diff, shards)
		}

		messages = queue.Messages()
		var got []refresh.Shard
		for _, m := range messages {
			var s refresh.Shard
			dec := json.NewDecoder(strings.NewReader(m.Body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("message %s: body %q is not a shard: %v", m.ID, m.Body, err)
			}
			got = append(got, s)
		}
		slices.SortFunc(got, func(a, b refresh.Shard) int { return a.Index - b.Index })
		if diff := cmp.Diff(wantShards, got); diff != "" {
			t.Fatalf("queued shards (-want +got):\n%s\nplanner output:\n%s", diff, planner.Output())
		}
	}) {
		t.FailNow()
	}

	first := refreshSQSEvent(t, sqsFixture, messages, 1)
	lists := map[string]group.DailyList{}

	// 2. Each message is delivered once: every group gets its list, and each
	// group with members its administrator's morning SMS.
	if !t.Run("work", func(t *testing.T) {
		if resp := invokeRefreshWorker(ctx, t, worker, first); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch item failures %+v\nworker output:\n%s", resp.BatchItemFailures, worker.Output())
		}
		var wantAlerts []string
		for _, g := range groups {
			l, err := store.DailyList(ctx, g.id, date)
			if err != nil {
				t.Errorf("%s: no daily list for %s: %v", g.name, date, err)
				continue
			}
			lists[g.id] = l
			checkRefreshList(t, vault, g, l, date)

			a, err := store.Alert(ctx, refresh.DailyAlertID(g.id, date))
			if len(g.members) == 0 {
				if !errors.Is(err, alert.ErrNotFound) {
					t.Errorf("%s has nobody on it but got a morning SMS (alert %+v, err %v)", g.name, a, err)
				}
				continue
			}
			wantAlerts = append(wantAlerts, refresh.DailyAlertID(g.id, date))
			if err != nil {
				t.Errorf("%s: morning SMS: %v", g.name, err)
				continue
			}
			checkRefreshAlert(t, vault, g, l, a)
		}
		slices.Sort(wantAlerts)
		if diff := cmp.Diff(wantAlerts, refreshAlertIDs(ctx, t, db, tables.Alerts)); diff != "" {
			t.Errorf("the alerts table (-want +got):\n%s", diff)
		}
		p, err := refresh.Read(ctx, store, date)
		if err != nil {
			t.Fatal(err)
		}
		want := refresh.Progress{Date: date, RunID: plan.RunID, PlannedAt: plan.PlannedAt, Groups: 5, Done: 5, Shards: 3, Reported: 3, Failed: []group.GroupFailure{}, Complete: true}
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("progress after every shard (-want +got):\n%s", diff)
		}
	}) {
		t.FailNow()
	}

	// 3. The same batch again (SQS delivers at least once): nothing is
	// rebuilt and nothing is sent twice, even though a member's status
	// changed meanwhile: the day's lists are what 06:00 saw.
	t.Run("redelivery", func(t *testing.T) {
		setRefreshHealth(ctx, t, store, vault, refreshPeople[1], health.Status{CodeColor: health.Green, VaccineDoses: 2, UpdatedAt: time.Now().UTC()})
		alertsBefore := refreshCount(ctx, t, db, tables.Alerts)
		if resp := invokeRefreshWorker(ctx, t, worker, first); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch item failures %+v\nworker output:\n%s", resp.BatchItemFailures, worker.Output())
		}
		if n := refreshCount(ctx, t, db, tables.Alerts); n != alertsBefore {
			t.Errorf("the redelivery made the alerts table %d items, want still %d", n, alertsBefore)
		}
		for _, g := range groups {
			l, err := store.DailyList(ctx, g.id, date)
			if err != nil {
				t.Errorf("%s: %v", g.name, err)
				continue
			}
			if !l.ComputedAt.Equal(lists[g.id].ComputedAt) {
				t.Errorf("%s: list recomputed at %s, first computed at %s", g.name, l.ComputedAt, lists[g.id].ComputedAt)
			}
			if diff := cmp.Diff(lists[g.id], l); diff != "" {
				t.Errorf("%s: the redelivery changed the list (-first +now):\n%s", g.name, diff)
			}
		}
		if p, err := refresh.Read(ctx, store, date); err != nil || !p.Complete || p.Done != 5 || p.Retrying != 0 || len(p.Failed) != 0 {
			t.Errorf("progress after the redelivery: %+v (err %v); want complete, 5 done", p, err)
		}
	})

	// 4. A shard naming a group that does not exist (gone since the plan):
	// the message comes back until the queue's last delivery, which records
	// the group as failed for good. Shard 0, in the same batch, is fine.
	t.Run("missing group", func(t *testing.T) {
		ghost := group.ID(vault, "已注销的网吧", "白沙街道跃进路99号")
		// The run's last shard, with the group added.
		shard := wantShards[len(wantShards)-1]
		shard.GroupIDs = append(slices.Clone(shard.GroupIDs), ghost)
		body, err := json.Marshal(shard)
		if err != nil {
			t.Fatal(err)
		}
		bad := sqsfake.Message{ID: "0c5e3b1a-9d2f-4c7e-b8a6-3f1d2e4c5b70", Body: string(body)}
		var shard0 sqsfake.Message
		for _, m := range messages {
			if strings.Contains(m.Body, `"shard":0,`) {
				shard0 = m
			}
		}
		alertsBefore := refreshCount(ctx, t, db, tables.Alerts)
		wantFailures := []events.SQSBatchItemFailure{{ItemIdentifier: bad.ID}}

		ev := refreshSQSEvent(t, sqsFixture, []sqsfake.Message{shard0, bad}, refreshMaxReceives-1)
		resp := invokeRefreshWorker(ctx, t, worker, ev)
		if diff := cmp.Diff(wantFailures, resp.BatchItemFailures); diff != "" {
			t.Errorf("delivery %d of %d: batch item failures (-want +got):\n%s\nworker output:\n%s", refreshMaxReceives-1, refreshMaxReceives, diff, worker.Output())
		}
		p, err := refresh.Read(ctx, store, date)
		if err != nil {
			t.Fatal(err)
		}
		if p.Retrying != 1 || len(p.Failed) != 0 || p.Complete || p.Done != 5 {
			t.Errorf("progress while the shard will come again: %+v; want 1 retrying, none failed, not complete, 5 done", p)
		}

		ev = refreshSQSEvent(t, sqsFixture, []sqsfake.Message{bad}, refreshMaxReceives)
		resp = invokeRefreshWorker(ctx, t, worker, ev)
		if diff := cmp.Diff(wantFailures, resp.BatchItemFailures); diff != "" {
			t.Errorf("last delivery: batch item failures (-want +got):\n%s\nworker output:\n%s", diff, worker.Output())
		}
		if p, err = refresh.Read(ctx, store, date); err != nil {
			t.Fatal(err)
		}
		want := []group.GroupFailure{{GroupID: ghost, Reason: "group_not_found"}}
		if diff := cmp.Diff(want, p.Failed); diff != "" || p.Retrying != 0 || !p.Complete || p.Done != 5 {
			t.Errorf("progress after the last delivery: %+v; want complete, 5 done, none retrying (-want +got failed):\n%s", p, diff)
		}
		if _, err := store.DailyList(ctx, ghost, date); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("the missing group has a daily list (err %v)", err)
		}
		if n := refreshCount(ctx, t, db, tables.Alerts); n != alertsBefore {
			t.Errorf("the alerts table has %d items, want still %d", n, alertsBefore)
		}
	})

	// 5. The logs: a line per plan and per failed shard, with the request
	// id, and no personal data of anyone on a roster or running a group.
	t.Run("logs", func(t *testing.T) {
		var secret []string
		for _, p := range refreshPeople {
			secret = append(secret, p.name, p.idNumber, p.phone)
		}
		for _, g := range groups {
			secret = append(secret, g.admin.Name, g.admin.Phone)
		}
		for _, f := range []struct {
			name, message string
			times         int
			emu           *lambdarie.Emulator
		}{
			{"planner", `"message":"refresh planned"`, 1, planner},
			{"worker", `"message":"refresh shard failed"`, 2, worker},
		} {
			// The emulator's log lines may trail its answer.
			logged := func(o string) bool { return strings.Count(o, f.message) >= f.times }
			out := waitOutput(f.emu, logged, 5*time.Second)
			if !logged(out) || !strings.Contains(out, `"requestId":"`) {
				t.Errorf("%s: want %d %s log lines with a request id in the output:\n%s", f.name, f.times, f.message, out)
			}
			for _, v := range secret {
				if strings.Contains(out, v) {
					t.Errorf("%s: the logs contain %q:\n%s", f.name, v, out)
				}
			}
		}
	})
}

// refreshScheduledEvent is testdata/refresh-scheduled-event.json, checked
// against the template's ScheduleV2 Input, with the time EventBridge
// Scheduler fills in: 06:00 district time of the day before today, as a
// retry delivers it late. The planner must plan the day of that time, not
// the day of its clock, which this makes always differ.
func refreshScheduledEvent(t *testing.T, now time.Time) ([]byte, time.Time) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "refresh-scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, b, &events.EventBridgeEvent{})
	var fixture map[string]any
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatal(err)
	}
	// Today's 06:00: the morning SMS goes out only with a list of the day
	// it is built on (a past day's list is built without one).
	d := now.In(dates.District)
	at := time.Date(d.Year(), d.Month(), d.Day(), 6, 0, 0, 0, dates.District)
	stamp := at.UTC().Format(time.RFC3339)

	// The fixture is the template's Input as Scheduler sends it.
	input := refreshScheduleInput(t)
	var want map[string]any
	if err := json.Unmarshal([]byte(strings.Replace(input, "<aws.scheduler.scheduled-time>", fixture["time"].(string), 1)), &want); err != nil {
		t.Fatalf("template.yaml: the planner's schedule Input %q is not JSON: %v", input, err)
	}
	if diff := cmp.Diff(want, fixture); diff != "" {
		t.Fatalf("testdata/refresh-scheduled-event.json is not the template's Input as Scheduler sends it (-template +fixture):\n%s", diff)
	}

	fixture["time"] = stamp
	out, err := json.Marshal(fixture)
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, out, &events.EventBridgeEvent{})
	return out, at
}

// refreshScheduleInput reads the Input of RefreshPlanFunction's ScheduleV2
// event from template.yaml.
func refreshScheduleInput(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	get := func(n *yaml.Node, key string) *yaml.Node {
		if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = n.Content[0]
		}
		for i := 0; n != nil && n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	evs := get(get(get(get(&doc, "Resources"), "RefreshPlanFunction"), "Properties"), "Events")
	var inputs []string
	for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
		ev := evs.Content[i+1]
		if tp := get(ev, "Type"); tp != nil && tp.Value == "ScheduleV2" {
			if in := get(get(ev, "Properties"), "Input"); in != nil {
				inputs = append(inputs, in.Value)
			}
		}
	}
	if len(inputs) != 1 {
		t.Fatalf("template.yaml: RefreshPlanFunction has %d ScheduleV2 events with an Input, want 1", len(inputs))
	}
	return inputs[0]
}

// refreshQueueURL is the URL of the queue the fixture's eventSourceARN
// names.
func refreshQueueURL(t *testing.T, fixture []byte) string {
	t.Helper()
	var ev events.SQSEvent
	if err := json.Unmarshal(fixture, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("testdata/sqs-event.json: want one record (err %v)", err)
	}
	parts := strings.Split(ev.Records[0].EventSourceARN, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		t.Fatalf("testdata/sqs-event.json: eventSourceARN %q is not a queue's", ev.Records[0].EventSourceARN)
	}
	return "https://sqs." + parts[3] + ".amazonaws.com/" + parts[4] + "/" + parts[5]
}

// refreshSQSEvent makes the event Lambda's SQS poller delivers for msgs,
// each record filled into the fixture's, at its receives-th delivery.
func refreshSQSEvent(t *testing.T, fixture []byte, msgs []sqsfake.Message, receives int) []byte {
	t.Helper()
	var ev struct {
		Records []map[string]any
	}
	if err := json.Unmarshal(fixture, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("testdata/sqs-event.json: want one record (err %v)", err)
	}
	tmpl, err := json.Marshal(ev.Records[0])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var records []map[string]any
	for i, m := range msgs {
		var r map[string]any
		if err := json.Unmarshal(tmpl, &r); err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum([]byte(m.Body))
		r["messageId"] = m.ID
		r["receiptHandle"] = base64.StdEncoding.EncodeToString([]byte("receipt/" + m.ID + "/" + strconv.Itoa(receives)))
		r["body"] = m.Body
		r["md5OfBody"] = hex.EncodeToString(sum[:])
		attrs := r["attributes"].(map[string]any)
		attrs["ApproximateReceiveCount"] = strconv.Itoa(receives)
		attrs["SentTimestamp"] = strconv.FormatInt(now.Add(-time.Duration(receives)*time.Minute).UnixMilli()+int64(i), 10)
		attrs["ApproximateFirstReceiveTimestamp"] = strconv.FormatInt(now.Add(-time.Duration(receives-1)*time.Minute).UnixMilli()+int64(i), 10)
		records = append(records, r)
	}
	out, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, out, &events.SQSEvent{})
	return out
}

// invokeRefreshWorker invokes the worker and decodes its SQS batch response.
func invokeRefreshWorker(ctx context.Context, t *testing.T, emu *lambdarie.Emulator, ev []byte) events.SQSEventResponse {
	t.Helper()
	out, err := emu.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("worker answered %s, not an SQS batch response (%v)\nfunction output:\n%s", out, err, emu.Output())
	}
	return resp
}

// seedRefresh stores the people's health and the groups with their
// rosters, as the feed and the registry would, and returns the groups
// with their ids.
func seedRefresh(ctx context.Context, t *testing.T, store *dynamo.Store, vault *pii.Vault, now time.Time) []refreshGroup {
	t.Helper()
	for _, p := range refreshPeople {
		if p.noData {
			continue
		}
		natAt := now.Add(-time.Duration(p.natHours) * time.Hour).UTC()
		setRefreshHealth(ctx, t, store, vault, p, health.Status{
			CodeColor: p.color, NATAt: &natAt, NATResult: p.nat, VaccineDoses: 3, UpdatedAt: now.Add(-time.Hour).UTC(),
		})
	}
	groups := refreshGroups()
	for i := range groups {
		g := &groups[i]
		g.id = group.ID(vault, g.name, g.address)
		stored := group.Group{
			ID: g.id, Name: g.name, Kind: g.kind, Address: g.address, GridCode: g.grid,
			AdminLookup: report.PhoneLookup(vault, g.admin.Phone), CreatedAt: now.UTC(),
		}
		if err := stored.SealAdmin(vault, g.admin); err != nil {
			t.Fatal(err)
		}
		if _, created, err := store.CreateGroup(ctx, stored); err != nil || !created {
			t.Fatalf("create group %s: created %v, err %v", g.name, created, err)
		}
		if len(g.members) == 0 {
			continue
		}
		var members []group.Member
		for _, pi := range g.members {
			p := refreshPeople[pi]
			m := group.Member{
				GroupID: g.id, PersonKey: report.PersonLookup(vault, idcard.ResidentID, p.idNumber),
				Status: group.Active, IDType: idcard.ResidentID, JoinedAt: now.UTC(),
			}
			if err := m.SealPersonal(vault, group.Personal{Name: p.name, IDNumber: p.idNumber, Phone: p.phone}); err != nil {
				t.Fatal(err)
			}
			members = append(members, m)
		}
		if _, err := store.ReplaceRoster(ctx, g.id, 0, members); err != nil {
			t.Fatalf("roster of %s: %v", g.name, err)
		}
	}
	return groups
}

// setRefreshHealth stores a person's status as the health feed does.
func setRefreshHealth(ctx context.Context, t *testing.T, store *dynamo.Store, vault *pii.Vault, p refreshPerson, s health.Status) {
	t.Helper()
	key := report.PersonLookup(vault, idcard.ResidentID, p.idNumber)
	rec, err := health.Seal(vault, key, s)
	if err != nil {
		t.Fatal(err)
	}
	old, err := store.GetHealth(ctx, []string{key})
	if err != nil {
		t.Fatal(err)
	}
	w := health.Write{Record: rec}
	if o, ok := old[key]; ok {
		w.Prev = &o.UpdatedAt
	}
	if conflicts, err := store.WriteHealth(ctx, []health.Write{w}); err != nil || len(conflicts) > 0 {
		t.Fatalf("set health of %s: conflicts %v, err %v", p.name, conflicts, err)
	}
}

// checkRefreshList checks a stored daily list: its counts, its retention,
// and its sealed entries (masked, in order).
func checkRefreshList(t *testing.T, vault *pii.Vault, g refreshGroup, l group.DailyList, date string) {
	t.Helper()
	if l.GroupID != g.id || l.Date != date {
		t.Errorf("%s: list of %s %s, want %s %s", g.name, l.GroupID, l.Date, g.id, date)
	}
	if diff := cmp.Diff(g.summary, l.Summary); diff != "" {
		t.Errorf("%s: summary (-want +got):\n%s", g.name, diff)
	}
	if want := l.ComputedAt.Add(refreshRetentionDays * 24 * time.Hour).Unix(); l.ExpiresAt != want {
		t.Errorf("%s: list expires at %d, want %d (RETENTION_DAYS after it was computed)", g.name, l.ExpiresAt, want)
	}
	entries, err := group.OpenEntries(vault, l)
	if err != nil {
		t.Errorf("%s: %v", g.name, err)
		return
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		for _, p := range refreshPeople {
			if p.name == e.Name && e.IDNumber != idcard.Mask(idcard.ResidentID, p.idNumber) {
				t.Errorf("%s: %s's ID number on the list is %q, want it masked", g.name, e.Name, e.IDNumber)
			}
		}
	}
	if diff := cmp.Diff(g.order, names); diff != "" {
		t.Errorf("%s: list order (-want +got):\n%s", g.name, diff)
	}
}

// checkRefreshAlert checks a group's morning SMS.
func checkRefreshAlert(t *testing.T, vault *pii.Vault, g refreshGroup, l group.DailyList, a alert.Alert) {
	t.Helper()
	if a.Status != alert.Pending || a.Template != alert.GroupDaily.Code || a.GridCode != g.grid || a.ReportID != "" ||
		a.RecipientLookup != report.PhoneLookup(vault, g.admin.Phone) {
		t.Errorf("%s: alert %s: status %s, template %s, grid %s, report %q, lookup %s; want pending %s for grid %s, no report, the administrator's phone lookup",
			g.name, a.ID, a.Status, a.Template, a.GridCode, a.ReportID, a.RecipientLookup, alert.GroupDaily.Code, g.grid)
	}
	want := map[string]string{"group": g.name, "members": strconv.Itoa(g.summary.Members), "abnormal": strconv.Itoa(g.summary.Abnormal)}
	if diff := cmp.Diff(want, a.Params); diff != "" {
		t.Errorf("%s: alert params (-want +got):\n%s", g.name, diff)
	}
	if to, err := vault.Open(a.RecipientSealed, a.ID); err != nil || string(to) != g.admin.Phone {
		t.Errorf("%s: recipient opens to %q (err %v), want the administrator's phone", g.name, to, err)
	}
	if a.ExpiresAt != l.ExpiresAt || !a.CreatedAt.Equal(l.ComputedAt) {
		t.Errorf("%s: alert created %s, expires %d; want the list's %s and %d", g.name, a.CreatedAt, a.ExpiresAt, l.ComputedAt, l.ExpiresAt)
	}
}

// refreshAlertIDs are the ids of every alert in the table, sorted.
func refreshAlertIDs(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) []string {
	t.Helper()
	var ids []string
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("alertId"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, item := range page.Items {
			if id, ok := item["alertId"].(*types.AttributeValueMemberS); ok {
				ids = append(ids, id.Value)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// refreshCount counts the items of a table.
func refreshCount(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		n += int(page.Count)
	}
	return n
}

// refreshResidentID appends the GB 11643 check digit to 17 digits.
func refreshResidentID(first17 string) string {
	return first17 + string(idcard.CheckDigit(first17))
}
