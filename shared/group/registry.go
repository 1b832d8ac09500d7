package group

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/textnorm"
)

// Grids gives the district's current grids.
type Grids interface {
	Grids(ctx context.Context) (*grid.Directory, error)
}

// Registry registers groups and keeps their rosters, for the district
// office, grid workers and each group's administrator.
type Registry struct {
	Store Store
	Lists DailyStore
	Grids Grids
	Vault *pii.Vault
	Now   func() time.Time
	// JoinURL is the self-join link a group's QR code opens, with the
	// group id appended.
	JoinURL string
	// Gate is the per-person limit of self-joins (by the person key, as
	// reports); nil admits every person.
	Gate report.Gate
}

// Registration is the body of POST /v1/groups.
type Registration struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Address  string `json:"address"`
	GridCode string `json:"gridCode"`
	Admin    Admin  `json:"admin"`
}

// Lengths of a registration's fields, in characters.
const (
	MaxGroupName = 50
	MaxAddress   = 100
	MaxAdminName = 30
)

// View is a group as its readers see it: the administrator's phone masked.
type View struct {
	GroupID       string    `json:"groupId"`
	Name          string    `json:"name"`
	Kind          Kind      `json:"kind"`
	Address       string    `json:"address"`
	GridCode      string    `json:"gridCode"`
	Admin         Admin     `json:"admin"`
	Members       int       `json:"members"`
	RosterVersion int       `json:"rosterVersion"`
	JoinURL       string    `json:"joinUrl"`
	CreatedAt     time.Time `json:"createdAt"`
}

// ErrExists is a registration of a place that has its code already: one
// place, one code, one administrator.
var ErrExists = errors.New("group: this place is registered")

// Register creates a group. The district office registers anywhere, a grid
// worker in their own grid. Registering the same place again returns
// ErrExists, with the existing group if the caller may read it.
func (r *Registry) Register(ctx context.Context, p auth.Principal, in Registration) (View, error) {
	if !p.IsDistrictAdmin() && !(p.Role == auth.GridWorker && p.CanReadGrid(in.GridCode)) {
		return View{}, auth.ErrForbidden
	}
	dir, err := r.Grids.Grids(ctx)
	if err != nil {
		return View{}, err
	}
	var c fields.Collector
	name := text(&c, "name", in.Name, MaxGroupName)
	address := text(&c, "address", in.Address, MaxAddress)
	kind, ok := ParseKind(in.Kind)
	if !ok {
		c.Add("kind", fields.Reason(in.Kind, "unknown"))
	}
	if _, ok := dir.Lookup(in.GridCode); !ok {
		c.Add("gridCode", fields.Reason(in.GridCode, "unknown"))
	}
	admin := Admin{Name: text(&c, "admin.name", in.Admin.Name, MaxAdminName)}
	if admin.Phone, ok = phone.Normalize(in.Admin.Phone); !ok {
		c.Add("admin.phone", fields.Reason(in.Admin.Phone, "invalid"))
	}
	if err := c.Err("invalid_group"); err != nil {
		return View{}, err
	}
	g := Group{
		ID: ID(r.Vault, name, address), Name: name, Kind: kind, Address: address, GridCode: in.GridCode,
		AdminLookup: report.PhoneLookup(r.Vault, admin.Phone), CreatedAt: r.Now().UTC(),
	}
	if err := g.SealAdmin(r.Vault, admin); err != nil {
		return View{}, fmt.Errorf("register group: %w", err)
	}
	stored, created, err := r.Store.CreateGroup(ctx, g)
	if err != nil {
		return View{}, err
	}
	if !created && !p.CanReadGroup(stored.ID, stored.GridCode) {
		// Another grid's group: the caller learns it exists, nothing more.
		return View{}, ErrExists
	}
	v, err := r.view(stored)
	if err == nil && !created {
		err = ErrExists
	}
	return v, err
}

// text cleans a required free-text field and records what is wrong with it.
func text(c *fields.Collector, field, raw string, limit int) string {
	s, reason := textnorm.Required(raw, limit)
	if reason != "" {
		c.Add(field, reason)
	}
	return s
}

