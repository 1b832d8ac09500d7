package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/dynamolocal"
	"gridcode/infra/lambdarie"
	"gridcode/shared/alert"
	"gridcode/shared/digest"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/dynamo"
)

// The digest's grid and the people in it. The workers' phones are what the
// digests go to; the reporter's is on the reports' welcome SMS. None may
// reach the logs.
var (
	digestGrid = grid.Grid{Code: "440703006107-02", Name: "石冲社区第二网格", Community: "石冲社区", Town: "棠下镇"}

	digestWorkers = []grid.Worker{
		{Name: "李网格", Phone: "13600136000"},
		{Name: "王网格", Phone: "13500135000"},
	}
)

const digestReporterPhone = "13300133000"

// digestResult is what a scheduled invocation returns.
type digestResult struct {
	Grids  int `json:"grids"`
	Queued int `json:"queued"`
}

func TestDigest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	fixture, err := os.ReadFile(filepath.Join("testdata", "digest-scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, fixture, &events.EventBridgeEvent{})

	db := dynamolocal.Client(t)
	endpoint := dynamolocal.Endpoint(t)
	prefix := "digest-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	tables := dynamo.Tables{Reports: prefix + "reports", Alerts: prefix + "alerts", Grids: prefix + "grids", Rules: prefix + "rules", DailyCounts: prefix + "daily-counts"}
	if err := dynamo.CreateTables(ctx, db, tables); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(db, tables)

	keysFile, _, vault := testKeys(t)
	workers, err := json.Marshal(digestWorkers)
	if err != nil {
		t.Fatal(err)
	}
	g := digestGrid
	if g.WorkersSealed, err = vault.Seal(workers, "grid:"+g.Code); err != nil {
		t.Fatal(err)
	}
	if err := store.PutGrids(ctx, []grid.Grid{g}); err != nil {
		t.Fatal(err)
	}

	// The window the function will see: the one holding now, unless now is
	// so close to its end that the invocations could fall in the next.
	schedule, err := digest.NewSchedule(30*time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if next := schedule.WindowStart(now).Add(schedule.Window); time.Until(next) < 10*time.Second {
		time.Sleep(time.Until(next) + 100*time.Millisecond)
		now = time.Now()
	}
	window := schedule.WindowStart(now)
	from, to := schedule.Coverage(window)

	// Three reports in the previous window, one high risk, and one just
	// before it, which an earlier digest covered.
	for i, r := range []struct {
		at   time.Time
		risk risk.Level
	}{
		{from, risk.Low},
		{from.Add(10 * time.Minute), risk.High},
		{to.Add(-time.Second), risk.None},
		{from.Add(-time.Second), risk.High},
	} {
		addDigestReport(ctx, t, store, vault, "rdigest"+strconv.Itoa(i), r.at, r.risk)
	}

	bin := lambdarie.Build(t, "gridcode/functions/digest")
	// What template.yaml sets, plus the local endpoint and key file; no
	// quiet hours, so that the test does not depend on the hour.
	env := []string{
		"KEYS_FILE=" + keysFile, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON",
		"REPORTS_TABLE=" + tables.Reports, "ALERTS_TABLE=" + tables.Alerts,
		"GRIDS_TABLE=" + tables.Grids, "RULES_TABLE=" + tables.Rules,
		"DIGEST_WINDOW=30m", "QUIET_HOURS=", "RETENTION_DAYS=60", "SETTINGS_TTL=30s",
	}
	emu := lambdarie.Start(t, bin, env...)

	if got := invokeDigest(ctx, t, emu, fixture); got != (digestResult{Grids: 1, Queued: 2}) {
		t.Errorf("first run: %+v, want 1 grid and 2 digests queued", got)
	}
	var want []string
	for _, wk := range digestWorkers {
		want = append(want, digest.AlertID(g.Code, report.PhoneLookup(vault, wk.Phone), window))
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), digestAlertIDs(ctx, t, db, tables.Alerts)); diff != "" {
		t.Fatalf("digest alerts after the first run (-want +got):\n%s\nfunction output:\n%s", diff, emu.Output())
	}
	wantParams := map[string]string{"grid": g.Name, "new": "3", "high": "1", "calls": "0"}
	for i, id := range want {
		a, err := store.Alert(ctx, id)
		if err != nil {
			t.Fatalf("alert %s: %v", id, err)
		}
		phone := digestWorkers[i].Phone
		if a.Status != alert.Pending || a.Template != alert.GridDigest.Code || a.GridCode != g.Code || a.ReportID != "" ||
			a.RecipientLookup != report.PhoneLookup(vault, phone) {
			t.Errorf("%s: status %s, template %s, grid %s, report %q, lookup %s; want pending %s for grid %s, no report, worker %d's phone lookup",
				id, a.Status, a.Template, a.GridCode, a.ReportID, a.RecipientLookup, alert.GridDigest.Code, g.Code, i)
		}
		if diff := cmp.Diff(wantParams, a.Params); diff != "" {
			t.Errorf("%s: params (-want +got):\n%s", id, diff)
		}
		if to, err := vault.Open(a.RecipientSealed, id); err != nil || string(to) != phone {
			t.Errorf("%s: recipient opens to %q (err %v), want worker %d's phone", id, to, err, i)
		}
		if d := time.Unix(a.ExpiresAt, 0).Sub(now); d < 59*24*time.Hour || d > 61*24*time.Hour {
			t.Errorf("%s: expires in %v, want about 60 days (RETENTION_DAYS)", id, d)
		}
	}

	// Every minute's run of the same window queues nothing new.
	if got := invokeDigest(ctx, t, emu, fixture); got != (digestResult{Grids: 1, Queued: 0}) {
		t.Errorf("second run: %+v, want 1 grid and nothing queued", got)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), digestAlertIDs(ctx, t, db, tables.Alerts)); diff != "" {
		t.Errorf("digest alerts after the second run (-want +got):\n%s", diff)
	}

	// One log line per run, with the request id; the emulator's log lines
	// may trail its answer.
	logged := func(o string) bool { return strings.Count(o, `"message":"digest run"`) == 2 }
	out := waitOutput(emu, logged, 5*time.Second)
	if !logged(out) || !strings.Contains(out, `"requestId":"`) {
		t.Errorf("want two digest run log lines with a request id in the output:\n%s", out)
	}
	for _, p := range []string{digestWorkers[0].Phone, digestWorkers[1].Phone, digestReporterPhone} {
		if strings.Contains(out, p) {
			t.Errorf("the digest function's logs contain the phone number %s:\n%s", p, out)
		}
	}

	// A window that does not divide a day: the function refuses to start,
	// naming the variable, and the invocation reports an init error (the
	// emulator answers 502, Lambda Runtime.ExitError).
	bad := lambdarie.Start(t, bin, append(slices.Clone(env), "DIGEST_WINDOW=7m")...)
	if body, err := bad.Invoke(ctx, fixture); err == nil {
		t.Errorf("invoke with DIGEST_WINDOW=7m answered %s; want an init error", body)
	}
	// The emulator's log lines may trail its answer.
	initFailed := func(o string) bool {
		return strings.Contains(o, "Init failed") && strings.Contains(o, `"message":"start-up failed"`) &&
			strings.Contains(o, "DIGEST_WINDOW") && strings.Contains(o, "digest window 7m")
	}
	if o := waitOutput(bad, initFailed, 5*time.Second); !initFailed(o) {
		t.Errorf("with DIGEST_WINDOW=7m the output lacks an init failure and a start-up log naming DIGEST_WINDOW:\n%s", o)
	}
	if n := len(digestAlertIDs(ctx, t, db, tables.Alerts)); n != len(want) {
		t.Errorf("after the failed start: %d digest alerts, want still %d", n, len(want))
	}
}

