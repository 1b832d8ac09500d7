package digest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/digest"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
)

// at is a district wall-clock time on 2022-12-05.
func at(hh, mm int) time.Time { return time.Date(2022, 12, 5, hh, mm, 0, 0, dates.District) }

func TestSchedule(t *testing.T) {
	t.Parallel()
	s := digest.DefaultSchedule
	cases := []struct {
		now        time.Time
		window     time.Time
		quiet      bool
		from, upTo time.Time
	}{
		{at(9, 10), at(9, 0), false, at(8, 30), at(9, 0)},
		{at(9, 30), at(9, 30), false, at(9, 0), at(9, 30)},
		{at(21, 59), at(21, 30), false, at(21, 0), at(21, 30)},
		{at(22, 0), at(22, 0), true, at(21, 30), at(22, 0)},
		{at(6, 59), at(6, 30), true, time.Time{}, time.Time{}},
		// The first digest of the morning covers the night.
		{at(7, 5), at(7, 0), false, at(21, 30).AddDate(0, 0, -1), at(7, 0)},
	}
	for _, c := range cases {
		w := s.WindowStart(c.now)
		if !w.Equal(c.window) {
			t.Errorf("WindowStart(%s) = %s, want %s", c.now.Format("15:04"), w.Format("15:04"), c.window.Format("15:04"))
		}
		if got := s.Quiet(w); got != c.quiet {
			t.Errorf("Quiet(%s) = %v, want %v", w.Format("15:04"), got, c.quiet)
		}
		if c.quiet {
			continue
		}
		from, upTo := s.Coverage(w)
		if !from.Equal(c.from) || !upTo.Equal(c.upTo) {
			t.Errorf("Coverage(%s) = %s..%s, want %s..%s", w.Format("15:04"), from, upTo, c.from, c.upTo)
		}
	}
}

func TestJobQueuesOneDigestPerWorkerPerWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	vault, err := pii.NewVault(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	areas, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	now := at(9, 10)
	clock := func() time.Time { return now }
	workers, _ := json.Marshal([]grid.Worker{{Name: "李网格", Phone: "13700000001"}, {Name: "王网格", Phone: "13700000002"}})
	sealed, err := vault.Seal(workers, "grid:g1")
	if err != nil {
		t.Fatal(err)
	}
	settings := district.NewSettings(store, areas, clock, time.Minute)
	if err := settings.PutGrids(ctx, []grid.Grid{
		{Code: "g1", Name: "石冲社区第1网格", Community: "石冲社区", WorkersSealed: sealed},
		{Code: "g2", Name: "子绵村第1网格", Community: "子绵村"},
	}); err != nil {
		t.Fatal(err)
	}
	add := func(id string, when time.Time, level risk.Level, followUp string) {
		r := report.Record{ID: id, GridCode: "g1", ListKey: report.ListKey(when, id), RiskLevel: level, FollowUp: followUp,
			Status: report.StatusNew, SubmittedAt: when.UTC()}
		if _, _, err := store.Create(ctx, r, alert.Alert{ID: id + ".welcome", Status: alert.Sent, CreatedAt: when}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", at(8, 40), risk.High, "")
	add("b", at(8, 50), risk.None, report.FollowUpCall)
	add("c", at(8, 59), risk.Low, "")
	add("late", at(9, 5), risk.High, "") // the next window's
	add("early", at(8, 29), risk.High, "")

	job := &digest.Job{Schedule: digest.DefaultSchedule, Grids: settings, Reports: store, Outbox: store, Vault: vault, Now: clock, Retention: time.Hour}
	res, err := job.Run(ctx)
	if err != nil || res.Grids != 1 || res.Queued != 2 {
		t.Fatalf("Run = %+v, %v; want one grid, two workers", res, err)
	}
	for i, phone := range []string{"13700000001", "13700000002"} {
		a, err := store.Alert(ctx, digest.AlertID("g1", report.PhoneLookup(vault, phone), at(9, 0)))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := alert.GridDigest.Render(a.Params)
		if err != nil {
			t.Fatal(err)
		}
		if want := "【蓬江防疫】网格石冲社区第1网格新增报备3人(高风险1人),待跟进1人,请及时处理"; msg != want {
			t.Errorf("digest = %q, want %q", msg, want)
		}
		if got, err := vault.Open(a.RecipientSealed, a.ID); err != nil || string(got) != phone {
			t.Errorf("digest %d goes to %q, %v", i, got, err)
		}
	}
	// Later in the same window: nothing more.
	now = at(9, 25)
	if res, err := job.Run(ctx); err != nil || res.Queued != 0 {
		t.Fatalf("second run in the window = %+v, %v; want nothing queued", res, err)
	}
	// At night: nothing, whatever came in.
	now = at(23, 10)
	add("night", at(22, 40), risk.High, "")
	if res, err := job.Run(ctx); err != nil || res.Queued != 0 {
		t.Fatalf("quiet-hours run = %+v, %v; want nothing queued", res, err)
	}
}

func TestNewSchedule(t *testing.T) {
	t.Parallel()
	s, err := digest.NewSchedule(15*time.Minute, "23-6")
	if err != nil || s.QuietStart != 23 || s.QuietEnd != 6 || !s.Quiet(at(5, 59)) || s.Quiet(at(6, 0)) {
		t.Fatalf("NewSchedule = %+v, %v", s, err)
	}
	never, err := digest.NewSchedule(time.Hour, "")
	if err != nil || never.Quiet(at(3, 0)) {
		t.Fatalf("no quiet hours = %+v, %v", never, err)
	}
	for _, c := range []struct {
		window time.Duration
		quiet  string
	}{{7 * time.Minute, "22-7"}, {30 * time.Second, "22-7"}, {time.Hour, "22"}, {time.Hour, "25-7"}, {time.Hour, "a-b"}} {
		if _, err := digest.NewSchedule(c.window, c.quiet); err == nil {
			t.Errorf("NewSchedule(%s, %q) accepted", c.window, c.quiet)
		}
	}
}
