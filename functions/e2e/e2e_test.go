package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/dynamolocal"
	"gridcode/infra/lambdarie"
	"gridcode/shared/alert"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/store/dynamo"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// The people who report. idNumber and phone are what they type; the stored
// and logged forms must never show them.
const (
	idNumber1    = "11010519491231002X"
	phoneTyped1  = "+86 138-0013-8000"
	phoneNumber1 = "13800138000"
	phoneTyped2  = "139 1234 5678"
	phoneNumber2 = "13912345678"
	personName   = "张三"
	address      = "新塘里96号"
	// badIDNumber is idNumber1 with a wrong check digit (the invalid body).
	badIDNumber = "110105194912310021"
)

// idNumber2 is a second valid resident ID, for a second person.
var idNumber2 = residentID("44070319900101123")

var seededGrids = []grid.Grid{
	{Code: "440703006107-01", Name: "石冲社区第一网格", Community: "石冲社区", Town: "棠下镇"},
	{Code: "440703103206-01", Name: "子绵村第一网格", Community: "子绵村", Town: "荷塘镇"},
}

var (
	gridA = seededGrids[0].Code // 石冲社区: where the community routes the first report
	gridB = seededGrids[1].Code
)

// system is everything the test starts: the three functions under the
// emulator, and direct access to their tables and keys.
type system struct {
	intake, reports, directory *lambdarie.Emulator

	db     *dynamodb.Client
	store  *dynamo.Store
	tables dynamo.Tables
	vault  *pii.Vault
	issuer auth.Issuer
	today  string

	fixture []byte // testdata/apigw-v2-request.json

	// rateLimits is the abuse limits' counters table (rateLimitsTable).
	rateLimits string
}

func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := start(ctx, t)

	var reportID string
	t.Run("intake", func(t *testing.T) { reportID = s.testIntake(ctx, t) })
	if reportID == "" {
		t.Fatal("intake stored no report; the reports checks need one")
	}
	t.Run("reports", func(t *testing.T) { s.testReports(ctx, t, reportID) })
	t.Run("directory", func(t *testing.T) { s.testDirectory(ctx, t) })
	// Last, so that every request above has been logged.
	t.Run("logs", func(t *testing.T) { s.testLogs(t) })
}

func start(ctx context.Context, t *testing.T) *system {
	t.Helper()
	s, endpoint, keysFile := newSystem(ctx, t, "e2e", func(prefix string) dynamo.Tables {
		return dynamo.Tables{Reports: prefix + "reports", Alerts: prefix + "alerts", Grids: prefix + "grids", Rules: prefix + "rules", Audit: prefix + "audit", DailyCounts: prefix + "daily-counts"}
	})
	if err := s.store.PutGrids(ctx, seededGrids); err != nil {
		t.Fatal(err)
	}
	riskAreas := fmt.Sprintf(`[{"areaCode":"110105","level":"high","from":%q}]`, dates.AddDays(s.today, -10))
	if err := s.store.PutRuleSet(ctx, district.RiskAreasRuleSet, []byte(riskAreas)); err != nil {
		t.Fatal(err)
	}

	// Each function gets only the variables its config reads, as in
	// template.yaml, so a missing one fails its start-up here.
	// AWS_LAMBDA_LOG_FORMAT is what the template's LoggingConfig sets in Lambda.
	common := []string{"KEYS_FILE=" + keysFile, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON"}
	s.intake = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/intake"), append(common,
		"REPORTS_TABLE="+s.tables.Reports, "ALERTS_TABLE="+s.tables.Alerts, "DAILY_COUNTS_TABLE="+s.tables.DailyCounts,
		"GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules, "RATE_LIMITS_TABLE="+s.rateLimitsTable(ctx, t),
		// The template's 30 a minute, as 30 an hour: a loaded machine's
		// 31 requests must not straddle a minute's boundary.
		"REPORTS_PER_ADDRESS=30/1h")...)
	s.reports = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/reports"), append(common,
		"REPORTS_TABLE="+s.tables.Reports, "GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules, "AUDIT_TABLE="+s.tables.Audit)...)
	s.directory = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/directory"), append(common,
		"GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules, "REPORT_URL="+gcReportURL)...)
	return s
}

