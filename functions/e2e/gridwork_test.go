package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/demo"
	"gridcode/infra/lambdarie"
	"gridcode/infra/sqsfake"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/worklist"
)

// gwPerson is someone in the registry or on the NAT list. Everything but
// the community is personal data: sealed in the tables, masked in answers
// where the design says so, never in a log.
type gwPerson struct {
	name, idNumber, phone, town, community, address string
}

var (
	// The wrong-address case of the source article: two migrant workers
	// registered at 新塘里96号 in 石冲社区 tell the grid worker they live at
	// 长庚里96号, next door; the worker must find them by name at the
	// address they gave.
	gwChen  = gwPerson{name: "陈永健", idNumber: residentID("45098119880314231"), phone: "13926081234", town: "环市街道", community: "石冲社区", address: "新塘里96号"}
	gwHuang = gwPerson{name: "黄雅玲", idNumber: residentID("45250119910627142"), phone: "13926085678", town: "环市街道", community: "石冲社区", address: "新塘里96号"}
	// Namesakes: one in 石冲社区 on the street the person named (ranked
	// below the near miss), one in another community of the town (outside
	// the 石冲 worker's search scope).
	gwChenStreet = gwPerson{name: "陈永健", idNumber: residentID("44070319820417093"), phone: "13926083344", town: "环市街道", community: "石冲社区", address: "长庚里12号"}
	gwChenWufu   = gwPerson{name: "陈永健", idNumber: residentID("44070319750203115"), phone: "13926089012", town: "环市街道", community: "五福社区", address: "五福路3号"}

	// On the NAT list and not in the registry: one whose community routes
	// to a grid, one whose community the district does not know (the pool).
	gwLin  = gwPerson{name: "林小红", idNumber: residentID("44070319960815026"), phone: "13726083456", community: "石冲社区", address: "新塘里12号"}
	gwWang = gwPerson{name: "王大明", idNumber: residentID("44078119800101053"), phone: "13626087788", community: "火星社区", address: "火星路1号"}
	// gwZhao's row has a wrong check digit: refused, reported by line.
	gwZhao = gwPerson{name: "赵小刚", idNumber: gwWrongCheck(residentID("44070319920202017")), phone: "13526081122", community: "石冲社区", address: "长庚里3号"}
)

const (
	gwLandlordPhone = "13702290011" // the landlord of 新塘里96号
	gwNotePhone     = "13800138123" // the worker's phone on the note left at the door
	gwListName      = "12月6日全员核酸"
	gwSourceIP      = "1.2.3.4" // requestContext.http.sourceIp of the fixture: the audit's From
)

// gwSystem is the grid-work functions (registry, worklist, stats) under
// the emulator, on the demo district's 410 grids, with the harness's
// system for events, tables and keys.
type gwSystem struct {
	*system
	registry, worklist, stats *lambdarie.Emulator
	// reconcileWork runs the reconciliation jobs the worklist sends to
	// jobs; sqsFixture is the SQS event the jobs are delivered in.
	reconcileWork *lambdarie.Emulator
	jobs          *sqsfake.Queue
	sqsFixture    []byte

	dir *grid.Directory
	// home is the grid of 新塘里 in 石冲社区, where 陈永健 and 黄雅玲 are
	// registered and 林小红's task goes; sibling is another grid of 石冲社区;
	// elsewhere is the lead grid of 五福社区.
	home, sibling, elsewhere string
	admin                    string // a district office token
}

// gwFound is a registry search result as the API shows it.
type gwFound struct {
	PersonKey     string   `json:"personKey"`
	Name          string   `json:"name"`
	IDType        string   `json:"idType"`
	IDNumber      string   `json:"idNumber"`
	Phone         string   `json:"phone"`
	Community     string   `json:"community"`
	Address       string   `json:"address"`
	GridCode      string   `json:"gridCode"`
	ResidentType  string   `json:"residentType"`
	Status        string   `json:"status"`
	LandlordPhone string   `json:"landlordPhone"`
	Matched       []string `json:"matched"`
}

// gwTask is a verification task as the API shows it.
type gwTask struct {
	TaskID   string `json:"taskId"`
	GridCode string `json:"gridCode"`
	Reason   string `json:"reason"`
	ListA    string `json:"listA"`
	ListB    string `json:"listB"`
	Status   string `json:"status"`
	Outcome  string `json:"outcome"`
	DueOn    string `json:"dueOn"`
	Version  int    `json:"version"`
	Evidence struct {
		Name      string `json:"name"`
		IDType    string `json:"idType"`
		IDNumber  string `json:"idNumber"`
		Phone     string `json:"phone"`
		Community string `json:"community"`
		Address   string `json:"address"`
		Place     string `json:"place"`
		Seen      string `json:"seen"`
	} `json:"evidence"`
	Visits []struct {
		By        string `json:"by"`
		Outcome   string `json:"outcome"`
		RevisitOn string `json:"revisitOn"`
		NotePhone string `json:"notePhone"`
	} `json:"visits"`
}

