// Package healthfeed applies the provincial health data the district
// imports: each person's newest status wins, and a change to a yellow or red
// code alerts, in the same transaction, the administrators of the person's
// groups, the grid workers of those groups' grids and the workers of the
// grid the person lives in by the population registry.
package healthfeed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/retention"
)

// MaxBatch is the most updates one request may carry.
const MaxBatch = 1000

// Update is one person's status as the provincial system sends it.
type Update struct {
	IDType       string     `json:"idType"`
	IDNumber     string     `json:"idNumber"`
	CodeColor    string     `json:"codeColor"`
	NATAt        *time.Time `json:"natAt"`
	NATResult    string     `json:"natResult"`
	VaccineDoses *int       `json:"vaccineDoses"`
	UpdatedAt    *time.Time `json:"updatedAt"`
}

// Batch is the body of POST /v1/health/updates.
type Batch struct {
	Updates []Update `json:"updates"`
}

// Result counts what a batch did.
type Result struct {
	Received int `json:"received"`
	Applied  int `json:"applied"`
	// Stale updates were no newer than what was stored (or than another
	// update of the same person in the batch) and changed nothing.
	Stale  int `json:"stale"`
	Alerts int `json:"alerts"`
}

// Groups finds the groups a person belongs to.
type Groups interface {
	GroupsOf(ctx context.Context, personKey string) ([]group.Group, error)
}

// Homes finds where people live: the population registry.
type Homes interface {
	GetPeople(ctx context.Context, keys []string) (map[string]registry.Person, error)
}

// Grids gives the current grids, with their workers.
type Grids interface {
	Grids(ctx context.Context) (*grid.Directory, error)
}

// Feed applies batches of updates.
type Feed struct {
	Store     health.Store
	Groups    Groups
	Homes     Homes
	Grids     Grids
	Vault     *pii.Vault
	Now       func() time.Time
	Retention time.Duration // how long the alerts are kept; zero means retention.Default
}

// maxAttempts bounds the re-reads after a concurrent write to the same
// person; each attempt makes progress for every other person.
const maxAttempts = 5

// clockSkew is how far in the future an update's time may be.
const clockSkew = 5 * time.Minute

type pending struct {
	key    string
	status health.Status
	last4  string
}

// Apply checks the whole batch first: one bad update refuses the batch and
// changes nothing.
func (f *Feed) Apply(ctx context.Context, b Batch) (Result, error) {
	now := f.Now()
	updates, err := f.check(b, now)
	if err != nil {
		return Result{}, err
	}
	res := Result{Received: len(b.Updates), Stale: len(b.Updates) - len(updates)}
	for attempt := 1; len(updates) > 0; attempt++ {
		if attempt > maxAttempts {
			return res, fmt.Errorf("apply health updates: %d still conflicting after %d attempts", len(updates), maxAttempts)
		}
		keys := make([]string, len(updates))
		for i, u := range updates {
			keys[i] = u.key
		}
		stored, err := f.Store.GetHealth(ctx, keys)
		if err != nil {
			return res, fmt.Errorf("apply health updates: %w", err)
		}
		var writes []health.Write
		var sent []pending
		for _, u := range updates {
			w, fresh, err := f.write(ctx, u, stored, now)
			if err != nil {
				return res, err
			}
			if !fresh {
				res.Stale++
				continue
			}
			writes = append(writes, w)
			sent = append(sent, u)
		}
		conflicts, err := f.Store.WriteHealth(ctx, writes)
		if err != nil {
			return res, fmt.Errorf("apply health updates: %w", err)
		}
		retry := make(map[int]bool, len(conflicts))
		for _, i := range conflicts {
			retry[i] = true
		}
		updates = updates[:0]
		for i, w := range writes {
			if retry[i] {
				updates = append(updates, sent[i])
				continue
			}
			res.Applied++
			res.Alerts += len(w.Alerts)
		}
	}
	return res, nil
}

// check validates every update and keeps the newest per person.
func (f *Feed) check(b Batch, now time.Time) ([]pending, error) {
	var c fields.Collector
	switch n := len(b.Updates); {
	case n == 0:
		c.Add("updates", "empty")
	case n > MaxBatch:
		c.Add("updates", "too_many")
	}
	if err := c.Err("invalid_updates"); err != nil {
		return nil, err
	}
	newest := make(map[string]int, len(b.Updates))
	var out []pending
	for i, u := range b.Updates {
		at := func(field string) string { return fmt.Sprintf("updates[%d].%s", i, field) }
		kind, ok := idcard.ParseKind(u.IDType)
		if !ok {
			c.Add(at("idType"), "unknown")
		}
		var number string
		if ok {
			var reason string
			// A birth date is checked against the district's calendar day.
			if number, reason = idcard.Check(kind, u.IDNumber, now.In(dates.District)); reason != "" {
				c.Add(at("idNumber"), reason)
			}
		}
		s := health.Status{CodeColor: health.Color(u.CodeColor), NATAt: u.NATAt, NATResult: health.NATResult(u.NATResult)}
		switch s.CodeColor {
		case health.Green, health.Yellow, health.Red:
		case "":
			c.Add(at("codeColor"), "required")
		default:
			c.Add(at("codeColor"), "unknown")
		}
		switch {
		case u.NATAt == nil && u.NATResult != "":
			c.Add(at("natAt"), "required")
		case u.NATAt != nil && s.NATResult != health.Negative && s.NATResult != health.Positive:
			c.Add(at("natResult"), fields.Reason(u.NATResult, "unknown"))
		case u.NATAt != nil && u.NATAt.After(now.Add(clockSkew)):
			c.Add(at("natAt"), "in_future")
		}
		if u.VaccineDoses != nil {
			if *u.VaccineDoses < 0 || *u.VaccineDoses > 9 {
				c.Add(at("vaccineDoses"), "out_of_range")
			}
			s.VaccineDoses = *u.VaccineDoses
		}
		switch {
		case u.UpdatedAt == nil:
			c.Add(at("updatedAt"), "required")
		case u.UpdatedAt.After(now.Add(clockSkew)):
			c.Add(at("updatedAt"), "in_future")
		default:
			s.UpdatedAt = u.UpdatedAt.UTC()
		}
		if s.NATAt != nil {
			t := s.NATAt.UTC()
			s.NATAt = &t
		}
		if number == "" {
			continue
		}
		p := pending{key: report.PersonLookup(f.Vault, kind, number), status: s, last4: number[max(0, len(number)-4):]}
		if j, seen := newest[p.key]; seen {
			if !p.status.UpdatedAt.After(out[j].status.UpdatedAt) {
				continue
			}
			out[j] = p
			continue
		}
		newest[p.key] = len(out)
		out = append(out, p)
	}
	if err := c.Err("invalid_updates"); err != nil {
		return nil, err
	}
	return out, nil
}

