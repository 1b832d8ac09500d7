package report_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
)

type fixture struct {
	intake   *report.Intake
	reader   *report.Reader
	store    *embedded.Store
	vault    *pii.Vault
	settings *district.Settings
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	vault, err := pii.NewVault(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	areas := catalog(t)
	settings := district.NewSettings(store, areas, func() time.Time { return now }, time.Minute)
	if err := settings.PutGrids(ctx, []grid.Grid{
		{Code: "440703006107-01", Name: "石冲社区第1网格", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703006107-02", Name: "石冲社区第2网格", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703103206-01", Name: "子绵村第1网格", Community: "子绵村", Town: "杜阮镇"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := settings.SetRiskAreas(ctx, []risk.Area{
		{AreaCode: "440106", Level: risk.High, From: "2022-12-01"},
		{AreaCode: "310115", Level: risk.Low, From: "2022-11-01", To: "2022-12-02"},
	}); err != nil {
		t.Fatal(err)
	}
	return fixture{
		intake: &report.Intake{Store: store, Rules: settings, Vault: vault, Areas: areas, Now: func() time.Time { return now }, Retention: fixtureRetention},
		reader: &report.Reader{Store: store, Vault: vault},
		store:  store, vault: vault, settings: settings,
	}
}

func TestSubmitRoutesScoresAndQueuesTheWelcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		pathGrid  string
		change    func(*report.Submission)
		wantGrid  string
		wantRisk  risk.Level
		wantRoute string
	}{
		{"community picks its lead grid", "", nil, "440703006107-01", risk.High, report.RoutedByCommunity},
		{"path grid wins over community", "440703006107-02", nil, "440703006107-02", risk.High, report.RoutedByPath},
		{"village by short name", "", func(s *report.Submission) { s.Destination.Community = "子绵" }, "440703103206-01", risk.High, report.RoutedByCommunity},
		{"unknown community goes to the pool", "", func(s *report.Submission) { s.Destination.Community = "长庚里" }, grid.Unassigned, risk.High, report.RoutedByNone},
		{"no risk", "", func(s *report.Submission) { s.Itinerary = nil }, "440703006107-01", risk.None, report.RoutedByCommunity},
		{"low risk only while listed", "", func(s *report.Submission) {
			s.Itinerary = []report.Stop{{AreaCode: "310115", Date: "2022-12-02"}, {AreaCode: "310115", Date: "2022-12-03"}}
		}, "440703006107-01", risk.Low, report.RoutedByCommunity},
		{"origin on arrival day counts", "", func(s *report.Submission) { s.Itinerary = nil; s.FromAreaCode = "440106" }, "440703006107-01", risk.High, report.RoutedByCommunity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			s := valid()
			if c.change != nil {
				c.change(&s)
			}
			got, err := f.intake.Submit(ctx, c.pathGrid, s)
			if err != nil {
				t.Fatal(err)
			}
			if got.GridCode != c.wantGrid || got.RiskLevel != c.wantRisk || got.Duplicate {
				t.Fatalf("receipt = %+v, want grid %s risk %s", got, c.wantGrid, c.wantRisk)
			}
			if want := risk.NewRules(risk.DefaultGuidance()).For(c.wantRisk).Text; got.Guidance != want {
				t.Errorf("guidance %q, want %q", got.Guidance, want)
			}
			rec, err := f.store.Get(ctx, got.ReportID)
			if err != nil {
				t.Fatal(err)
			}
			if rec.RoutedBy != c.wantRoute || rec.Status != report.StatusNew || rec.ExpiresAt <= now.Unix() {
				t.Errorf("record routed %s status %s expires %d", rec.RoutedBy, rec.Status, rec.ExpiresAt)
			}
			wantDue := now.Add(24 * time.Hour)
			if c.wantRisk == risk.High {
				wantDue = now.Add(4 * time.Hour)
			}
			if !rec.ContactDue.Equal(wantDue) || !rec.FirstContactAt.IsZero() || rec.Version != 0 {
				t.Errorf("contact due %v, first contact %v, version %d; want due %v, no contact, version 0", rec.ContactDue, rec.FirstContactAt, rec.Version, wantDue)
			}
			raw, _ := json.Marshal(rec)
			for _, secret := range []string{"11010519491231002X", "13800138000", "张三", "新塘里"} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Errorf("stored record holds %q in the clear", secret)
				}
			}
			a, err := f.store.Alert(ctx, report.WelcomeAlertID(got.ReportID))
			if err != nil {
				t.Fatalf("welcome alert not stored: %v", err)
			}
			if a.Status != alert.Pending || a.Template != alert.ReportWelcome.Code || a.GridCode != c.wantGrid {
				t.Errorf("alert %+v", a)
			}
			phone, err := f.vault.Open(a.RecipientSealed, a.ID)
			if err != nil || string(phone) != "13800138000" {
				t.Errorf("alert recipient opens to %q, %v", phone, err)
			}
			if _, err := alert.ReportWelcome.Render(a.Params); err != nil {
				t.Errorf("alert params do not render: %v", err)
			}
		})
	}
}