// gwReconciliation is the answer to POST /v1/reconcile and to GET
// /v1/reconcile/{reconciliationId}.
type gwReconciliation struct {
	ID      string `json:"reconciliationId"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	ListA   string `json:"listA"`
	ListB   string `json:"listB"`
	RowsA   int    `json:"rowsA"`
	RowsB   int    `json:"rowsB"`
	Missing int    `json:"missing"`
	Created int    `json:"created"`
	ToPool  int    `json:"toPool"`
}

// TestGridWork runs grid work as the cloud does: the registry, worklist
// and stats functions built as Lambda binaries under the Runtime Interface
// Emulator, invoked with API Gateway HTTP API events, against DynamoDB
// Local, on a registry and district set up through the real adapters.
func TestGridWork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startGridWork(ctx, t)

	t.Run("search", func(t *testing.T) { s.testSearch(ctx, t) })
	t.Run("imports", func(t *testing.T) { s.testImports(ctx, t) })
	// The stats count the tasks the worklist makes.
	if !t.Run("worklist", func(t *testing.T) { s.testWorklist(ctx, t) }) {
		t.FailNow()
	}
	t.Run("stats", func(t *testing.T) { s.testStats(ctx, t) })
	t.Run("sealed", func(t *testing.T) { s.testSealed(ctx, t) })
	// Last, so that every request above has been logged.
	t.Run("logs", func(t *testing.T) { s.testGridWorkLogs(t) })
}

func startGridWork(ctx context.Context, t *testing.T) *gwSystem {
	t.Helper()
	base, endpoint, keysFile := newSystem(ctx, t, "gridwork", func(prefix string) dynamo.Tables {
		return dynamo.Tables{
			Reports: prefix + "reports", Alerts: prefix + "alerts", Grids: prefix + "grids", Rules: prefix + "rules",
			DailyCounts: prefix + "daily-counts", Registry: prefix + "registry", RegistryIndex: prefix + "registry-index", Imports: prefix + "imports",
			ImportErrors: prefix + "import-errors", Lists: prefix + "lists", ListChunks: prefix + "list-chunks",
			Tasks: prefix + "tasks", Reconciliations: prefix + "reconciliations", Audit: prefix + "audit",
		}
	})
	s := &gwSystem{system: base}
	s.admin = s.issue(t, auth.Principal{Subject: "district", Role: auth.DistrictAdmin})

	// The demo district: Pengjiang's communities in 410 grids, 石冲社区 in
	// 环市街道 among them with several grids.
	grids, err := demo.Grids(s.vault)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.PutGrids(ctx, grids); err != nil {
		t.Fatal(err)
	}
	s.dir = grid.NewDirectory(grids)
	var ok bool
	if s.home, ok = s.dir.ForPlace(gwChen.town, gwChen.community, gwChen.address); !ok {
		t.Fatalf("the demo district has no grid for %s", gwChen.community)
	}
	for _, g := range s.dir.Grids() {
		if g.Community == gwChen.community && g.Code != s.home && s.sibling == "" {
			s.sibling = g.Code
		}
	}
	if s.elsewhere, ok = s.dir.ForCommunity(gwChenWufu.community); !ok || s.sibling == "" {
		t.Fatalf("the demo district lacks a second grid of %s (%q) or a grid of %s (%q)", gwChen.community, s.sibling, gwChenWufu.community, s.elsewhere)
	}

	// The registry, as an import writes it.
	now := time.Now()
	var people []registry.Person
	for _, p := range []gwPerson{gwChen, gwHuang, gwChenStreet, gwChenWufu} {
		e := registry.Entry{
			Personal: registry.Personal{Name: p.name, IDNumber: p.idNumber, Phone: p.phone, Address: p.address, LandlordPhone: gwLandlordPhone},
			IDType:   idcard.ResidentID, Town: p.town, Community: p.community, ResidentType: registry.Outsider,
		}
		person, err := registry.Build(s.vault, s.dir, e, "e2e-seed", now)
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, person)
	}
	if people[0].GridCode != s.home || people[3].GridCode == grid.Unassigned {
		t.Fatalf("registry entries placed in %s and %s; want %s and a grid of %s", people[0].GridCode, people[3].GridCode, s.home, gwChenWufu.community)
	}
	if n, err := s.store.PutPeople(ctx, people); err != nil || n != len(people) {
		t.Fatalf("PutPeople = %d, %v; want %d written", n, err, len(people))
	}

	// The reconciliation queue: the worklist sends its jobs here, and the
	// test delivers them to reconcilework as Lambda's SQS poller would.
	if s.sqsFixture, err = os.ReadFile(filepath.Join("testdata", "sqs-event.json")); err != nil {
		t.Fatal(err)
	}
	queueURL := refreshQueueURL(t, s.sqsFixture)
	s.jobs = &sqsfake.Queue{URL: queueURL}
	sqsServer := httptest.NewServer(s.jobs)
	t.Cleanup(sqsServer.Close)

	// Each function gets the variables template.yaml gives it, with the
	// key file for KEYS_PARAMETER and the local endpoints.
	common := []string{"KEYS_FILE=" + keysFile, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON", "SETTINGS_TTL=30s"}
	s.registry = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/registry"), append(slices.Clone(common),
		"REGISTRY_TABLE="+s.tables.Registry, "REGISTRY_INDEX_TABLE="+s.tables.RegistryIndex,
		"IMPORTS_TABLE="+s.tables.Imports, "IMPORT_ERRORS_TABLE="+s.tables.ImportErrors, "AUDIT_TABLE="+s.tables.Audit,
		"GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules, "SEARCH_SCOPE=community")...)
	s.worklist = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/worklist"), append(slices.Clone(common),
		"LISTS_TABLE="+s.tables.Lists, "LIST_CHUNKS_TABLE="+s.tables.ListChunks, "TASKS_TABLE="+s.tables.Tasks,
		"RECONCILIATIONS_TABLE="+s.tables.Reconciliations, "REGISTRY_TABLE="+s.tables.Registry,
		"REGISTRY_INDEX_TABLE="+s.tables.RegistryIndex, "AUDIT_TABLE="+s.tables.Audit,
		"GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules,
		"RECONCILE_QUEUE_URL="+queueURL, "SQS_ENDPOINT="+sqsServer.URL)...)
	s.reconcileWork = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/reconcilework"), append(slices.Clone(common),
		"LISTS_TABLE="+s.tables.Lists, "LIST_CHUNKS_TABLE="+s.tables.ListChunks, "TASKS_TABLE="+s.tables.Tasks,
		"RECONCILIATIONS_TABLE="+s.tables.Reconciliations, "REGISTRY_TABLE="+s.tables.Registry,
		"MAX_RECEIVES="+strconv.Itoa(gwMaxReceives))...)
	s.stats = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/stats"), append(slices.Clone(common),
		"REPORTS_TABLE="+s.tables.Reports, "ALERTS_TABLE="+s.tables.Alerts, "TASKS_TABLE="+s.tables.Tasks,
		"DAILY_COUNTS_TABLE="+s.tables.DailyCounts, "GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules)...)
	return s
}

// 1. The registry search: the near miss found first, masked, within the
// worker's community, and every person shown audited.
func (s *gwSystem) testSearch(ctx context.Context, t *testing.T) {
	worker := s.token(t, s.home)
	search := func(token string, q url.Values) request {
		return request{Route: "GET /v1/registry/search", Query: q.Encode(), Token: token}
	}
	shown := map[string]map[auth.Role]int{} // person key -> role -> searches that showed them
	run := func(token string, role auth.Role, q url.Values) []gwFound {
		t.Helper()
		var out struct {
			Results []gwFound `json:"results"`
		}
		resp := s.invoke(ctx, t, s.registry, search(token, q))
		resp.want(t, http.StatusOK, &out)
		for _, f := range out.Results {
			if shown[f.PersonKey] == nil {
				shown[f.PersonKey] = map[auth.Role]int{}
			}
			shown[f.PersonKey][role]++
		}
		gwNoFullIDs(t, "search "+q.Encode(), string(resp.Body), gwChen, gwHuang, gwChenStreet, gwChenWufu)
		return out.Results
	}
	chenKey := report.PersonLookup(s.vault, idcard.ResidentID, gwChen.idNumber)
	streetKey := report.PersonLookup(s.vault, idcard.ResidentID, gwChenStreet.idNumber)
	wufuKey := report.PersonLookup(s.vault, idcard.ResidentID, gwChenWufu.idNumber)

	// The grid worker at the door: the name, 石冲 for 石冲社区 and the
	// address the person gave.
	got := run(worker, auth.GridWorker, url.Values{"name": {gwChen.name}, "community": {"石冲"}, "address": {"长庚里96号"}})
	if len(got) < 2 || got[1].PersonKey != streetKey {
		t.Fatalf("the near-miss search found %+v; want 陈永健 of 新塘里96号, then the namesake of 长庚里12号", got)
	}
	want := gwFound{
		PersonKey: chenKey, Name: gwChen.name, IDType: string(idcard.ResidentID), IDNumber: idcard.Mask(idcard.ResidentID, gwChen.idNumber),
		Phone: "139****1234", Community: "石冲社区", Address: "新塘里96号", GridCode: s.home, ResidentType: string(registry.Outsider),
		Status: registry.StatusActive, LandlordPhone: "137****0011", Matched: got[0].Matched,
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("first result of the near-miss search (-want +got):\n%s", diff)
	}
	if !strings.Contains(got[0].IDNumber, "*") || got[0].IDNumber == gwChen.idNumber {
		t.Errorf("ID number %q is not masked", got[0].IDNumber)
	}
	for _, m := range []string{"name", "community", "houseNumber"} {
		if !slices.Contains(got[0].Matched, m) {
			t.Errorf("first result matched %v, want %s among them", got[0].Matched, m)
		}
	}
	for _, f := range got {
		if f.Community != "石冲社区" || f.PersonKey == wufuKey {
			t.Errorf("the 石冲 worker was shown %s of %s: out of scope", f.Name, f.Community)
		}
	}

	// The district office searches everywhere: both namesakes.
	all := run(s.admin, auth.DistrictAdmin, url.Values{"name": {gwChen.name}})
	var keys []string
	for _, f := range all {
		keys = append(keys, f.PersonKey)
	}
	if !slices.Contains(keys, chenKey) || !slices.Contains(keys, wufuKey) {
		t.Errorf("district search for %s: keys %v, want both namesakes", gwChen.name, keys)
	}

	for _, c := range []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"another community's worker searching 石冲", search(s.token(t, s.elsewhere), url.Values{"name": {gwChen.name}, "community": {"石冲社区"}}), http.StatusForbidden, "forbidden"},
		{"neither name nor digits", search(worker, url.Values{"community": {"石冲"}, "address": {"新塘里96号"}}), http.StatusBadRequest, registry.CodeInvalidQuery},
		{"an unknown community", search(worker, url.Values{"name": {gwChen.name}, "community": {"火星社区"}}), http.StatusBadRequest, registry.CodeInvalidQuery},
		{"no token", search("", url.Values{"name": {gwChen.name}}), http.StatusUnauthorized, "unauthorized"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e errorBody
			s.invoke(ctx, t, s.registry, c.req).want(t, c.status, &e)
			if e.Error != c.code {
				t.Errorf("error %q, want %q", e.Error, c.code)
			}
		})
	}

	// One audit record per person per search that showed them, with who,
	// in which role, from where; nothing for the refused searches.
	for key, roles := range shown {
		records, err := s.store.ByPerson(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got := map[auth.Role]int{}
		for _, r := range records {
			if r.Action != "registry.search_result" {
				continue
			}
			got[auth.Role(r.Role)]++
			if r.PersonKey != key || r.From != gwSourceIP || r.At.IsZero() || r.ExpiresAt <= time.Now().Unix() ||
				(r.Role == string(auth.GridWorker)) != (r.Actor == "worker-"+s.home) {
				t.Errorf("audit record %+v: want the person, the caller, from %s, at a time, expiring later", r, gwSourceIP)
			}
		}
		if diff := cmp.Diff(roles, got); diff != "" {
			t.Errorf("audit records of %s by role (-shown +audited):\n%s", key, diff)
		}
	}
	if len(shown[chenKey]) == 0 {
		t.Errorf("no search showed %s", gwChen.name)
	}
}

// 2. An import's run and its refused rows, as the district office checks
// them after uploading a registry file.
func (s *gwSystem) testImports(ctx context.Context, t *testing.T) {
	started := time.Date(2022, 12, 6, 1, 2, 3, 0, time.UTC)
	im := registry.Import{
		ID: "i-e2e-20221206", Source: "20221206.csv", Status: registry.ImportDone,
		Offset: 48211, Line: 304, Rows: 303, Written: 300, Bad: 3,
		StartedAt: started, UpdatedAt: started.Add(40 * time.Second), FinishedAt: started.Add(41 * time.Second),
		ExpiresAt: started.Add(90 * 24 * time.Hour).Unix(), Version: 1,
	}
	if err := s.store.PutImport(ctx, im, 0); err != nil {
		t.Fatal(err)
	}
	// Two chunks' refused rows, the second chunk's stored first.
	if err := s.store.PutRowErrors(ctx, im.ID, 201, []registry.RowError{{Line: 250, Field: "phone", Reason: registry.ReasonInvalid}}); err != nil {
		t.Fatal(err)
	}
	if err := s.store.PutRowErrors(ctx, im.ID, 2, []registry.RowError{
		{Line: 7, Field: "idNumber", Reason: idcard.ReasonChecksum},
		{Line: 90, Field: registry.FieldRow, Reason: "malformed"},
	}); err != nil {
		t.Fatal(err)
	}
	run := request{Route: "GET /v1/registry/imports/{importId}", Path: "/v1/registry/imports/" + im.ID, Token: s.admin}
	errs := request{Route: "GET /v1/registry/imports/{importId}/errors", Path: "/v1/registry/imports/" + im.ID + "/errors", Token: s.admin}

	var got registry.Import
	s.invoke(ctx, t, s.registry, run).want(t, http.StatusOK, &got)
	if diff := cmp.Diff(im, got); diff != "" {
		t.Errorf("import run (-put +got):\n%s", diff)
	}

	resp, raw := s.invokeRaw(ctx, t, s.registry, s.event(t, errs))
	if resp.Status != http.StatusOK {
		t.Fatalf("errors: status %d; body %s\nfunction output:\n%s", resp.Status, resp.Body, s.registry.Output())
	}
	// UTF-8 with a BOM is text to the adapter: sent as is, not base64.
	if raw.IsBase64Encoded {
		t.Errorf("errors CSV: base64-encoded in the Lambda response; UTF-8 text should go as is")
	}
	if ct := resp.header("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("errors CSV: Content-Type = %q", ct)
	}
	if cd := resp.header("Content-Disposition"); cd != `attachment; filename="`+im.ID+`-errors.csv"` {
		t.Errorf("errors CSV: Content-Disposition = %q", cd)
	}
	wantCSV := "\uFEFF行号,字段,原因\r\n" +
		"7,证件号码,校验位不对 (checksum)\r\n" +
		"90,整行,引号不配对 (malformed)\r\n" +
		"250,手机号,不是有效的手机号 (invalid)\r\n"
	if diff := cmp.Diff(wantCSV, string(resp.Body)); diff != "" {
		t.Errorf("errors CSV (-want +got):\n%s", diff)
	}

	worker := s.token(t, s.home)
	for _, c := range []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"a grid worker reads the run", withToken(run, worker), http.StatusForbidden, "forbidden"},
		{"a grid worker reads the errors", withToken(errs, worker), http.StatusForbidden, "forbidden"},
		{"an unknown import", request{Route: run.Route, Path: "/v1/registry/imports/i-nope", Token: s.admin}, http.StatusNotFound, "not_found"},
		{"the errors of an unknown import", request{Route: errs.Route, Path: "/v1/registry/imports/i-nope/errors", Token: s.admin}, http.StatusNotFound, "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e errorBody
			s.invoke(ctx, t, s.registry, c.req).want(t, c.status, &e)
			if e.Error != c.code {
				t.Errorf("error %q, want %q", e.Error, c.code)
			}
		})
	}
}

// 3. The worklist: the NAT list uploaded as Chinese Excel saves it,
// reconciled against the registry into tasks, a task visited.
func (s *gwSystem) testWorklist(ctx context.Context, t *testing.T) {
	csvText := strings.Join([]string{
		"姓名,证件类型,证件号码,手机号,社区,地址,检测点,检测时间",
		gwNATRow(gwChen, "居民身份证", "长庚里96号"), // registered: no task
		gwNATRow(gwLin, "身份证", gwLin.address),
		gwNATRow(gwWang, "", gwWang.address),
		gwNATRow(gwZhao, "居民身份证", gwZhao.address), // line 5: wrong check digit
	}, "\r\n") + "\r\n"
	body := gcGB18030(t, csvText)
	upload := request{Route: "POST /v1/lists", Query: url.Values{"name": {gwListName}, "kind": {worklist.KindNAT}}.Encode(), Token: s.admin}

	var uploaded struct {
		List struct {
			ListID    string `json:"listId"`
			Name      string `json:"name"`
			Kind      string `json:"kind"`
			Rows      int    `json:"rows"`
			Bad       int    `json:"bad"`
			CreatedBy string `json:"createdBy"`
		} `json:"list"`
		RowErrors []registry.RowError `json:"rowErrors"`
	}
	resp := s.invokeEvent(ctx, t, s.worklist, s.binaryEvent(t, upload, "text/csv", body))
	resp.want(t, http.StatusCreated, &uploaded)
	l := uploaded.List
	if l.ListID == "" || l.Name != gwListName || l.Kind != worklist.KindNAT || l.Rows != 3 || l.Bad != 1 || l.CreatedBy != "district" {
		t.Errorf("uploaded list %+v; want %s, nat, 3 rows, 1 bad, by district", l, gwListName)
	}
	if diff := cmp.Diff([]registry.RowError{{Line: 5, Field: "idNumber", Reason: idcard.ReasonChecksum}}, uploaded.RowErrors); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}
	gwNoFullIDs(t, "upload answer", string(resp.Body), gwChen, gwLin, gwWang, gwZhao)
	if l.ListID == "" {
		t.FailNow()
	}

	var listed struct {
		Lists []struct {
			ListID string `json:"listId"`
			Rows   int    `json:"rows"`
		} `json:"lists"`
	}
	s.invoke(ctx, t, s.worklist, request{Route: "GET /v1/lists", Token: s.admin}).want(t, http.StatusOK, &listed)
	if len(listed.Lists) != 1 || listed.Lists[0].ListID != l.ListID || listed.Lists[0].Rows != 3 {
		t.Errorf("GET /v1/lists: %+v; want the one list %s of 3 rows", listed.Lists, l.ListID)
	}

	// NAT list against the registry: 林小红 and 王大明 tested here but not
	// registered; 王大明's community is unknown, so the district pool.
	reconcile := request{Route: "POST /v1/reconcile", Token: s.admin, Body: gcJSON(t, map[string]string{"listA": l.ListID, "listB": worklist.RegistryList})}
	for i, wantCreated := range []int{2, 0} {
		res := s.reconcile(ctx, t, reconcile)
		want := gwReconciliation{ID: res.ID, Status: worklist.ReconciliationDone, ListA: l.ListID, ListB: worklist.RegistryList,
			RowsA: 3, RowsB: 4, Missing: 2, Created: wantCreated, ToPool: 1}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("reconciliation %d (-want +got):\n%s", i+1, diff)
		}
	}
	if n := s.count(ctx, t, s.tables.Tasks, "", ""); n != 2 {
		t.Errorf("%d tasks after two reconciliations, want 2", n)
	}

	linKey := report.PersonLookup(s.vault, idcard.ResidentID, gwLin.idNumber)
	linTask := worklist.TaskID(s.vault, l.ListID, worklist.RegistryList, linKey)
	wangTask := worklist.TaskID(s.vault, l.ListID, worklist.RegistryList, report.PersonLookup(s.vault, idcard.ResidentID, gwWang.idNumber))
	taskGrid, ok := s.dir.ForPlace("", gwLin.community, gwLin.address)
	if !ok {
		t.Fatalf("no grid for %s %s", gwLin.community, gwLin.address)
	}
	worker := s.token(t, taskGrid)
	other := s.token(t, s.sibling)

	// The grid's task list; the grid index is eventually consistent.
	gridTasks := request{Route: "GET /v1/grids/{gridCode}/tasks", Path: "/v1/grids/" + taskGrid + "/tasks", Token: worker}
	var page struct {
		Tasks []gwTask `json:"tasks"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp = s.invoke(ctx, t, s.worklist, gridTasks)
		resp.want(t, http.StatusOK, &page)
		if len(page.Tasks) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(page.Tasks) != 1 {
		t.Fatalf("grid %s: %d tasks, want 林小红's\n%s", taskGrid, len(page.Tasks), resp.Body)
	}
	task := page.Tasks[0]
	if task.TaskID != linTask || task.GridCode != taskGrid || task.Reason != "not_in_registry" || task.ListA != l.ListID ||
		task.ListB != worklist.RegistryList || task.Status != worklist.TaskOpen || task.DueOn != s.today || task.Version != 1 || len(task.Visits) != 0 {
		t.Errorf("task %+v; want %s in %s, not_in_registry, open, due %s, version 1", task, linTask, taskGrid, s.today)
	}
	ev := task.Evidence
	if ev.Name != gwLin.name || ev.IDNumber != idcard.Mask(idcard.ResidentID, gwLin.idNumber) || ev.Phone != "137****3456" ||
		ev.Community != gwLin.community || ev.Address != gwLin.address || ev.Place != "石冲社区文化室" || ev.Seen != "2022-12-06 08:15" {
		t.Errorf("evidence %+v; want 林小红's row, ID and phone masked", ev)
	}
	gwNoFullIDs(t, "grid task list", string(resp.Body), gwLin)

	// The district pool: the office sees 王大明's task.
	var pool struct {
		Tasks []gwTask `json:"tasks"`
	}
	poolTasks := request{Route: gridTasks.Route, Path: "/v1/grids/" + grid.Unassigned + "/tasks", Token: s.admin}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s.invoke(ctx, t, s.worklist, poolTasks).want(t, http.StatusOK, &pool)
		if len(pool.Tasks) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(pool.Tasks) != 1 || pool.Tasks[0].TaskID != wangTask || pool.Tasks[0].Evidence.Name != gwWang.name {
		t.Errorf("the pool's tasks: %+v; want 王大明's %s", pool.Tasks, wangTask)
	}

	taskPath := "/v1/tasks/" + linTask
	var one gwTask
	s.invoke(ctx, t, s.worklist, request{Route: "GET /v1/tasks/{taskId}", Path: taskPath, Token: worker}).want(t, http.StatusOK, &one)
	if one.TaskID != linTask || one.Evidence.IDNumber != ev.IDNumber {
		t.Errorf("GET task: %+v; want %s masked", one, linTask)
	}

	// Nobody home: a note with the worker's phone, come back tomorrow.
	visit := request{Route: "POST /v1/tasks/{taskId}/visits", Path: taskPath + "/visits", Token: worker,
		Body: gcJSON(t, map[string]string{"outcome": worklist.NotHomeNoteLeft, "notePhone": gwNotePhone})}
	badKind := upload
	badKind.Query = url.Values{"name": {gwListName}, "kind": {"census"}}.Encode()
	for _, c := range []struct {
		name   string
		req    request
		csv    bool // req's body is the NAT list, sent as CSV
		status int
		code   string
	}{
		{"another grid's worker visits", withToken(visit, other), false, http.StatusForbidden, "forbidden"},
		{"another grid's worker reads", request{Route: "GET /v1/tasks/{taskId}", Path: taskPath, Token: other}, false, http.StatusForbidden, "forbidden"},
		{"another grid's worker lists", withToken(gridTasks, other), false, http.StatusForbidden, "forbidden"},
		{"a grid worker lists the pool", withToken(poolTasks, worker), false, http.StatusForbidden, "forbidden"},
		{"an unknown outcome", withBody(visit, `{"outcome":"knocked"}`), false, http.StatusBadRequest, worklist.CodeInvalidVisit},
		{"an unknown task", request{Route: "GET /v1/tasks/{taskId}", Path: "/v1/tasks/tnope", Token: s.admin}, false, http.StatusNotFound, "not_found"},
		{"a grid worker uploads", withToken(upload, worker), true, http.StatusForbidden, "forbidden"},
		{"an unknown kind", badKind, true, http.StatusBadRequest, worklist.CodeInvalidList},
		{"a grid worker reconciles", withToken(reconcile, worker), false, http.StatusForbidden, "forbidden"},
		{"a list with itself", withBody(reconcile, gcJSON(t, map[string]string{"listA": l.ListID, "listB": l.ListID})), false, http.StatusBadRequest, worklist.CodeInvalidReconciliation},
		{"an unknown list", withBody(reconcile, `{"listA":"lnope","listB":"registry"}`), false, http.StatusNotFound, "not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			send := s.invoke
			if c.csv {
				send = func(ctx context.Context, t *testing.T, emu *lambdarie.Emulator, r request) response {
					return s.invokeEvent(ctx, t, emu, s.binaryEvent(t, r, "text/csv", body))
				}
			}
			var e errorBody
			send(ctx, t, s.worklist, c.req).want(t, c.status, &e)
			if e.Error != c.code {
				t.Errorf("error %q, want %q", e.Error, c.code)
			}
		})
	}
	if n := s.count(ctx, t, s.tables.Lists, "", ""); n != 1 {
		t.Errorf("%d lists after the refused uploads, want 1", n)
	}
	if v := s.rawItem(ctx, t, s.tables.Tasks, "taskId", linTask)["version"]; gwNumber(v) != "1" {
		t.Errorf("the refused visits changed the task: version %v", v)
	}

	var visited gwTask
	resp = s.invoke(ctx, t, s.worklist, visit)
	resp.want(t, http.StatusCreated, &visited)
	tomorrow := dates.AddDays(s.today, 1)
	if visited.Status != worklist.TaskRevisit || visited.Outcome != worklist.NotHomeNoteLeft || visited.DueOn != tomorrow ||
		visited.Version != 2 || len(visited.Visits) != 1 {
		t.Fatalf("after the visit: %+v; want revisit due %s at version 2 with one visit", visited, tomorrow)
	}
	if v := visited.Visits[0]; v.By != "worker-"+taskGrid || v.Outcome != worklist.NotHomeNoteLeft || v.RevisitOn != tomorrow || v.NotePhone != "138****8123" {
		t.Errorf("visit %+v; want by worker-%s, not_home_note_left, revisit %s, note phone 138****8123", v, taskGrid, tomorrow)
	}
	if strings.Contains(string(resp.Body), gwNotePhone) {
		t.Errorf("the visit answer shows the note's phone unmasked: %s", resp.Body)
	}
	if v := s.rawItem(ctx, t, s.tables.Tasks, "taskId", linTask)["version"]; gwNumber(v) != "2" {
		t.Errorf("stored task version %v after the visit, want 2", v)
	}

	// The audit of 林小红: listed, read and visited by the grid's worker;
	// nothing by the other grid's worker, who was refused.
	records, err := s.store.ByPerson(ctx, linKey)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, r := range records {
		if r.Actor == "worker-"+s.sibling {
			t.Errorf("audit record of a refused request: %+v", r)
		}
		if r.Actor == "worker-"+taskGrid && r.From == gwSourceIP {
			actions[r.Action]++
		}
	}
	for _, a := range []string{"task.list", "task.view", "task.visit"} {
		if actions[a] == 0 {
			t.Errorf("no %s audit record of 林小红 by worker-%s: %+v", a, taskGrid, records)
		}
	}
}

