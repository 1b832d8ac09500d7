package local

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/sms/outbox"
)

const (
	demoGrid     = "440703006107-01" // a demo grid of 石冲社区
	otherGrid    = "440703006108-01"
	storeManager = "13800138001"
)

var (
	groupMember1  = residentID("44070319900101123")
	groupMember2  = residentID("44070319850505123")
	groupMember3  = residentID("44070320000202002")
	groupJoinerID = residentID("44070319780707001")
)

func (e *env) groupToken(groupID string) string {
	e.t.Helper()
	tok, err := e.sys.Issuer.Issue(auth.Principal{Subject: "manager", Role: auth.GroupAdmin, Group: groupID, Expires: testNow.Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// send is do with a JSON body and a token.
func (e *env) send(method, path, token string, body any, out any) int {
	e.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			e.t.Fatal(err)
		}
	}
	return e.do(method, path, "application/json", token, bytes.NewReader(b), out)
}

// sms waits until the outbox holds a message for alertID.
func (e *env) sms(alertID string) (outbox.Line, bool) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var sent []outbox.Line
		e.do("GET", "/dev/sms", "", "", nil, &sent)
		for _, l := range sent {
			if l.AlertID == alertID {
				return l, true
			}
		}
		if time.Now().After(deadline) {
			return outbox.Line{}, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func gb18030(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type groupView struct {
	GroupID string `json:"groupId"`
	Members int    `json:"members"`
	JoinURL string `json:"joinUrl"`
	Admin   struct{ Name, Phone string }
}

// The group code end to end on the local server: a store registers, its
// manager uploads the roster from Excel, a member self-joins, the health
// feed turns a member red (SMS to the manager and the grid's workers), and
// the morning refresh builds the list the manager downloads.
func TestGroupCodeFlow(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.sys.Deliver(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	office := e.token(auth.DistrictAdmin, "")
	worker := e.token(auth.GridWorker, demoGrid)

	reg := map[string]any{
		"name": "惠民超市", "kind": "supermarket", "address": "石冲社区新塘里101号", "gridCode": demoGrid,
		"admin": map[string]string{"name": "黄店长", "phone": storeManager},
	}
	var g groupView
	if code := e.send("POST", "/v1/groups", worker, reg, &g); code != 201 {
		t.Fatalf("register: %d", code)
	}
	if g.Admin.Phone != "138****8001" || !strings.HasSuffix(g.JoinURL, "/join/"+g.GroupID) {
		t.Errorf("registered group: %+v", g)
	}
	var exists struct {
		Error string
		Group groupView
	}
	// One place, one code: spacing differs, the place is the same.
	reg["address"] = "石冲社区 新塘里101号"
	if code := e.send("POST", "/v1/groups", office, reg, &exists); code != 409 || exists.Error != "group_exists" || exists.Group.GroupID != g.GroupID {
		t.Errorf("second registration: %d %+v", code, exists)
	}
	reg["gridCode"] = otherGrid
	if code := e.send("POST", "/v1/groups", worker, reg, nil); code != 403 {
		t.Errorf("a worker registering in another grid: %d", code)
	}
	// The other grid's worker registering this place learns it has a code,
	// and nothing about the group.
	var bare map[string]any
	if code := e.send("POST", "/v1/groups", e.token(auth.GridWorker, otherGrid), reg, &bare); code != 409 || bare["error"] != "group_exists" || bare["group"] != nil {
		t.Errorf("another grid's worker registering this place: %d %v", code, bare)
	}

	manager := e.groupToken(g.GroupID)
	members := "/v1/groups/" + g.GroupID + "/members"
	// Excel's GB18030 CSV with a bad check digit on line 3: nothing changes.
	bad := "姓名,身份证号码,手机号码\r\n张三," + groupMember1 + ",13900139001\r\n李四,440703198505051230,13900139002\r\n"
	var refused apiError
	if code := e.do("PUT", members, "text/csv", manager, bytes.NewReader(gb18030(t, bad)), &refused); code != 400 ||
		len(refused.Fields) != 1 || refused.Fields[0].Field != "rows[3].idNumber" {
		t.Fatalf("bad roster: %d %+v", code, refused)
	}
	if code := e.do("PUT", members, "text/plain", manager, strings.NewReader("姓名,身份证号码\r\n张三,"+groupMember1+"\r\n"), nil); code != 415 {
		t.Errorf("a roster as text/plain: %d, want 415", code)
	}
	huge := "姓名,身份证号码\r\n" + strings.Repeat("张三,"+groupMember1+"\r\n", 40000)
	if code := e.do("PUT", members, "text/csv", manager, strings.NewReader(huge), nil); code != 413 {
		t.Errorf("a roster over the size limit: %d, want 413", code)
	}
	var roster struct {
		Members []struct{ MemberID, Name, IDNumber, Phone string }
		Pending []struct{ MemberID, Name string }
	}
	if e.send("GET", members, manager, nil, &roster); len(roster.Members) != 0 {
		t.Fatalf("a refused roster left %d members", len(roster.Members))
	}
	good := "姓名,身份证号码,手机号码\r\n张三," + groupMember1 + ",13900139001\r\n李四," + groupMember2 + ",13900139002\r\n王五," + groupMember3 + ",\r\n"
	if code := e.do("PUT", members, "text/csv", manager, bytes.NewReader(gb18030(t, good)), &g); code != 200 || g.Members != 3 {
		t.Fatalf("roster: %d, %d members", code, g.Members)
	}
	if code := e.send("PUT", members, e.groupToken("GOTHERGRP"), map[string]any{"members": []any{}}, nil); code != 403 {
		t.Errorf("another group's manager replaced this roster: %d", code)
	}

	// A self-join through the QR link waits for the manager.
	if code := e.send("POST", "/v1/groups/"+g.GroupID+"/join", "", map[string]string{"name": "赵六", "idNumber": groupJoinerID}, nil); code != 202 {
		t.Fatalf("join: %d", code)
	}
	e.send("GET", members, manager, nil, &roster)
	if len(roster.Members) != 3 || len(roster.Pending) != 1 || roster.Members[0].IDNumber[4] != '*' {
		t.Fatalf("roster after join: %+v", roster)
	}
	if code := e.send("POST", members+"/"+roster.Pending[0].MemberID+"/approve", manager, nil, &g); code != 200 || g.Members != 4 {
		t.Fatalf("approve: %d, %d members", code, g.Members)
	}

	// The health feed: 李四 turns red.
	feed, err := e.sys.Issuer.Issue(auth.Principal{Subject: "province", Role: auth.HealthFeed, Expires: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	nat := testNow.Add(-20 * time.Hour).Format(time.RFC3339)
	upd := func(id, color string, minutesAgo int) map[string]any {
		return map[string]any{"idType": "resident_id", "idNumber": id, "codeColor": color, "natAt": nat, "natResult": "negative",
			"vaccineDoses": 3, "updatedAt": testNow.Add(-time.Duration(minutesAgo) * time.Minute).Format(time.RFC3339)}
	}
	var res struct{ Received, Applied, Stale, Alerts int }
	batch := map[string]any{"updates": []any{upd(groupMember1, "green", 30), upd(groupMember2, "red", 10), upd(groupJoinerID, "green", 30)}}
	if code := e.send("POST", "/v1/health/updates", manager, batch, nil); code != 403 {
		t.Errorf("a group manager posted health updates: %d", code)
	}
	if code := e.send("POST", "/v1/health/updates", feed, batch, &res); code != 200 || res.Applied != 3 || res.Alerts < 2 {
		t.Fatalf("health updates: %d %+v", code, res)
	}
	// The demo groups' morning SMS go out too: count the health alerts.
	var sent []outbox.Line
	deadline := time.Now().Add(time.Minute)
	for {
		var all []outbox.Line
		e.do("GET", "/dev/sms", "", "", nil, &all)
		sent = slices.DeleteFunc(all, func(l outbox.Line) bool { return !strings.HasPrefix(l.Template, "GC_HEALTH_") })
		if len(sent) >= res.Alerts || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	toManager := 0
	for _, l := range sent {
		if l.Template == "GC_HEALTH_GROUP" && l.To == "+86"+storeManager {
			toManager++
			if !strings.Contains(l.Text, "红码") || !strings.Contains(l.Text, "尾号"+groupMember2[14:]) {
				t.Errorf("manager's SMS: %s", l.Text)
			}
		}
	}
	if toManager != 1 || len(sent) != res.Alerts {
		t.Errorf("%d SMS (%d to the manager), want %d (1)", len(sent), toManager, res.Alerts)
	}

	// The morning refresh: the server ran today's on start (10:00 is past
	// 06:00), before this group had its roster; the office runs it again.
	today := dates.Today(testNow)
	var progress struct {
		Groups, Done int
		Complete     bool
	}
	waitRun := func() {
		t.Helper()
		progress.Complete = false
		for deadline := time.Now().Add(30 * time.Second); !progress.Complete && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			e.send("GET", "/v1/refresh/runs/"+today, office, nil, &progress)
		}
		if !progress.Complete || progress.Done != progress.Groups || progress.Groups < 1 {
			t.Fatalf("refresh progress: %+v", progress)
		}
	}
	waitRun()
	if code := e.send("POST", "/v1/refresh/run", worker, nil, nil); code != 403 {
		t.Errorf("a grid worker started a refresh: %d", code)
	}
	if code := e.send("POST", "/v1/refresh/run?date="+today, office, nil, nil); code != 202 {
		t.Fatalf("refresh: %d", code)
	}
	waitRun()
	morning, ok := e.sms("daily." + g.GroupID + "." + today)
	if !ok || morning.To != "+86"+storeManager || !strings.Contains(morning.Text, "4人,异常2人") {
		t.Fatalf("morning SMS: %+v (sent %v)", morning, ok)
	}

	daily := "/v1/groups/" + g.GroupID + "/daily"
	var list struct {
		Summary struct{ Members, Abnormal, Red, NoData int }
		Members []struct {
			Name, IDNumber string
			Reasons        []string
		}
	}
	if code := e.send("GET", daily, worker, nil, &list); code != 200 {
		t.Fatalf("the grid worker reads the list: %d", code)
	}
	if list.Summary.Members != 4 || list.Summary.Abnormal != 2 || list.Summary.Red != 1 || list.Summary.NoData != 1 ||
		list.Members[0].Name != "李四" || list.Members[1].Name != "王五" || list.Members[2].Name != "张三" {
		t.Errorf("daily list: %+v", list)
	}
	if code := e.send("GET", daily, e.token(auth.GridWorker, otherGrid), nil, nil); code != 403 {
		t.Errorf("another grid's worker read the list: %d", code)
	}

	code, h, body := e.fetch("GET", daily+"?format=csv", "", manager, nil)
	if code != 200 || !bytes.HasPrefix(body, []byte("\ufeff")) || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v", code, h)
	}
	rows, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
	if err != nil || len(rows) != 5 || rows[1][0] != "李四" {
		t.Errorf("CSV rows: %v %v", rows, err)
	}
	code, _, body = e.fetch("GET", daily+"?format=xlsx", "", manager, nil)
	if code != 200 {
		t.Fatalf("XLSX: %d", code)
	}
	book, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sheets := book.GetSheetList(); len(sheets) != 1 || sheets[0] != today {
		t.Errorf("XLSX sheets %v", sheets)
	}
	// Both exports are audited, member by member, as the manager's.
	var trail struct{ Records []struct{ Action string } }
	if code := e.send("GET", "/v1/audit?person="+groupMember1+"&actor=manager", office, nil, &trail); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	exports := 0
	for _, r := range trail.Records {
		if r.Action == "group.daily_export" {
			exports++
		}
	}
	if exports != 2 {
		t.Errorf("the manager's exports of %s are audited %d times, want 2 (CSV, XLSX): %+v", groupMember1, exports, trail.Records)
	}
	code, h, body = e.fetch("GET", "/v1/groups/"+g.GroupID+"/qr.png", "", manager, nil)
	if code != 200 || h.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Errorf("QR: %d %s", code, h.Get("Content-Type"))
	}

	// A rerun changes nothing and texts nobody again.
	before := e.alerts()
	if code := e.send("POST", "/v1/refresh/run?date="+today, office, nil, nil); code != 202 {
		t.Fatalf("rerun: %d", code)
	}
	waitRun()
	if n := e.alerts(); n != before {
		t.Errorf("rerun: %d new alerts", n-before)
	}
	if code := e.send("POST", "/v1/refresh/run?date="+dates.AddDays(today, 1), office, nil, &refused); code != 400 || refused.Fields[0].Field != "date" {
		t.Errorf("refresh of tomorrow: %d %+v", code, refused)
	}
}
