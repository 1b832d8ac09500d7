package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/mozillazg/go-pinyin"

	"gridcode/infra/demo"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/group"
	"gridcode/shared/idcard"
	"gridcode/shared/refresh"
	"gridcode/shared/sms/outbox"
)

// lockedBuffer is a log sink the system's goroutines write concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureLogs sends the process-wide logger, at debug level, to a buffer
// as JSON lines and as the text lines `gridcode serve` writes, and puts
// back the logger and the log package's output (which slog.SetDefault
// redirects) when the test ends. The caller must not be parallel.
func captureLogs(t *testing.T) *lockedBuffer {
	t.Helper()
	out := &lockedBuffer{}
	prev, prevWriter, prevFlags := slog.Default(), log.Writer(), log.Flags()
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	slog.SetDefault(slog.New(slog.NewMultiHandler(slog.NewJSONHandler(out, opts), slog.NewTextHandler(out, opts))))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		log.SetOutput(prevWriter)
		log.SetFlags(prevFlags)
	})
	return out
}

// piiSecrets are the forms of every ID number, phone and name the flow
// handles that must never reach a log line.
type piiSecrets struct {
	exact []string // substrings, compared case-insensitively
	words []string // pinyin, which only counts as a whole word
}

func (s *piiSecrets) add(vs ...string) {
	for _, v := range vs {
		v = strings.ToLower(v)
		if v == "" {
			continue
		}
		// As written, as an encoder that escapes non-ASCII writes it, and
		// as a URL's query or path carries it.
		q := strconv.QuoteToASCII(v)
		for _, form := range []string{v, q[1 : len(q)-1], strings.ToLower(url.QueryEscape(v)), strings.ToLower(url.PathEscape(v))} {
			if !slices.Contains(s.exact, form) {
				s.exact = append(s.exact, form)
			}
		}
	}
}

// id adds an ID number as typed, normalised, with a lower-case x and
// grouped with spaces as on the card (6-8-4).
func (s *piiSecrets) id(typed string) {
	n := strings.ToUpper(strings.Join(strings.Fields(typed), ""))
	s.add(typed, n, strings.ToLower(n))
	if len(n) == 18 {
		s.add(n[:6]+" "+n[6:14]+" "+n[14:], n[:6]+"-"+n[6:14]+"-"+n[14:])
	}
}

// phone adds a phone as typed and in every way it is written: the 11
// digits, +86 and 86 with and without a space (E.164 among them), with
// dashes and with spaces. Masked forms (138****8000) may be logged.
func (s *piiSecrets) phone(typed string) {
	var digits strings.Builder
	for _, r := range typed {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		}
	}
	d := digits.String()
	s.add(typed, d)
	switch {
	case strings.HasPrefix(d, "0086"):
		d = d[4:]
	case strings.HasPrefix(d, "86") && len(d) > 11:
		d = d[2:]
	}
	s.add(d)
	if len(d) != 11 {
		return
	}
	s.add(d, "+86"+d, "86"+d, "+86 "+d, "0086"+d,
		d[:3]+"-"+d[3:7]+"-"+d[7:], d[:3]+" "+d[3:7]+" "+d[7:], "+86 "+d[:3]+"-"+d[3:7]+"-"+d[7:])
}

// name adds a name as typed and without spaces, and its pinyin spellings
// as the registry's search tokens take them (every reading of one
// character at a time, at most four spellings), joined and by syllable,
// with their initials. Initials of two letters are left out: any text
// holds two-letter words.
func (s *piiSecrets) name(typed string) {
	s.add(typed, strings.Join(strings.Fields(typed), ""))
	var syls [][]string
	for _, r := range typed {
		if unicode.Is(unicode.Han, r) {
			if rs := pinyin.SinglePinyin(r, pinyin.Args{Style: pinyin.Normal, Heteronym: true}); len(rs) > 0 {
				syls = append(syls, rs)
			}
		}
	}
	if len(syls) == 0 {
		return
	}
	choice := make([]int, len(syls))
	spell := func() {
		words := make([]string, len(syls))
		var initials strings.Builder
		for i, readings := range syls {
			words[i] = readings[choice[i]]
			initials.WriteByte(words[i][0])
		}
		for _, w := range []string{strings.Join(words, ""), strings.Join(words, " "), initials.String()} {
			if len(w) > 2 && !slices.Contains(s.words, w) {
				s.words = append(s.words, w)
			}
		}
	}
	spell()
	for i, spellings := 0, 1; i < len(syls) && spellings < 4; i++ {
		for alt := 1; alt < len(syls[i]) && spellings < 4; alt++ {
			choice[i] = alt
			spell()
			spellings++
		}
		choice[i] = 0
	}
}