// 4. The district's numbers: a three-day range, the open tasks the
// reconciliation made; the office's only.
func (s *gwSystem) testStats(ctx context.Context, t *testing.T) {
	from := dates.AddDays(s.today, -2)
	q := url.Values{"from": {from}, "to": {s.today}}.Encode()
	var st struct {
		From string `json:"from"`
		To   string `json:"to"`
		Days []struct {
			Date  string `json:"date"`
			Total int    `json:"total"`
		} `json:"days"`
		Grids []struct {
			GridCode string `json:"gridCode"`
			Pending  int    `json:"pending"`
		} `json:"grids"`
		OpenTasks map[string]int `json:"openTasks"`
		SMS       map[string]int `json:"sms"`
	}
	s.invoke(ctx, t, s.stats, request{Route: "GET /v1/stats", Query: q, Token: s.admin}).want(t, http.StatusOK, &st)
	if st.From != from || st.To != s.today || len(st.Days) != 3 {
		t.Fatalf("stats %s to %s with %d days; want %s to %s, 3 days", st.From, st.To, len(st.Days), from, s.today)
	}
	for i, d := range st.Days {
		if want := dates.AddDays(from, i); d.Date != want || d.Total != 0 {
			t.Errorf("day %d: %+v; want %s with no reports", i, d, want)
		}
	}
	if len(st.Grids) == 0 || st.Grids[len(st.Grids)-1].GridCode != grid.Unassigned {
		t.Errorf("grids %+v; want the district pool last", st.Grids)
	}
	// 林小红's task waits for a revisit, 王大明's is open: both count.
	if diff := cmp.Diff(map[string]int{"not_in_registry": 2}, st.OpenTasks); diff != "" {
		t.Errorf("open tasks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"sent": 0, "failed": 0, "pending": 0}, st.SMS); diff != "" {
		t.Errorf("sms (-want +got):\n%s", diff)
	}

	for _, c := range []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"a grid worker", request{Route: "GET /v1/stats", Query: q, Token: s.token(t, s.home)}, http.StatusForbidden, "forbidden"},
		{"to before from", request{Route: "GET /v1/stats", Query: url.Values{"from": {s.today}, "to": {from}}.Encode(), Token: s.admin}, http.StatusBadRequest, "invalid_query"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e errorBody
			s.invoke(ctx, t, s.stats, c.req).want(t, c.status, &e)
			if e.Error != c.code {
				t.Errorf("error %q, want %q", e.Error, c.code)
			}
		})
	}
}