// write builds the conditional write of u, or says it is not newer than
// what is stored.
func (f *Feed) write(ctx context.Context, u pending, stored map[string]health.Record, now time.Time) (health.Write, bool, error) {
	rec, err := health.Seal(f.Vault, u.key, u.status)
	if err != nil {
		return health.Write{}, false, fmt.Errorf("seal health status: %w", err)
	}
	w := health.Write{Record: rec}
	var before health.Color
	if old, ok := stored[u.key]; ok {
		if !u.status.UpdatedAt.After(old.UpdatedAt) {
			return health.Write{}, false, nil
		}
		prev := old.UpdatedAt
		w.Prev = &prev
		if !u.status.CodeColor.Urgent() {
			return w, true, nil // green alerts no one, whatever it was
		}
		s, err := health.Open(f.Vault, old)
		if err != nil {
			return health.Write{}, false, err
		}
		before = s.CodeColor
	}
	if u.status.CodeColor.Urgent() && u.status.CodeColor != before {
		if w.Alerts, err = f.alerts(ctx, u, now); err != nil {
			return health.Write{}, false, err
		}
	}
	return w, true, nil
}

// alerts are one SMS to each administrator of the person's groups, one
// to each worker of those groups' grids and one to each worker of the
// person's home grid. The ids derive from the person, the update and the
// recipient, so a retried batch queues nothing twice.
func (f *Feed) alerts(ctx context.Context, u pending, now time.Time) ([]alert.Alert, error) {
	groups, err := f.Groups.GroupsOf(ctx, u.key)
	if err != nil {
		return nil, err
	}
	home := ""
	if f.Homes != nil {
		people, err := f.Homes.GetPeople(ctx, []string{u.key})
		if err != nil {
			return nil, err
		}
		if p, ok := people[u.key]; ok && p.Status == registry.StatusActive && p.GridCode != grid.Unassigned {
			home = p.GridCode
		}
	}
	if len(groups) == 0 && home == "" {
		return nil, nil
	}
	dir, err := f.Grids.Grids(ctx)
	if err != nil {
		return nil, err
	}
	member := "尾号" + u.last4
	color := u.status.CodeColor.Name()
	var out []alert.Alert
	seen := map[string]bool{} // one SMS per recipient, even if they admin two of the groups
	add := func(phone, gridCode string, tpl alert.Template, params map[string]string) error {
		lookup := report.PhoneLookup(f.Vault, phone)
		if seen[lookup] {
			return nil
		}
		seen[lookup] = true
		id := "health." + f.Vault.Lookup("health-alert", u.key, u.status.UpdatedAt.Format(time.RFC3339Nano), lookup)[:24]
		a, err := alert.New(f.Vault, id, tpl, params, phone, lookup)
		if err != nil {
			return err
		}
		a.GridCode, a.CreatedAt, a.ExpiresAt = gridCode, now.UTC(), retention.Until(f.Retention, now)
		out = append(out, a)
		return nil
	}
	for _, g := range groups {
		admin, err := group.OpenAdmin(f.Vault, g)
		if err != nil {
			return nil, err
		}
		name := alert.Clip(g.Name, alert.HealthToGroup.Params["group"])
		if err := add(admin.Phone, g.GridCode, alert.HealthToGroup, map[string]string{"group": name, "member": member, "color": color}); err != nil {
			return nil, err
		}
		gr, ok := dir.Lookup(g.GridCode)
		if !ok {
			continue
		}
		workers, err := gr.OpenWorkers(f.Vault)
		if err != nil {
			return nil, err
		}
		label := gridLabel(gr)
		for _, w := range workers {
			if err := add(w.Phone, g.GridCode, alert.HealthToGrid, map[string]string{"grid": label, "group": name, "member": member, "color": color}); err != nil {
				return nil, err
			}
		}
	}
	// A home-grid worker who also works a group's grid already has the news.
	if gr, ok := dir.Lookup(home); ok {
		workers, err := gr.OpenWorkers(f.Vault)
		if err != nil {
			return nil, err
		}
		for _, w := range workers {
			if err := add(w.Phone, home, alert.HealthToHome, map[string]string{"grid": gridLabel(gr), "member": member, "color": color}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func gridLabel(g grid.Grid) string {
	if name := strings.TrimSpace(g.Name); name != "" {
		return alert.Clip(name, alert.HealthToGrid.Params["grid"])
	}
	return alert.Clip(g.Code, alert.HealthToGrid.Params["grid"])
}
