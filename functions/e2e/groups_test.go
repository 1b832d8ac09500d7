package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/infra/lambdarie"
	"gridcode/shared/alert"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/grid"
	"gridcode/shared/group"
	"gridcode/shared/group/export"
	"gridcode/shared/idcard"
	"gridcode/shared/qr"
	"gridcode/shared/refresh"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

// gcPerson is someone on a roster or in the health feed: name, ID number
// and phone are personal data, never in a log or a stored item in plain.
type gcPerson struct {
	name, idType, idNumber, phoneTyped, phone string
}

var (
	// The first three are on the CSV roster of the supermarket; the fourth
	// joins it through the QR link. 李娜 is also on the KTV's roster, and
	// turns red in the health feed.
	gcZhang = gcPerson{name: "张伟", idType: "居民身份证", idNumber: residentID("44070319850312011"), phoneTyped: "13912340101", phone: "13912340101"}
	gcLi    = gcPerson{name: "李娜", idType: "身份证", idNumber: residentID("44070319900101022"), phoneTyped: "+86 139-1234-0102", phone: "13912340102"}
	gcWang  = gcPerson{name: "王芳", idNumber: residentID("44070319781120033")}
	gcZhao  = gcPerson{name: "赵磊", idType: "resident_id", idNumber: residentID("44070319950228044"), phoneTyped: "139 1234 0104", phone: "13912340104"}
	// gcOutsider is on no roster: the feed stores their status, nobody is
	// told.
	gcOutsider = gcPerson{idNumber: residentID("44070320010605055")}
)

// gcPlace is a group as registered.
type gcPlace struct {
	name, kind, address string
	admin               group.Admin // the phone as typed
	adminPhone          string      // normalised
}

var (
	gcSupermarket = gcPlace{name: "惠民超市", kind: "supermarket", address: "棠下镇石冲路12号",
		admin: group.Admin{Name: "黄店长", Phone: "+86 138-0013-8101"}, adminPhone: "13800138101"}
	gcKTV = gcPlace{name: "江华KTV", kind: "ktv", address: "棠下镇江华路8号",
		admin: group.Admin{Name: "周经理", Phone: "138 0013 8102"}, adminPhone: "13800138102"}
	// gcRival is who registers the supermarket a second time.
	gcRival = group.Admin{Name: "吴老板", Phone: "13800138199"}
)

// The grids: the groups are in the first, whose two workers the health
// alerts go to; the second's worker may not register there.
var (
	gcGrid       = grid.Grid{Code: "440703006107-01", Name: "石冲社区第一网格", Community: "石冲社区", Town: "棠下镇"}
	gcOtherGrid  = grid.Grid{Code: "440703103206-01", Name: "子绵村第一网格", Community: "子绵村", Town: "荷塘镇"}
	gcWorkers    = []grid.Worker{{Name: "周网格", Phone: "13700137001"}, {Name: "吴网格", Phone: "13700137002"}}
	gcOtherStaff = []grid.Worker{{Name: "郑网格", Phone: "13700137003"}}
)

// gcJoinURL is JOIN_URL as the template makes it.
const gcJoinURL = "https://aaaaaaaaaa.execute-api.cn-north-1.amazonaws.com.cn/" + gcStage + "/join/"

// gcSystem is the groups and health functions under the emulator, with the
// harness's system for events, tables and keys.
type gcSystem struct {
	*system
	groups, health *lambdarie.Emulator
}

// gcView is a group as the API shows it (openapi Group).
type gcView struct {
	GroupID       string      `json:"groupId"`
	Name          string      `json:"name"`
	Kind          string      `json:"kind"`
	Address       string      `json:"address"`
	GridCode      string      `json:"gridCode"`
	Admin         group.Admin `json:"admin"`
	Members       int         `json:"members"`
	RosterVersion int         `json:"rosterVersion"`
	JoinURL       string      `json:"joinUrl"`
	CreatedAt     time.Time   `json:"createdAt"`
}

// gcMember is a roster line (openapi Member).
type gcMember struct {
	MemberID string    `json:"memberId"`
	Status   string    `json:"status"`
	Name     string    `json:"name"`
	IDType   string    `json:"idType"`
	IDNumber string    `json:"idNumber"`
	Phone    string    `json:"phone"`
	JoinedAt time.Time `json:"joinedAt"`
}

// gcRoster is GET .../members (openapi Roster).
type gcRoster struct {
	GroupID       string     `json:"groupId"`
	RosterVersion int        `json:"rosterVersion"`
	Members       []gcMember `json:"members"`
	Pending       []gcMember `json:"pending"`
}

// gcResult is the answer to a health batch.
type gcResult struct {
	Received int `json:"received"`
	Applied  int `json:"applied"`
	Stale    int `json:"stale"`
	Alerts   int `json:"alerts"`
}

// TestGroups runs the group code as the cloud does: the groups and health
// functions built as Lambda binaries under the Runtime Interface Emulator,
// invoked with API Gateway HTTP API events, against DynamoDB Local.
func TestGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := startGroups(ctx, t)

	var supermarket, ktv string
	if !t.Run("register", func(t *testing.T) { supermarket, ktv = s.testRegister(ctx, t) }) || supermarket == "" || ktv == "" {
		t.FailNow()
	}
	if !t.Run("roster", func(t *testing.T) { s.testRoster(ctx, t, supermarket, ktv) }) {
		t.FailNow()
	}
	t.Run("join", func(t *testing.T) { s.testJoin(ctx, t, supermarket) })
	t.Run("health", func(t *testing.T) { s.testHealth(ctx, t, supermarket, ktv) })
	t.Run("qr", func(t *testing.T) { s.testQR(ctx, t, supermarket) })
	t.Run("daily", func(t *testing.T) { s.testDaily(ctx, t, supermarket) })
	// Last, so that every request above has been logged.
	t.Run("logs", func(t *testing.T) { s.testGroupLogs(t) })
}