// newSystem is how every HTTP test starts: the API Gateway fixture,
// DynamoDB Local first (it skips the test, or fails it in CI, when it is
// not installed, before any time goes into builds), the tables named with
// a fresh prefix and created, and a keyset with its token issuer. It
// returns DynamoDB Local's endpoint and the keyset's file for the
// functions' environment.
func newSystem(ctx context.Context, t *testing.T, name string, tables func(prefix string) dynamo.Tables) (s *system, endpoint, keysFile string) {
	t.Helper()
	s = &system{today: dates.Today(time.Now())}
	var err error
	if s.fixture, err = os.ReadFile(filepath.Join("testdata", "apigw-v2-request.json")); err != nil {
		t.Fatal(err)
	}
	s.db = dynamolocal.Client(t)
	endpoint = dynamolocal.Endpoint(t)
	s.tables = tables(name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-")
	if err := dynamo.CreateTables(ctx, s.db, s.tables); err != nil {
		t.Fatal(err)
	}
	s.store = dynamo.New(s.db, s.tables)
	keysFile, keys, vault := testKeys(t)
	s.vault = vault
	if s.issuer, err = auth.NewIssuer(keys.TokenKey); err != nil {
		t.Fatal(err)
	}
	return s, endpoint, keysFile
}

// receipt is the body of a 200/201 from intake.
type receipt struct {
	ReportID  string `json:"reportId"`
	RiskLevel string `json:"riskLevel"`
	Guidance  string `json:"guidance"`
	GridCode  string `json:"gridCode"`
	Duplicate bool   `json:"duplicate"`
}

// errorBody is the body of every 4xx.
type errorBody struct {
	Error  string    `json:"error"`
	Fields []problem `json:"fields"`
}

type problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (s *system) testIntake(ctx context.Context, t *testing.T) string {
	body1 := s.reportBody(t, idNumber1, phoneTyped1, "石冲社区")
	submit := request{Route: "POST /v1/reports", Body: body1}

	resp := s.invoke(ctx, t, s.intake, submit)
	var first receipt
	resp.want(t, http.StatusCreated, &first)
	if ct := resp.header("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	want := receipt{ReportID: first.ReportID, RiskLevel: "high", Guidance: guidanceText(risk.High), GridCode: gridA}
	if diff := cmp.Diff(want, first); diff != "" || first.ReportID == "" {
		t.Fatalf("first submit receipt (-want +got):\n%s", diff)
	}
	id := first.ReportID

	// The stored report: routed by community, scored, listed, expiring.
	now := time.Now()
	rec, err := s.store.Get(ctx, id)
	if err != nil {
		t.Fatalf("report %s not stored: %v", id, err)
	}
	if rec.GridCode != gridA || rec.RoutedBy != report.RoutedByCommunity || rec.RiskLevel != risk.High ||
		rec.Status != report.StatusNew || rec.ArrivalDate != s.today || rec.FromAreaCode != "110105" {
		t.Errorf("stored report: grid=%q routedBy=%q risk=%q status=%q arrival=%q from=%q; want %s community high new %s 110105",
			rec.GridCode, rec.RoutedBy, rec.RiskLevel, rec.Status, rec.ArrivalDate, rec.FromAreaCode, gridA, s.today)
	}
	if want := report.ListKey(rec.SubmittedAt, id); rec.ListKey != want {
		t.Errorf("listKey = %q, want %q", rec.ListKey, want)
	}
	if d := now.Sub(rec.SubmittedAt); d < 0 || d > time.Minute {
		t.Errorf("submittedAt = %v, not just now (%v)", rec.SubmittedAt, now)
	}
	if rec.ExpiresAt <= now.Unix() {
		t.Errorf("expiresAt = %d, not after now (%d)", rec.ExpiresAt, now.Unix())
	}
	personal, err := report.Open(s.vault, rec)
	if err != nil {
		t.Fatalf("open the sealed personal fields: %v", err)
	}
	wantPersonal := report.Personal{Name: personName, IDNumber: idNumber1, Phone: phoneNumber1, Address: address}
	if diff := cmp.Diff(wantPersonal, personal); diff != "" {
		t.Errorf("sealed personal fields (-want +got):\n%s", diff)
	}

	// The item as DynamoDB holds it: personal data only sealed, expiresAt a
	// number (TTL ignores any other type), the index keys present.
	item := s.rawItem(ctx, t, s.tables.Reports, "reportId", id)
	s.checkNoPersonalData(t, "report item", item, idNumber1, phoneNumber1)
	if _, ok := item[dynamo.TTLAttribute].(*types.AttributeValueMemberN); !ok {
		t.Errorf("report item: %s is %T, want a number", dynamo.TTLAttribute, item[dynamo.TTLAttribute])
	}
	for _, k := range []string{"gridCode", "listKey"} {
		if _, ok := item[k].(*types.AttributeValueMemberS); !ok {
			t.Errorf("report item: %s is %T, want a string (it keys the %s index)", k, item[k], dynamo.GridIndex)
		}
	}

	// The welcome SMS, written with the report.
	alertID := report.WelcomeAlertID(id)
	a, err := s.store.Alert(ctx, alertID)
	if err != nil {
		t.Fatalf("welcome alert: %v", err)
	}
	if a.Status != alert.Pending || a.ReportID != id || a.GridCode != gridA || a.Template != alert.ReportWelcome.Code ||
		a.RecipientLookup != rec.PhoneLookup || a.ExpiresAt != rec.ExpiresAt {
		t.Errorf("welcome alert = %+v; want pending, report %s, grid %s, template %s, the report's phone lookup and expiry",
			a, id, gridA, alert.ReportWelcome.Code)
	}
	if to, err := s.vault.Open(a.RecipientSealed, alertID); err != nil || string(to) != phoneNumber1 {
		t.Errorf("welcome alert recipient: opened %q (err %v), want the reporter's phone", to, err)
	}
	s.checkNoPersonalData(t, "alert item", s.rawItem(ctx, t, s.tables.Alerts, "alertId", alertID), idNumber1, phoneNumber1)

	// The same person and arrival again: the first report, nothing new.
	var again receipt
	s.invoke(ctx, t, s.intake, submit).want(t, http.StatusOK, &again)
	want.Duplicate = true
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("second submit receipt (-want +got):\n%s", diff)
	}
	if n := s.count(ctx, t, s.tables.Alerts, "reportId", id); n != 1 {
		t.Errorf("%d alerts for report %s after a duplicate submit, want 1", n, id)
	}
	rows := s.rows(ctx, t)
	if rows != [2]int{1, 1} {
		t.Errorf("after a duplicate: %d reports, %d alerts; want 1, 1", rows[0], rows[1])
	}

	// Bad input: every bad field named, nothing stored.
	var bad errorBody
	s.invoke(ctx, t, s.intake, request{Route: "POST /v1/reports", Body: s.fill(t, "report-invalid.json", nil)}).
		want(t, http.StatusBadRequest, &bad)
	if bad.Error != "invalid_report" {
		t.Errorf("invalid body: error %q, want invalid_report", bad.Error)
	}
	for _, f := range []string{"name", "idNumber", "phone", "fromAreaCode"} {
		if !slices.ContainsFunc(bad.Fields, func(p problem) bool { return p.Field == f }) {
			t.Errorf("invalid body: no problem reported for field %s in %+v", f, bad.Fields)
		}
	}
	if got := s.rows(ctx, t); got != rows {
		t.Errorf("invalid body changed the tables: reports, alerts = %v, were %v", got, rows)
	}

	// A grid code that does not exist: 404 and nothing stored, although the
	// body is a valid report.
	var unknown errorBody
	s.invoke(ctx, t, s.intake, request{
		Route: "POST /v1/grids/{gridCode}/reports", Path: "/v1/grids/440703999999-99/reports",
		Body: s.reportBody(t, idNumber2, phoneTyped2, ""),
	}).want(t, http.StatusNotFound, &unknown)
	if unknown.Error != "unknown_grid" {
		t.Errorf("unknown grid: error %q, want unknown_grid", unknown.Error)
	}
	if got := s.rows(ctx, t); got != rows {
		t.Errorf("unknown grid changed the tables: reports, alerts = %v, were %v", got, rows)
	}

	// A grid's own QR code routes by path, whatever the community says.
	var other receipt
	s.invoke(ctx, t, s.intake, request{
		Route: "POST /v1/grids/{gridCode}/reports", Path: "/v1/grids/" + gridB + "/reports",
		Body: s.reportBody(t, idNumber2, phoneTyped2, "石冲社区"),
	}).want(t, http.StatusCreated, &other)
	if other.GridCode != gridB || other.Duplicate || other.ReportID == id {
		t.Errorf("report by grid path: %+v; want a new report in grid %s", other, gridB)
	}
	if rec2, err := s.store.Get(ctx, other.ReportID); err != nil || rec2.RoutedBy != report.RoutedByPath {
		t.Errorf("report by grid path: stored routedBy %q (err %v), want %s", rec2.RoutedBy, err, report.RoutedByPath)
	}
	return id
}

// reportView is the part of a report the list shows that the test checks.
type reportView struct {
	ReportID  string `json:"reportId"`
	GridCode  string `json:"gridCode"`
	RiskLevel string `json:"riskLevel"`
	Person    struct {
		Name     string `json:"name"`
		IDNumber string `json:"idNumber"`
		Phone    string `json:"phone"`
		Address  string `json:"address"`
	} `json:"person"`
}

func (s *system) testReports(ctx context.Context, t *testing.T, id string) {
	workerA := s.token(t, gridA)
	workerB := s.token(t, gridB)
	listA := request{Route: "GET /v1/grids/{gridCode}/reports", Path: "/v1/grids/" + gridA + "/reports"}

	withA := listA
	withA.Token = workerA
	var page struct {
		Reports   []reportView `json:"reports"`
		NextToken string       `json:"nextToken"`
	}
	// The grid index is eventually consistent: a report written a moment
	// ago may take a little while to be listed.
	var resp response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp = s.invoke(ctx, t, s.reports, withA)
		resp.want(t, http.StatusOK, &page)
		if len(page.Reports) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(page.Reports) != 1 || page.NextToken != "" {
		t.Fatalf("grid %s list: %d reports, nextToken %q; want the one report routed there\n%s",
			gridA, len(page.Reports), page.NextToken, resp.Body)
	}
	got := page.Reports[0]
	if got.ReportID != id || got.GridCode != gridA || got.RiskLevel != "high" {
		t.Errorf("listed report %s in grid %s at %s; want %s in %s at high", got.ReportID, got.GridCode, got.RiskLevel, id, gridA)
	}
	if got.Person.IDNumber != "1101**********002X" || got.Person.Phone != "138****8000" ||
		got.Person.Name != personName || got.Person.Address != address {
		t.Errorf("listed person = %+v; want masked 1101**********002X and 138****8000 with name and address", got.Person)
	}
	if b := string(resp.Body); strings.Contains(b, idNumber1) || strings.Contains(b, phoneNumber1) {
		t.Errorf("grid worker list shows an unmasked ID number or phone:\n%s", b)
	}

	var one reportView
	s.invoke(ctx, t, s.reports, request{Route: "GET /v1/reports/{reportId}", Path: "/v1/reports/" + id, Token: workerA}).
		want(t, http.StatusOK, &one)
	if one.ReportID != id || one.Person.IDNumber != "1101**********002X" || one.Person.Phone != "138****8000" {
		t.Errorf("GET report: %+v; want %s masked", one, id)
	}

	// The grid worker phones the person: the follow-up is stored on the
	// report with its version, and the report leaves the overdue list.
	followUp := request{Route: "POST /v1/reports/{reportId}/followups", Path: "/v1/reports/" + id + "/followups", Body: `{"outcome":"contacted"}`}
	var refused errorBody
	s.invoke(ctx, t, s.reports, withToken(followUp, workerB)).want(t, http.StatusForbidden, &refused)
	var state struct {
		Status  string `json:"status"`
		Version int    `json:"version"`
	}
	s.invoke(ctx, t, s.reports, withToken(followUp, workerA)).want(t, http.StatusCreated, &state)
	if state.Status != "in_progress" || state.Version != 1 {
		t.Errorf("follow-up: %+v, want in_progress at version 1", state)
	}
	item := s.rawItem(ctx, t, s.tables.Reports, "reportId", id)
	if v, ok := item["version"].(*types.AttributeValueMemberN); !ok || v.Value != "1" || item["firstContactAt"] == nil || item["followUps"] == nil {
		t.Errorf("stored report after the follow-up: version %v, firstContactAt %v, followUps %v", item["version"], item["firstContactAt"], item["followUps"])
	}
	var overdue struct {
		Overdue []json.RawMessage `json:"overdue"`
	}
	s.invoke(ctx, t, s.reports, request{Route: "GET /v1/grids/{gridCode}/followups/overdue", Path: "/v1/grids/" + gridA + "/followups/overdue", Token: workerA}).
		want(t, http.StatusOK, &overdue)
	if len(overdue.Overdue) != 0 {
		t.Errorf("overdue after contact: %d reports", len(overdue.Overdue))
	}

	for _, c := range []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"another grid's worker lists", withToken(listA, workerB), http.StatusForbidden, "forbidden"},
		{"another grid's worker reads", request{Route: "GET /v1/reports/{reportId}", Path: "/v1/reports/" + id, Token: workerB}, http.StatusForbidden, "forbidden"},
		{"no token", listA, http.StatusUnauthorized, "unauthorized"},
		{"forged token", withToken(listA, forged(t, gridA)), http.StatusUnauthorized, "unauthorized"},
		{"expired token", withToken(listA, s.expiredToken(t, gridA)), http.StatusUnauthorized, "unauthorized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := s.invoke(ctx, t, s.reports, c.req)
			var e errorBody
			resp.want(t, c.status, &e)
			if e.Error != c.code {
				t.Errorf("error %q, want %q", e.Error, c.code)
			}
			if c.status == http.StatusUnauthorized && !strings.HasPrefix(resp.header("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", resp.header("WWW-Authenticate"))
			}
		})
	}
}

