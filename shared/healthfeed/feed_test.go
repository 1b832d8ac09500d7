package healthfeed_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/alert"
	"gridcode/shared/fields"
	"gridcode/shared/group"
	"gridcode/shared/group/grouptest"
	"gridcode/shared/health"
	"gridcode/shared/healthfeed"
	"gridcode/shared/idcard"
	"gridcode/shared/registry"
)

var now = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

func feed(d *grouptest.District) *healthfeed.Feed {
	return &healthfeed.Feed{Store: d.Store, Groups: d.Store, Grids: d.Settings, Vault: d.Vault, Now: d.Clock.Now, Retention: 60 * 24 * time.Hour}
}

func update(row group.RosterRow, color string, minutesAgo int) healthfeed.Update {
	at := now.Add(-time.Duration(minutesAgo) * time.Minute)
	nat := now.Add(-30 * time.Hour)
	doses := 2
	return healthfeed.Update{IDType: row.IDType, IDNumber: row.IDNumber, CodeColor: color, NATAt: &nat, NATResult: "negative", VaccineDoses: &doses, UpdatedAt: &at}
}

func status(t *testing.T, d *grouptest.District, row group.RosterRow) (health.Status, bool) {
	t.Helper()
	key := d.PersonKey(row)
	recs, err := d.Store.GetHealth(context.Background(), []string{key})
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := recs[key]
	if !ok {
		return health.Status{}, false
	}
	s, err := health.Open(d.Vault, rec)
	if err != nil {
		t.Fatal(err)
	}
	return s, true
}

