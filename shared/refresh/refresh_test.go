package refresh_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/group"
	"gridcode/shared/group/grouptest"
	"gridcode/shared/health"
	"gridcode/shared/refresh"
)

// 06:00 district time on 2026-11-29.
var refreshTime = time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)

const day = "2026-11-29"

// recordingQueue keeps what the planner sends.
type recordingQueue struct {
	mu     sync.Mutex
	shards []refresh.Shard
}

func (q *recordingQueue) Send(ctx context.Context, s []refresh.Shard) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shards = append(q.shards, s...)
	return nil
}

func at(hoursAgo int) *time.Time {
	t := refreshTime.Add(-time.Duration(hoursAgo) * time.Hour)
	return &t
}

type fixture struct {
	d       *grouptest.District
	planner *refresh.Planner
	worker  *refresh.Worker
	queue   *recordingQueue
}

func newFixture(t *testing.T) *fixture {
	d := grouptest.New(t, refreshTime)
	q := &recordingQueue{}
	return &fixture{
		d:       d,
		queue:   q,
		planner: &refresh.Planner{Groups: d.Store, Runs: d.Store, Queue: q, ShardSize: 2, Now: d.Clock.Now},
		worker: &refresh.Worker{
			Groups: d.Store, Lists: d.Store, Health: d.Store, Runs: d.Store, Vault: d.Vault, Now: d.Clock.Now,
			NATLimit: group.DefaultNATLimit, Retention: 60 * 24 * time.Hour, Parallel: 2,
		},
	}
}

// runAll plans the day and delivers every shard once.
func (f *fixture) runAll(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	f.queue.shards = nil
	if _, err := f.planner.Plan(ctx, day); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.queue.shards {
		if err := f.worker.Refresh(ctx, s, refresh.Delivery{Attempt: 1, Final: true}); err != nil {
			t.Fatalf("shard %d: %v", s.Index, err)
		}
	}
}

func TestDailyRefresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	p := make([]group.RosterRow, 6)
	for i := range p {
		p[i] = grouptest.Person(i + 1)
	}
	f.d.SetHealth(t, p[0], health.Status{CodeColor: health.Green, NATAt: at(20), NATResult: health.Negative, VaccineDoses: 3, UpdatedAt: *at(1)})
	f.d.SetHealth(t, p[1], health.Status{CodeColor: health.Red, NATAt: at(10), NATResult: health.Positive, VaccineDoses: 2, UpdatedAt: *at(1)})
	f.d.SetHealth(t, p[2], health.Status{CodeColor: health.Green, NATAt: at(80), NATResult: health.Negative, UpdatedAt: *at(1)})
	f.d.SetHealth(t, p[3], health.Status{CodeColor: health.Yellow, NATAt: at(30), NATResult: health.Negative, UpdatedAt: *at(1)})
	// p[4] has no health data at all; p[5] is in the second group only.
	f.d.SetHealth(t, p[5], health.Status{CodeColor: health.Green, NATAt: at(5), NATResult: health.Negative, UpdatedAt: *at(1)})

	market := f.d.Group(t, "惠民超市", grouptest.Grid1.Code, "13800138001", p[0], p[1], p[2], p[3], p[4])
	ktv := f.d.Group(t, "江华KTV", grouptest.Grid2.Code, "13800138002", p[0], p[5])
	empty := f.d.Group(t, "新开酒家", grouptest.Grid2.Code, "13800138003")

	f.runAll(t)
	if got := len(f.queue.shards); got != 2 {
		t.Fatalf("3 groups in shards of 2: %d shards", got)
	}

	d, err := f.d.Registry.Daily(ctx, f.d.Office, market.GroupID, day)
	if err != nil {
		t.Fatal(err)
	}
	want := group.Summary{Members: 5, Abnormal: 4, Red: 1, Yellow: 1, NATPositive: 1, NATStale: 1, NoData: 1}
	if diff := cmp.Diff(want, d.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	var order []string
	for _, e := range d.Entries {
		order = append(order, e.Name)
		if e.IDNumber == "" || e.IDNumber[4] != '*' {
			t.Errorf("%s: ID %q is not masked", e.Name, e.IDNumber)
		}
	}
	// Worst first: red (and positive), yellow, stale NAT, no data, then the normal.
	if diff := cmp.Diff([]string{"成员2", "成员4", "成员3", "成员5", "成员1"}, order); diff != "" {
		t.Errorf("list order (-want +got):\n%s", diff)
	}
	if red := d.Entries[0]; red.HoursSinceNAT == nil || *red.HoursSinceNAT != 10 || !cmp.Equal(red.Reasons, []string{group.ReasonRed, group.ReasonNATPositive}) {
		t.Errorf("red member: hours %v, reasons %v", red.HoursSinceNAT, red.Reasons)
	}

	sms, err := f.d.Store.Alert(ctx, refresh.DailyAlertID(market.GroupID, day))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"group": "惠民超市", "members": "5", "abnormal": "4"}; !cmp.Equal(sms.Params, want) || sms.Template != alert.GroupDaily.Code {
		t.Errorf("morning SMS: %s %v", sms.Template, sms.Params)
	}
	kd, err := f.d.Registry.Daily(ctx, f.d.Office, ktv.GroupID, day)
	if err != nil || kd.Summary.Members != 2 || kd.Summary.Abnormal != 0 {
		t.Errorf("second group: %+v, %v", kd.Summary, err)
	}
	// A group with nobody on it gets its (empty) list and no SMS.
	if ed, err := f.d.Registry.Daily(ctx, f.d.Office, empty.GroupID, day); err != nil || ed.Summary.Members != 0 {
		t.Errorf("empty group: %+v, %v", ed.Summary, err)
	}
	if _, err := f.d.Store.Alert(ctx, refresh.DailyAlertID(empty.GroupID, day)); !errors.Is(err, alert.ErrNotFound) {
		t.Errorf("an empty group got a morning SMS: %v", err)
	}

	progress, err := refresh.Read(ctx, f.d.Store, day)
	if err != nil {
		t.Fatal(err)
	}
	if !progress.Complete || progress.Done != 3 || progress.Groups != 3 || len(progress.Failed) != 0 {
		t.Errorf("progress: %+v", progress)
	}

	// A rerun, after a member's status changed, changes nothing and sends
	// nothing again: the day's lists are what 06:00 saw.
	alertsBefore, _ := f.d.Store.CountAlerts(ctx)
	f.d.SetHealth(t, p[1], health.Status{CodeColor: health.Green, UpdatedAt: *at(0)})
	f.d.Clock.T = refreshTime.Add(time.Hour)
	f.runAll(t)
	again, err := f.d.Registry.Daily(ctx, f.d.Office, market.GroupID, day)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, again); diff != "" {
		t.Errorf("rerun changed the list (-first +rerun):\n%s", diff)
	}
	if n, _ := f.d.Store.CountAlerts(ctx); n != alertsBefore {
		t.Errorf("rerun queued %d more alerts", n-alertsBefore)
	}
}

