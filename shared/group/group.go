// Package group holds the group code (团体码): an organisation registers
// once, its administrator keeps the roster, and every morning the group
// gets a daily list of its members' health status.
package group

import (
	"context"
	"errors"
	"strings"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
)

// Kind is what sort of place a group is.
type Kind string

// Kinds are the kinds the district registers, in the order forms list them.
var Kinds = []Kind{"supermarket", "school", "ktv", "internet_cafe", "scenic_spot", "hotel",
	"property_manager", "restaurant", "market", "enterprise", "other"}

// ParseKind accepts the known kinds only.
func ParseKind(s string) (Kind, bool) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

// Group is one place with one code and one administrator. Its id is also
// the short code printed under the QR code.
type Group struct {
	ID       string `json:"groupId"`
	Name     string `json:"name"`
	Kind     Kind   `json:"kind"`
	Address  string `json:"address"`
	GridCode string `json:"gridCode"`
	// AdminLookup is the keyed hash of the administrator's phone;
	// AdminSealed holds Admin, sealed to the group id.
	AdminLookup string `json:"adminLookup"`
	AdminSealed []byte `json:"adminSealed"`
	// RosterVersion counts roster replacements: members of older versions
	// are no longer members.
	RosterVersion int       `json:"rosterVersion"`
	Members       int       `json:"members"`
	CreatedAt     time.Time `json:"createdAt"`
}

// Admin is a group's administrator.
type Admin struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// ID derives a group's id from its name and address, so one place gets
// one code however often it is registered: "G" and 8 base32 characters.
func ID(v *pii.Vault, name, address string) string {
	return "G" + strings.ToUpper(v.Lookup("group", placeKey(name), placeKey(address))[:8])
}

