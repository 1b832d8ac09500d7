package fanout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/fanout"
	"gridcode/shared/pii"
	"gridcode/shared/ratelimit"
	"gridcode/shared/report"
	"gridcode/shared/sms/outbox"
	"gridcode/shared/store/embedded"
)

// The alerts named in testdata/dynamodb-stream-event.json.
const (
	alertOK      = "rAAAA.welcome" // INSERT pending: sent
	alertSent    = "rBBBB.welcome" // MODIFY to sent: nothing to do
	alertBroken  = "rCCCC.welcome" // INSERT pending: the ledger fails on it
	alertRemoved = "rDDDD.welcome" // REMOVE (TTL): nothing to do
	alertOptOut  = "rEEEE.welcome" // INSERT pending: the number is refused for good

	seqBroken = "111100000000000000000003"
)

const (
	phoneOK     = "13800138000"
	phoneOptOut = "13912345678"
)

var errLedgerDown = errors.New("ledger unavailable")

// failingLedger is the embedded store with some alerts whose ledger calls
// fail, as DynamoDB does when throttled or unreachable.
type failingLedger struct {
	*embedded.Store
	broken map[string]bool
	due    bool // Due fails
}

func (l failingLedger) Claim(ctx context.Context, id string, now, until time.Time) (alert.Alert, bool, error) {
	if l.broken[id] {
		return alert.Alert{}, false, errLedgerDown
	}
	return l.Store.Claim(ctx, id, now, until)
}

func (l failingLedger) Due(ctx context.Context, now time.Time, limit int) ([]alert.Alert, error) {
	if l.due {
		return nil, errLedgerDown
	}
	return l.Store.Due(ctx, now, limit)
}