func startGroups(ctx context.Context, t *testing.T) *gcSystem {
	t.Helper()
	base, endpoint, keysFile := newSystem(ctx, t, "groups", func(prefix string) dynamo.Tables {
		return dynamo.Tables{
			Alerts: prefix + "alerts", Grids: prefix + "grids", Rules: prefix + "rules",
			Groups: prefix + "groups", Members: prefix + "members", Health: prefix + "health", DailyLists: prefix + "daily",
			Registry: prefix + "registry", Audit: prefix + "audit",
		}
	})
	s := &gcSystem{system: base}

	// The grids with their workers, sealed, as the district's import
	// stores them.
	a, b := gcGrid, gcOtherGrid
	if err := a.SealWorkers(s.vault, gcWorkers); err != nil {
		t.Fatal(err)
	}
	if err := b.SealWorkers(s.vault, gcOtherStaff); err != nil {
		t.Fatal(err)
	}
	if err := s.store.PutGrids(ctx, []grid.Grid{a, b}); err != nil {
		t.Fatal(err)
	}

	// Each function gets the variables template.yaml gives it, with the
	// key file for KEYS_PARAMETER and the local endpoint.
	common := []string{"KEYS_FILE=" + keysFile, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON"}
	s.groups = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/groups"), append(slices.Clone(common),
		"GROUPS_TABLE="+s.tables.Groups, "MEMBERS_TABLE="+s.tables.Members, "DAILY_LISTS_TABLE="+s.tables.DailyLists,
		"GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules, "AUDIT_TABLE="+s.tables.Audit, "JOIN_URL="+gcJoinURL, "SETTINGS_TTL=30s",
		"RATE_LIMITS_TABLE="+s.rateLimitsTable(ctx, t))...)
	s.health = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/health"), append(slices.Clone(common),
		"HEALTH_TABLE="+s.tables.Health, "GROUPS_TABLE="+s.tables.Groups, "MEMBERS_TABLE="+s.tables.Members,
		"ALERTS_TABLE="+s.tables.Alerts, "GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules,
		"REGISTRY_TABLE="+s.tables.Registry,
		"RETENTION_DAYS=60", "SETTINGS_TTL=30s")...)
	return s
}

// 1. Registration: one place, one code; who may register where; every
// bad field at once.
func (s *gcSystem) testRegister(ctx context.Context, t *testing.T) (string, string) {
	admin := s.issue(t, auth.Principal{Subject: "district", Role: auth.DistrictAdmin})
	worker := s.issue(t, auth.Principal{Subject: "worker-a", Role: auth.GridWorker, Grids: auth.ParseGrids(gcGrid.Code)})
	otherWorker := s.issue(t, auth.Principal{Subject: "worker-b", Role: auth.GridWorker, Grids: auth.ParseGrids(gcOtherGrid.Code)})
	register := func(token string, p gcPlace, a group.Admin) request {
		return request{Route: "POST /v1/groups", Token: token, Body: gcJSON(t, map[string]any{
			"name": p.name, "kind": p.kind, "address": p.address, "gridCode": gcGrid.Code, "admin": a,
		})}
	}
	wantView := func(id string, p gcPlace) gcView {
		return gcView{GroupID: id, Name: p.name, Kind: p.kind, Address: p.address, GridCode: gcGrid.Code,
			Admin: group.Admin{Name: p.admin.Name, Phone: p.adminPhone[:3] + "****" + p.adminPhone[7:]}, JoinURL: gcJoinURL + id}
	}

	// The district office registers the supermarket.
	before := time.Now()
	resp := s.invoke(ctx, t, s.groups, register(admin, gcSupermarket, gcSupermarket.admin))
	var created gcView
	resp.want(t, http.StatusCreated, &created)
	id := group.ID(s.vault, gcSupermarket.name, gcSupermarket.address)
	want := wantView(id, gcSupermarket)
	if diff := cmp.Diff(want, created, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".CreatedAt" }, cmp.Ignore())); diff != "" {
		t.Errorf("registered group (-want +got):\n%s", diff)
	}
	if created.CreatedAt.Before(before.Add(-time.Minute)) || created.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("createdAt %s is not the time of the registration", created.CreatedAt)
	}
	if loc := resp.header("Location"); loc != "/v1/groups/"+id {
		t.Errorf("Location = %q, want /v1/groups/%s", loc, id)
	}
	if strings.Contains(string(resp.Body), gcSupermarket.adminPhone) {
		t.Errorf("the answer shows the administrator's phone unmasked: %s", resp.Body)
	}
	want.CreatedAt = created.CreatedAt
	// Stored: the administrator sealed, findable by phone lookup only.
	stored, err := s.store.GetGroup(ctx, id)
	if err != nil {
		t.Fatalf("group %s not stored: %v", id, err)
	}
	if a, err := group.OpenAdmin(s.vault, stored); err != nil || a != (group.Admin{Name: gcSupermarket.admin.Name, Phone: gcSupermarket.adminPhone}) {
		t.Errorf("stored administrator opens to %+v (err %v), want %s with the normalised phone", a, err, gcSupermarket.admin.Name)
	}
	if stored.AdminLookup != report.PhoneLookup(s.vault, gcSupermarket.adminPhone) {
		t.Errorf("stored adminLookup is not the phone lookup of the administrator's phone")
	}
	gcCheckPlain(t, "group item", s.rawItem(ctx, t, s.tables.Groups, "groupId", id),
		gcSupermarket.admin.Name, gcSupermarket.adminPhone, gcSupermarket.admin.Phone)

	// The same place again, typed with a space and by someone else: the
	// existing group, with its own administrator, and nothing stored.
	again := gcSupermarket
	again.name = "惠民 超市"
	var exists struct {
		Error string `json:"error"`
		Group gcView `json:"group"`
	}
	s.invoke(ctx, t, s.groups, register(admin, again, gcRival)).want(t, http.StatusConflict, &exists)
	if exists.Error != "group_exists" {
		t.Errorf("same place again: error %q, want group_exists", exists.Error)
	}
	if diff := cmp.Diff(want, exists.Group); diff != "" {
		t.Errorf("same place again: the group in the answer (-first +got):\n%s", diff)
	}
	if a, err := s.store.GetGroup(ctx, id); err != nil || a.AdminLookup != stored.AdminLookup || !bytes.Equal(a.AdminSealed, stored.AdminSealed) {
		t.Errorf("same place again changed the stored administrator (err %v)", err)
	}

	// Another grid's worker may not register in this grid; this grid's may.
	var forbidden errorBody
	s.invoke(ctx, t, s.groups, register(otherWorker, gcKTV, gcKTV.admin)).want(t, http.StatusForbidden, &forbidden)
	if forbidden.Error != "forbidden" {
		t.Errorf("another grid's worker: error %q, want forbidden", forbidden.Error)
	}
	if n := s.count(ctx, t, s.tables.Groups, "", ""); n != 1 {
		t.Errorf("after a forbidden registration the groups table has %d items, want 1", n)
	}
	var ktv gcView
	s.invoke(ctx, t, s.groups, register(worker, gcKTV, gcKTV.admin)).want(t, http.StatusCreated, &ktv)
	ktvID := group.ID(s.vault, gcKTV.name, gcKTV.address)
	if ktv.GroupID != ktvID || ktv.GridCode != gcGrid.Code || ktv.Admin.Phone != "138****8102" {
		t.Errorf("registered by the grid's worker: %+v; want %s in %s, admin phone 138****8102", ktv, ktvID, gcGrid.Code)
	}

	// A bad body: every bad field named, nothing stored.
	var bad errorBody
	s.invoke(ctx, t, s.groups, request{Route: "POST /v1/groups", Token: admin, Body: gcJSON(t, map[string]any{
		"name": " ", "kind": "casino", "address": "石冲路1号", "gridCode": "440703999999-99",
		"admin": map[string]string{"name": "王老板", "phone": "1380013"},
	})}).want(t, http.StatusBadRequest, &bad)
	wantBad := []problem{{"admin.phone", "invalid"}, {"gridCode", "unknown"}, {"kind", "unknown"}, {"name", "required"}}
	if diff := cmp.Diff(wantBad, gcSorted(bad.Fields)); diff != "" || bad.Error != "invalid_group" {
		t.Errorf("bad body: error %q, fields (-want +got):\n%s", bad.Error, diff)
	}
	if n := s.count(ctx, t, s.tables.Groups, "", ""); n != 2 {
		t.Errorf("after a bad body the groups table has %d items, want 2", n)
	}
	return id, ktvID
}