// placeKey ignores spacing and case, which people type differently.
func placeKey(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// MemberStatus says whether a member is on the roster or asked to join.
type MemberStatus string

const (
	Active  MemberStatus = "active"
	Pending MemberStatus = "pending" // joined through the QR link, awaiting the administrator
)

// Member is one person on one roster version. The person key is the same
// keyed hash that reports and health statuses use.
type Member struct {
	GroupID   string       `json:"groupId"`
	PersonKey string       `json:"personKey"`
	Version   int          `json:"rosterVersion"`
	Status    MemberStatus `json:"status"`
	IDType    idcard.Kind  `json:"idType"`
	Sealed    []byte       `json:"personalSealed"` // Personal, sealed to group id + person key
	JoinedAt  time.Time    `json:"joinedAt"`
}

// Personal is what Member.Sealed holds.
type Personal struct {
	Name     string `json:"name"`
	IDNumber string `json:"idNumber"`
	Phone    string `json:"phone,omitempty"`
}

// MaxRoster is the most members one group may have: a daily list of that
// many fits one stored item.
const MaxRoster = 3000

var (
	ErrNotFound = errors.New("group: not found")
	// ErrConflict means the roster changed since it was read.
	ErrConflict = errors.New("group: roster changed meanwhile")
)

// Store keeps groups and their rosters.
type Store interface {
	// CreateGroup stores g unless a group with its id exists; then it
	// returns that group and created=false.
	CreateGroup(ctx context.Context, g Group) (stored Group, created bool, err error)
	GetGroup(ctx context.Context, id string) (Group, error)
	// GroupIDs lists every group, sorted, for the daily refresh.
	GroupIDs(ctx context.Context) ([]string, error)
	// GridGroups lists the groups of one grid, sorted by id.
	GridGroups(ctx context.Context, gridCode string) ([]Group, error)
	// ReplaceRoster makes members the group's roster as version
	// fromVersion+1, all or nothing; ErrConflict if the group's version is
	// no longer fromVersion.
	ReplaceRoster(ctx context.Context, groupID string, fromVersion int, members []Member) (Group, error)
	// Members lists the roster of version, sorted by person key:
	// ErrConflict if version is no longer the group's current one (a reader
	// of the group raced a replacement), ErrNotFound for an unknown group.
	Members(ctx context.Context, groupID string, version int) ([]Member, error)
	// PutJoinRequest records (or replaces) a pending self-join.
	PutJoinRequest(ctx context.Context, m Member) error
	// JoinRequests lists a group's pending self-joins.
	JoinRequests(ctx context.Context, groupID string) ([]Member, error)
	// ApproveJoin moves a pending self-join onto roster version, adding one
	// member; ErrNotFound without such a request, ErrConflict if the roster
	// version moved.
	ApproveJoin(ctx context.Context, groupID, personKey string, version int) (Group, error)
	// GroupsOf lists the groups whose current roster has the person.
	GroupsOf(ctx context.Context, personKey string) ([]Group, error)
}

// Summary counts a daily list. Counts are not personal data and stay
// readable; the entries are sealed.
type Summary struct {
	Members     int `json:"members"`
	Abnormal    int `json:"abnormal"`
	Red         int `json:"red"`
	Yellow      int `json:"yellow"`
	NATPositive int `json:"natPositive"`
	NATStale    int `json:"natStale"`
	NoData      int `json:"noData"`
}

// DailyList is one group's list for one day, as stored.
type DailyList struct {
	GroupID    string    `json:"groupId"`
	Date       string    `json:"date"` // YYYY-MM-DD, Asia/Shanghai
	Summary    Summary   `json:"summary"`
	Sealed     []byte    `json:"entriesSealed"` // gzip'd JSON []Entry, sealed to group and date
	ComputedAt time.Time `json:"computedAt"`
	ExpiresAt  int64     `json:"expiresAt"`
}

// Entry is one member on a daily list, masked for every reader.
type Entry struct {
	// PersonKey is the member's (the roster's memberId), for the audit of
	// who saw the list; lists built before it was kept have none.
	PersonKey     string           `json:"personKey,omitempty"`
	Name          string           `json:"name"`
	IDType        idcard.Kind      `json:"idType"`
	IDNumber      string           `json:"idNumber"` // masked
	CodeColor     health.Color     `json:"codeColor,omitempty"`
	NATAt         *time.Time       `json:"natAt,omitempty"`
	HoursSinceNAT *int             `json:"hoursSinceNat,omitempty"`
	NATResult     health.NATResult `json:"natResult,omitempty"`
	VaccineDoses  *int             `json:"vaccineDoses,omitempty"`
	Abnormal      bool             `json:"abnormal"`
	Reasons       []string         `json:"reasons,omitempty"`
}

// DailyStore keeps the daily lists.
type DailyStore interface {
	// PutDailyList stores l with its alerts in one transaction unless a
	// list for the group and date exists; then it stores nothing and says
	// created=false.
	PutDailyList(ctx context.Context, l DailyList, alerts []alert.Alert) (created bool, err error)
	// DailyList returns ErrNotFound when the day has no list.
	DailyList(ctx context.Context, groupID, date string) (DailyList, error)
}

// RunPlan is what the planner wrote for one day's refresh.
type RunPlan struct {
	Date      string    `json:"date"`
	RunID     string    `json:"runId"` // unique per plan of the day
	Groups    int       `json:"groups"`
	Shards    int       `json:"shards"`
	PlannedAt time.Time `json:"plannedAt"`
}

// ShardResult is the latest attempt at one shard of a refresh.
type ShardResult struct {
	Date string `json:"date"`
	// RunID names the plan the shard belongs to: a day planned again does
	// not count the shards of its earlier plan.
	RunID     string         `json:"runId"`
	Shard     int            `json:"shard"`
	Groups    int            `json:"groups"`
	Done      int            `json:"done"`
	Failed    []GroupFailure `json:"failed,omitempty"`
	Attempt   int            `json:"attempt"`
	Final     bool           `json:"final"` // no further attempt will come
	UpdatedAt time.Time      `json:"updatedAt"`
}

// GroupFailure is a group a shard could not refresh, and why.
type GroupFailure struct {
	GroupID string `json:"groupId"`
	Reason  string `json:"reason"`
}

// RunStore records refresh runs.
type RunStore interface {
	// PutRunPlan records (or replaces) a day's plan.
	PutRunPlan(ctx context.Context, p RunPlan) error
	// PutShardResult records (or replaces) the latest attempt at a shard
	// of a run.
	PutShardResult(ctx context.Context, r ShardResult) error
	// Run returns the day's latest plan and the results of that plan's
	// shards (not an earlier run's) sorted by shard; ErrNotFound if the day
	// was never planned.
	Run(ctx context.Context, date string) (RunPlan, []ShardResult, error)
}