type fixture struct {
	store  *embedded.Store
	ledger *failingLedger
	out    *outbox.Provider
	vault  *pii.Vault
	h      fanout.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "gridcode.db"), embedded.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	out, err := outbox.Open(filepath.Join(dir, "sms-outbox.jsonl"), nil,
		outbox.WithFaults(outbox.Faults{Permanent: map[string]bool{"+86" + phoneOptOut: true}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	vault, err := pii.NewVault(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ledger := &failingLedger{Store: store, broken: map[string]bool{}}
	f := &fixture{store: store, ledger: ledger, out: out, vault: vault}
	f.h = fanout.Handler{
		Dispatcher: &alert.Dispatcher{Ledger: ledger, Vault: vault, Provider: out, Limiter: ratelimit.NewLocal(0), Now: time.Now},
		SweepLimit: 100,
		Workers:    3,
	}
	return f
}

// add stores a report and its pending welcome SMS to phone, as intake does.
func (f *fixture) add(t *testing.T, alertID, phone string, notBefore time.Time) {
	t.Helper()
	reportID := alertID[:len(alertID)-len(".welcome")]
	now := time.Now().UTC()
	sealed, err := f.vault.Seal([]byte(phone), alertID)
	if err != nil {
		t.Fatal(err)
	}
	a := alert.Alert{
		ID: alertID, Template: alert.ReportWelcome.Code, Params: map[string]string{"action": "三天三检并居家健康监测"},
		RecipientLookup: f.vault.Lookup("phone", phone), RecipientSealed: sealed, ReportID: reportID,
		GridCode: "440703006107-01", Status: alert.Pending, CreatedAt: now, ExpiresAt: now.Add(time.Hour).Unix(),
	}
	if !notBefore.IsZero() {
		a.NotBefore = notBefore.UnixMilli()
	}
	r := report.Record{
		ID: reportID, GridCode: a.GridCode, ListKey: report.ListKey(now, reportID), Status: report.StatusNew,
		SubmittedAt: now, ExpiresAt: a.ExpiresAt,
	}
	if _, created, err := f.store.Create(context.Background(), r, a); err != nil || !created {
		t.Fatalf("create %s: created %v, err %v", alertID, created, err)
	}
}

func (f *fixture) sentTo(t *testing.T) map[string][]string {
	t.Helper()
	lines, err := f.out.List(0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, l := range lines {
		got[l.AlertID] = append(got[l.AlertID], l.To)
	}
	return got
}

func (f *fixture) status(t *testing.T, id string) alert.Alert {
	t.Helper()
	a, err := f.store.Alert(context.Background(), id)
	if err != nil {
		t.Fatalf("alert %s: %v", id, err)
	}
	return a
}

func readFixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkFixtureShape fails if the fixture has a field the events type does
// not know: the fixtures must stay what Lambda sends.
func checkFixtureShape(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("fixture does not fit %T: %v", v, err)
	}
}

func TestStreamBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	raw := readFixture(t, "dynamodb-stream-event.json")
	checkFixtureShape(t, raw, &events.DynamoDBEvent{})

	f.add(t, alertOK, phoneOK, time.Time{})
	f.add(t, alertBroken, phoneOK, time.Time{})
	f.add(t, alertOptOut, phoneOptOut, time.Time{})
	f.ledger.broken[alertBroken] = true

	for round := 1; round <= 2; round++ {
		out, err := f.h.Handle(ctx, raw)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		resp, ok := out.(events.DynamoDBEventResponse)
		if !ok {
			t.Fatalf("round %d: returned %T, want events.DynamoDBEventResponse", round, out)
		}
		want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: seqBroken}}
		if diff := cmp.Diff(want, resp.BatchItemFailures); diff != "" {
			t.Errorf("round %d: batch item failures (-want +got):\n%s", round, diff)
		}
		// Sent once, the second round included; the refused number never
		// reaches the outbox; nothing for the sent, removed or broken ones.
		wantSent := map[string][]string{alertOK: {"+86" + phoneOK}}
		if diff := cmp.Diff(wantSent, f.sentTo(t)); diff != "" {
			t.Errorf("round %d: outbox (-want +got):\n%s", round, diff)
		}
	}

	if a := f.status(t, alertOK); a.Status != alert.Sent || a.MessageID == "" || a.Attempts != 1 {
		t.Errorf("%s: status %s, message %q, attempts %d; want sent once with an id", alertOK, a.Status, a.MessageID, a.Attempts)
	}
	if a := f.status(t, alertOptOut); a.Status != alert.Failed || a.Reason == "" {
		t.Errorf("%s: status %s, reason %q; want failed with a reason", alertOptOut, a.Status, a.Reason)
	}
	if r, err := f.store.Get(ctx, "rEEEE"); err != nil || r.FollowUp != report.FollowUpCall {
		t.Errorf("report of the refused SMS: followUp %q (err %v), want %s", r.FollowUp, err, report.FollowUpCall)
	}
	if a := f.status(t, alertBroken); a.Status != alert.Pending || a.Attempts != 0 {
		t.Errorf("%s: status %s, attempts %d; want untouched pending", alertBroken, a.Status, a.Attempts)
	}

	// Once the ledger recovers, Lambda's retry of the failed record sends it.
	f.ledger.broken = map[string]bool{}
	out, err := f.h.Handle(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if resp := out.(events.DynamoDBEventResponse); len(resp.BatchItemFailures) != 0 {
		t.Errorf("after recovery: batch item failures %v, want none", resp.BatchItemFailures)
	}
	if got := f.sentTo(t); len(got[alertBroken]) != 1 || len(got[alertOK]) != 1 {
		t.Errorf("after recovery: outbox %v, want %s and %s once each", got, alertOK, alertBroken)
	}
}

// The response must serialise as Lambda reads it: an empty list, not null,
// when every record went through.
func TestStreamResponseJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	raw := []byte(`{"Records":[{"eventID":"1","eventName":"MODIFY","eventSource":"aws:dynamodb","dynamodb":{"Keys":{"alertId":{"S":"x.welcome"}},"NewImage":{"alertId":{"S":"x.welcome"},"status":{"S":"failed"}},"SequenceNumber":"9","StreamViewType":"NEW_IMAGE"}}]}`)
	out, err := f.h.Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"batchItemFailures":[]}`; string(b) != want {
		t.Errorf("response %s, want %s", b, want)
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := readFixture(t, "scheduled-event.json")
	checkFixtureShape(t, raw, &events.EventBridgeEvent{})

	t.Run("sends what is due", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.add(t, alertOK, phoneOK, time.Now().Add(-time.Second))  // a retry whose time has come
		f.add(t, alertOptOut, phoneOK, time.Now().Add(time.Hour)) // a retry not yet due
		f.add(t, alertBroken, phoneOptOut, time.Time{})           // new, refused for good
		out, err := f.h.Handle(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(alert.Result{Sent: 1, Failed: 1}, out); diff != "" {
			t.Errorf("sweep result (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string][]string{alertOK: {"+86" + phoneOK}}, f.sentTo(t)); diff != "" {
			t.Errorf("outbox (-want +got):\n%s", diff)
		}
		if a := f.status(t, alertOptOut); a.Status != alert.Pending {
			t.Errorf("alert not yet due is %s, want pending", a.Status)
		}
		// Nothing left due: a second sweep sends nothing.
		out, err = f.h.Handle(ctx, raw)
		if err != nil || out != (alert.Result{}) {
			t.Errorf("second sweep: %+v, err %v; want nothing done", out, err)
		}
	})

	t.Run("ledger down", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.ledger.due = true
		if _, err := f.h.Handle(ctx, raw); !errors.Is(err, errLedgerDown) {
			t.Errorf("err %v, want the ledger's error", err)
		}
	})
}

func TestUnknownEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.add(t, alertOK, phoneOK, time.Time{})
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"SQS batch", readFixture(t, "sqs-event.json")},
		{"empty object", []byte(`{}`)},
		{"not JSON", []byte(`nope`)},
		{"other EventBridge event", []byte(`{"version":"0","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}`)},
		{"mixed sources", []byte(`{"Records":[{"eventSource":"aws:dynamodb"},{"eventSource":"aws:kinesis"}]}`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := f.h.Handle(context.Background(), c.raw); !errors.Is(err, fanout.ErrUnknownEvent) {
				t.Errorf("err %v, want ErrUnknownEvent", err)
			}
		})
	}
	if got := f.sentTo(t); len(got) != 0 {
		t.Errorf("unknown events sent %v", got)
	}
	if a := f.status(t, alertOK); a.Status != alert.Pending || a.Attempts != 0 {
		t.Errorf("unknown events touched %s: status %s, attempts %d", alertOK, a.Status, a.Attempts)
	}
}

// An invocation about to time out answers with the records it could not
// deliver rather than timing out, and sends nothing it cannot record.
func TestStreamNearDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.add(t, alertOK, phoneOK, time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // inside the answer margin
	defer cancel()
	out, err := f.h.Handle(ctx, readFixture(t, "dynamodb-stream-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fl := range out.(events.DynamoDBEventResponse).BatchItemFailures {
		got = append(got, fl.ItemIdentifier)
	}
	want := []string{"111100000000000000000001", seqBroken, "111100000000000000000005"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch item failures (-want +got):\n%s", diff)
	}
	if sent := f.sentTo(t); len(sent) != 0 {
		t.Errorf("sent %v past the deadline", sent)
	}
	if a := f.status(t, alertOK); a.Status != alert.Pending || a.Attempts != 0 {
		t.Errorf("%s: status %s, attempts %d; want untouched", alertOK, a.Status, a.Attempts)
	}
}
