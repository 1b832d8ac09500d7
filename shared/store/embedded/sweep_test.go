package embedded

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/audit"
	"gridcode/shared/group"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/stats"
	"gridcode/shared/store/storetest"
	"gridcode/shared/worklist"
)

func TestRetentionContract(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore { return openTemp(t) })
}

// sweepAt is the sweeps' clock: items expire an hour before it, or a day
// after it.
var sweepAt = time.Date(2023, 1, 5, 4, 0, 0, 0, time.UTC)

var (
	expired = sweepAt.Add(-time.Hour).Unix()
	current = sweepAt.Add(24 * time.Hour).Unix()
)

func sweepReport(id string, expiresAt int64) (report.Record, alert.Alert) {
	at := time.Date(2022, 12, 3, 1, 0, 0, 0, time.UTC)
	r := report.Record{
		ID: id, GridCode: "g1", ListKey: report.ListKey(at, id), Status: report.StatusNew, RiskLevel: risk.High,
		ArrivalDate: "2022-12-03", SubmittedAt: at, ExpiresAt: expiresAt, PersonLookup: "p-" + id, PhoneLookup: "ph-" + id,
	}
	a := alert.Alert{
		ID: report.WelcomeAlertID(id), Template: alert.ReportWelcome.Code, RecipientLookup: r.PhoneLookup, ReportID: id,
		GridCode: "g1", Status: alert.Pending, CreatedAt: at, ExpiresAt: expiresAt,
	}
	return r, a
}

