package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/dynamolocal"
	"gridcode/infra/lambdarie"
	"gridcode/shared/alert"
	"gridcode/shared/pii"
	"gridcode/shared/ratelimit"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

// The people the fan-out texts, one per behaviour of the fake SNS.
const (
	fanoutPhoneOK       = "13800138000" // accepted at once
	fanoutPhoneThrottle = "13912345678" // throttled once, then accepted
	fanoutPhoneInvalid  = "13700137000" // refused as an invalid number
	fanoutPhoneOptedOut = "13600136000" // opted out of SMS from the account
	fanoutAction        = "三天三检并居家健康监测"
)

// publish is one Publish request the fake SNS received.
type publish struct {
	PhoneNumber, Message, SMSType string
	Answer                        string // "m-N", or the error code answered
}

// fakeSNS speaks the SNS query protocol (form POST, XML answers). Each
// phone number may have a script of error codes to answer first, and may be
// opted out (CheckIfPhoneNumberIsOptedOut answers false for the others).
type fakeSNS struct {
	mu       sync.Mutex
	script   map[string][]string // E.164 -> error codes, answered in order
	optedOut map[string]bool     // E.164 -> opted out
	got      []publish
	checks   []string // the number of each opt-out check, in order
	ids      int
}

func (f *fakeSNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	if form.Get("Action") == "CheckIfPhoneNumberIsOptedOut" {
		f.check(w, form.Get("phoneNumber"))
		return
	}
	if form.Get("Action") != "Publish" {
		http.Error(w, "unexpected action "+form.Get("Action"), http.StatusBadRequest)
		return
	}
	p := publish{PhoneNumber: form.Get("PhoneNumber"), Message: form.Get("Message")}
	for i := 1; form.Has(fmt.Sprintf("MessageAttributes.entry.%d.Name", i)); i++ {
		if form.Get(fmt.Sprintf("MessageAttributes.entry.%d.Name", i)) == "AWS.SNS.SMS.SMSType" {
			p.SMSType = form.Get(fmt.Sprintf("MessageAttributes.entry.%d.Value.StringValue", i))
		}
	}
	f.mu.Lock()
	var code string
	if s := f.script[p.PhoneNumber]; len(s) > 0 {
		code, f.script[p.PhoneNumber] = s[0], s[1:]
	}
	if code == "" {
		f.ids++
		p.Answer = "m-" + strconv.Itoa(f.ids)
	} else {
		p.Answer = code
	}
	f.got = append(f.got, p)
	f.mu.Unlock()

	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", "r")
	switch code {
	case "":
		fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>%s</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`, p.Answer)
		return
	case "Throttling":
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, snsError(code, "Rate exceeded"))
	default:
		// As SNS does, the message quotes the number: it must not reach the logs.
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, snsError(code, "Invalid parameter: PhoneNumber Reason: "+p.PhoneNumber+" is not valid to publish to"))
	}
}

// check answers CheckIfPhoneNumberIsOptedOut for number.
func (f *fakeSNS) check(w http.ResponseWriter, number string) {
	f.mu.Lock()
	f.checks = append(f.checks, number)
	out := f.optedOut[number]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", "r")
	fmt.Fprintf(w, `<CheckIfPhoneNumberIsOptedOutResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CheckIfPhoneNumberIsOptedOutResult><isOptedOut>%t</isOptedOut></CheckIfPhoneNumberIsOptedOutResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CheckIfPhoneNumberIsOptedOutResponse>`, out)
}

func snsError(code, msg string) string {
	return `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>` + code +
		`</Code><Message>` + msg + `</Message></Error><RequestId>r</RequestId></ErrorResponse>`
}

// requests returns the Publish requests received so far.
func (f *fakeSNS) requests() []publish {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]publish(nil), f.got...)
}

// checked returns the numbers of the opt-out checks received so far.
func (f *fakeSNS) checked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.checks...)
}

// fanoutSystem is the fan-out function under the emulator, its tables and
// the fake SNS.
type fanoutSystem struct {
	emu    *lambdarie.Emulator
	sns    *fakeSNS
	db     *dynamodb.Client
	store  *dynamo.Store
	tables dynamo.Tables
	vault  *pii.Vault
	seq    int

	streamFixture, scheduledFixture []byte
}

func TestFanout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startFanout(ctx, t)

	// A report's welcome SMS, delivered from the stream record of its insert.
	okID := s.addReport(ctx, t, "rfanoutok", fanoutPhoneOK)
	insertOK := s.streamEvent(ctx, t, "INSERT", okID)
	s.invokeStream(ctx, t, insertOK)
	text, err := alert.ReportWelcome.Render(map[string]string{"action": fanoutAction})
	if err != nil {
		t.Fatal(err)
	}
	want := []publish{{PhoneNumber: "+86" + fanoutPhoneOK, Message: text, SMSType: "Transactional", Answer: "m-1"}}
	if diff := cmp.Diff(want, s.sns.requests()); diff != "" {
		t.Fatalf("Publish requests after the insert (-want +got):\n%s\nfunction output:\n%s", diff, s.emu.Output())
	}
	if a := s.alert(ctx, t, okID); a.Status != alert.Sent || a.MessageID != "m-1" || a.Attempts != 1 {
		t.Errorf("%s: status %s, messageId %q, attempts %d; want sent as m-1 after 1 attempt", okID, a.Status, a.MessageID, a.Attempts)
	}

	// Lambda delivers a stream record again after a failed batch: nothing
	// is sent twice.
	s.invokeStream(ctx, t, insertOK)
	if n := len(s.sns.requests()); n != 1 {
		t.Errorf("after the same stream event again: %d Publish requests, want still 1", n)
	}

	// The sweep with nothing due sends nothing.
	if res := s.invokeSweep(ctx, t); res != (sweepResult{}) {
		t.Errorf("sweep with nothing due: %+v, want nothing done", res)
	}
	if n := len(s.sns.requests()); n != 1 {
		t.Errorf("after an idle sweep: %d Publish requests, want still 1", n)
	}

	// Throttled: left pending with a retry time, and sent by the sweep once
	// that time has come.
	s.sns.mu.Lock()
	s.sns.script["+86"+fanoutPhoneThrottle] = []string{"Throttling"}
	s.sns.script["+86"+fanoutPhoneInvalid] = []string{"InvalidParameter"}
	s.sns.mu.Unlock()
	slowID := s.addReport(ctx, t, "rfanoutslow", fanoutPhoneThrottle)
	s.invokeStream(ctx, t, s.streamEvent(ctx, t, "INSERT", slowID))
	slow := s.alert(ctx, t, slowID)
	if slow.Status != alert.Pending || slow.Attempts != 1 || !strings.Contains(slow.Reason, "Throttling") || slow.NotBefore <= time.Now().Add(-time.Second).UnixMilli() {
		t.Fatalf("throttled %s: status %s, attempts %d, reason %q, notBefore %d; want pending after 1 attempt with a Throttling reason and a retry time",
			slowID, slow.Status, slow.Attempts, slow.Reason, slow.NotBefore)
	}
	// The stream record of that change (pending again) sends nothing before
	// the retry time.
	s.invokeStream(ctx, t, s.streamEvent(ctx, t, "MODIFY", slowID))
	if n := len(s.sns.requests()); n != 2 {
		t.Errorf("after the retry's MODIFY record: %d Publish requests, want 2 (the first, the throttled one)", n)
	}
	time.Sleep(time.Until(time.UnixMilli(slow.NotBefore)))
	var swept sweepResult
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := s.invokeSweep(ctx, t)
		swept.Sent += r.Sent
		if swept.Sent > 0 || time.Now().After(deadline) {
			break
		}
	}
	if a := s.alert(ctx, t, slowID); a.Status != alert.Sent || a.MessageID != "m-2" || a.Attempts != 2 || swept.Sent != 1 {
		t.Errorf("throttled %s after the sweep: status %s, messageId %q, attempts %d (sweeps sent %d); want sent as m-2 on attempt 2",
			slowID, a.Status, a.MessageID, a.Attempts, swept.Sent)
	}

	// An invalid number: failed for good, and the grid worker is told to call.
	badID := s.addReport(ctx, t, "rfanoutbad", fanoutPhoneInvalid)
	s.invokeStream(ctx, t, s.streamEvent(ctx, t, "INSERT", badID))
	if a := s.alert(ctx, t, badID); a.Status != alert.Failed || !strings.Contains(a.Reason, "invalid phone number") || a.SettledAt == nil {
		t.Errorf("invalid number %s: status %s, reason %q; want failed as an invalid phone number", badID, a.Status, a.Reason)
	}
	if r, err := s.store.Get(ctx, "rfanoutbad"); err != nil || r.FollowUp != report.FollowUpCall {
		t.Errorf("report of the undelivered SMS: followUp %q (err %v), want %s", r.FollowUp, err, report.FollowUpCall)
	}

	// An opted-out number: the check catches it, nothing is published, the
	// alert fails for good and the grid worker is told to call.
	s.sns.mu.Lock()
	s.sns.optedOut["+86"+fanoutPhoneOptedOut] = true
	s.sns.mu.Unlock()
	outID := s.addReport(ctx, t, "rfanoutout", fanoutPhoneOptedOut)
	s.invokeStream(ctx, t, s.streamEvent(ctx, t, "INSERT", outID))
	if a := s.alert(ctx, t, outID); a.Status != alert.Failed || !strings.Contains(a.Reason, "opted out") || a.SettledAt == nil || a.MessageID != "" {
		t.Errorf("opted-out number %s: status %s, reason %q, messageId %q; want failed as opted out, with no message", outID, a.Status, a.Reason, a.MessageID)
	}
	if r, err := s.store.Get(ctx, "rfanoutout"); err != nil || r.FollowUp != report.FollowUpCall {
		t.Errorf("report of the opted-out number: followUp %q (err %v), want %s", r.FollowUp, err, report.FollowUpCall)
	}
	s.invokeSweep(ctx, t)

	wantAll := []publish{
		want[0],
		{PhoneNumber: "+86" + fanoutPhoneThrottle, Message: text, SMSType: "Transactional", Answer: "Throttling"},
		{PhoneNumber: "+86" + fanoutPhoneThrottle, Message: text, SMSType: "Transactional", Answer: "m-2"},
		{PhoneNumber: "+86" + fanoutPhoneInvalid, Message: text, SMSType: "Transactional", Answer: "InvalidParameter"},
	}
	if diff := cmp.Diff(wantAll, s.sns.requests()); diff != "" {
		t.Errorf("every Publish request (-want +got), none to the opted-out number:\n%s", diff)
	}
	// One opt-out check before each Publish, and one for the opted-out number.
	wantChecks := []string{
		"+86" + fanoutPhoneOK, "+86" + fanoutPhoneThrottle, "+86" + fanoutPhoneThrottle,
		"+86" + fanoutPhoneInvalid, "+86" + fanoutPhoneOptedOut,
	}
	if diff := cmp.Diff(wantChecks, s.sns.checked()); diff != "" {
		t.Errorf("every opt-out check (-want +got):\n%s", diff)
	}

	out := s.emu.Output()
	if !strings.Contains(out, `"message":"stream batch"`) || !strings.Contains(out, `"requestId":"`) {
		t.Errorf("no stream batch log line with a request id in the output:\n%s", out)
	}
	for _, p := range []string{fanoutPhoneOK, fanoutPhoneThrottle, fanoutPhoneInvalid, fanoutPhoneOptedOut} {
		if strings.Contains(out, p) {
			t.Errorf("the fan-out's logs contain the phone number %s:\n%s", p, out)
		}
	}
}