func (s *system) testDirectory(ctx context.Context, t *testing.T) {
	var health map[string]string
	s.invoke(ctx, t, s.directory, request{Route: "GET /healthz"}).want(t, http.StatusOK, &health)
	if health["status"] != "ok" {
		t.Errorf("healthz = %v, want status ok", health)
	}

	type publicGrid struct {
		Code      string `json:"gridCode"`
		Name      string `json:"name"`
		Community string `json:"community"`
		Town      string `json:"town"`
	}
	var grids []publicGrid
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/grids"}).want(t, http.StatusOK, &grids)
	var want []publicGrid
	for _, g := range seededGrids {
		want = append(want, publicGrid{Code: g.Code, Name: g.Name, Community: g.Community, Town: g.Town})
	}
	if diff := cmp.Diff(want, grids); diff != "" {
		t.Errorf("GET /v1/grids (-want +got):\n%s", diff)
	}

	var areas []risk.Area
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/risk-areas"}).want(t, http.StatusOK, &areas)
	wantAreas := []risk.Area{{AreaCode: "110105", Level: risk.High, From: dates.AddDays(s.today, -10)}}
	if diff := cmp.Diff(wantAreas, areas); diff != "" {
		t.Errorf("GET /v1/risk-areas (-want +got):\n%s", diff)
	}
	s.testPageData(ctx, t)
}