func (s *piiSecrets) person(name, idNumber, phone string) {
	s.name(name)
	if idNumber != "" {
		s.id(idNumber)
	}
	if phone != "" {
		s.phone(phone)
	}
}

// found lists the secrets in the logs.
func (s *piiSecrets) found(logs string) []string {
	lower := strings.ToLower(logs)
	var out []string
	for _, v := range s.exact {
		if strings.Contains(lower, v) {
			out = append(out, v)
		}
	}
	for _, w := range s.words {
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(w) + `\b`).MatchString(lower) {
			out = append(out, w)
		}
	}
	return out
}

// Whatever the test did not think of: any mobile number or ID number with
// a valid check digit, and any Chinese character (every name, address and
// community is written in them; the logs are in English).
var (
	loggedMobile = regexp.MustCompile(`(^|[^0-9])(\+?86)?1[3-9][0-9]{9}([^0-9]|$)`)
	loggedID     = regexp.MustCompile(`(^|[^0-9])([0-9]{17})([0-9Xx])([^0-9A-Za-z]|$)`)
)

func unknownPersonalData(logs string) []string {
	var out []string
	for _, m := range loggedMobile.FindAllString(logs, -1) {
		out = append(out, "mobile "+m)
	}
	for _, m := range loggedID.FindAllStringSubmatch(logs, -1) {
		if idcard.CheckDigit(m[2]) == strings.ToUpper(m[3])[0] {
			out = append(out, "ID number "+m[2]+m[3])
		}
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.ContainsFunc(line, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			out = append(out, "Chinese text in "+line)
		}
	}
	return out
}

// idEndingInX is the first resident ID after first14 whose check
// character is X, so its lower-case form can be typed.
func idEndingInX(t *testing.T, first14 string) string {
	t.Helper()
	for i := range 1000 {
		first17 := fmt.Sprintf("%s%03d", first14, i)
		if idcard.CheckDigit(first17) == 'X' {
			return first17 + "X"
		}
	}
	t.Fatalf("no ID ending in X after %s", first14)
	return ""
}

// wrongCheck is id with another check character.
func wrongCheck(id string) string {
	if id[17] == '0' {
		return id[:17] + "1"
	}
	return id[:17] + "0"
}

// spaced is an ID number as typed with spaces and a lower-case x.
func spaced(id string) string {
	return strings.ToLower(id[:6] + " " + id[6:14] + " " + id[14:])
}

