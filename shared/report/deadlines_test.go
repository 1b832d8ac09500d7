package report_test

import (
	"encoding/json"
	"testing"
	"time"

	"gridcode/shared/report"
	"gridcode/shared/risk"
)

func TestDeadlinesFillZeroFieldsFromTheDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		d        report.Deadlines
		level    risk.Level
		wantDue  time.Duration
		wantStep time.Duration
	}{
		{"zero is the defaults", report.Deadlines{}, risk.None, 24 * time.Hour, 24 * time.Hour},
		{"high risk: 4 h and 4 h steps", report.Deadlines{}, risk.High, 4 * time.Hour, 4 * time.Hour},
		{"medium is not high", report.Deadlines{}, risk.Medium, 24 * time.Hour, 24 * time.Hour},
		{"one field set", report.Deadlines{Contact: 12 * time.Hour}, risk.Low, 12 * time.Hour, 12 * time.Hour},
		{"one field set, high risk untouched", report.Deadlines{Contact: 12 * time.Hour}, risk.High, 4 * time.Hour, 4 * time.Hour},
		{"a shorter step applies to every level", report.Deadlines{Escalate: 2 * time.Hour}, risk.High, 4 * time.Hour, 2 * time.Hour},
		{"a longer step stops at the high-risk window", report.Deadlines{Escalate: 48 * time.Hour}, risk.High, 4 * time.Hour, 4 * time.Hour},
		{"a longer step stops at the contact window", report.Deadlines{Escalate: 48 * time.Hour}, risk.Low, 24 * time.Hour, 24 * time.Hour},
		{"longer windows allow longer steps", report.Deadlines{Contact: 72 * time.Hour, Escalate: 48 * time.Hour}, risk.Low, 72 * time.Hour, 48 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.d.ContactWindow(c.level); got != c.wantDue {
				t.Errorf("contact window %v, want %v", got, c.wantDue)
			}
			if got := c.d.EscalationStep(c.level); got != c.wantStep {
				t.Errorf("escalation step %v, want %v", got, c.wantStep)
			}
			start := time.Date(2022, 12, 5, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
			if got := c.d.ContactDue(start, c.level); !got.Equal(start.Add(c.wantDue)) || got.Location() != time.UTC {
				t.Errorf("contact due %v, want %v in UTC", got, start.Add(c.wantDue))
			}
		})
	}
}

func TestEscalation(t *testing.T) {
	t.Parallel()
	d := report.DefaultDeadlines()
	submitted := time.Date(2022, 12, 5, 1, 0, 0, 0, time.UTC)
	open := func(level risk.Level) report.Record {
		return report.Record{ID: "r1", Status: report.StatusNew, RiskLevel: level, SubmittedAt: submitted, ContactDue: d.ContactDue(submitted, level)}
	}
	with := func(r report.Record, change func(*report.Record)) report.Record { change(&r); return r }
	h := time.Hour
	cases := []struct {
		name  string
		r     report.Record
		after time.Duration // since submission
		want  report.EscalationLevel
	}{
		{"just in", open(risk.None), 0, report.EscalationNone},
		{"a moment before due", open(risk.None), 24*h - time.Nanosecond, report.EscalationNone},
		{"due now", open(risk.None), 24 * h, report.EscalationOverdue},
		{"one step late", open(risk.None), 48 * h, report.EscalationCommunity},
		{"two steps late", open(risk.None), 72 * h, report.EscalationDistrict},
		{"a week late is still the district", open(risk.None), 7 * 24 * h, report.EscalationDistrict},
		{"high risk due at 4 h", open(risk.High), 4 * h, report.EscalationOverdue},
		{"high risk to the community at 8 h", open(risk.High), 8 * h, report.EscalationCommunity},
		{"high risk to the district at 12 h", open(risk.High), 12 * h, report.EscalationDistrict},
		{"high risk before due", open(risk.High), 4*h - time.Second, report.EscalationNone},
		{"contacted stops the clock", with(open(risk.High), func(r *report.Record) {
			r.FirstContactAt, r.Status = submitted.Add(30*h), report.StatusInProgress
		}), 72 * h, report.EscalationNone},
		{"closed stops the clock", with(open(risk.None), func(r *report.Record) {
			r.ClosedAt, r.Status = submitted.Add(h), report.StatusClosed
		}), 72 * h, report.EscalationNone},
		{"unreachable attempts do not", with(open(risk.None), func(r *report.Record) {
			r.FollowUps = []report.FollowUp{{At: submitted.Add(h), By: "w1", Outcome: report.OutcomeUnreachable}}
		}), 24 * h, report.EscalationOverdue},
		{"failed SMS: overdue at once", with(open(risk.None), func(r *report.Record) { r.FollowUp = report.FollowUpCall }), time.Minute, report.EscalationOverdue},
		{"failed SMS: further steps on the usual clock", with(open(risk.None), func(r *report.Record) { r.FollowUp = report.FollowUpCall }), 48 * h, report.EscalationCommunity},
		{"failed SMS but reached", with(open(risk.None), func(r *report.Record) {
			r.FollowUp, r.FirstContactAt = report.FollowUpCall, submitted.Add(h)
		}), 2 * h, report.EscalationNone},
		{"stored before deadlines: due as intake would set it", with(open(risk.High), func(r *report.Record) { r.ContactDue = time.Time{} }), 4 * h, report.EscalationOverdue},
		{"moved: the new deadline counts", with(open(risk.None), func(r *report.Record) { r.ContactDue = submitted.Add(60 * h) }), 48 * h, report.EscalationNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := report.Escalation(c.r, submitted.Add(c.after), d); got != c.want {
				t.Errorf("escalation %s, want %s", got, c.want)
			}
		})
	}
}

func TestEscalationLevelJSON(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(map[string]report.EscalationLevel{"a": report.EscalationNone, "b": report.EscalationCommunity, "c": report.EscalationLevel(9)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"none","b":"community","c":"unknown"}`; string(raw) != want {
		t.Errorf("json %s, want %s", raw, want)
	}
}