// testLogs checks what the functions wrote: a line per request, and no ID
// number or phone in any form the test sent.
func (s *system) testLogs(t *testing.T) {
	secret := []string{idNumber1, idNumber2, badIDNumber, phoneTyped1, phoneNumber1, phoneTyped2, phoneNumber2}
	for _, f := range []struct {
		name  string
		emu   *lambdarie.Emulator
		route string
	}{
		{"intake", s.intake, "POST /v1/reports"},
		{"reports", s.reports, "GET /v1/grids/{gridCode}/reports"},
		{"directory", s.directory, "GET /v1/grids"},
	} {
		out := f.emu.Output()
		if !strings.Contains(out, `"route":"`+f.route+`"`) {
			t.Errorf("%s: no request log line for %s in the output:\n%s", f.name, f.route, out)
		}
		if !strings.Contains(out, `"requestId":"`) {
			t.Errorf("%s: log lines carry no Lambda request id:\n%s", f.name, out)
		}
		for _, v := range secret {
			if strings.Contains(out, v) {
				t.Errorf("%s: the logs contain %q:\n%s", f.name, v, out)
			}
		}
	}
}

// request is one HTTP request as API Gateway routes it.
type request struct {
	Route string // the route key: "GET /v1/grids/{gridCode}/reports"
	Path  string // the raw path; empty means the route's own path
	Query string // the raw query string, without "?"
	Token string // sent as "Authorization: Bearer <Token>" if set
	// Claims are what API Gateway's JWT authorizer verified, put in
	// requestContext.authorizer.jwt.claims if set.
	Claims map[string]string
	Body   string // JSON; sent with content-type application/json if set
}