func TestSubmitTakesTheDistrictsDeadlines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.intake.Deadlines = report.Deadlines{Contact: 12 * time.Hour, HighRisk: time.Hour}
	high, err := f.intake.Submit(ctx, "", valid())
	if err != nil {
		t.Fatal(err)
	}
	low := valid()
	low.ArrivalDate, low.Itinerary = "2022-12-04", nil
	none, err := f.intake.Submit(ctx, "", low)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		want time.Time
	}{{high.ReportID, now.Add(time.Hour)}, {none.ReportID, now.Add(12 * time.Hour)}} {
		rec, err := f.store.Get(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.ContactDue.Equal(c.want) {
			t.Errorf("%s risk: contact due %v, want %v", rec.RiskLevel, rec.ContactDue, c.want)
		}
	}
}

func TestSubmitTwiceReturnsTheFirstReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	first, err := f.intake.Submit(ctx, "", valid())
	if err != nil {
		t.Fatal(err)
	}
	again := valid()
	again.Phone = "13900139000"           // a changed phone does not make a new report
	again.IDNumber = "11010519491231002x" // nor does a lower-case x
	second, err := f.intake.Submit(ctx, "440703103206-01", again)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Duplicate || second.ReportID != first.ReportID || second.GridCode != first.GridCode {
		t.Fatalf("second = %+v, first = %+v", second, first)
	}
	if n, _ := f.store.CountAlerts(ctx); n != 1 {
		t.Fatalf("%d alerts queued, want 1", n)
	}
	other := valid()
	other.ArrivalDate = "2022-12-04"
	other.Itinerary = nil
	third, err := f.intake.Submit(ctx, "", other)
	if err != nil || third.Duplicate || third.ReportID == first.ReportID {
		t.Fatalf("another arrival date = %+v, %v; want a new report", third, err)
	}
}

func TestSubmitRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.intake.Submit(ctx, "no-such-grid", valid()); !errors.Is(err, report.ErrUnknownGrid) {
		t.Fatalf("unknown grid: %v", err)
	}
	bad := valid()
	bad.Phone = "123"
	if _, err := f.intake.Submit(ctx, "", bad); err == nil {
		t.Fatal("bad phone accepted")
	}
	if _, err := f.intake.Submit(ctx, "no-such-grid", bad); !errors.Is(err, report.ErrUnknownGrid) {
		t.Fatalf("unknown grid with a bad form: %v, want ErrUnknownGrid first", err)
	}
	if n, _ := f.store.CountAlerts(ctx); n != 0 {
		t.Fatalf("refused submissions queued %d alerts", n)
	}
}

func TestReaderScopesAndMasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	got, err := f.intake.Submit(ctx, "", valid())
	if err != nil {
		t.Fatal(err)
	}
	worker := auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids(got.GridCode)}
	v, err := f.reader.Get(ctx, worker, got.ReportID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Person.IDNumber != "1101**********002X" || v.Person.Phone != "138****8000" || v.Person.Name != "张三" || v.Person.Address != "新塘里96号" {
		t.Errorf("person = %+v", v.Person)
	}
	if len(v.RiskMatches) != 1 || v.RiskMatches[0].AreaCode != "440106" {
		t.Errorf("risk matches %+v", v.RiskMatches)
	}
	if _, err := f.reader.Get(ctx, auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids("440703103206-01")}, got.ReportID); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("other grid's worker: %v, want ErrForbidden", err)
	}
	if _, err := f.reader.ListGrid(ctx, auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids("440703103206-01")}, got.GridCode, report.ListFilter{}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("other grid's list: %v, want ErrForbidden", err)
	}
	page, err := f.reader.ListGrid(ctx, auth.Principal{Role: auth.DistrictAdmin}, got.GridCode, report.ListFilter{From: "2022-12-05", To: "2022-12-05"})
	if err != nil || len(page.Reports) != 1 {
		t.Fatalf("admin list = %d reports, %v", len(page.Reports), err)
	}
	page, err = f.reader.ListGrid(ctx, worker, got.GridCode, report.ListFilter{To: "2022-12-04"})
	if err != nil || len(page.Reports) != 0 {
		t.Fatalf("list before the report's day = %d reports, %v", len(page.Reports), err)
	}
	token := func(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }
	inside := report.ListKey(now, "rx")
	if _, err := f.reader.ListGrid(ctx, worker, got.GridCode, report.ListFilter{From: "2022-12-05", After: token(inside)}); err != nil {
		t.Fatalf("a position inside the range was refused: %v", err)
	}
	for _, c := range []struct {
		name   string
		filter report.ListFilter
		field  string
	}{
		{"from not a date", report.ListFilter{From: "yesterday"}, "from"},
		{"to before from", report.ListFilter{From: "2022-12-05", To: "2022-12-04"}, "to"},
		{"limit too large", report.ListFilter{Limit: 1000}, "limit"},
		{"status unknown", report.ListFilter{Status: "done"}, "status"},
		{"token not base64", report.ListFilter{After: "%%%"}, "nextToken"},
		{"token not a position", report.ListFilter{After: "YQ"}, "nextToken"},
		{"token before from", report.ListFilter{From: "2022-12-06", After: token(inside)}, "nextToken"},
		{"token after to", report.ListFilter{To: "2022-12-04", After: token(inside)}, "nextToken"},
	} {
		_, err := f.reader.ListGrid(ctx, worker, got.GridCode, c.filter)
		var fe *fields.Error
		if !errors.As(err, &fe) || len(fe.Problems) != 1 || fe.Problems[0].Field != c.field {
			t.Errorf("%s: err = %v, want one problem with %s", c.name, err, c.field)
		}
	}
}