// 5. What the functions stored: lists, tasks, reconciliations and audit
// records hold no one's name, ID number, phone or address in plain text.
func (s *gwSystem) testSealed(ctx context.Context, t *testing.T) {
	for _, table := range []string{s.tables.Lists, s.tables.ListChunks, s.tables.Tasks, s.tables.Reconciliations, s.tables.Audit} {
		p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
		n := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			for _, item := range page.Items {
				n++
				gcCheckPlain(t, table+" item", item, gwSecrets()...)
			}
		}
		if n == 0 {
			t.Errorf("%s is empty", table)
		}
	}
}

// gwMaxReceives is the reconciliation queue's maxReceiveCount.
const gwMaxReceives = 3

// reconcile starts a reconciliation on the worklist function (202, the
// record running, a job on the queue), delivers the job to reconcilework
// as Lambda's SQS poller would, and answers GET /v1/reconcile/{id}.
func (s *gwSystem) reconcile(ctx context.Context, t *testing.T, r request) gwReconciliation {
	t.Helper()
	before := len(s.jobs.Messages())
	resp := s.invoke(ctx, t, s.worklist, r)
	var started gwReconciliation
	resp.want(t, http.StatusAccepted, &started)
	path := "/v1/reconcile/" + started.ID
	if started.Status != worklist.ReconciliationRunning || started.ID == "" || resp.header("Location") != path {
		t.Fatalf("reconcile: %+v with Location %q; want running at %s", started, resp.header("Location"), path)
	}
	get := request{Route: "GET /v1/reconcile/{reconciliationId}", Path: path, Token: s.admin}
	var running gwReconciliation
	if s.invoke(ctx, t, s.worklist, get).want(t, http.StatusOK, &running); running != started {
		t.Errorf("GET %s before the job ran: %+v, want %+v", path, running, started)
	}

	msgs := s.jobs.Messages()
	if len(msgs) != before+1 {
		t.Fatalf("the worklist queued %d messages, want 1", len(msgs)-before)
	}
	var job worklist.Job
	if err := json.Unmarshal([]byte(msgs[before].Body), &job); err != nil {
		t.Fatalf("job %s: %v", msgs[before].Body, err)
	}
	if want := (worklist.Job{ReconciliationID: started.ID, ListA: started.ListA, ListB: started.ListB}); job != want {
		t.Errorf("queued job %+v, want %+v", job, want)
	}
	ev := refreshSQSEvent(t, s.sqsFixture, msgs[before:], 1)
	if out := invokeRefreshWorker(ctx, t, s.reconcileWork, ev); len(out.BatchItemFailures) != 0 {
		t.Fatalf("reconcilework failed the job: %+v\nfunction output:\n%s", out, s.reconcileWork.Output())
	}

	var done gwReconciliation
	s.invoke(ctx, t, s.worklist, get).want(t, http.StatusOK, &done)
	return done
}