func withToken(r request, token string) request {
	r.Token = token
	return r
}

var requestSeq atomic.Int64

// event turns r into an API Gateway HTTP API payload 2.0 event, starting
// from testdata/apigw-v2-request.json so that every field API Gateway sends
// is there, whether or not the adapter reads it today.
// gcStage is the template's Stage parameter as the tests deploy it.
const gcStage = "dev"

func (s *system) event(t *testing.T, r request) []byte {
	t.Helper()
	method, routePath, ok := strings.Cut(r.Route, " ")
	if !ok {
		t.Fatalf("route %q is not METHOD PATH", r.Route)
	}
	path := r.Path
	if path == "" {
		path = routePath
	}

	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(s.fixture))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("testdata/apigw-v2-request.json: %v", err)
	}
	headers := ev["headers"].(map[string]any)
	rc := ev["requestContext"].(map[string]any)
	httpCtx := rc["http"].(map[string]any)

	ev["routeKey"], rc["routeKey"] = r.Route, r.Route
	// The template's stage is named, and API Gateway puts its name before
	// the path of every request it hands on.
	rc["stage"] = gcStage
	ev["rawPath"], httpCtx["path"], httpCtx["method"] = "/"+gcStage+path, "/"+gcStage+path, method
	ev["rawQueryString"] = r.Query
	if params := pathParameters(t, routePath, path); len(params) > 0 {
		ev["pathParameters"] = params
	}
	if r.Query != "" {
		q, err := url.ParseQuery(r.Query)
		if err != nil {
			t.Fatalf("query %q: %v", r.Query, err)
		}
		qs := map[string]string{}
		for k, v := range q {
			qs[k] = strings.Join(v, ",") // how payload 2.0 folds repeated keys
		}
		ev["queryStringParameters"] = qs
	}
	if r.Body != "" {
		ev["body"] = r.Body
		headers["content-length"] = strconv.Itoa(len(r.Body))
	} else {
		delete(ev, "body")
		delete(headers, "content-type")
		delete(headers, "content-length")
	}
	if r.Token != "" {
		headers["authorization"] = "Bearer " + r.Token
	}
	if r.Claims != nil {
		// As API Gateway sends them: every claim a string, no scopes in
		// an ID token.
		rc["authorizer"] = map[string]any{"jwt": map[string]any{"claims": r.Claims, "scopes": nil}}
	}
	now := time.Now().UTC()
	rc["requestId"] = fmt.Sprintf("e2e%012d=", requestSeq.Add(1))
	rc["time"] = now.Format("02/Jan/2006:15:04:05 -0700")
	rc["timeEpoch"] = now.UnixMilli()

	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// The event must be what aws-lambda-go's type describes, field for field.
	strict := json.NewDecoder(bytes.NewReader(out))
	strict.DisallowUnknownFields()
	var typed events.APIGatewayV2HTTPRequest
	if err := strict.Decode(&typed); err != nil {
		t.Fatalf("event does not fit events.APIGatewayV2HTTPRequest: %v\n%s", err, out)
	}
	return out
}