// addDigestReport stores a report submitted at at, with its welcome SMS,
// in one transaction as intake does.
func addDigestReport(ctx context.Context, t *testing.T, store *dynamo.Store, vault *pii.Vault, id string, at time.Time, level risk.Level) {
	t.Helper()
	at = at.UTC()
	alertID := report.WelcomeAlertID(id)
	sealed, err := vault.Seal([]byte(digestReporterPhone), alertID)
	if err != nil {
		t.Fatal(err)
	}
	lookup := report.PhoneLookup(vault, digestReporterPhone)
	r := report.Record{
		ID: id, GridCode: digestGrid.Code, RoutedBy: report.RoutedByCommunity, ListKey: report.ListKey(at, id),
		RiskLevel: level, Status: report.StatusNew, SubmittedAt: at, ExpiresAt: at.Add(24 * time.Hour).Unix(), PhoneLookup: lookup,
	}
	a := alert.Alert{
		ID: alertID, Template: alert.ReportWelcome.Code, Params: map[string]string{"action": fanoutAction},
		RecipientLookup: lookup, RecipientSealed: sealed, ReportID: id, GridCode: r.GridCode,
		Status: alert.Pending, CreatedAt: at, ExpiresAt: r.ExpiresAt,
	}
	if _, created, err := store.Create(ctx, r, a); err != nil || !created {
		t.Fatalf("create report %s: created %v, err %v", id, created, err)
	}
}

// waitOutput returns emu's output once done says it is complete, or after
// timeout.
func waitOutput(emu *lambdarie.Emulator, done func(string) bool, timeout time.Duration) string {
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if o := emu.Output(); done(o) || time.Now().After(deadline) {
			return o
		}
	}
}

// invokeDigest invokes with a scheduled event and decodes the result.
func invokeDigest(ctx context.Context, t *testing.T, emu *lambdarie.Emulator, ev []byte) digestResult {
	t.Helper()
	out, err := emu.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var res digestResult
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("digest invoke: not a digest result (err %v): %s\nfunction output:\n%s", err, out, emu.Output())
	}
	return res
}

// digestAlertIDs are the ids of every digest alert in the table, sorted.
func digestAlertIDs(ctx context.Context, t *testing.T, db *dynamodb.Client, table string) []string {
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
			var a struct {
				ID string `dynamodbav:"alertId"`
			}
			if err := attributevalue.UnmarshalMap(item, &a); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(a.ID, "digest.") {
				ids = append(ids, a.ID)
			}
		}
	}
	slices.Sort(ids)
	return ids
}