// 2. The roster: a GB18030 CSV as Chinese Excel saves it, sent base64 as
// API Gateway sends binary bodies; all or nothing.
func (s *gcSystem) testRoster(ctx context.Context, t *testing.T, supermarket, ktv string) {
	admin := s.groupAdmin(t, supermarket)
	put := request{Route: "PUT /v1/groups/{groupId}/members", Path: "/v1/groups/" + supermarket + "/members", Token: admin}
	get := request{Route: "GET /v1/groups/{groupId}/members", Path: put.Path, Token: admin}

	// The header as people write it: a note in brackets, an optional
	// column; and a blank row, which Excel leaves between header and data.
	csvText := strings.Join([]string{
		"姓名,证件类型,证件号码,手机号（选填）",
		",,,",
		gcCSVRow(gcZhang), gcCSVRow(gcLi), gcCSVRow(gcWang),
	}, "\r\n") + "\r\n"
	body := gcGB18030(t, csvText)

	var v gcView
	s.invokeEvent(ctx, t, s.groups, s.binaryEvent(t, put, "text/csv", body)).want(t, http.StatusOK, &v)
	if v.GroupID != supermarket || v.Members != 3 || v.RosterVersion != 1 {
		t.Fatalf("after the CSV roster: group %s, %d members, version %d; want %s, 3, 1", v.GroupID, v.Members, v.RosterVersion, supermarket)
	}

	var roster gcRoster
	s.invoke(ctx, t, s.groups, get).want(t, http.StatusOK, &roster)
	s.checkRoster(t, roster, supermarket, 1, []gcPerson{gcZhang, gcLi, gcWang}, nil)
	s.checkMembersSealed(ctx, t)

	// Another group's administrator may not touch it.
	var forbidden errorBody
	s.invokeEvent(ctx, t, s.groups, s.binaryEvent(t, withToken(put, s.groupAdmin(t, ktv)), "text/csv", body)).
		want(t, http.StatusForbidden, &forbidden)

	// A bad ID number and a bad phone: both named by their line in the
	// file (the header is line 1, the blank row line 2), nothing changed.
	badID := gcLi
	badID.idNumber = badID.idNumber[:17] + gcOtherCheck(badID.idNumber[17])
	badPhone := gcWang
	badPhone.phoneTyped = "1390000"
	badText := strings.Join([]string{"姓名,证件类型,证件号码,手机号（选填）", ",,,",
		gcCSVRow(gcZhang), gcCSVRow(badID), gcCSVRow(badPhone)}, "\r\n") + "\r\n"
	var bad errorBody
	s.invokeEvent(ctx, t, s.groups, s.binaryEvent(t, put, "text/csv", gcGB18030(t, badText))).want(t, http.StatusBadRequest, &bad)
	wantBad := []problem{{"rows[4].idNumber", idcard.ReasonChecksum}, {"rows[5].phone", group.ProblemInvalidPhone}}
	if diff := cmp.Diff(wantBad, gcSorted(bad.Fields)); diff != "" || bad.Error != group.CodeInvalidRoster {
		t.Errorf("bad roster: error %q, fields (-want +got):\n%s", bad.Error, diff)
	}
	var after gcRoster
	s.invoke(ctx, t, s.groups, get).want(t, http.StatusOK, &after)
	if diff := cmp.Diff(roster, after); diff != "" {
		t.Errorf("a refused roster changed the roster (-before +after):\n%s", diff)
	}

	// The KTV's roster as JSON: 李娜 works in both places.
	var k gcView
	s.invoke(ctx, t, s.groups, request{
		Route: "PUT /v1/groups/{groupId}/members", Path: "/v1/groups/" + ktv + "/members", Token: s.groupAdmin(t, ktv),
		Body: gcJSON(t, map[string]any{"members": []map[string]string{{"name": gcLi.name, "idNumber": gcLi.idNumber, "phone": gcLi.phoneTyped}}}),
	}).want(t, http.StatusOK, &k)
	if k.Members != 1 || k.RosterVersion != 1 {
		t.Errorf("after the KTV's JSON roster: %d members, version %d; want 1, 1", k.Members, k.RosterVersion)
	}
}