// recipients opens the phones of every alert in the outbox of a template.
func recipients(t *testing.T, d *grouptest.District, tpl alert.Template) []string {
	t.Helper()
	due, err := d.Store.Due(context.Background(), now.Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range due {
		if a.Template != tpl.Code {
			continue
		}
		phone, err := d.Vault.Open(a.RecipientSealed, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The colour is someone's health status: never in the clear.
		params, err := a.OpenParams(d.Vault)
		if err != nil || a.Params != nil || params["color"] != "红码" || params["member"] == "" {
			t.Errorf("alert %s: clear %v, sealed %v, %v", a.ID, a.Params, params, err)
		}
		out = append(out, string(phone))
	}
	slices.Sort(out)
	return out
}

func TestBadBatchChangesNothing(t *testing.T) {
	t.Parallel()
	d := grouptest.New(t, now)
	ok := update(grouptest.Person(1), "green", 5)
	bad := update(grouptest.Person(2), "purple", 5)
	bad.IDNumber = "440703199001011234" // wrong check digit
	future := now.Add(time.Hour)
	late := update(grouptest.Person(3), "red", 0)
	late.UpdatedAt = &future
	late.NATResult = ""
	_, err := feed(d).Apply(context.Background(), healthfeed.Batch{Updates: []healthfeed.Update{ok, bad, late}})
	var fe *fields.Error
	if !errors.As(err, &fe) {
		t.Fatalf("Apply = %v, want field errors", err)
	}
	want := []fields.Problem{
		{Field: "updates[1].idNumber", Reason: "checksum"},
		{Field: "updates[1].codeColor", Reason: "unknown"},
		{Field: "updates[2].natResult", Reason: "required"},
		{Field: "updates[2].updatedAt", Reason: "in_future"},
	}
	if diff := cmp.Diff(want, fe.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if _, stored := status(t, d, grouptest.Person(1)); stored {
		t.Error("the valid update of a refused batch was stored")
	}
	for _, n := range []int{0, healthfeed.MaxBatch + 1} {
		_, err := feed(d).Apply(context.Background(), healthfeed.Batch{Updates: make([]healthfeed.Update, n)})
		if !errors.As(err, &fe) || fe.Problems[0].Field != "updates" {
			t.Errorf("a batch of %d: %v", n, err)
		}
	}
}

// A change to red alerts the administrators of each of the person's
// groups and the workers of those groups' grids, once each; the same
// update again, an older one, or a newer one of the same colour alerts no
// one.
func TestRedAlertsGroupsAndGrids(t *testing.T) {
	t.Parallel()
	d := grouptest.New(t, now)
	ctx := context.Background()
	p := grouptest.Person(1)
	other := grouptest.Person(2)
	d.Group(t, "惠民超市", grouptest.Grid1.Code, "13800138001", p, other)
	d.Group(t, "江华KTV", grouptest.Grid2.Code, "13800138002", p)
	// Same administrator for a second group of grid 2: one SMS to them.
	d.Group(t, "江华酒家", grouptest.Grid2.Code, "13800138002", p)
	f := feed(d)

	res, err := f.Apply(ctx, healthfeed.Batch{Updates: []healthfeed.Update{update(p, "green", 60), update(other, "green", 60)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (healthfeed.Result{Received: 2, Applied: 2}); res != want {
		t.Errorf("green: %+v", res)
	}

	red := update(p, "red", 10)
	res, err = f.Apply(ctx, healthfeed.Batch{Updates: []healthfeed.Update{red}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (healthfeed.Result{Received: 1, Applied: 1, Alerts: 5}); res != want {
		t.Errorf("red: %+v, want %+v", res, want)
	}
	if got, want := recipients(t, d, alert.HealthToGroup), []string{"13800138001", "13800138002"}; !cmp.Equal(got, want) {
		t.Errorf("group admins texted: %v, want %v", got, want)
	}
	if got, want := recipients(t, d, alert.HealthToGrid), []string{"13600136001", "13600136002", "13600136003"}; !cmp.Equal(got, want) {
		t.Errorf("grid workers texted: %v, want %v", got, want)
	}
	if s, _ := status(t, d, p); s.CodeColor != health.Red {
		t.Errorf("stored colour %s", s.CodeColor)
	}

	for name, u := range map[string]healthfeed.Update{"same update": red, "older update": update(p, "green", 30), "newer, still red": update(p, "red", 5)} {
		before, _ := d.Store.CountAlerts(ctx)
		if _, err := f.Apply(ctx, healthfeed.Batch{Updates: []healthfeed.Update{u}}); err != nil {
			t.Fatal(err)
		}
		if after, _ := d.Store.CountAlerts(ctx); after != before {
			t.Errorf("%s queued %d alerts", name, after-before)
		}
	}
	if s, _ := status(t, d, p); s.CodeColor != health.Red || !s.UpdatedAt.Equal(now.Add(-5*time.Minute)) {
		t.Errorf("after older and newer updates: %s at %s", s.CodeColor, s.UpdatedAt)
	}
}

// The newest of a person's updates wins, whatever order they arrive in,
// within a batch and across batches posted at the same time.
func TestNewestWins(t *testing.T) {
	t.Parallel()
	d := grouptest.New(t, now)
	ctx := context.Background()
	p := grouptest.Person(7)
	f := feed(d)
	res, err := f.Apply(ctx, healthfeed.Batch{Updates: []healthfeed.Update{update(p, "yellow", 20), update(p, "green", 10), update(p, "red", 30)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || res.Stale != 2 {
		t.Errorf("one batch: %+v", res)
	}
	if s, _ := status(t, d, p); s.CodeColor != health.Green {
		t.Errorf("one batch: %s won", s.CodeColor)
	}

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			color := []string{"green", "yellow"}[i%2]
			if _, err := f.Apply(ctx, healthfeed.Batch{Updates: []healthfeed.Update{update(p, color, 9-i/4)}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, _ := status(t, d, p)
	if want := now.Add(-5 * time.Minute); !s.UpdatedAt.Equal(want) {
		t.Errorf("concurrent batches: %s at %s, want the update of %s", s.CodeColor, s.UpdatedAt, want)
	}
}

// At 01:00 in the district it is still yesterday in UTC: a person born on
// the district's today is a valid ID, not a future birth date.
func TestBornTodayInTheDistrict(t *testing.T) {
	t.Parallel()
	early := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC) // 2026-11-29 01:00 district time
	d := grouptest.New(t, early)
	first17 := "44070320261129001"
	u := update(group.RosterRow{IDType: "resident_id", IDNumber: first17 + string(idcard.CheckDigit(first17))}, "green", 0)
	at := early.Add(-time.Minute)
	u.UpdatedAt, u.NATAt, u.NATResult = &at, nil, ""
	if res, err := feed(d).Apply(context.Background(), healthfeed.Batch{Updates: []healthfeed.Update{u}}); err != nil || res.Applied != 1 {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
}

// A person in no group still alerts the workers of the grid they live in
// by the registry; one who is also in a group of that grid texts each
// worker once; a moved-out person's old grid hears nothing.
func TestRedAlertsTheHomeGrid(t *testing.T) {
	t.Parallel()
	d := grouptest.New(t, now)
	ctx := context.Background()
	lone, member, gone := grouptest.Person(1), grouptest.Person(2), grouptest.Person(3)
	d.Group(t, "江华KTV", grouptest.Grid2.Code, "13800138002", member)
	dir, err := d.Settings.Grids(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var people []registry.Person
	for _, row := range []group.RosterRow{lone, member, gone} {
		p, err := registry.Build(d.Vault, dir, registry.Entry{
			Personal: registry.Personal{Name: row.Name, IDNumber: row.IDNumber, Address: "新塘里96号"},
			IDType:   idcard.ResidentID, Community: grouptest.Grid2.Community, ResidentType: registry.Permanent,
		}, "test", now)
		if err != nil {
			t.Fatal(err)
		}
		if row == gone {
			p.Status = registry.StatusMovedOut
		}
		people = append(people, p)
	}
	if _, err := d.Store.PutPeople(ctx, people); err != nil {
		t.Fatal(err)
	}
	f := feed(d)
	f.Homes = d.Store
	res, err := f.Apply(ctx, healthfeed.Batch{Updates: []healthfeed.Update{update(lone, "red", 10), update(member, "red", 10), update(gone, "red", 10)}})
	if err != nil {
		t.Fatal(err)
	}
	// lone: 2 home-grid workers; member: 1 admin + 2 grid workers (not
	// again as home); gone: nobody.
	if res.Alerts != 5 {
		t.Errorf("alerts %d, want 5 (%+v)", res.Alerts, res)
	}
	if got, want := recipients(t, d, alert.HealthToHome), []string{"13600136002", "13600136003"}; !cmp.Equal(got, want) {
		t.Errorf("home grid workers texted: %v, want %v", got, want)
	}
}