// TestLogsOfTheWholeFlowHoldNoPersonalData runs the whole local flow with
// every log line captured, at debug level, as JSON and as text: reports
// (district-wide, per grid, refused), their SMS and the grid workers'
// digests, the group code (registration, CSV roster, self-join, approval,
// health feed and its urgent SMS, the daily refresh and its list as JSON,
// CSV and XLSX), the registry (import, search), lists, reconciliation and
// a visit, follow-ups, overdue and escalated reports, stats, and then the
// same requests failing on a closed store. No ID number, phone or name of
// anyone the flow touched may appear in any log line, in any form.
// Not parallel: it swaps the process-wide logger.
func TestLogsOfTheWholeFlowHoldNoPersonalData(t *testing.T) {
	logs := captureLogs(t)
	c := &clockEnv{now: testNow}
	sys, err := Open(context.Background(), t.TempDir(), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	c.env = startWith(t, sys)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sys.Deliver(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	var secrets piiSecrets
	staff := func(p auth.Principal) string {
		t.Helper()
		p.Subject, p.Expires = "t", testNow.Add(100*time.Hour)
		tok, err := sys.Issuer.Issue(p)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	office := staff(auth.Principal{Role: auth.DistrictAdmin})
	worker := staff(auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids(demoGrid)})
	feed := staff(auth.Principal{Role: auth.HealthFeed})
	today := dates.Today(testNow)
	want := func(what string, got int, codes ...int) {
		t.Helper()
		if !slices.Contains(codes, got) {
			t.Fatalf("%s: %d, want %v", what, got, codes)
		}
	}
	// waitSMS waits for a message of a template to appear in the outbox.
	waitSMS := func(template string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var sent []outbox.Line
			c.do("GET", "/dev/sms?limit=1000", "", "", nil, &sent)
			if slices.ContainsFunc(sent, func(l outbox.Line) bool { return l.Template == template }) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s SMS within 20 s", template)
			}
		}
	}

	// Public pages and directory.
	for _, path := range []string{"/healthz", "/v1/grids", "/v1/areas", "/v1/risk-areas", "/v1/guidance", "/v1/qr.png", "/v1/grids/" + demoGrid + "/qr.png", "/r/" + demoGrid} {
		code, _, _ := c.fetch("GET", path, "", "", nil)
		want(path, code, 200)
	}
	want("me", c.do("GET", "/v1/me", "", worker, nil, nil), 200)

	// Reports: district-wide (ID typed with spaces and a lower-case x),
	// per grid, a duplicate, refused ones.
	zhang := submission()
	secrets.person("张三", "11010519491231002X", "+86 138-0013-8000")
	zhang["idNumber"] = spaced("11010519491231002X")
	var first, second receipt
	want("district report", c.postJSON("/v1/reports", zhang, &first), 201)
	want("duplicate report", c.postJSON("/v1/reports", submission(), nil), 200)
	liID := idEndingInX(t, "44070319900101")
	secrets.person("李 四", liID, "139 2608 5555")
	li := submission()
	li["name"], li["idNumber"], li["phone"] = "李 四", strings.ToLower(liID), "139 2608 5555"
	li["fromAreaCode"], li["itinerary"] = "440105", []map[string]string{{"areaCode": "440105", "date": "2022-12-03"}}
	want("grid report", c.postJSON("/v1/grids/"+demoGrid+"/reports", li, &second), 201)
	bad := submission()
	secrets.person("错号人", "110105194912310021", "+86 139-0000-000")
	bad["name"], bad["idNumber"], bad["phone"] = "错号人", "110105194912310021", "+86 139-0000-000"
	want("refused report", c.postJSON("/v1/reports", bad, nil), 400)
	want("refused grid report", c.postJSON("/v1/grids/"+demoGrid+"/reports", bad, nil), 400)
	want("unknown grid", c.postJSON("/v1/grids/nowhere/reports", zhang, nil), 404)
	want("unknown field", c.do("POST", "/v1/reports", "application/json", "", strings.NewReader(`{"name":"张三","mobile":"13800138000"}`), nil), 400)
	want("broken JSON", c.do("POST", "/v1/reports", "application/json", "", strings.NewReader(`{"name":"张三","idNumber":"11010519491231002X","phone":`), nil), 400)
	want("wrong type", c.do("POST", "/v1/reports", "application/json", "", strings.NewReader(`{"name":"张三","phone":13800138000}`), nil), 400)
	want("grid's reports", c.do("GET", "/v1/grids/"+demoGrid+"/reports", "", worker, nil, nil), 200)
	want("one report", c.do("GET", "/v1/reports/"+first.ReportID, "", office, nil, nil), 200)
	want("reports, bad page token", c.do("GET", "/v1/grids/"+demoGrid+"/reports?nextToken="+base64.RawURLEncoding.EncodeToString([]byte("13800138000")), "", worker, nil, nil), 400)
	waitSMS("GC_REPORT_WELCOME")

	// The group code.
	reg := map[string]any{
		"name": "江华酒家", "kind": "restaurant", "address": "石冲社区新塘里9号", "gridCode": demoGrid,
		"admin": map[string]string{"name": "黄店长", "phone": "138 0013 8001"},
	}
	secrets.person("黄店长", "", "138 0013 8001")
	var g groupView
	want("register group", c.send("POST", "/v1/groups", worker, reg, &g), 201)
	manager := staff(auth.Principal{Role: auth.GroupAdmin, Group: g.GroupID})
	want("group", c.do("GET", "/v1/groups/"+g.GroupID, "", manager, nil, nil), 200)
	want("grid's groups", c.do("GET", "/v1/grids/"+demoGrid+"/groups", "", worker, nil, nil), 200)
	wangID, liuID, zhaoID, sunID := idEndingInX(t, "44070319850505"), residentID("44070319920303123"), residentID("44070320010202002"), residentID("44070319780707001")
	secrets.person("王芳", wangID, "13900139001")
	secrets.person("刘洋", liuID, "+86 139-0013-9002")
	secrets.person("赵敏", zhaoID, "")
	secrets.person("孙丽华", sunID, "+86 139-2608-7777")
	members := "/v1/groups/" + g.GroupID + "/members"
	roster := "姓名,身份证号码,手机号码\r\n王芳," + spaced(wangID) + ",13900139001\r\n刘洋," + wrongCheck(liuID) + ",+86 139-0013-9002\r\n"
	want("refused roster", c.do("PUT", members, "text/csv", manager, bytes.NewReader(gb18030(t, roster)), nil), 400)
	roster = "姓名,身份证号码,手机号码\r\n王芳," + spaced(wangID) + ",13900139001\r\n刘洋," + liuID + ",+86 139-0013-9002\r\n赵敏," + zhaoID + ",\r\n"
	want("roster", c.do("PUT", members, "text/csv", manager, bytes.NewReader(gb18030(t, roster)), nil), 200)
	want("join card", c.do("GET", "/v1/groups/"+g.GroupID+"/join", "", "", nil, nil), 200)
	want("join page", c.do("GET", "/join/"+g.GroupID, "", "", nil, nil), 200)
	want("refused join", c.send("POST", "/v1/groups/"+g.GroupID+"/join", "", map[string]string{"name": "孙丽华", "idNumber": wrongCheck(sunID), "phone": "+86 139-2608-7777"}, nil), 400)
	want("join", c.send("POST", "/v1/groups/"+g.GroupID+"/join", "", map[string]string{"name": "孙丽华", "idNumber": spaced(sunID), "phone": "+86 139-2608-7777"}, nil), 202)
	var pending struct{ Pending []struct{ MemberID string } }
	want("members", c.send("GET", members, manager, nil, &pending), 200)
	if len(pending.Pending) != 1 {
		t.Fatalf("pending self-joins: %+v", pending)
	}
	want("approve", c.send("POST", members+"/"+pending.Pending[0].MemberID+"/approve", manager, nil, nil), 200)
	want("group QR", c.do("GET", "/v1/groups/"+g.GroupID+"/qr.png", "", manager, nil, nil), 200)

	// The health feed: red and yellow for members, red for a registry
	// person (陈永健, the article's case): urgent SMS to the group's
	// manager, its grid's workers and the person's home grid.
	chen := BriefCase[0]
	secrets.person(chen[0], chen[2], chen[3])
	secrets.phone(chen[8])
	secrets.person(BriefCase[1][0], BriefCase[1][2], BriefCase[1][3])
	nat := testNow.Add(-20 * time.Hour).Format(time.RFC3339)
	upd := func(id, color string) map[string]any {
		return map[string]any{"idType": "resident_id", "idNumber": id, "codeColor": color, "natAt": nat, "natResult": "negative",
			"vaccineDoses": 3, "updatedAt": testNow.Add(-10 * time.Minute).Format(time.RFC3339)}
	}
	var applied struct{ Applied, Alerts int }
	batch := map[string]any{"updates": []any{upd(liuID, "red"), upd(strings.ToLower(wangID), "yellow"), upd(zhaoID, "green"), upd(spaced(chen[2]), "red")}}
	want("health updates", c.send("POST", "/v1/health/updates", feed, batch, &applied), 200)
	if applied.Applied != 4 || applied.Alerts < 3 {
		t.Fatalf("health updates: %+v", applied)
	}
	badBatch := map[string]any{"updates": []any{upd("110105194912310021", "red")}}
	want("refused health update", c.send("POST", "/v1/health/updates", feed, badBatch, nil), 400)
	for _, tpl := range []string{"GC_HEALTH_GROUP", "GC_HEALTH_GRID", "GC_HEALTH_HOME"} {
		waitSMS(tpl)
	}

	// The daily refresh: the start's run first, then the office's.
	waitRun := func() {
		t.Helper()
		var p struct{ Complete bool }
		for deadline := time.Now().Add(20 * time.Second); !p.Complete; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the refresh did not complete within 20 s")
			}
			want("refresh progress", c.send("GET", "/v1/refresh/runs/"+today, office, nil, &p), 200)
		}
	}
	waitRun()
	want("refresh", c.send("POST", "/v1/refresh/run?date="+today, office, nil, nil), 202)
	waitRun()
	waitSMS("GC_GROUP_DAILY")
	daily := "/v1/groups/" + g.GroupID + "/daily"
	for _, format := range []string{"json", "csv", "xlsx"} {
		code, _, _ := c.fetch("GET", daily+"?format="+format, "", manager, nil)
		want("daily "+format, code, 200)
	}
	want("daily for the grid", c.do("GET", daily, "", worker, nil, nil), 200)

	// The registry: an import with refused rows, its progress and errors,
	// and searches, the article's near miss among them.
	wuID := residentID("44070319930909123")
	secrets.person("吴婷", wuID, "13926083333")
	zhengWrong := wrongCheck(residentID("44070319930909124"))
	secrets.person("郑错", zhengWrong, "139260812345")
	file := "姓名,证件号码,手机号码,社区,地址,人员类型,房东电话\n" +
		"吴婷," + spaced(wuID) + ",+86 139-2608-3333,石冲社区,新塘里12号,常住,13702290011\n" +
		"郑错," + zhengWrong + ",139260812345,石冲社区,新塘里13号,常住,\n"
	path := filepath.Join(t.TempDir(), "registry.csv")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	run, err := sys.ImportRegistry(ctx, path, nil)
	if err != nil || run.Bad != 1 {
		t.Fatalf("import: %+v, %v; want one refused row", run, err)
	}
	want("import", c.do("GET", "/v1/registry/imports/"+run.ID, "", office, nil, nil), 200)
	code, _, _ := c.fetch("GET", "/v1/registry/imports/"+run.ID+"/errors", "", office, nil)
	want("import errors", code, 200)
	for _, q := range []url.Values{
		{"name": {"陈永健"}, "community": {"石冲"}, "address": {"长庚里96号"}},
		{"name": {"chenyongjian"}, "community": {"石冲社区"}},
		{"name": {"cyj"}, "community": {"石冲社区"}, "address": {"新塘里96号"}},
		{"phoneLast4": {"1234"}, "community": {"石冲社区"}},
		{"name": {"吴婷"}, "idLast4": {wuID[14:]}, "community": {"石冲社区"}},
	} {
		status, res := c.search(worker, q)
		want("search "+q.Encode(), status, 200)
		if len(res) == 0 {
			t.Fatalf("search %v found nobody", q)
		}
	}
	want("search without a name", c.do("GET", "/v1/registry/search?address="+url.QueryEscape("新塘里96号"), "", worker, nil, nil), 400)

	// A NAT list, its reconciliation with the registry, a visit.
	linID, zhouID := residentID("44070319950317123"), residentID("44070319960418124")
	secrets.person("林晓东", linID, "13926080000")
	secrets.person("周海燕", zhouID, "+86 139 2608 1111")
	secrets.phone("+86 139 2608 0000")
	list := "姓名,证件号码,手机号码,社区,地址,检测点\n" +
		"陈永健," + chen[2] + "," + chen[3] + ",石冲社区,新塘里96号,石冲小学\n" +
		"林晓东," + spaced(linID) + ",,石冲社区,长庚里12号,石冲小学\n" +
		"周海燕," + zhouID + ",+86 139 2608 1111,不存在村,,江门站\n" +
		"错号人,110105194912310021,+86 139-0000-000,石冲社区,,石冲小学\n"
	var up struct {
		List struct {
			ID string `json:"listId"`
		} `json:"list"`
	}
	want("list", c.do("POST", "/v1/lists?kind=nat&name="+url.QueryEscape("12月5日核酸"), "text/csv", office, bytes.NewReader(gb18030(t, list)), &up), 201)
	want("lists", c.do("GET", "/v1/lists", "", office, nil, nil), 200)
	if rec := c.reconcile(office, map[string]string{"listA": up.List.ID, "listB": "registry"}); rec.Status != "done" || rec.Created < 2 {
		t.Fatalf("reconcile: %+v", rec)
	}
	var task taskView
	for _, grid := range []string{"440703006107-01", "440703006107-02", "440703006107-03", "440703006107-04"} {
		var ts struct{ Tasks []taskView }
		want("tasks", c.do("GET", "/v1/grids/"+grid+"/tasks", "", office, nil, &ts), 200)
		for _, tk := range ts.Tasks {
			if tk.Evidence.Name == "林晓东" {
				task = tk
			}
		}
	}
	if task.TaskID == "" {
		t.Fatal("no task for 林晓东")
	}
	taskWorker := staff(auth.Principal{Role: auth.GridWorker, Grids: auth.ParseGrids(task.GridCode)})
	want("task", c.do("GET", "/v1/tasks/"+task.TaskID, "", taskWorker, nil, nil), 200)
	visits := "/v1/tasks/" + task.TaskID + "/visits"
	want("note left", c.send("POST", visits, taskWorker, map[string]any{"outcome": "not_home_note_left", "notePhone": "+86 139 2608 0000"}, nil), 201)
	want("refused note", c.send("POST", visits, taskWorker, map[string]any{"outcome": "not_home_note_left", "notePhone": "139 2608"}, nil), 400)
	newcomer := map[string]any{
		"name": "林晓东", "idType": "resident_id", "idNumber": spaced(linID), "phone": "139-2608-0000",
		"community": "石冲社区", "address": "长庚里12号", "residentType": "floating",
	}
	want("new person found", c.send("POST", visits, taskWorker, map[string]any{"outcome": "new_person_found", "newPerson": newcomer}, nil), 201)
	want("unassigned tasks", c.do("GET", "/v1/grids/unassigned/tasks", "", office, nil, nil), 200)

	// Follow-ups, one with a phone in the worker's note.
	secrets.phone("13926089999")
	followups := "/v1/reports/" + first.ReportID + "/followups"
	want("contacted", c.send("POST", followups, worker, map[string]string{"outcome": "contacted", "note": "本人电话13926089999"}, nil), 201)
	want("refused follow-up", c.send("POST", followups, worker, map[string]string{"outcome": "wrong_grid"}, nil), 400)

	// The grid workers' digest of the window the reports came in.
	c.advance(31 * time.Minute)
	if res, err := sys.Digests.Run(ctx); err != nil || res.Queued == 0 {
		t.Fatalf("digests: %+v, %v", res, err)
	}
	sys.wakeDelivery()
	waitSMS("GC_GRID_DIGEST")

	// A day later the second report is overdue, two days later escalated.
	c.advance(25 * time.Hour)
	want("overdue", c.do("GET", "/v1/grids/"+demoGrid+"/followups/overdue", "", worker, nil, nil), 200)
	c.advance(24 * time.Hour)
	want("escalated", c.do("GET", "/v1/followups/escalated?level=community", "", office, nil, nil), 200)
	want("stats", c.do("GET", "/v1/stats?from=2022-12-05&to=2022-12-07", "", office, nil, nil), 200)

	// Everyone the SMS went to, and the people the demo district holds
	// in the grids and groups the flow touched.
	var sent []outbox.Line
	c.do("GET", "/dev/sms?limit=1000", "", "", nil, &sent)
	for _, l := range sent {
		secrets.phone(l.To)
	}
	dir, err := sys.Settings.Grids(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{demoGrid, otherGrid, "440703006107-02", "440703006107-03", "440703006107-04", task.GridCode} {
		gr, ok := dir.Lookup(code)
		if !ok {
			t.Fatalf("no grid %s", code)
		}
		ws, err := gr.OpenWorkers(sys.vault)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			secrets.person(w.Name, "", w.Phone)
		}
	}
	demoGroups, err := demo.Groups(sys.vault, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, dg := range demoGroups {
		admin, err := group.OpenAdmin(sys.vault, dg.Group)
		if err != nil {
			t.Fatal(err)
		}
		secrets.person(admin.Name, "", admin.Phone)
		for _, m := range dg.Members {
			p, err := group.OpenPersonal(sys.vault, m)
			if err != nil {
				t.Fatal(err)
			}
			secrets.person(p.Name, p.IDNumber, p.Phone)
		}
	}

	// The error paths: the store closes under the running system.
	before := strings.Count(logs.String(), `"msg":"request failed"`)
	if err := sys.Store.Close(); err != nil {
		t.Fatal(err)
	}
	secrets.person("郑强", residentID("44070319880808123"), "+86 139-2608-4444")
	late := submission()
	late["name"], late["idNumber"], late["phone"] = "郑强", residentID("44070319880808123"), "+86 139-2608-4444"
	want("report, store closed", c.postJSON("/v1/reports", late, nil), 500)
	want("grid report, store closed", c.postJSON("/v1/grids/"+demoGrid+"/reports", late, nil), 500)
	want("reports, store closed", c.do("GET", "/v1/grids/"+demoGrid+"/reports", "", worker, nil, nil), 500)
	want("search, store closed", c.do("GET", "/v1/registry/search?name="+url.QueryEscape("陈永健")+"&community="+url.QueryEscape("石冲社区"), "", worker, nil, nil), 500)
	want("roster, store closed", c.do("PUT", members, "text/csv", manager, bytes.NewReader(gb18030(t, roster)), nil), 500)
	want("join, store closed", c.send("POST", "/v1/groups/"+g.GroupID+"/join", "", map[string]string{"name": "郑强", "idNumber": late["idNumber"].(string), "phone": "+86 139-2608-4444"}, nil), 500)
	want("health, store closed", c.send("POST", "/v1/health/updates", feed, batch, nil), 500)
	want("list, store closed", c.do("POST", "/v1/lists?kind=nat&name=late", "text/csv", office, bytes.NewReader(gb18030(t, list)), nil), 500)
	want("visit, store closed", c.send("POST", visits, taskWorker, map[string]any{"outcome": "moved_out"}, nil), 500)
	want("follow-up, store closed", c.send("POST", followups, worker, map[string]string{"outcome": "closed", "note": "电话13926089999"}, nil), 500)
	want("daily, store closed", c.do("GET", daily, "", manager, nil, nil), 500)
	if n := strings.Count(logs.String(), `"msg":"request failed"`) - before; n < 10 {
		t.Errorf("%d requests failed in the logs after the store closed, want 10 or more", n)
	}
	// The background work fails too: the fan-out and a refresh shard.
	sys.wakeDelivery()
	if err := sys.shards.Send(ctx, []refresh.Shard{{Date: today, RunID: "late", GroupIDs: []string{g.GroupID}}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := logs.String()
		if strings.Contains(out, `"msg":"deliver alerts"`) && strings.Contains(out, `"msg":"refresh shard failed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error line from the fan-out or the refresh worker after the store closed:\n%s", out)
		}
	}
	cancel()
	<-done

	out := logs.String()
	// The capture is on: a request line for every route the flow used.
	for _, route := range []string{
		"GET /healthz", "GET /v1/grids", "GET /v1/areas", "GET /v1/risk-areas", "GET /v1/guidance", "GET /v1/qr.png",
		"GET /v1/grids/{gridCode}/qr.png", "GET /r/{gridCode}", "GET /v1/me",
		"POST /v1/reports", "POST /v1/grids/{gridCode}/reports", "GET /v1/grids/{gridCode}/reports", "GET /v1/reports/{reportId}",
		"GET /dev/sms",
		"POST /v1/groups", "GET /v1/groups/{groupId}", "GET /v1/grids/{gridCode}/groups", "PUT /v1/groups/{groupId}/members",
		"GET /v1/groups/{groupId}/members", "GET /v1/groups/{groupId}/join", "GET /join/{groupId}", "POST /v1/groups/{groupId}/join",
		"POST /v1/groups/{groupId}/members/{memberId}/approve", "GET /v1/groups/{groupId}/qr.png", "GET /v1/groups/{groupId}/daily",
		"POST /v1/health/updates", "POST /v1/refresh/run", "GET /v1/refresh/runs/{date}",
		"GET /v1/registry/imports/{importId}", "GET /v1/registry/imports/{importId}/errors", "GET /v1/registry/search",
		"POST /v1/lists", "GET /v1/lists", "POST /v1/reconcile", "GET /v1/reconcile/{reconciliationId}",
		"GET /v1/grids/{gridCode}/tasks", "GET /v1/tasks/{taskId}", "POST /v1/tasks/{taskId}/visits",
		"POST /v1/reports/{reportId}/followups", "GET /v1/grids/{gridCode}/followups/overdue", "GET /v1/followups/escalated",
		"GET /v1/stats",
	} {
		if !strings.Contains(out, `"route":"`+route+`"`) || !strings.Contains(out, `route="`+route+`"`) {
			t.Errorf("no request line for %s in JSON and text", route)
		}
	}
	if !strings.Contains(out, `"msg":"reconciliation job"`) {
		t.Error("the reconciliation job's line is missing")
	}
	t.Logf("%d bytes of logs, %d lines, %d secrets and %d pinyin words checked", len(out), strings.Count(out, "\n"), len(secrets.exact), len(secrets.words))
	if leaked := secrets.found(out); len(leaked) > 0 {
		t.Errorf("the logs contain %q:\n%s", leaked, out)
	}
	if unknown := unknownPersonalData(out); len(unknown) > 0 {
		t.Errorf("the logs contain personal data:\n%s", strings.Join(unknown, "\n"))
	}
}