// 3. A self-join through the QR link, then the administrator's approval.
func (s *gcSystem) testJoin(ctx context.Context, t *testing.T, supermarket string) {
	admin := s.groupAdmin(t, supermarket)
	get := request{Route: "GET /v1/groups/{groupId}/members", Path: "/v1/groups/" + supermarket + "/members", Token: admin}
	join := request{Route: "POST /v1/groups/{groupId}/join", Path: "/v1/groups/" + supermarket + "/join"}

	var bad errorBody
	s.invoke(ctx, t, s.groups, withBody(join, gcJSON(t, map[string]string{"name": gcZhao.name, "idNumber": ""}))).
		want(t, http.StatusBadRequest, &bad)
	if diff := cmp.Diff([]problem{{"idNumber", "required"}}, bad.Fields); diff != "" || bad.Error != group.CodeInvalidJoin {
		t.Errorf("join without an ID number: error %q, fields (-want +got):\n%s", bad.Error, diff)
	}
	var unknown errorBody
	s.invoke(ctx, t, s.groups, request{Route: join.Route, Path: "/v1/groups/G00000000/join",
		Body: gcJSON(t, gcJoinBody(gcZhao))}).want(t, http.StatusNotFound, &unknown)

	var pending map[string]string
	s.invoke(ctx, t, s.groups, withBody(join, gcJSON(t, gcJoinBody(gcZhao)))).want(t, http.StatusAccepted, &pending)
	if pending["status"] != "pending" {
		t.Errorf("join answered %v, want status pending", pending)
	}
	var roster gcRoster
	s.invoke(ctx, t, s.groups, get).want(t, http.StatusOK, &roster)
	s.checkRoster(t, roster, supermarket, 1, []gcPerson{gcZhang, gcLi, gcWang}, []gcPerson{gcZhao})
	if len(roster.Pending) != 1 {
		t.FailNow()
	}
	memberID := roster.Pending[0].MemberID

	approve := request{Route: "POST /v1/groups/{groupId}/members/{memberId}/approve",
		Path: "/v1/groups/" + supermarket + "/members/" + memberID + "/approve", Token: admin}
	var v gcView
	s.invoke(ctx, t, s.groups, approve).want(t, http.StatusOK, &v)
	if v.Members != 4 || v.RosterVersion != 1 {
		t.Errorf("after the approval: %d members, version %d; want 4, 1", v.Members, v.RosterVersion)
	}
	// A fresh value: json reuses the elements of a slice it decodes into,
	// keeping fields the new JSON omits (phone is omitempty).
	var approved gcRoster
	s.invoke(ctx, t, s.groups, get).want(t, http.StatusOK, &approved)
	s.checkRoster(t, approved, supermarket, 1, []gcPerson{gcZhang, gcLi, gcWang, gcZhao}, nil)
	s.checkMembersSealed(ctx, t)

	// The request is gone: approving it again finds nothing.
	var gone errorBody
	s.invoke(ctx, t, s.groups, approve).want(t, http.StatusNotFound, &gone)
	if gone.Error != "not_found" {
		t.Errorf("second approval: error %q, want not_found", gone.Error)
	}
}