// pathParameters matches path against the route's {name} segments.
func pathParameters(t *testing.T, route, path string) map[string]string {
	t.Helper()
	rs, ps := strings.Split(route, "/"), strings.Split(path, "/")
	if len(rs) != len(ps) {
		t.Fatalf("path %q does not match route %q", path, route)
	}
	params := map[string]string{}
	for i, seg := range rs {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			v, err := url.PathUnescape(ps[i])
			if err != nil {
				t.Fatalf("path %q: %v", path, err)
			}
			params[strings.TrimSuffix(name, "}")] = v
		} else if seg != ps[i] {
			t.Fatalf("path %q does not match route %q", path, route)
		}
	}
	return params
}

// response is a decoded events.APIGatewayV2HTTPResponse.
type response struct {
	Status  int
	Headers map[string]string
	Body    []byte
	emu     *lambdarie.Emulator
}

func (s *system) invoke(ctx context.Context, t *testing.T, emu *lambdarie.Emulator, r request) response {
	t.Helper()
	out, err := emu.Invoke(ctx, s.event(t, r))
	if err != nil {
		t.Fatalf("%s %s: %v", r.Route, r.Path, err)
	}
	var ev events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &ev); err != nil || ev.StatusCode == 0 {
		t.Fatalf("%s %s: not an API Gateway v2 response (err %v): %s\nfunction output:\n%s", r.Route, r.Path, err, out, emu.Output())
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Fatalf("%s %s: body: %v", r.Route, r.Path, err)
		}
	}
	return response{Status: ev.StatusCode, Headers: ev.Headers, Body: body, emu: emu}
}