func (r *Registry) view(g Group) (View, error) {
	admin, err := OpenAdmin(r.Vault, g)
	if err != nil {
		return View{}, err
	}
	admin.Phone = phone.Mask(admin.Phone)
	return View{
		GroupID: g.ID, Name: g.Name, Kind: g.Kind, Address: g.Address, GridCode: g.GridCode, Admin: admin,
		Members: g.Members, RosterVersion: g.RosterVersion, JoinURL: r.JoinURL + g.ID, CreatedAt: g.CreatedAt,
	}, nil
}

// readable returns the group if p may read it.
func (r *Registry) readable(ctx context.Context, p auth.Principal, id string) (Group, error) {
	g, err := r.Store.GetGroup(ctx, id)
	if err != nil {
		return Group{}, err
	}
	if !p.CanReadGroup(g.ID, g.GridCode) {
		return Group{}, auth.ErrForbidden
	}
	return g, nil
}

// managed returns the group if p may change its roster.
func (r *Registry) managed(ctx context.Context, p auth.Principal, id string) (Group, error) {
	if !p.CanManageGroup(id) {
		return Group{}, auth.ErrForbidden
	}
	return r.Store.GetGroup(ctx, id)
}

// Get returns one group.
func (r *Registry) Get(ctx context.Context, p auth.Principal, id string) (View, error) {
	g, err := r.readable(ctx, p, id)
	if err != nil {
		return View{}, err
	}
	return r.view(g)
}