// 4. The health feed: a member turning red alerts the administrators of
// their groups and the workers of those groups' grid, once each.
func (s *gcSystem) testHealth(ctx context.Context, t *testing.T, supermarket, ktv string) {
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	update := func(p gcPerson, color string, natHours int, nat string) map[string]any {
		u := map[string]any{"idType": "resident_id", "idNumber": p.idNumber, "codeColor": color, "vaccineDoses": 3, "updatedAt": at}
		if natHours > 0 {
			u["natAt"], u["natResult"] = at.Add(-time.Duration(natHours)*time.Hour), nat
		}
		return u
	}
	batch := request{Route: "POST /v1/health/updates", Token: s.issue(t, auth.Principal{Subject: "feed", Role: auth.HealthFeed}),
		Body: gcJSON(t, map[string]any{"updates": []any{
			update(gcLi, "red", 30, "positive"),
			update(gcZhang, "green", 20, "negative"),
			update(gcOutsider, "red", 0, ""),
		}})}

	var forbidden errorBody
	s.invoke(ctx, t, s.health, withToken(batch, s.groupAdmin(t, supermarket))).want(t, http.StatusForbidden, &forbidden)
	if n := s.count(ctx, t, s.tables.Health, "", ""); n != 0 {
		t.Errorf("a forbidden batch stored %d statuses", n)
	}

	var res gcResult
	s.invoke(ctx, t, s.health, batch).want(t, http.StatusOK, &res)
	if want := (gcResult{Received: 3, Applied: 3, Alerts: 4}); res != want {
		t.Errorf("first delivery: %+v, want %+v (two administrators and two workers about 李娜)", res, want)
	}

	// The outbox: one SMS to each administrator, one to each worker of
	// the grid although 李娜 is in two of its groups.
	type expected struct {
		template string
		phone    string
		groups   []string // the group the SMS may name
	}
	wantTo := []expected{
		{alert.HealthToGroup.Code, gcSupermarket.adminPhone, []string{gcSupermarket.name}},
		{alert.HealthToGroup.Code, gcKTV.adminPhone, []string{gcKTV.name}},
	}
	for _, w := range gcWorkers {
		wantTo = append(wantTo, expected{alert.HealthToGrid.Code, w.Phone, []string{gcSupermarket.name, gcKTV.name}})
	}
	ids := refreshAlertIDs(ctx, t, s.db, s.tables.Alerts)
	if len(ids) != len(wantTo) {
		t.Fatalf("the alerts table holds %d alerts %v, want %d\nfunction output:\n%s", len(ids), ids, len(wantTo), s.health.Output())
	}
	got := map[string]alert.Alert{} // by recipient lookup
	for _, id := range ids {
		a, err := s.store.Alert(ctx, id)
		if err != nil {
			t.Fatalf("alert %s: %v", id, err)
		}
		got[a.RecipientLookup] = a
		gcCheckPlain(t, "alert "+id, s.rawItem(ctx, t, s.tables.Alerts, "alertId", id), s.secrets()...)
	}
	member := "尾号" + gcLi.idNumber[14:]
	for _, w := range wantTo {
		a, ok := got[report.PhoneLookup(s.vault, w.phone)]
		if !ok {
			t.Errorf("no %s alert to %s", w.template, w.phone)
			continue
		}
		if a.Template != w.template || a.Status != alert.Pending || a.GridCode != gcGrid.Code || a.ReportID != "" {
			t.Errorf("alert %s: template %s, status %s, grid %s, report %q; want %s pending for grid %s, no report",
				a.ID, a.Template, a.Status, a.GridCode, a.ReportID, w.template, gcGrid.Code)
		}
		// A health alert's parameters name a health status: stored sealed.
		if a.Params != nil || a.ParamsSealed == nil {
			t.Errorf("alert %s: parameters in the clear %v", a.ID, a.Params)
		}
		params, err := a.OpenParams(s.vault)
		if err != nil {
			t.Fatalf("alert %s: %v", a.ID, err)
		}
		wantParams := map[string]string{"group": params["group"], "member": member, "color": "红码"}
		if w.template == alert.HealthToGrid.Code {
			wantParams["grid"] = gcGrid.Name
		}
		if diff := cmp.Diff(wantParams, params); diff != "" || !slices.Contains(w.groups, params["group"]) {
			t.Errorf("alert %s params (-want +got), group one of %v:\n%s", a.ID, w.groups, diff)
		}
		if to, err := s.vault.Open(a.RecipientSealed, a.ID); err != nil || string(to) != w.phone {
			t.Errorf("alert %s: recipient opens to %q (err %v), want %s", a.ID, to, err, w.phone)
		}
		if d := time.Unix(a.ExpiresAt, 0).Sub(a.CreatedAt); d < 59*24*time.Hour || d > 61*24*time.Hour {
			t.Errorf("alert %s expires %v after it was created, want 60 days (RETENTION_DAYS)", a.ID, d)
		}
	}

	// The same batch again (the feed retries): stale, nothing new queued.
	var again gcResult
	s.invoke(ctx, t, s.health, batch).want(t, http.StatusOK, &again)
	if want := (gcResult{Received: 3, Stale: 3}); again != want {
		t.Errorf("second delivery: %+v, want %+v", again, want)
	}
	if diff := cmp.Diff(ids, refreshAlertIDs(ctx, t, s.db, s.tables.Alerts)); diff != "" {
		t.Errorf("the second delivery changed the alerts (-before +after):\n%s", diff)
	}
}

// 5a. The QR code: a PNG, base64 in the Lambda response, encoding the
// group's join link.
func (s *gcSystem) testQR(ctx context.Context, t *testing.T, supermarket string) {
	req := request{Route: "GET /v1/groups/{groupId}/qr.png", Path: "/v1/groups/" + supermarket + "/qr.png", Token: s.groupAdmin(t, supermarket)}
	resp, raw := s.invokeRaw(ctx, t, s.groups, s.event(t, req))
	if resp.Status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s\nfunction output:\n%s", resp.Status, resp.Body, s.groups.Output())
	}
	if !raw.IsBase64Encoded {
		t.Errorf("the PNG is not base64-encoded in the Lambda response: API Gateway would send it as text")
	}
	if ct := resp.header("Content-Type"); ct != "image/png" {
		t.Errorf("Content-Type = %q, want image/png", ct)
	}
	if !bytes.HasPrefix(resp.Body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("body does not start with the PNG signature: % x", resp.Body[:min(len(resp.Body), 16)])
	}
	got, err := png.Decode(bytes.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("body is not a PNG: %v", err)
	}
	// The code of the join link, drawn as the function draws it.
	wantPNG, err := qr.PNG(gcJoinURL+supermarket, 512)
	if err != nil {
		t.Fatal(err)
	}
	want, err := png.Decode(bytes.NewReader(wantPNG))
	if err != nil {
		t.Fatal(err)
	}
	if !gcSameImage(want, got) {
		t.Errorf("the QR code (%v) is not the code of %s%s", got.Bounds(), gcJoinURL, supermarket)
	}

	var forbidden errorBody
	other := s.issue(t, auth.Principal{Subject: "worker-b", Role: auth.GridWorker, Grids: auth.ParseGrids(gcOtherGrid.Code)})
	s.invoke(ctx, t, s.groups, withToken(req, other)).want(t, http.StatusForbidden, &forbidden)
}

