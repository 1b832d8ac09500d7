package worklist_test

import (
	"context"
	"testing"
	"time"

	"gridcode/shared/dates"
	"gridcode/shared/retention"
	"gridcode/shared/worklist"
)

// A task, with its visits, is kept the retention after the latest of its
// creation, its due day and its last visit.
func TestTaskExpiresAt(t *testing.T) {
	t.Parallel()
	const period = 10 * 24 * time.Hour
	start := func(day string) time.Time { s, _ := dates.Start(day); return s }
	created := worklist.Task{CreatedAt: monday, DueOn: dates.Today(monday)}
	revisit := created
	revisit.DueOn, revisit.Visits = "2026-12-20", []worklist.Visit{{At: monday.Add(time.Hour), Outcome: worklist.NotHomeNoteLeft}}
	closed := revisit
	closed.Visits = append(closed.Visits, worklist.Visit{At: monday.AddDate(0, 0, 25), Outcome: worklist.Verified})
	cases := []struct {
		name string
		t    worklist.Task
		want time.Time
	}{
		{"open: from its creation", created, monday.Add(period)},
		{"a revisit planned ahead: from its day", revisit, start("2026-12-20").Add(period)},
		{"closed after its due day: from the closing visit", closed, monday.AddDate(0, 0, 25).Add(period)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := worklist.TaskExpiresAt(c.t, period); got != c.want.Unix() {
				t.Errorf("TaskExpiresAt = %v, want %v", time.Unix(got, 0).UTC(), c.want.UTC())
			}
		})
	}
}

// The reconciliation and each visit store the task's expiry by the rule.
func TestVisitsMoveTheTasksExpiry(t *testing.T) {
	t.Parallel()
	f := newVisitFixture(t)
	ctx := context.Background()
	task, err := f.desk().Get(ctx, f.four)
	if err != nil {
		t.Fatal(err)
	}
	if want := monday.Add(retention.Default).Unix(); task.ExpiresAt != want {
		t.Errorf("a new task expires at %d, want %d (the default retention after its creation)", task.ExpiresAt, want)
	}
	desk := f.desk()
	desk.Retention = 14 * 24 * time.Hour
	task, _, err = desk.Visit(ctx, "worker-1", f.four, worklist.VisitInput{Outcome: worklist.NotHomeNoteLeft, NotePhone: "13900139000", RevisitOn: "2026-12-28"})
	if err != nil {
		t.Fatal(err)
	}
	revisitDay, _ := dates.Start("2026-12-28")
	if want := revisitDay.Add(desk.Retention).Unix(); task.ExpiresAt != want {
		t.Errorf("after a note: expires at %v, want %v (the retention after the revisit day)", time.Unix(task.ExpiresAt, 0).UTC(), revisitDay.Add(desk.Retention))
	}
	f.now = monday.AddDate(0, 0, 30)
	task, _, err = desk.Visit(ctx, "worker-1", f.four, worklist.VisitInput{Outcome: worklist.Verified})
	if err != nil {
		t.Fatal(err)
	}
	if want := f.now.Add(desk.Retention).Unix(); task.ExpiresAt != want {
		t.Errorf("closed: expires at %v, want %v (the retention after the closing visit)", time.Unix(task.ExpiresAt, 0).UTC(), f.now.Add(desk.Retention))
	}
	stored, err := f.desk().Get(ctx, f.four)
	if err != nil || stored.ExpiresAt != task.ExpiresAt {
		t.Errorf("stored task expires at %d (%v), want %d", stored.ExpiresAt, err, task.ExpiresAt)
	}
}