// 6. The logs: a line per request, and no one's personal data.
func (s *gwSystem) testGridWorkLogs(t *testing.T) {
	for _, f := range []struct {
		name   string
		emu    *lambdarie.Emulator
		routes []string
	}{
		{"registry", s.registry, []string{
			"GET /v1/registry/search", "GET /v1/registry/imports/{importId}", "GET /v1/registry/imports/{importId}/errors",
		}},
		{"worklist", s.worklist, []string{
			"POST /v1/lists", "GET /v1/lists", "POST /v1/reconcile", "GET /v1/reconcile/{reconciliationId}", "GET /v1/grids/{gridCode}/tasks",
			"GET /v1/tasks/{taskId}", "POST /v1/tasks/{taskId}/visits",
		}},
		{"stats", s.stats, []string{"GET /v1/stats"}},
		{"reconcilework", s.reconcileWork, nil},
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
		for _, v := range gwSecrets() {
			if strings.Contains(out, v) {
				t.Errorf("%s: the logs contain %q:\n%s", f.name, v, out)
			}
		}
	}
}

// gwSecrets are every name, ID number, phone and address the test used,
// as written and as a JSON encoder that escapes non-ASCII would write them.
func gwSecrets() []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			out = append(out, v)
			if q := strconv.QuoteToASCII(v); q[1:len(q)-1] != v {
				out = append(out, q[1:len(q)-1])
			}
		}
	}
	for _, p := range []gwPerson{gwChen, gwHuang, gwChenStreet, gwChenWufu, gwLin, gwWang, gwZhao} {
		add(p.name, p.idNumber, p.phone, p.address)
	}
	add(gwLandlordPhone, gwNotePhone, "长庚里96号")
	return out
}

// gwNATRow is a line of the NAT list: name, document type, ID number,
// phone, community, address, test site, time.
func gwNATRow(p gwPerson, idType, address string) string {
	return strings.Join([]string{p.name, idType, p.idNumber, p.phone, p.community, address, "石冲社区文化室", "2022-12-06 08:15"}, ",")
}

// gwNoFullIDs fails if text shows any of people's ID numbers or phones
// unmasked.
func gwNoFullIDs(t *testing.T, what, text string, people ...gwPerson) {
	t.Helper()
	for _, p := range people {
		if strings.Contains(text, p.idNumber) || strings.Contains(text, p.phone) {
			t.Errorf("%s shows %s's ID number or phone unmasked", what, p.name)
		}
	}
}

// gwWrongCheck is id with another check character.
func gwWrongCheck(id string) string { return id[:17] + gcOtherCheck(id[17]) }

// gwNumber is a number attribute's value, "" for anything else.
func gwNumber(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}
