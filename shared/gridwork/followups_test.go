package gridwork_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/gridwork"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
)

func TestEscalatedByCommunity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	h := time.Hour
	f.addReport(t, "sc1-community", shichong1.Code, "石冲社区", now, 50*h, risk.None) // due 26 h ago: one 24 h step
	f.addReport(t, "sc1-overdue", shichong1.Code, "石冲社区", now, 30*h, risk.None)   // due 6 h ago
	f.addReport(t, "sc2-district", shichong2.Code, "石冲", now, 13*h, risk.High)    // due 9 h ago, 4 h steps
	f.addReport(t, "bs-community", baisha.Code, "白沙社区", now, 52*h, risk.None)     // due 28 h ago
	f.addReport(t, "zm-district", zimian.Code, "子绵村", now, 80*h, risk.None)       // due 56 h ago
	f.addReport(t, "pool-sc", grid.Unassigned, "石冲", now, 49*h, risk.None)        // handed back, naming 石冲
	f.addReport(t, "pool-other", grid.Unassigned, "长庚里", now, 51*h, risk.None)    // a community no grid has

	cases := []struct {
		name      string
		caller    gridwork.Caller
		level     report.EscalationLevel
		community string
		want      []string // report ids, in order
	}{
		{"the whole district", office, report.EscalationCommunity, "",
			[]string{"zm-district", "sc2-district", "bs-community", "pool-other", "sc1-community", "pool-sc"}},
		{"the whole district, district level", office, report.EscalationDistrict, "", []string{"zm-district", "sc2-district"}},
		{"a community as the directory names it", office, report.EscalationCommunity, "石冲社区", []string{"sc2-district", "sc1-community", "pool-sc"}},
		{"a community as people write it", office, report.EscalationCommunity, "石冲", []string{"sc2-district", "sc1-community", "pool-sc"}},
		{"a community, district level", office, report.EscalationDistrict, "石冲", []string{"sc2-district"}},
		{"a community with nothing in the pool", office, report.EscalationCommunity, "白沙社区", []string{"bs-community"}},
		{"a village", office, report.EscalationCommunity, "子绵", []string{"zm-district"}},
		// The worker of 石冲's lead grid supervises 石冲, whatever they ask.
		{"石冲's supervisor", worker, report.EscalationCommunity, "", []string{"sc2-district", "sc1-community", "pool-sc"}},
		{"石冲's supervisor, district level", worker, report.EscalationDistrict, "石冲社区", []string{"sc2-district"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			due, err := f.followUps.Escalated(ctx, c.caller, c.level, c.community)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range due {
				got = append(got, d.ReportID)
				if d.Escalation != "community" && d.Escalation != "district" {
					t.Errorf("%s shown at level %s", d.ReportID, d.Escalation)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("escalated (-want +got):\n%s", diff)
			}
		})
	}

	for _, unknown := range []string{"长庚里", "北京"} {
		_, err := f.followUps.Escalated(ctx, office, report.EscalationCommunity, unknown)
		var fe *fields.Error
		if !errors.As(err, &fe) || !cmp.Equal(fe.Problems, []fields.Problem{{Field: "community", Reason: "unknown"}}) {
			t.Errorf("community %s: %v, want a *fields.Error naming community unknown", unknown, err)
		}
	}
}

// A report on the edge of a step is shown at the level it was filtered and
// ordered by: one instant per answer, however long the reads take.
func TestOverdueAndEscalatedAskTheTimeOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	h := time.Hour
	f.addReport(t, "sc1-community", shichong1.Code, "石冲社区", now, 50*h, risk.None) // district 22 h later
	f.addReport(t, "sc1-overdue", shichong1.Code, "石冲社区", now, 30*h, risk.None)   // community 18 h later

	levels := func(due []gridwork.Due) []string {
		var out []string
		for _, d := range due {
			out = append(out, d.ReportID+":"+d.Escalation)
		}
		return out
	}
	cases := []struct {
		name string
		list func(fu gridwork.FollowUps) ([]gridwork.Due, error)
		want []string
	}{
		{"overdue", func(fu gridwork.FollowUps) ([]gridwork.Due, error) {
			return fu.Overdue(ctx, worker, shichong1.Code)
		}, []string{"sc1-community:community", "sc1-overdue:overdue"}},
		{"escalated", func(fu gridwork.FollowUps) ([]gridwork.Due, error) {
			return fu.Escalated(ctx, office, report.EscalationCommunity, "")
		}, []string{"sc1-community:community"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fu := f.followUps
			fu.Now = (&steppingClock{step: 48 * h}).Now
			due, err := c.list(fu)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, levels(due)); diff != "" {
				t.Errorf("levels (-want +got):\n%s", diff)
			}
		})
	}
}