func startFanout(ctx context.Context, t *testing.T) *fanoutSystem {
	t.Helper()
	s := &fanoutSystem{sns: &fakeSNS{script: map[string][]string{}, optedOut: map[string]bool{}}}
	var err error
	if s.streamFixture, err = os.ReadFile(filepath.Join("testdata", "dynamodb-stream-event.json")); err != nil {
		t.Fatal(err)
	}
	if s.scheduledFixture, err = os.ReadFile(filepath.Join("testdata", "scheduled-event.json")); err != nil {
		t.Fatal(err)
	}
	checkStrict(t, s.scheduledFixture, &events.EventBridgeEvent{})

	s.db = dynamolocal.Client(t)
	endpoint := dynamolocal.Endpoint(t)
	prefix := "fanout-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	s.tables = dynamo.Tables{Reports: prefix + "reports", Alerts: prefix + "alerts", Grids: prefix + "grids", Rules: prefix + "rules", DailyCounts: prefix + "daily-counts"}
	if err := dynamo.CreateTables(ctx, s.db, s.tables); err != nil {
		t.Fatal(err)
	}
	budget := prefix + "send-budget"
	if _, err := s.db.CreateTable(ctx, ratelimit.TableSpec(budget)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.UpdateTimeToLive(ctx, ratelimit.TimeToLive(budget)); err != nil {
		t.Fatal(err)
	}
	s.store = dynamo.New(s.db, s.tables)

	keysFile, _, vault := testKeys(t)
	s.vault = vault

	srv := httptest.NewServer(s.sns)
	t.Cleanup(srv.Close)
	// Only what template.yaml sets, plus the local endpoints and key file.
	s.emu = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/fanout"),
		"KEYS_FILE="+keysFile, "DYNAMODB_ENDPOINT="+endpoint, "SNS_ENDPOINT="+srv.URL, "AWS_LAMBDA_LOG_FORMAT=JSON",
		"ALERTS_TABLE="+s.tables.Alerts, "REPORTS_TABLE="+s.tables.Reports, "SEND_BUDGET_TABLE="+budget,
		"SMS_PER_SECOND=20", "SWEEP_LIMIT=500")
	return s
}