// want checks the status and decodes the JSON body into v.
func (r response) want(t *testing.T, status int, v any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s\nfunction output:\n%s", r.Status, status, r.Body, r.emu.Output())
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("status %d: body %q is not the expected JSON: %v", r.Status, r.Body, err)
	}
}

func (r response) header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// reportBody fills testdata/report.json for one person arriving today.
func (s *system) reportBody(t *testing.T, idNumber, phone, community string) string {
	t.Helper()
	return s.fill(t, "report.json", map[string]string{
		"idNumber": idNumber, "phone": phone, "community": community,
	})
}

// fill reads a testdata body and replaces {{name}} with vars[name] and
// {{arrivalDate}} / {{dayBefore}} with today and yesterday in the district.
func (s *system) fill(t *testing.T, name string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"arrivalDate": s.today, "dayBefore": dates.AddDays(s.today, -1)}
	for k, v := range vars {
		all[k] = v
	}
	var pairs []string
	for k, v := range all {
		q, _ := json.Marshal(v)
		pairs = append(pairs, "{{"+k+"}}", string(q[1:len(q)-1]))
	}
	body := strings.NewReplacer(pairs...).Replace(string(b))
	if strings.Contains(body, "{{") {
		t.Fatalf("testdata/%s: unfilled placeholder in\n%s", name, body)
	}
	if !json.Valid([]byte(body)) {
		t.Fatalf("testdata/%s: not JSON once filled:\n%s", name, body)
	}
	return body
}