// GridGroups lists the groups of a grid for its workers.
func (r *Registry) GridGroups(ctx context.Context, p auth.Principal, gridCode string) ([]View, error) {
	if !p.CanReadGrid(gridCode) {
		return nil, auth.ErrForbidden
	}
	groups, err := r.Store.GridGroups(ctx, gridCode)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(groups))
	for _, g := range groups {
		v, err := r.view(g)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// MemberView is a roster line as the administrator sees it: masked.
type MemberView struct {
	MemberID string       `json:"memberId"`
	Status   MemberStatus `json:"status"`
	Name     string       `json:"name"`
	IDType   idcard.Kind  `json:"idType"`
	IDNumber string       `json:"idNumber"`
	Phone    string       `json:"phone,omitempty"`
	JoinedAt time.Time    `json:"joinedAt"`
}

// Roster is a group's members and pending self-joins.
type Roster struct {
	GroupID string       `json:"groupId"`
	Version int          `json:"rosterVersion"`
	Members []MemberView `json:"members"`
	Pending []MemberView `json:"pending"`
}

// Roster lists a group's roster for its administrator.
func (r *Registry) Roster(ctx context.Context, p auth.Principal, id string) (Roster, error) {
	g, err := r.managed(ctx, p, id)
	if err != nil {
		return Roster{}, err
	}
	members, err := r.Store.Members(ctx, id, g.RosterVersion)
	if err != nil {
		return Roster{}, err
	}
	pending, err := r.Store.JoinRequests(ctx, id)
	if err != nil {
		return Roster{}, err
	}
	out := Roster{GroupID: id, Version: g.RosterVersion}
	if out.Members, err = r.memberViews(members); err != nil {
		return Roster{}, err
	}
	if out.Pending, err = r.memberViews(pending); err != nil {
		return Roster{}, err
	}
	return out, nil
}

func (r *Registry) memberViews(ms []Member) ([]MemberView, error) {
	out := make([]MemberView, len(ms))
	for i, m := range ms {
		pd, err := OpenPersonal(r.Vault, m)
		if err != nil {
			return nil, err
		}
		out[i] = MemberView{
			MemberID: m.PersonKey, Status: m.Status, Name: pd.Name, IDType: m.IDType,
			IDNumber: idcard.Mask(m.IDType, pd.IDNumber), Phone: phone.Mask(pd.Phone), JoinedAt: m.JoinedAt,
		}
	}
	return out, nil
}

// member makes the stored member of a checked row.
func (r *Registry) member(groupID string, row CheckedRow, status MemberStatus, now time.Time) (Member, error) {
	m := Member{
		GroupID: groupID, PersonKey: report.PersonLookup(r.Vault, row.IDType, row.IDNumber),
		Status: status, IDType: row.IDType, JoinedAt: now.UTC(),
	}
	err := m.SealPersonal(r.Vault, Personal{Name: row.Name, IDNumber: row.IDNumber, Phone: row.Phone})
	return m, err
}

// ReplaceRoster makes rows the group's roster, all or nothing. The rows
// are checked already (CheckRoster), so every row problem was reported at
// once before anything was written.
func (r *Registry) ReplaceRoster(ctx context.Context, p auth.Principal, id string, rows []CheckedRow) (View, error) {
	g, err := r.managed(ctx, p, id)
	if err != nil {
		return View{}, err
	}
	now := r.Now()
	members := make([]Member, len(rows))
	for i, row := range rows {
		if members[i], err = r.member(id, row, Active, now); err != nil {
			return View{}, fmt.Errorf("roster of %s: %w", id, err)
		}
	}
	stored, err := r.Store.ReplaceRoster(ctx, id, g.RosterVersion, members)
	if err != nil {
		return View{}, err
	}
	return r.view(stored)
}

// Join records a self-join through the group's QR link, pending the
// administrator's approval. Anyone with the link may ask; nothing is on
// the roster until the administrator approves. A person over Gate's limit
// is refused with Gate's error.
func (r *Registry) Join(ctx context.Context, id string, row RosterRow) error {
	if _, err := r.Store.GetGroup(ctx, id); err != nil {
		return err
	}
	now := r.Now()
	checked, err := CheckJoin(row, now)
	if err != nil {
		return err
	}
	m, err := r.member(id, checked, Pending, now)
	if err != nil {
		return fmt.Errorf("join %s: %w", id, err)
	}
	// After the checks, so a bad request does not count against the
	// person; a refusal stores nothing.
	if r.Gate != nil {
		if err := r.Gate.Admit(ctx, m.PersonKey); err != nil {
			return err
		}
	}
	return r.Store.PutJoinRequest(ctx, m)
}

// JoinCard is what the public self-join page shows of a group: what is on
// its sign, no administrator, no count.
type JoinCard struct {
	GroupID string `json:"groupId"`
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Address string `json:"address"`
}

// Card names a group to the people its QR code reaches.
func (r *Registry) Card(ctx context.Context, id string) (JoinCard, error) {
	g, err := r.Store.GetGroup(ctx, id)
	if err != nil {
		return JoinCard{}, err
	}
	return JoinCard{GroupID: g.ID, Name: g.Name, Kind: g.Kind, Address: g.Address}, nil
}

// Approve puts a pending self-join on the roster.
func (r *Registry) Approve(ctx context.Context, p auth.Principal, id, memberID string) (View, error) {
	g, err := r.managed(ctx, p, id)
	if err != nil {
		return View{}, err
	}
	stored, err := r.Store.ApproveJoin(ctx, id, memberID, g.RosterVersion)
	if err != nil {
		return View{}, err
	}
	return r.view(stored)
}

// Daily is one group's list for one day.
type Daily struct {
	Group   View    `json:"group"`
	Date    string  `json:"date"`
	Summary Summary `json:"summary"`
	Entries []Entry `json:"members"`
	// ComputedAt is when the refresh built the list.
	ComputedAt time.Time `json:"computedAt"`
}

// Daily returns a group's list of date for its administrator, its grid
// worker and the district office.
func (r *Registry) Daily(ctx context.Context, p auth.Principal, id, date string) (Daily, error) {
	g, err := r.readable(ctx, p, id)
	if err != nil {
		return Daily{}, err
	}
	l, err := r.Lists.DailyList(ctx, id, date)
	if err != nil {
		return Daily{}, err
	}
	entries, err := OpenEntries(r.Vault, l)
	if err != nil {
		return Daily{}, err
	}
	v, err := r.view(g)
	if err != nil {
		return Daily{}, err
	}
	return Daily{Group: v, Date: date, Summary: l.Summary, Entries: entries, ComputedAt: l.ComputedAt}, nil
}