// addReport stores a report and its pending welcome SMS in one transaction,
// as intake does, and returns the alert's id.
func (s *fanoutSystem) addReport(ctx context.Context, t *testing.T, reportID, phone string) string {
	t.Helper()
	now := time.Now().UTC()
	id := report.WelcomeAlertID(reportID)
	sealed, err := s.vault.Seal([]byte(phone), id)
	if err != nil {
		t.Fatal(err)
	}
	lookup := report.PhoneLookup(s.vault, phone)
	r := report.Record{
		ID: reportID, GridCode: "440703006107-01", RoutedBy: report.RoutedByCommunity, ListKey: report.ListKey(now, reportID),
		Status: report.StatusNew, SubmittedAt: now, ExpiresAt: now.Add(24 * time.Hour).Unix(), PhoneLookup: lookup,
	}
	a := alert.Alert{
		ID: id, Template: alert.ReportWelcome.Code, Params: map[string]string{"action": fanoutAction},
		RecipientLookup: lookup, RecipientSealed: sealed, ReportID: reportID, GridCode: r.GridCode,
		Status: alert.Pending, CreatedAt: now, ExpiresAt: r.ExpiresAt,
	}
	if _, created, err := s.store.Create(ctx, r, a); err != nil || !created {
		t.Fatalf("create report %s: created %v, err %v", reportID, created, err)
	}
	return id
}