func (s *system) token(t *testing.T, gridCode string) string {
	t.Helper()
	tok, err := s.issuer.Issue(auth.Principal{Subject: "worker-" + gridCode, Role: auth.GridWorker, Grids: auth.ParseGrids(gridCode), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *system) expiredToken(t *testing.T, gridCode string) string {
	t.Helper()
	tok, err := s.issuer.Issue(auth.Principal{Subject: "worker-" + gridCode, Role: auth.GridWorker, Grids: auth.ParseGrids(gridCode), Expires: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forged is a well-formed token signed with a key the functions don't have.
func forged(t *testing.T, gridCode string) string {
	t.Helper()
	other, err := auth.NewIssuer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := other.Issue(auth.Principal{Subject: "mallory", Role: auth.GridWorker, Grids: auth.ParseGrids(gridCode), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *system) rawItem(ctx context.Context, t *testing.T, table, keyName, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{keyName: &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("get %s %s from %s: item %v, err %v", keyName, key, table, out, err)
	}
	return out.Item
}

// checkNoPersonalData fails if the item holds the person's name, address,
// ID number or phone in plain text, in any attribute value (binary ones
// included, read as bytes) or in the item's JSON form.
func (s *system) checkNoPersonalData(t *testing.T, what string, item map[string]types.AttributeValue, idNumber, phone string) {
	t.Helper()
	var dump strings.Builder
	var walk func(types.AttributeValue)
	walk = func(v types.AttributeValue) {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			dump.WriteString(v.Value + "\n")
		case *types.AttributeValueMemberN:
			dump.WriteString(v.Value + "\n")
		case *types.AttributeValueMemberB:
			dump.Write(v.Value)
			dump.WriteString("\n")
		case *types.AttributeValueMemberSS:
			dump.WriteString(strings.Join(v.Value, "\n") + "\n")
		case *types.AttributeValueMemberNS:
			dump.WriteString(strings.Join(v.Value, "\n") + "\n")
		case *types.AttributeValueMemberBS:
			for _, b := range v.Value {
				dump.Write(b)
				dump.WriteString("\n")
			}
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
	}
	for k, v := range item {
		dump.WriteString(k + "\n")
		walk(v)
	}
	asJSON, err := json.Marshal(item)
	if err != nil {
		t.Fatal(err)
	}
	dump.Write(asJSON)
	for _, v := range []string{idNumber, phone, personName, address} {
		if strings.Contains(dump.String(), v) {
			t.Errorf("%s holds %q in plain text:\n%s", what, v, asJSON)
		}
	}
}

// count counts the items of table whose attribute equals value ("" counts
// every item).
func (s *system) count(ctx context.Context, t *testing.T, table, attr, value string) int {
	t.Helper()
	in := &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount, ConsistentRead: aws.Bool(true)}
	if attr != "" {
		in.FilterExpression = aws.String("#a = :v")
		in.ExpressionAttributeNames = map[string]string{"#a": attr}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}}
	}
	n := 0
	p := dynamodb.NewScanPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		n += int(page.Count)
	}
	return n
}

// rows counts the reports and the alerts.
func (s *system) rows(ctx context.Context, t *testing.T) [2]int {
	t.Helper()
	return [2]int{s.count(ctx, t, s.tables.Reports, "", ""), s.count(ctx, t, s.tables.Alerts, "", "")}
}

func guidanceText(l risk.Level) string {
	for _, g := range risk.DefaultGuidance() {
		if g.Level == l {
			return g.Text
		}
	}
	return ""
}

// residentID appends the GB 11643 check digit to 17 digits.
func residentID(first17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return first17 + string("10X98765432"[sum%11])
}