func TestPlanRefusesFutureAndMalformedDates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, date := range []string{"2026-11-30", "2026-13-01", "yesterday", ""} {
		if _, err := f.planner.Plan(context.Background(), date); !errors.Is(err, refresh.ErrBadDate) {
			t.Errorf("Plan(%q) = %v, want ErrBadDate", date, err)
		}
	}
	if len(f.queue.shards) != 0 {
		t.Errorf("refused dates queued %d shards", len(f.queue.shards))
	}
}

// A group that cannot be built fails its shard: the handler reports the
// message for redelivery, the progress shows it retrying, and the last
// delivery reports it failed with its reason. The other groups are done.
func TestFailedGroupIsRetriedThenReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	good := f.d.Group(t, "惠民超市", grouptest.Grid1.Code, "13800138001", grouptest.Person(1))
	bad := f.d.Group(t, "江华KTV", grouptest.Grid1.Code, "13800138002", grouptest.Person(2))
	third := f.d.Group(t, "新开酒家", grouptest.Grid2.Code, "13800138003", grouptest.Person(3))
	f.worker.Groups = unreadable{Store: f.d.Store, id: bad.GroupID}
	if _, err := f.planner.Plan(ctx, day); err != nil {
		t.Fatal(err)
	}
	h := refresh.ShardHandler{Worker: f.worker, MaxReceives: 2}
	var sqs events.SQSEvent
	for _, s := range f.queue.shards {
		body, _ := json.Marshal(s)
		sqs.Records = append(sqs.Records, events.SQSMessage{
			MessageId: "m" + strconv.Itoa(s.Index), Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	resp, err := h.Handle(ctx, sqs)
	if err != nil {
		t.Fatal(err)
	}
	brokenShard := -1
	for _, sh := range f.queue.shards {
		if slices.Contains(sh.GroupIDs, bad.GroupID) {
			brokenShard = sh.Index
		}
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m"+strconv.Itoa(brokenShard) {
		t.Fatalf("batch item failures %+v, want only shard %d", resp.BatchItemFailures, brokenShard)
	}
	p, err := refresh.Read(ctx, f.d.Store, day)
	if err != nil {
		t.Fatal(err)
	}
	if p.Complete || p.Retrying != 1 || len(p.Failed) != 0 || p.Done != 2 {
		t.Errorf("after the first delivery: %+v", p)
	}
	// The last delivery before the dead-letter queue.
	last := events.SQSEvent{Records: []events.SQSMessage{sqs.Records[brokenShard]}}
	last.Records[0].Attributes = map[string]string{"ApproximateReceiveCount": "2"}
	if resp, _ := h.Handle(ctx, last); len(resp.BatchItemFailures) != 1 {
		t.Fatalf("final delivery: %+v", resp)
	}
	p, err = refresh.Read(ctx, f.d.Store, day)
	if err != nil {
		t.Fatal(err)
	}
	want := []group.GroupFailure{{GroupID: bad.GroupID, Reason: "store_error"}}
	if diff := cmp.Diff(want, p.Failed); diff != "" || p.Retrying != 0 || !p.Complete || p.Done != 2 {
		t.Errorf("after the final delivery: %+v (-want +got failed):\n%s", p, diff)
	}
	for _, id := range []string{good.GroupID, third.GroupID} {
		if _, err := f.d.Store.DailyList(ctx, id, day); err != nil {
			t.Errorf("group %s's list: %v", id, err)
		}
	}
	if _, err := f.d.Store.DailyList(ctx, bad.GroupID, day); !errors.Is(err, group.ErrNotFound) {
		t.Errorf("the failed group has a list: %v", err)
	}
}

// unreadable fails every read of one group, as a throttled or broken
// table would.
type unreadable struct {
	group.Store
	id string
}

var errThrottled = errors.New("throttled")

func (u unreadable) GetGroup(ctx context.Context, id string) (group.Group, error) {
	if id == u.id {
		return group.Group{}, errThrottled
	}
	return u.Store.GetGroup(ctx, id)
}

// A day is not planned again while its run goes on, unless the run is
// stuck; the progress of a new plan counts only its own shards.
func TestPlanWhileInProgress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.d.Group(t, "惠民超市", grouptest.Grid1.Code, "13800138001", grouptest.Person(1))
	first, err := f.planner.Plan(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.planner.Plan(ctx, day); !errors.Is(err, refresh.ErrInProgress) {
		t.Fatalf("second plan during the run: %v", err)
	}
	// The first run finishes; a rerun is a new plan, whose progress starts
	// from nothing even though the first plan's shard reported.
	f.d.Clock.T = f.d.Clock.T.Add(time.Minute)
	if err := f.worker.Refresh(ctx, f.queue.shards[0], refresh.Delivery{Attempt: 1, Final: true}); err != nil {
		t.Fatal(err)
	}
	second, err := f.planner.Plan(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := refresh.Read(ctx, f.d.Store, day); err != nil || p.Complete || p.Reported != 0 || p.RunID != second.RunID {
		t.Fatalf("progress of the rerun before its shards: %+v, %v", p, err)
	}
	// A run that never finishes may be planned over once it is stuck.
	f.d.Clock.T = f.d.Clock.T.Add(refresh.StuckAfter)
	if _, err := f.planner.Plan(ctx, day); err != nil {
		t.Fatalf("plan over a stuck run: %v", err)
	}
	if first.RunID == second.RunID || first.RunID == "" {
		t.Fatalf("plans of a day have run ids %q and %q", first.RunID, second.RunID)
	}
}

// failingQueue refuses every send.
type failingQueue struct{}

func (failingQueue) Send(context.Context, []refresh.Shard) error { return errThrottled }

// A plan whose shards could not be queued leaves nothing in progress: the
// schedule's retry plans the day.
func TestFailedSendDoesNotBlockTheRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.d.Group(t, "惠民超市", grouptest.Grid1.Code, "13800138001", grouptest.Person(1))
	failing := *f.planner
	failing.Queue = failingQueue{}
	if _, err := failing.Plan(ctx, day); !errors.Is(err, errThrottled) {
		t.Fatalf("plan with a failing queue: %v", err)
	}
	h := refresh.PlanHandler{Planner: f.planner}
	plan, err := h.Handle(ctx, refresh.ScheduledEvent{DetailType: "Scheduled Event", Time: refreshTime})
	if err != nil || plan.Date != day || plan.Shards != 1 || len(f.queue.shards) != 1 {
		t.Fatalf("the retry: %+v, %v, %d shards queued", plan, err, len(f.queue.shards))
	}
	// A second delivery of the same invocation finds the run going on and
	// is no error.
	if again, err := h.Handle(ctx, refresh.ScheduledEvent{DetailType: "Scheduled Event", Time: refreshTime}); err != nil || again.Date != day {
		t.Fatalf("duplicate invocation: %+v, %v", again, err)
	}
	if len(f.queue.shards) != 1 {
		t.Fatalf("a duplicate invocation queued the day again: %d shards", len(f.queue.shards))
	}
}

// A past day refreshed by hand gets its lists, and no 今日 SMS days late.
func TestPastDayHasNoMorningSMS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	g := f.d.Group(t, "惠民超市", grouptest.Grid1.Code, "13800138001", grouptest.Person(1))
	const past = "2026-11-27"
	if _, err := f.planner.Plan(ctx, past); err != nil {
		t.Fatal(err)
	}
	if err := f.worker.Refresh(ctx, f.queue.shards[0], refresh.Delivery{Attempt: 1, Final: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.Store.DailyList(ctx, g.GroupID, past); err != nil {
		t.Fatalf("the past day's list: %v", err)
	}
	if _, err := f.d.Store.Alert(ctx, refresh.DailyAlertID(g.GroupID, past)); !errors.Is(err, alert.ErrNotFound) {
		t.Fatalf("a past day's list queued its morning SMS: %v", err)
	}
}
