package report_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gridcode/shared/idcard"
	"gridcode/shared/report"
)

// countingGate admits the first limit submissions of each person.
type countingGate struct {
	limit int
	seen  map[string]int
	keys  []string
}

var errOverLimit = errors.New("over the limit")

func (g *countingGate) Admit(_ context.Context, personKey string) error {
	g.keys = append(g.keys, personKey)
	if g.seen[personKey] >= g.limit {
		return errOverLimit
	}
	g.seen[personKey]++
	return nil
}

// TestSubmitGate: the per-person gate sees checked submissions only, by
// person key; over the limit a new report is refused with the gate's error
// and nothing stored, and a resubmission of a stored one is still answered
// as a duplicate.
func TestSubmitGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	gate := &countingGate{limit: 2, seen: map[string]int{}}
	f.intake.Gate = gate

	bad := valid()
	bad.Phone = "123"
	if _, err := f.intake.Submit(ctx, "", bad); err == nil {
		t.Fatal("bad phone accepted")
	}
	if _, err := f.intake.Submit(ctx, "no-such-grid", valid()); !errors.Is(err, report.ErrUnknownGrid) {
		t.Fatalf("unknown grid: %v", err)
	}
	if len(gate.keys) != 0 {
		t.Fatalf("the gate saw %d refused submissions, want none", len(gate.keys))
	}

	first, err := f.intake.Submit(ctx, "", valid())
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v, %v", first, err)
	}
	other := valid()
	other.ArrivalDate, other.Itinerary = "2022-12-04", nil
	if r, err := f.intake.Submit(ctx, "", other); err != nil || r.Duplicate {
		t.Fatalf("second arrival: %+v, %v", r, err)
	}
	// Over the limit: a third arrival date is refused, nothing stored.
	third := valid()
	third.ArrivalDate, third.Itinerary = "2022-12-03", nil
	if r, err := f.intake.Submit(ctx, "", third); !errors.Is(err, errOverLimit) {
		t.Fatalf("third arrival over the limit: %+v, %v; want the gate's refusal", r, err)
	}
	if n, _ := f.store.CountAlerts(ctx); n != 2 {
		t.Fatalf("%d alerts stored, want 2 (nothing for the refused report)", n)
	}
	// Over the limit: the first report sent again is still its duplicate.
	again, err := f.intake.Submit(ctx, "", valid())
	if err != nil || !again.Duplicate || again.ReportID != first.ReportID || again.GridCode != first.GridCode || again.RiskLevel != first.RiskLevel {
		t.Fatalf("resubmission over the limit: %+v, %v; want the first report %+v as a duplicate", again, err, first)
	}
	// Someone else is not held up.
	someoneElse := valid()
	someoneElse.IDNumber = "44070319900101123" + string(idcard.CheckDigit("44070319900101123"))
	if _, err := f.intake.Submit(ctx, "", someoneElse); err != nil {
		t.Fatalf("another person: %v", err)
	}

	// The gate counts by person key, never by the number typed.
	want := report.PersonLookup(f.vault, idcard.ResidentID, "11010519491231002X")
	if gate.keys[0] != want || slices.ContainsFunc(gate.keys, func(k string) bool { return k == valid().IDNumber }) {
		t.Errorf("gate keys %v, want person keys (first %q)", gate.keys, want)
	}
}
