package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"

	"gridcode/infra/local"
	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/report"
	"gridcode/shared/sms/outbox"
	"gridcode/shared/store/embedded"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// gridcodeBinary builds the CLI once for the package's tests.
func gridcodeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gridcode-crashtest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary, buildErr = Build(context.Background(), dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// A few kills of the real server: every acknowledged report is stored with
// its welcome alert, whose SMS goes out once (or is still claimed by a
// killed sender, whose 60 s lease this short test does not outlive), and
// the refreshes asked for complete after the restart.
func TestKillsLoseNothing(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), Options{
		Iterations: 5, Binary: gridcodeBinary(t), DataDir: t.TempDir(),
		RefreshEvery: 2, SettleTimeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if res.Iterations != 5 || res.Acked == 0 || res.Reports < res.Acked {
		t.Errorf("%d kills, %d reports sent, %d acknowledged: want 5 kills and some acknowledged", res.Iterations, res.Reports, res.Acked)
	}
	if res.Alerts < res.Acked || res.Sent+res.Held != res.Alerts {
		t.Errorf("%d alerts checked for %d reports: %d sent, %d held by a killed sender, %d unsent", res.Alerts, res.Acked, res.Sent, res.Held, res.Unsent)
	}
	if res.RefreshNote == "" && (res.RefreshesStarted == 0 || res.MorningSMS < 3*res.RefreshesStarted) {
		t.Errorf("%d refreshes started with %d morning SMS checked: want at least one, each with its 3 new groups' SMS",
			res.RefreshesStarted, res.MorningSMS)
	}
}

// The run notices what it is there to notice: a report removed from the
// store after the kill that followed its 201, and an SMS written twice.
func TestKillsNoticeInjectedLoss(t *testing.T) {
	t.Parallel()
	var removed, doubled string
	res, err := Run(context.Background(), Options{
		Iterations: 3, Binary: gridcodeBinary(t), DataDir: t.TempDir(), Reports: 8,
		MaxKillDelay: 400 * time.Millisecond, RefreshEvery: -1, SettleTimeout: 20 * time.Second,
		afterKill: func(dir string, acked []string) error {
			if removed == "" && len(acked) > 0 {
				removed = acked[0]
				return deleteKey(filepath.Join(dir, local.StoreFile), "reports", removed)
			}
			if removed != "" && doubled == "" {
				var err error
				doubled, err = repeatLastLine(filepath.Join(dir, local.OutboxFile))
				return err
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if removed == "" {
		t.Skip("no report was acknowledged before a kill")
	}
	if res.LostReports != 1 || !strings.Contains(errString(res.Err()), "1 acknowledged reports lost") {
		t.Errorf("removed report %s: %d lost reports, Err %v", removed, res.LostReports, res.Err())
	}
	if doubled != "" && res.DuplicateSMS < 1 {
		t.Errorf("wrote %s's SMS twice: %d duplicates counted", doubled, res.DuplicateSMS)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// deleteKey removes key from one of the store's buckets, as a store that
// lost a commit would.
func deleteKey(path, bucket, key string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return errors.New("no bucket " + bucket)
		}
		return b.Delete([]byte(key))
	})
}

// repeatLastLine appends the outbox's last line again and returns its
// alert id ("" if the outbox is empty).
func repeatLastLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "", err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	last := lines[len(lines)-1]
	var l outbox.Line
	if err := json.Unmarshal([]byte(last), &l); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString(last + "\n")
	return l.AlertID, err
}

// The checker on a data dir made by hand: each way of breaking the promise
// is counted once, under its own name.
func TestCheckerCountsEachBreach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := embedded.Open(filepath.Join(dir, local.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	create := func(id string) {
		t.Helper()
		r := report.Record{ID: id, GridCode: demoGrid, ListKey: report.ListKey(now, id), Status: report.StatusNew, SubmittedAt: now}
		alertID := report.WelcomeAlertID(id)
		if id == "rnoalert" {
			alertID = "another.alert" // the report is stored without its welcome alert
		}
		a := alert.Alert{ID: alertID, Template: alert.ReportWelcome.Code, ReportID: id, GridCode: demoGrid, Status: alert.Pending, CreatedAt: now}
		if _, _, err := st.Create(ctx, r, a); err != nil {
			t.Fatal(err)
		}
	}
	settle := func(id string, o alert.Outcome, lease time.Duration) {
		t.Helper()
		until := now.Add(lease)
		if _, ok, err := st.Claim(ctx, report.WelcomeAlertID(id), now, until); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", id, ok, err)
		}
		if o.Status == "" {
			return // left claimed, as by a killed sender
		}
		if err := st.Settle(ctx, report.WelcomeAlertID(id), until, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"rsent", "rtwice", "rpending", "rheld", "rfailed", "rnoline", "rnoalert"} {
		create(id)
	}
	settle("rsent", alert.Outcome{Status: alert.Sent, MessageID: "local-1", At: now}, time.Minute)
	settle("rtwice", alert.Outcome{Status: alert.Sent, MessageID: "local-2", At: now}, time.Minute)
	settle("rnoline", alert.Outcome{Status: alert.Sent, MessageID: "local-9", At: now}, time.Minute)
	settle("rfailed", alert.Outcome{Status: alert.Failed, Reason: "invalid number", At: now}, time.Minute)
	settle("rheld", alert.Outcome{}, time.Minute)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var sms []byte
	for _, id := range []string{"rsent", "rtwice", "rtwice", "rheld"} {
		b, _ := json.Marshal(outbox.Line{AlertID: report.WelcomeAlertID(id), Template: alert.ReportWelcome.Code})
		sms = append(append(sms, b...), '\n')
	}
	sms = append(sms, `{"alertId":"torn`...) // a last line a crash cut off
	if err := os.WriteFile(filepath.Join(dir, local.OutboxFile), sms, 0o600); err != nil {
		t.Fatal(err)
	}

	c := newChecker(dir)
	for _, id := range []string{"rsent", "rtwice", "rpending", "rheld", "rfailed", "rnoline", "rnoalert", "rmissing"} {
		c.ack(id)
	}
	today := dates.Today(now)
	c.runs = []*startedRun{{date: today, runID: "run1", groups: []string{"GNOLIST"}}}
	res := Result{RefreshesStarted: 1}
	// After the kill: the report that is not stored, and the one stored
	// without its alert, are lost; the held claim's SMS is in the outbox:
	// the send window.
	if err := c.afterKill(ctx, &res, "", time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	if res.LostReports != 1 || res.LostAlerts != 1 || res.SendWindow != 1 || c.held != 1 {
		t.Errorf("after the kill: %d reports and %d alerts lost, %d in the send window, %d held; want 1, 1, 1, 1\n%s",
			res.LostReports, res.LostAlerts, res.SendWindow, c.held, strings.Join(res.Problems, "\n"))
	}
	if err := c.final(ctx, &res); err != nil {
		t.Fatal(err)
	}
	want := Result{RefreshesStarted: 1, LostReports: 1, LostAlerts: 3, SendWindow: 1, Alerts: 6, Sent: 2, Held: 1, Unsent: 1,
		SMS: 4, DuplicateSMS: 1, ListsMissing: 1}
	if diff := cmp.Diff(want, res, cmpopts.IgnoreFields(Result{}, "Problems")); diff != "" {
		t.Errorf("final (-want +got):\n%s\n%s", diff, strings.Join(res.Problems, "\n"))
	}
	err = res.Err()
	for _, s := range []string{"1 acknowledged reports lost", "3 alerts lost", "1 alerts not sent", "1 SMS sent twice", "1 of 1 refreshes did not complete", "1 daily lists missing"} {
		if !strings.Contains(errString(err), s) {
			t.Errorf("Err() does not say %q: %v", s, err)
		}
	}
	if (Result{Acked: 3, Alerts: 3, Sent: 3, SMS: 3}).Err() != nil {
		t.Error("a clean result has an error")
	}
}
