package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/auth"
	"gridcode/shared/idcard"
)

// The district's clock in these tests: 2022-12-05 10:00 in Asia/Shanghai.
var testNow = time.Date(2022, 12, 5, 2, 0, 0, 0, time.UTC)

type env struct {
	t   *testing.T
	srv *httptest.Server
	sys *System
}

func start(t *testing.T) *env {
	t.Helper()
	sys, err := Open(context.Background(), t.TempDir(), func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	if !sys.Seeded {
		t.Fatal("first open did not seed the demo district")
	}
	return startWith(t, sys)
}

// startWith serves an opened system for the test.
func startWith(t *testing.T, sys *System) *env {
	t.Helper()
	srv := httptest.NewServer(sys.Handler)
	t.Cleanup(func() { srv.Close(); sys.Close() })
	return &env{t: t, srv: srv, sys: sys}
}

func (e *env) token(role auth.Role, grid string) string {
	e.t.Helper()
	tok, err := e.sys.Issuer.Issue(auth.Principal{Subject: "t", Role: role, Grids: auth.ParseGrids(grid), Expires: testNow.Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// fetch sends a request and returns the answer.
func (e *env) fetch(method, path, contentType, token string, body io.Reader) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (e *env) do(method, path, contentType, token string, body io.Reader, out any) int {
	e.t.Helper()
	status, _, raw := e.fetch(method, path, contentType, token, body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, status, raw, err)
		}
	}
	return status
}

func (e *env) postJSON(path string, body any, out any) int {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(http.MethodPost, path, "application/json", "", bytes.NewReader(b), out)
}

func (e *env) alerts() int {
	e.t.Helper()
	n, err := e.sys.Store.CountAlerts(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func submission() map[string]any {
	return map[string]any{
		"name": "张三", "idType": "resident_id", "idNumber": "11010519491231002X", "phone": "+86 138-0013-8000",
		"arrivalStatus": "arrived", "arrivalDate": "2022-12-05", "fromAreaCode": "110105",
		"itinerary":   []map[string]string{{"areaCode": "440106", "date": "2022-12-03"}},
		"destination": map[string]string{"community": "石冲社区", "address": "新塘里96号"},
		"transport":   "train",
	}
}

type receipt struct {
	ReportID  string `json:"reportId"`
	RiskLevel string `json:"riskLevel"`
	Guidance  string `json:"guidance"`
	GridCode  string `json:"gridCode"`
	Duplicate bool   `json:"duplicate"`
}

type apiError struct {
	Error  string `json:"error"`
	Fields []struct{ Field, Reason string }
}

func TestPublicDirectory(t *testing.T) {
	t.Parallel()
	e := start(t)
	var health map[string]string
	if code := e.do("GET", "/healthz", "", "", nil, &health); code != 200 || health["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, health)
	}
	var grids []struct{ GridCode, Name, Community, Town string }
	if code := e.do("GET", "/v1/grids", "", "", nil, &grids); code != 200 || len(grids) != 410 {
		t.Fatalf("grids %d, %d grids", code, len(grids))
	}
	found := false
	for _, g := range grids {
		found = found || (g.Community == "石冲社区" && g.Town == "环市街道")
	}
	if !found {
		t.Error("石冲社区 not among the grids")
	}
	var areas []map[string]string
	if code := e.do("GET", "/v1/risk-areas", "", "", nil, &areas); code != 200 || len(areas) == 0 {
		t.Fatalf("risk areas %d, %d entries", code, len(areas))
	}
}

func TestReportFlow(t *testing.T) {
	t.Parallel()
	e := start(t)
	var first receipt
	if code := e.postJSON("/v1/reports", submission(), &first); code != http.StatusCreated {
		t.Fatalf("first submit %d", code)
	}
	if first.RiskLevel != "high" || !strings.HasPrefix(first.GridCode, "440703006107-") || first.Duplicate || first.Guidance == "" {
		t.Fatalf("first = %+v", first)
	}
	var again receipt
	if code := e.postJSON("/v1/reports", submission(), &again); code != http.StatusOK || !again.Duplicate || again.ReportID != first.ReportID {
		t.Fatalf("second submit %d %+v", code, again)
	}
	if n := e.alerts(); n != 1 {
		t.Fatalf("%d alerts after a duplicate, want 1", n)
	}

	// The grid's own code wins over the community.
	other := submission()
	other["idNumber"] = residentID("44070319900101123")
	var viaGrid receipt
	if code := e.postJSON("/v1/grids/440703103206-01/reports", other, &viaGrid); code != 201 || viaGrid.GridCode != "440703103206-01" {
		t.Fatalf("grid code submit %d %+v", code, viaGrid)
	}
	var unknown apiError
	if code := e.postJSON("/v1/grids/nowhere/reports", submission(), &unknown); code != 404 || unknown.Error != "unknown_grid" {
		t.Fatalf("unknown grid %d %+v", code, unknown)
	}

	// Staff read it back, scoped and masked.
	worker := e.token(auth.GridWorker, first.GridCode)
	var page struct {
		Reports []struct {
			ReportID string
			Person   struct{ Name, IDNumber, Phone, Address string }
		}
		NextToken string
	}
	if code := e.do("GET", "/v1/grids/"+first.GridCode+"/reports", "", worker, nil, &page); code != 200 || len(page.Reports) != 1 {
		t.Fatalf("worker list %d, %d reports", code, len(page.Reports))
	}
	p := page.Reports[0].Person
	if p.IDNumber != "1101**********002X" || p.Phone != "138****8000" || p.Name != "张三" {
		t.Fatalf("person = %+v", p)
	}
	if code := e.do("GET", "/v1/grids/"+first.GridCode+"/reports", "", "", nil, nil); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code := e.do("GET", "/v1/grids/"+first.GridCode+"/reports", "", "garbage", nil, nil); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	if code := e.do("GET", "/v1/grids/"+first.GridCode+"/reports", "", e.token(auth.GridWorker, "440703103206-01"), nil, nil); code != 403 {
		t.Fatalf("other grid's worker: %d", code)
	}
	if code := e.do("GET", "/v1/reports/"+first.ReportID, "", e.token(auth.GridWorker, "440703103206-01"), nil, nil); code != 403 {
		t.Fatalf("other grid's worker, one report: %d", code)
	}
	var one struct{ ReportID, RiskLevel string }
	if code := e.do("GET", "/v1/reports/"+first.ReportID, "", worker, nil, &one); code != 200 || one.RiskLevel != "high" {
		t.Fatalf("one report %d %+v", code, one)
	}
	if code := e.do("GET", "/v1/reports/r0000", "", worker, nil, nil); code != 404 {
		t.Fatalf("unknown report: %d", code)
	}
}

// residentID completes 17 digits with their GB 11643 check digit.
func residentID(first17 string) string { return first17 + string(idcard.CheckDigit(first17)) }

func TestReporterGetsTheSMSOnce(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.sys.Deliver(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	var r receipt
	if code := e.postJSON("/v1/reports", submission(), &r); code != 201 {
		t.Fatalf("submit %d", code)
	}
	type line struct {
		AlertID, To, Template, Text string
		Params                      map[string]string
		Segments                    int
	}
	// The wake-up after each report sends it at once (about 0.1 s here);
	// the bound is generous so a loaded machine does not fail the test.
	// Only the welcome SMS count: the demo groups' morning SMS go out too.
	welcomes := func() []line {
		var sent, out []line
		e.do("GET", "/dev/sms", "", "", nil, &sent)
		for _, l := range sent {
			if l.Template == alert.ReportWelcome.Code {
				out = append(out, l)
			}
		}
		return out
	}
	var sent []line
	began := time.Now()
	for len(sent) == 0 && time.Since(began) < 10*time.Second {
		time.Sleep(20 * time.Millisecond)
		sent = welcomes()
	}
	if len(sent) != 1 {
		t.Fatalf("%d SMS within 10 s of the 201, want 1", len(sent))
	}
	t.Logf("the SMS was in the outbox %v after the 201", time.Since(began).Round(10*time.Millisecond))
	got := sent[0]
	if got.AlertID != r.ReportID+".welcome" || got.To != "+8613800138000" || got.Segments != 1 ||
		!strings.HasPrefix(got.Text, "【蓬江防疫】") || !strings.Contains(got.Text, got.Params["action"]) {
		t.Fatalf("sent = %+v", got)
	}
	// Submitting again, and the fan-out running again, send nothing more.
	e.postJSON("/v1/reports", submission(), nil)
	if _, err := e.sys.Dispatcher.DeliverDue(ctx, 100); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if sent = welcomes(); len(sent) != 1 {
		t.Fatalf("%d SMS after a duplicate submit, want 1", len(sent))
	}
	a, err := e.sys.Store.Alert(ctx, got.AlertID)
	if err != nil || a.Status != alert.Sent || a.MessageID == "" {
		t.Fatalf("ledger = %+v, %v", a, err)
	}
}

func TestPagingThroughAGrid(t *testing.T) {
	t.Parallel()
	e := start(t)
	const grid = "440703006107-01"
	want := map[string]bool{}
	for i := range 5 {
		s := submission()
		s["idNumber"] = residentID(fmt.Sprintf("44070319900101%03d", i))
		var r receipt
		if code := e.postJSON("/v1/grids/"+grid+"/reports", s, &r); code != 201 {
			t.Fatalf("submit %d: %d", i, code)
		}
		want[r.ReportID] = true
	}
	admin := e.token(auth.DistrictAdmin, "")
	seen := map[string]bool{}
	next := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var page struct {
			Reports   []struct{ ReportID string }
			NextToken string
		}
		path := "/v1/grids/" + grid + "/reports?limit=2&status=new&from=2022-12-05&to=2022-12-05"
		if next != "" {
			path += "&nextToken=" + next
		}
		if code := e.do("GET", path, "", admin, nil, &page); code != 200 || len(page.Reports) > 2 {
			t.Fatalf("page %d: %d with %d reports", pages, code, len(page.Reports))
		}
		for _, r := range page.Reports {
			if seen[r.ReportID] {
				t.Fatalf("%s listed twice", r.ReportID)
			}
			seen[r.ReportID] = true
		}
		if next = page.NextToken; next == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d reports, want %d", len(seen), len(want))
	}
	var bad apiError
	if code := e.do("GET", "/v1/grids/"+grid+"/reports?limit=x", "", admin, nil, &bad); code != 400 || bad.Fields[0].Field != "limit" {
		t.Fatalf("bad limit %d %+v", code, bad)
	}
}

func TestRefusedRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	e := start(t)
	bad := submission()
	bad["idNumber"] = "110105194912310021"
	bad["phone"] = "12345"
	bad["itinerary"] = []map[string]string{{"areaCode": "999999", "date": "2022-12-03"}}
	var invalid apiError
	if code := e.postJSON("/v1/reports", bad, &invalid); code != 400 || invalid.Error != "invalid_report" {
		t.Fatalf("invalid %d %+v", code, invalid)
	}
	got := map[string]string{}
	for _, f := range invalid.Fields {
		got[f.Field] = f.Reason
	}
	for field, reason := range map[string]string{"idNumber": "checksum", "phone": "invalid", "itinerary[0].areaCode": "unknown_area"} {
		if got[field] != reason {
			t.Errorf("field %s: reason %q, want %q (all: %v)", field, got[field], reason, got)
		}
	}
	withExtra := submission()
	withExtra["isAdmin"] = true
	var unknownField apiError
	if code := e.postJSON("/v1/reports", withExtra, &unknownField); code != 400 || len(unknownField.Fields) != 1 || unknownField.Fields[0].Field != "isAdmin" {
		t.Fatalf("unknown field %d %+v", code, unknownField)
	}
	var wrongType apiError
	if code := e.do("POST", "/v1/reports", "application/json", "", strings.NewReader(`{"name": 5}`), &wrongType); code != 400 || wrongType.Fields[0].Field != "name" {
		t.Fatalf("wrong type %d %+v", code, wrongType)
	}
	for _, c := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"not json", "text/plain", `{}`, 415},
		{"no content type", "", `{}`, 415},
		{"broken json", "application/json", `{"name":`, 400},
		{"two documents", "application/json", `{} {}`, 400},
		{"too large", "application/json; charset=utf-8", `{"name":"` + strings.Repeat("张", 6000) + `"}`, 413},
	} {
		if code := e.do("POST", "/v1/reports", c.contentType, "", strings.NewReader(c.body), nil); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	if n := e.alerts(); n != 0 {
		t.Fatalf("refused requests queued %d alerts", n)
	}
}

func TestDistrictEditsRules(t *testing.T) {
	t.Parallel()
	e := start(t)
	admin := e.token(auth.DistrictAdmin, "")
	list := `[{"areaCode":"110105","level":"high","from":"2022-12-01"}]`
	if code := e.do("PUT", "/v1/risk-areas", "application/json", e.token(auth.GridWorker, "440703006107-01"), strings.NewReader(list), nil); code != 403 {
		t.Fatalf("grid worker replaced the list: %d", code)
	}
	if code := e.do("PUT", "/v1/risk-areas", "application/json", "", strings.NewReader(list), nil); code != 401 {
		t.Fatalf("anonymous replaced the list: %d", code)
	}
	var invalid apiError
	if code := e.do("PUT", "/v1/risk-areas", "application/json", admin, strings.NewReader(`[{"areaCode":"999999","level":"high","from":"2022-12-01"}]`), &invalid); code != 400 || invalid.Fields[0].Field != "[0].areaCode" {
		t.Fatalf("invalid list %d %+v", code, invalid)
	}
	var notArray apiError
	if code := e.do("PUT", "/v1/risk-areas", "application/json", admin, strings.NewReader(`null`), &notArray); code != 400 || notArray.Fields[0].Reason != "not_an_array" {
		t.Fatalf("null list %d %+v", code, notArray)
	}
	var seeded []map[string]string
	if e.do("GET", "/v1/risk-areas", "", "", nil, &seeded); len(seeded) == 0 {
		t.Fatal("a refused null list emptied the stored one")
	}
	var stored []map[string]string
	if code := e.do("PUT", "/v1/risk-areas", "application/json", admin, strings.NewReader(list), &stored); code != 200 || len(stored) != 1 {
		t.Fatalf("replace %d %v", code, stored)
	}
	// The origin 110105 is now high; 440106 is no longer listed.
	s := submission()
	s["itinerary"] = []map[string]string{}
	var r receipt
	if code := e.postJSON("/v1/reports", s, &r); code != 201 || r.RiskLevel != "high" {
		t.Fatalf("after the edit %d %+v", code, r)
	}

	var guidance []map[string]string
	if code := e.do("GET", "/v1/guidance", "", "", nil, &guidance); code != 200 || len(guidance) != 4 {
		t.Fatalf("guidance %d %v", code, guidance)
	}
	guidance[3]["smsAction"] = strings.Repeat("检", 40)
	body, _ := json.Marshal(guidance)
	var tooLong apiError
	if code := e.do("PUT", "/v1/guidance", "application/json", admin, bytes.NewReader(body), &tooLong); code != 400 || tooLong.Fields[0].Field != "[3].smsAction" {
		t.Fatalf("too long action %d %+v", code, tooLong)
	}
	guidance[3]["smsAction"] = "立即居家"
	guidance[3]["text"] = "含控制字符\u0000的指引"
	body, _ = json.Marshal(guidance)
	var control apiError
	if code := e.do("PUT", "/v1/guidance", "application/json", admin, bytes.NewReader(body), &control); code != 400 || control.Fields[0].Field != "[3].text" {
		t.Fatalf("control character in guidance %d %+v", code, control)
	}
	guidance[3]["smsAction"] = " 立即居家并联系社区 "
	guidance[3]["text"] = "新的高风险指引"
	body, _ = json.Marshal(guidance)
	if code := e.do("PUT", "/v1/guidance", "application/json", admin, bytes.NewReader(body), nil); code != 200 {
		t.Fatalf("guidance edit %d", code)
	}
	s["arrivalDate"] = "2022-12-04"
	if code := e.postJSON("/v1/reports", s, &r); code != 201 || r.Guidance != "新的高风险指引" {
		t.Fatalf("after the guidance edit %d %+v", code, r)
	}
	var edited []map[string]string
	if e.do("GET", "/v1/guidance", "", "", nil, &edited); edited[3]["smsAction"] != "立即居家并联系社区" {
		t.Fatalf("stored action %q, want it trimmed", edited[3]["smsAction"])
	}
}

// TestLogsHoldNoPersonalData runs a full intake and read with the default
// logger captured. Not parallel: it swaps the process-wide logger.
func TestLogsHoldNoPersonalData(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	e := start(t)
	var r receipt
	if code := e.postJSON("/v1/reports", submission(), &r); code != 201 {
		t.Fatalf("submit %d", code)
	}
	e.postJSON("/v1/reports", submission(), nil)
	bad := submission()
	bad["phone"] = "+86 139-0000-000"
	e.postJSON("/v1/reports", bad, nil)
	e.do("GET", "/v1/grids/"+r.GridCode+"/reports", "", e.token(auth.GridWorker, r.GridCode), nil, nil)
	e.do("GET", "/v1/reports/"+r.ReportID, "", e.token(auth.DistrictAdmin, ""), nil, nil)

	out := logs.String()
	if !strings.Contains(out, `"route":"POST /v1/reports"`) {
		t.Fatalf("the requests were not logged; captured:\n%s", out)
	}
	for _, secret := range []string{"11010519491231002X", "13800138000", "138-0013-8000", "1390000000", "张三", "新塘里"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
}

func TestReopenKeepsDataAndDoesNotReseed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := func() time.Time { return testNow }
	sys, err := Open(context.Background(), dir, now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sys.Handler)
	e := &env{t: t, srv: srv, sys: sys}
	var r receipt
	if code := e.postJSON("/v1/reports", submission(), &r); code != 201 {
		t.Fatalf("submit %d", code)
	}
	srv.Close()
	sys.Close()

	sys, err = Open(context.Background(), dir, now)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if sys.Seeded {
		t.Fatal("second open seeded again")
	}
	// The same keys: the stored report still opens and the old token key still verifies.
	srv = httptest.NewServer(sys.Handler)
	defer srv.Close()
	e = &env{t: t, srv: srv, sys: sys}
	var again receipt
	if code := e.postJSON("/v1/reports", submission(), &again); code != 200 || again.ReportID != r.ReportID {
		t.Fatalf("after reopen %d %+v, want the first report", code, again)
	}
	if code := e.do("GET", "/v1/reports/"+r.ReportID, "", e.token(auth.DistrictAdmin, ""), nil, nil); code != 200 {
		t.Fatalf("read after reopen: %d", code)
	}
}