// 5b. The daily list, built by the refresh worker's code on the DynamoDB
// store, as JSON, XLSX and CSV.
func (s *gcSystem) testDaily(ctx context.Context, t *testing.T, supermarket string) {
	date := dates.Today(time.Now())
	path := "/v1/groups/" + supermarket + "/daily"
	worker := s.issue(t, auth.Principal{Subject: "worker-a", Role: auth.GridWorker, Grids: auth.ParseGrids(gcGrid.Code)})
	admin := s.groupAdmin(t, supermarket)
	daily := func(token, format string) request {
		q := "date=" + date
		if format != "" {
			q += "&format=" + format
		}
		return request{Route: "GET /v1/groups/{groupId}/daily", Path: path, Query: q, Token: token}
	}

	var missing errorBody
	s.invoke(ctx, t, s.groups, daily(admin, "")).want(t, http.StatusNotFound, &missing)

	w := refresh.Worker{Groups: s.store, Lists: s.store, Health: s.store, Vault: s.vault, Now: time.Now,
		NATLimit: group.DefaultNATLimit, Retention: 60 * 24 * time.Hour}
	if err := w.Group(ctx, date, supermarket); err != nil {
		t.Fatalf("refresh of %s for %s: %v", supermarket, date, err)
	}

	// 李娜 red with a positive NAT first, then 王芳 and 赵磊 without data,
	// then 张伟.
	order := []gcPerson{gcLi, gcWang, gcZhao, gcZhang}
	var list struct {
		Group   gcView        `json:"group"`
		Date    string        `json:"date"`
		Summary group.Summary `json:"summary"`
		Members []group.Entry `json:"members"`
	}
	resp := s.invoke(ctx, t, s.groups, daily(worker, "json"))
	resp.want(t, http.StatusOK, &list)
	wantSummary := group.Summary{Members: 4, Abnormal: 3, Red: 1, NATPositive: 1, NoData: 2}
	if diff := cmp.Diff(wantSummary, list.Summary); diff != "" || list.Date != date || list.Group.GroupID != supermarket {
		t.Errorf("daily list of %s %s: group %s, date %s, summary (-want +got):\n%s", supermarket, date, list.Group.GroupID, list.Date, diff)
	}
	var names, ids []string
	for _, e := range list.Members {
		names = append(names, e.Name)
		ids = append(ids, e.IDNumber)
	}
	var wantNames, wantIDs []string
	for _, p := range order {
		wantNames = append(wantNames, p.name)
		wantIDs = append(wantIDs, idcard.Mask(idcard.ResidentID, p.idNumber))
	}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("daily list order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantIDs, ids); diff != "" {
		t.Errorf("daily list ID numbers, masked (-want +got):\n%s", diff)
	}
	if len(list.Members) > 0 && !slices.Equal(list.Members[0].Reasons, []string{group.ReasonRed, group.ReasonNATPositive}) {
		t.Errorf("李娜's reasons %v, want code_red, nat_positive", list.Members[0].Reasons)
	}
	gcNoFullIDs(t, "JSON daily list", string(resp.Body), order)

	// XLSX: binary, so base64 in the Lambda response.
	resp, raw := s.invokeRaw(ctx, t, s.groups, s.event(t, daily(admin, "xlsx")))
	if resp.Status != http.StatusOK {
		t.Fatalf("xlsx: status %d; body %s\nfunction output:\n%s", resp.Status, resp.Body, s.groups.Output())
	}
	if !raw.IsBase64Encoded {
		t.Errorf("xlsx: not base64-encoded in the Lambda response")
	}
	if ct := resp.header("Content-Type"); ct != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Errorf("xlsx: Content-Type = %q", ct)
	}
	if cd := resp.header("Content-Disposition"); cd != "attachment; filename="+supermarket+"-"+date+".xlsx" {
		t.Errorf("xlsx: Content-Disposition = %q", cd)
	}
	f, err := excelize.OpenReader(bytes.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("xlsx: excelize cannot open the body: %v", err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); !slices.Equal(sheets, []string{date}) {
		t.Errorf("xlsx: sheets %v, want one named %s", sheets, date)
	}
	rows, err := f.GetRows(date)
	if err != nil {
		t.Fatalf("xlsx: %v", err)
	}
	if len(rows) != 2+len(order) {
		t.Fatalf("xlsx: %d rows, want title, header and %d members: %q", len(rows), len(order), rows)
	}
	if !strings.HasPrefix(rows[0][0], gcSupermarket.name+" "+date) {
		t.Errorf("xlsx: title %q, want it to start with the group and date", rows[0][0])
	}
	if !slices.Equal(rows[1], export.Header) {
		t.Errorf("xlsx: header %q, want %q", rows[1], export.Header)
	}
	var cells strings.Builder
	for i, p := range order {
		r := rows[2+i]
		if len(r) < 3 || r[0] != p.name || r[1] != "居民身份证" || r[2] != idcard.Mask(idcard.ResidentID, p.idNumber) {
			t.Errorf("xlsx: row %d = %q, want %s, 居民身份证, the masked ID", 3+i, r, p.name)
		}
		cells.WriteString(strings.Join(r, "\n"))
	}
	gcNoFullIDs(t, "xlsx", cells.String(), order)

	// CSV: UTF-8 with BOM, which is text for the adapter.
	resp = s.invoke(ctx, t, s.groups, daily(worker, "csv"))
	if resp.Status != http.StatusOK {
		t.Fatalf("csv: status %d; body %s", resp.Status, resp.Body)
	}
	if ct := resp.header("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("csv: Content-Type = %q", ct)
	}
	text, ok := strings.CutPrefix(string(resp.Body), "\uFEFF")
	if !ok {
		t.Fatalf("csv: no UTF-8 BOM at the start: %q", resp.Body[:min(len(resp.Body), 16)])
	}
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	if len(lines) != 1+len(order) || lines[0] != strings.Join(export.Header, ",") {
		t.Fatalf("csv: %d lines, header %q; want the header and %d members:\n%s", len(lines), lines[0], len(order), text)
	}
	for i, p := range order {
		if want := p.name + ",居民身份证," + idcard.Mask(idcard.ResidentID, p.idNumber) + ","; !strings.HasPrefix(lines[1+i], want) {
			t.Errorf("csv: line %d = %q, want it to start with %q", 2+i, lines[1+i], want)
		}
	}
	gcNoFullIDs(t, "csv", text, order)

	var forbidden errorBody
	other := s.issue(t, auth.Principal{Subject: "worker-b", Role: auth.GridWorker, Grids: auth.ParseGrids(gcOtherGrid.Code)})
	s.invoke(ctx, t, s.groups, daily(other, "csv")).want(t, http.StatusForbidden, &forbidden)
	var badFormat errorBody
	s.invoke(ctx, t, s.groups, daily(admin, "pdf")).want(t, http.StatusBadRequest, &badFormat)
	if diff := cmp.Diff([]problem{{"format", "unknown"}}, badFormat.Fields); diff != "" {
		t.Errorf("format=pdf: fields (-want +got):\n%s", diff)
	}
}