// TestSweepExpired stores one of each kind of expiring item, expired or
// not (or without an expiry), and checks that a sweep deletes exactly the
// expired ones with what goes with them, and keeps the day's counts.
func TestSweepExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	expiries := map[string]int64{"old": expired, "new": current, "never": 0}
	for name, exp := range expiries {
		r, a := sweepReport("r-"+name, exp)
		if _, _, err := s.Create(ctx, r, a); err != nil {
			t.Fatal(err)
		}
		tasks := []worklist.Task{
			{ID: "t-open-" + name, GridCode: "g1", Reason: "not_in_nat", Status: worklist.TaskOpen, DueOn: "2022-12-03", Version: 1, ExpiresAt: exp},
			{ID: "t-closed-" + name, GridCode: "g1", Reason: "not_in_nat", Status: worklist.TaskClosed, DueOn: "2022-12-03", Version: 2, ExpiresAt: exp},
		}
		if _, err := s.CreateTasks(ctx, tasks); err != nil {
			t.Fatal(err)
		}
		l := worklist.List{ID: "l-" + name, Kind: worklist.KindNAT, Rows: 2, Chunks: 2, ExpiresAt: exp}
		for n := range 2 {
			if err := s.PutListChunk(ctx, worklist.Chunk{ListID: l.ID, N: n, Keys: []string{"k"}, Grids: []string{"g1"}, Sealed: []byte{1}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutList(ctx, l); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutDailyList(ctx, group.DailyList{GroupID: "G-" + name, Date: "2022-12-03", ExpiresAt: exp}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.PutImport(ctx, registry.Import{ID: "i-" + name, Status: registry.ImportDone, ExpiresAt: exp, Version: 1}, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRowErrors(ctx, "i-"+name, 2, []registry.RowError{{Line: 3, Field: "idNumber", Reason: "invalid"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, []audit.Record{{ID: "a-" + name, Actor: "w1", Action: "registry.search_result", PersonKey: "p1", ExpiresAt: exp}}); err != nil {
			t.Fatal(err)
		}
	}
	openBefore, err := s.OpenTaskCounts(ctx)
	if err != nil || openBefore["not_in_nat"] != 3 {
		t.Fatalf("open tasks before the sweep: %v, %v", openBefore, err)
	}

	// An hour and a second before the sweep's time, nothing has expired.
	deleted, err := s.SweepExpired(ctx, sweepAt.Add(-time.Hour-time.Second))
	if err != nil || len(deleted) != 0 {
		t.Fatalf("an early sweep deleted %v, %v; want nothing", deleted, err)
	}

	deleted, err = s.SweepExpired(ctx, sweepAt)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"reports": 1, "alerts": 1, "tasks": 2, "lists": 1, "daily_lists": 1, "imports": 1, "audit": 1}
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}

	for name := range expiries {
		gone := name == "old"
		check := func(what string, err error, notFound error) {
			t.Helper()
			switch {
			case gone && !errors.Is(err, notFound):
				t.Errorf("%s %s after the sweep: %v, want %v", what, name, err, notFound)
			case !gone && err != nil:
				t.Errorf("%s %s after the sweep: %v, want it kept", what, name, err)
			}
		}
		_, err := s.Get(ctx, "r-"+name)
		check("report", err, report.ErrNotFound)
		_, err = s.Alert(ctx, report.WelcomeAlertID("r-"+name))
		check("welcome SMS", err, alert.ErrNotFound)
		_, err = s.GetTask(ctx, "t-open-"+name)
		check("open task", err, worklist.ErrNotFound)
		_, err = s.GetTask(ctx, "t-closed-"+name)
		check("closed task", err, worklist.ErrNotFound)
		_, err = s.GetList(ctx, "l-"+name)
		check("list", err, worklist.ErrNotFound)
		_, err = s.Chunk(ctx, "l-"+name, 1)
		check("list chunk", err, worklist.ErrNotFound)
		_, err = s.DailyList(ctx, "G-"+name, "2022-12-03")
		check("daily list", err, group.ErrNotFound)
		_, err = s.GetImport(ctx, "i-"+name)
		check("import", err, registry.ErrNotFound)
		if rows, err := s.RowErrors(ctx, "i-"+name); err != nil || (len(rows) == 0) != gone {
			t.Errorf("refused rows of import %s after the sweep: %v, %v", name, rows, err)
		}
	}

	// The indexes forget the expired items too.
	page, err := s.ListGrid(ctx, report.GridQuery{GridCode: "g1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range page.Records {
		listed = append(listed, r.ID)
	}
	slices.Sort(listed)
	if diff := cmp.Diff([]string{"r-never", "r-new"}, listed); diff != "" {
		t.Errorf("grid lists (-want +got):\n%s", diff)
	}
	due, err := s.Due(ctx, sweepAt, 10)
	if err != nil || len(due) != 2 {
		t.Errorf("due alerts after the sweep: %d, %v; want the two kept", len(due), err)
	}
	tasks, err := s.GridTasks(ctx, worklist.TaskQuery{GridCode: "g1", WithClosed: true, Limit: 10})
	if err != nil || len(tasks.Tasks) != 4 {
		t.Errorf("grid's tasks after the sweep: %d, %v; want the four kept", len(tasks.Tasks), err)
	}
	if open, err := s.OpenTaskCounts(ctx); err != nil || open["not_in_nat"] != 2 {
		t.Errorf("open tasks after the sweep: %v, %v; want 2", open, err)
	}
	if records, err := s.ByPerson(ctx, "p1"); err != nil || len(records) != 2 {
		t.Errorf("audit records after the sweep: %v, %v; want the two kept", records, err)
	}
	if records, err := s.ByActor(ctx, "w1"); err != nil || len(records) != 2 {
		t.Errorf("audit records by actor after the sweep: %v, %v; want the two kept", records, err)
	}
	if n := countKeys(t, s, bucketAuditByActor); n != 2 {
		t.Errorf("actor index holds %d entries, want 2", n)
	}

	// The day keeps every report it had.
	kept, err := s.KeptDays(ctx, "2022-12-03", "2022-12-03")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]stats.Day{{Date: "2022-12-03", Total: 3, High: 3}}, kept); diff != "" {
		t.Errorf("kept counts (-want +got):\n%s", diff)
	}

	if deleted, err := s.SweepExpired(ctx, sweepAt); err != nil || len(deleted) != 0 {
		t.Errorf("a second sweep deleted %v, %v; want nothing", deleted, err)
	}
}

func countKeys(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucket).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSweepInBatches sweeps more expired items than a batch, among items
// kept, with batches and scans made small: every expired one goes, every
// other one stays. Not parallel: it changes the batch sizes.
func TestSweepInBatches(t *testing.T) {
	scan, batch := sweepScan, sweepBatch
	sweepScan, sweepBatch = 7, 3
	t.Cleanup(func() { sweepScan, sweepBatch = scan, batch })
	ctx := context.Background()
	s := openTemp(t)
	var wantKept []string
	for i := range 40 {
		exp := expired
		if i%3 == 0 {
			exp = current
		}
		r, a := sweepReport(fmt.Sprintf("r%02d", i), exp)
		if _, _, err := s.Create(ctx, r, a); err != nil {
			t.Fatal(err)
		}
		if exp == current {
			wantKept = append(wantKept, r.ID)
		}
	}
	deleted, err := s.SweepExpired(ctx, sweepAt)
	if err != nil {
		t.Fatal(err)
	}
	if deleted["reports"] != 26 || deleted["alerts"] != 26 {
		t.Errorf("deleted %v, want 26 reports and 26 alerts", deleted)
	}
	var kept []string
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReports).ForEach(func(k, _ []byte) error { kept = append(kept, string(k)); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantKept, kept); diff != "" {
		t.Errorf("reports kept (-want +got):\n%s", diff)
	}
	if n := countKeys(t, s, bucketReportsByGrid); n != len(wantKept) {
		t.Errorf("grid index holds %d entries, want %d", n, len(wantKept))
	}
}

// A report closed late is kept the retention after its closing: the sweep
// reads the expiry the follow-up stored.
func TestSweepKeepsAReportClosedLate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTemp(t)
	r, a := sweepReport("r1", expired)
	if _, _, err := s.Create(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	r.Status, r.ClosedAt = report.StatusClosed, sweepAt.Add(-2*time.Hour)
	r.FollowUps = []report.FollowUp{{At: r.ClosedAt, By: "w1", Outcome: report.OutcomeClosed}}
	r.ExpiresAt = current
	if err := s.UpdateFollowUp(ctx, r, 0); err != nil {
		t.Fatal(err)
	}
	if deleted, err := s.SweepExpired(ctx, sweepAt); err != nil || deleted["reports"] != 0 || deleted["alerts"] != 1 {
		t.Errorf("sweep deleted %v, %v; want the welcome SMS only", deleted, err)
	}
	if _, err := s.Get(ctx, "r1"); err != nil {
		t.Errorf("the report closed late: %v, want it kept", err)
	}
	if _, err := s.SweepExpired(ctx, time.Unix(current, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "r1"); !errors.Is(err, report.ErrNotFound) {
		t.Errorf("the report closed late, after its expiry: %v, want ErrNotFound", err)
	}
}

// A store from before the kept counts counts its reports when it is next
// opened, once.
func TestOpenCountsTheReportsOfAnOlderStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gridcode.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r, a := sweepReport(fmt.Sprintf("r%d", i), current)
		if _, _, err := s.Create(ctx, r, a); err != nil {
			t.Fatal(err)
		}
	}
	// As the store was before: no counts.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketDailyCounts) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := []stats.Day{{Date: "2022-12-03", Total: 3, High: 3}}
	for range 2 {
		if s, err = Open(path); err != nil {
			t.Fatal(err)
		}
		kept, err := s.KeptDays(ctx, "2022-12-01", "2022-12-31")
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, kept); diff != "" {
			t.Errorf("kept counts after opening (-want +got):\n%s", diff)
		}
	}
}