func (s *fanoutSystem) alert(ctx context.Context, t *testing.T, id string) alert.Alert {
	t.Helper()
	a, err := s.store.Alert(ctx, id)
	if err != nil {
		t.Fatalf("alert %s: %v", id, err)
	}
	return a
}

// streamEvent is testdata/dynamodb-stream-event.json with one record of
// the alert as the table holds it now, as the stream delivers it.
func (s *fanoutSystem) streamEvent(ctx context.Context, t *testing.T, eventName, alertID string) []byte {
	t.Helper()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Alerts),
		Key:            map[string]types.AttributeValue{"alertId": &types.AttributeValueMemberS{Value: alertID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("get alert %s: %v", alertID, err)
	}
	image := map[string]events.DynamoDBAttributeValue{}
	for k, v := range out.Item {
		image[k] = streamValue(t, v)
	}
	var ev map[string]any
	if err := json.Unmarshal(s.streamFixture, &ev); err != nil {
		t.Fatalf("testdata/dynamodb-stream-event.json: %v", err)
	}
	rec := ev["Records"].([]any)[0].(map[string]any)
	change := rec["dynamodb"].(map[string]any)
	s.seq++
	rec["eventName"] = eventName
	rec["eventID"] = fmt.Sprintf("%032x", s.seq)
	change["Keys"] = map[string]events.DynamoDBAttributeValue{"alertId": events.NewStringAttribute(alertID)}
	change["NewImage"] = image
	change["SequenceNumber"] = fmt.Sprintf("4%020d", s.seq)
	change["ApproximateCreationDateTime"] = time.Now().Unix()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, b, &events.DynamoDBEvent{})
	return b
}

// streamValue is v as a stream record carries it.
func streamValue(t *testing.T, v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = streamValue(t, e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		m := map[string]events.DynamoDBAttributeValue{}
		for k, e := range v.Value {
			m[k] = streamValue(t, e)
		}
		return events.NewMapAttribute(m)
	}
	t.Fatalf("attribute value of type %T", v)
	return events.DynamoDBAttributeValue{}
}

// checkStrict fails if b has a field the aws-lambda-go type lacks.
func checkStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("event does not fit %T: %v\n%s", v, err, b)
	}
}

// invokeStream invokes with a stream batch and fails unless every record
// went through (no batch item failures).
func (s *fanoutSystem) invokeStream(ctx context.Context, t *testing.T, ev []byte) {
	t.Helper()
	out, err := s.emu.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.BatchItemFailures == nil {
		t.Fatalf("stream invoke: not a DynamoDB event response (err %v): %s\nfunction output:\n%s", err, out, s.emu.Output())
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("stream invoke: batch item failures %v\nfunction output:\n%s", resp.BatchItemFailures, s.emu.Output())
	}
}

type sweepResult struct {
	Sent    int `json:"sent"`
	Failed  int `json:"failed"`
	Retried int `json:"retried"`
	Skipped int `json:"skipped"`
}

func (s *fanoutSystem) invokeSweep(ctx context.Context, t *testing.T) sweepResult {
	t.Helper()
	out, err := s.emu.Invoke(ctx, s.scheduledFixture)
	if err != nil {
		t.Fatal(err)
	}
	var res sweepResult
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("sweep invoke: not a sweep result (err %v): %s\nfunction output:\n%s", err, out, s.emu.Output())
	}
	return res
}