// 6. The logs: a line per request, and no one's name, ID number or phone.
func (s *gcSystem) testGroupLogs(t *testing.T) {
	for _, f := range []struct {
		name   string
		emu    *lambdarie.Emulator
		routes []string
	}{
		{"groups", s.groups, []string{
			"POST /v1/groups", "PUT /v1/groups/{groupId}/members", "GET /v1/groups/{groupId}/members",
			"POST /v1/groups/{groupId}/join", "POST /v1/groups/{groupId}/members/{memberId}/approve",
			"GET /v1/groups/{groupId}/qr.png", "GET /v1/groups/{groupId}/daily",
		}},
		{"health", s.health, []string{"POST /v1/health/updates"}},
	} {
		logged := func(o string) bool {
			for _, r := range f.routes {
				if !strings.Contains(o, `"route":"`+r+`"`) {
					return false
				}
			}
			return true
		}
		// The emulator's log lines may trail its answer.
		out := waitOutput(f.emu, logged, 5*time.Second)
		if !logged(out) || !strings.Contains(out, `"requestId":"`) {
			t.Errorf("%s: want a request log line with a request id for each of %q in the output:\n%s", f.name, f.routes, out)
		}
		for _, v := range s.secrets() {
			if strings.Contains(out, v) {
				t.Errorf("%s: the logs contain %q:\n%s", f.name, v, out)
			}
		}
	}
}

// secrets are every name, ID number and phone the test sent, as typed, as
// stored and as a JSON encoder that escapes non-ASCII would write them.
func (s *gcSystem) secrets() []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v == "" {
				continue
			}
			out = append(out, v)
			if q := strconv.QuoteToASCII(v); q[1:len(q)-1] != v {
				out = append(out, q[1:len(q)-1])
			}
		}
	}
	for _, p := range []gcPerson{gcZhang, gcLi, gcWang, gcZhao, gcOutsider} {
		add(p.name, p.idNumber, p.phoneTyped, p.phone, p.idNumber[:17]+gcOtherCheck(p.idNumber[17]))
	}
	for _, p := range []gcPlace{gcSupermarket, gcKTV} {
		add(p.admin.Name, p.admin.Phone, p.adminPhone)
	}
	add(gcRival.Name, gcRival.Phone)
	for _, w := range append(slices.Clone(gcWorkers), gcOtherStaff...) {
		add(w.Name, w.Phone)
	}
	return out
}

// checkRoster compares a roster with the people on it and asking to join,
// as the administrator sees them: masked, keyed by the person lookup.
func (s *gcSystem) checkRoster(t *testing.T, got gcRoster, groupID string, version int, members, pending []gcPerson) {
	t.Helper()
	view := func(ms []gcMember) []gcMember {
		out := []gcMember{}
		for _, m := range ms {
			m.JoinedAt = time.Time{}
			out = append(out, m)
		}
		slices.SortFunc(out, func(a, b gcMember) int { return strings.Compare(a.MemberID, b.MemberID) })
		return out
	}
	want := func(ps []gcPerson, status string) []gcMember {
		out := []gcMember{}
		for _, p := range ps {
			phone := ""
			if p.phone != "" {
				phone = p.phone[:3] + "****" + p.phone[7:]
			}
			out = append(out, gcMember{
				MemberID: report.PersonLookup(s.vault, idcard.ResidentID, p.idNumber), Status: status, Name: p.name,
				IDType: string(idcard.ResidentID), IDNumber: idcard.Mask(idcard.ResidentID, p.idNumber), Phone: phone,
			})
		}
		return view(out)
	}
	if got.GroupID != groupID || got.RosterVersion != version {
		t.Errorf("roster of %s version %d, want %s version %d", got.GroupID, got.RosterVersion, groupID, version)
	}
	if diff := cmp.Diff(want(members, "active"), view(got.Members)); diff != "" {
		t.Errorf("roster members (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want(pending, "pending"), view(got.Pending)); diff != "" {
		t.Errorf("roster pending joins (-want +got):\n%s", diff)
	}
	for _, m := range append(slices.Clone(got.Members), got.Pending...) {
		if m.JoinedAt.IsZero() {
			t.Errorf("member %s has no joinedAt", m.Name)
		}
	}
}

// checkMembersSealed fails if any item of the members table holds a
// member's name, ID number or phone in plain text.
func (s *gcSystem) checkMembersSealed(ctx context.Context, t *testing.T) {
	t.Helper()
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: aws.String(s.tables.Members), ConsistentRead: aws.Bool(true)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan %s: %v", s.tables.Members, err)
		}
		for _, item := range page.Items {
			n++
			gcCheckPlain(t, "members item", item, s.secrets()...)
		}
	}
	if n == 0 {
		t.Errorf("the members table is empty")
	}
}