// racingReports lets another follow-up land right after the report is
// read, as a second worker moving the report would.
type racingReports struct {
	*embedded.Store
	other func()
	once  sync.Once
}

func (s *racingReports) Get(ctx context.Context, id string) (report.Record, error) {
	r, err := s.Store.Get(ctx, id)
	s.once.Do(s.other)
	return r, err
}

// A report moved away by wrong_grid while its old grid's worker records a
// follow-up does not take that follow-up.
func TestFollowUpOnAReportMovedMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.addReport(t, "r-moved", shichong1.Code, "石冲社区", now, time.Hour, risk.None)
	racing := &racingReports{Store: f.store}
	racing.other = func() {
		if _, err := f.followUps.Record(ctx, office, r.ID, report.FollowUpInput{
			Outcome: report.OutcomeWrongGrid, Note: "住第2网格", ToGrid: shichong2.Code,
		}); err != nil {
			t.Errorf("the move: %v", err)
		}
	}
	late := f.followUps
	desk := *f.followUps.Desk
	desk.Reports = racing
	late.Desk = &desk

	_, err := late.Record(ctx, worker, r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted})
	if !errors.Is(err, report.ErrConflict) && !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("follow-up by the old grid's worker: %v, want a conflict or forbidden", err)
	}
	if _, err := f.followUps.Record(ctx, worker, r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("follow-up by the old grid's worker, read again: %v, want forbidden", err)
	}
	stored, err := f.store.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fu := range stored.FollowUps {
		got = append(got, fu.By+":"+fu.Outcome)
	}
	if diff := cmp.Diff([]string{"office:wrong_grid"}, got); diff != "" || stored.GridCode != shichong2.Code || !stored.FirstContactAt.IsZero() {
		t.Errorf("report in %s, first contact %v, follow-ups (-want +got):\n%s", stored.GridCode, stored.FirstContactAt, diff)
	}
}

func TestRecordAnswersWithTheNotesOpened(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.addReport(t, "r-noted", shichong1.Code, "石冲社区", now, time.Hour, risk.None)
	const note = "其子李四代接,13900139001"
	got, err := f.followUps.Record(ctx, worker, r.ID, report.FollowUpInput{Outcome: report.OutcomeContacted, Note: note})
	if err != nil {
		t.Fatal(err)
	}
	want := []report.FollowUpView{{At: now, By: worker.Subject, Outcome: report.OutcomeContacted, Note: note}}
	if diff := cmp.Diff(want, got.FollowUps); diff != "" {
		t.Errorf("follow-ups answered (-want +got):\n%s", diff)
	}
	if got.ReportID != r.ID || got.Status != report.StatusInProgress || got.Version != 1 || !got.FirstContactAt.Equal(now) {
		t.Errorf("answered %+v", got)
	}
}

func TestRecordRefusesAFullReport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.addReport(t, "r-full", shichong1.Code, "石冲社区", now, time.Hour, risk.None)
	for range report.MaxFollowUps - 1 {
		r.FollowUps = append(r.FollowUps, report.FollowUp{At: now, By: worker.Subject, Outcome: report.OutcomeUnreachable})
	}
	if err := f.store.UpdateFollowUp(ctx, r, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.followUps.Record(ctx, worker, r.ID, report.FollowUpInput{Outcome: report.OutcomeUnreachable}); !errors.Is(err, report.ErrTooManyFollowUps) {
		t.Errorf("follow-up %d: %v, want ErrTooManyFollowUps", report.MaxFollowUps, err)
	}
	if _, err := f.followUps.Record(ctx, worker, r.ID, report.FollowUpInput{Outcome: report.OutcomeClosed}); err != nil {
		t.Errorf("closing a full report: %v", err)
	}
}