// issue signs a token for p, valid for an hour.
func (s *system) issue(t *testing.T, p auth.Principal) string {
	t.Helper()
	p.Expires = time.Now().Add(time.Hour)
	tok, err := s.issuer.Issue(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *gcSystem) groupAdmin(t *testing.T, groupID string) string {
	t.Helper()
	return s.issue(t, auth.Principal{Subject: "admin-" + groupID, Role: auth.GroupAdmin, Group: groupID})
}

// binaryEvent is the event of r with a binary body, as API Gateway sends a
// body it does not take for text: base64, isBase64Encoded true, with the
// request's own Content-Type and Content-Length.
func (s *system) binaryEvent(t *testing.T, r request, contentType string, body []byte) []byte {
	t.Helper()
	r.Body = base64.StdEncoding.EncodeToString(body)
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(s.event(t, r)))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		t.Fatal(err)
	}
	headers := ev["headers"].(map[string]any)
	headers["content-type"] = contentType
	headers["content-length"] = strconv.Itoa(len(body))
	ev["isBase64Encoded"] = true
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, out, &events.APIGatewayV2HTTPRequest{})
	return out
}

// invokeEvent invokes with a ready event and decodes the response.
func (s *system) invokeEvent(ctx context.Context, t *testing.T, emu *lambdarie.Emulator, ev []byte) response {
	t.Helper()
	resp, _ := s.invokeRaw(ctx, t, emu, ev)
	return resp
}

// invokeRaw also returns the Lambda response as the function wrote it, to
// see whether the body is base64.
func (s *system) invokeRaw(ctx context.Context, t *testing.T, emu *lambdarie.Emulator, ev []byte) (response, events.APIGatewayV2HTTPResponse) {
	t.Helper()
	out, err := emu.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var raw events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &raw); err != nil || raw.StatusCode == 0 {
		t.Fatalf("not an API Gateway v2 response (err %v): %s\nfunction output:\n%s", err, out, emu.Output())
	}
	body := []byte(raw.Body)
	if raw.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(raw.Body); err != nil {
			t.Fatalf("body: %v", err)
		}
	}
	return response{Status: raw.StatusCode, Headers: raw.Headers, Body: body, emu: emu}, raw
}

func withBody(r request, body string) request {
	r.Body = body
	return r
}

func gcJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gcJoinBody(p gcPerson) map[string]string {
	return map[string]string{"name": p.name, "idType": p.idType, "idNumber": p.idNumber, "phone": p.phoneTyped}
}

// gcCSVRow is a roster line: name, document type, ID number, phone.
func gcCSVRow(p gcPerson) string {
	return strings.Join([]string{p.name, p.idType, p.idNumber, p.phoneTyped}, ",")
}

// gcGB18030 encodes text as Chinese Excel saves "CSV (逗号分隔)".
func gcGB18030(t *testing.T, text string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if utf8.Valid(b) {
		t.Fatalf("the GB18030 roster is valid UTF-8 too; it would not test the GB18030 path")
	}
	return b
}

// gcOtherCheck is a check character other than c.
func gcOtherCheck(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func gcSorted(ps []problem) []problem {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b problem) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// gcCheckPlain fails if the item holds any of values in plain text, in a
// string, number or binary attribute at any depth.
func gcCheckPlain(t *testing.T, what string, item map[string]types.AttributeValue, values ...string) {
	t.Helper()
	var dump strings.Builder
	var walk func(types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			dump.WriteString(v.Value)
		case *types.AttributeValueMemberN:
			dump.WriteString(v.Value)
		case *types.AttributeValueMemberB:
			dump.Write(v.Value)
		case *types.AttributeValueMemberSS:
			dump.WriteString(strings.Join(v.Value, "\n"))
		case *types.AttributeValueMemberL:
			for _, e := range v.Value {
				walk(e)
			}
		case *types.AttributeValueMemberM:
			for k, e := range v.Value {
				dump.WriteString(k + "\n")
				walk(e)
			}
		}
		dump.WriteString("\n")
	}
	walk(&types.AttributeValueMemberM{Value: item})
	for _, v := range values {
		if strings.Contains(dump.String(), v) {
			t.Errorf("%s holds %q in plain text:\n%s", what, v, dump.String())
		}
	}
}

// gcNoFullIDs fails if text shows anyone's ID number unmasked.
func gcNoFullIDs(t *testing.T, what, text string, people []gcPerson) {
	t.Helper()
	for _, p := range people {
		if strings.Contains(text, p.idNumber) {
			t.Errorf("%s shows %s's ID number unmasked", what, p.name)
		}
	}
}

// gcSameImage compares two images pixel by pixel.
func gcSameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}
