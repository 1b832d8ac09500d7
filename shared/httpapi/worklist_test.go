package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/report"
	"gridcode/shared/store/embedded"
	"gridcode/shared/worklist"

	"gridcode/shared/httpapi"
)

// The worklist routes over HTTP, on the embedded store: a district of one
// grid in 白沙社区, a fixed clock.
var (
	wlGrid = grid.Grid{Code: "440703001001-01", Name: "白沙第一网格", Community: "白沙社区", Town: "白沙街道"}
	wlNow  = time.Date(2026, 11, 30, 1, 30, 0, 0, time.UTC)
)

type wlGrids struct{ dir *grid.Directory }

func (g wlGrids) Grids(context.Context) (*grid.Directory, error) { return g.dir, nil }

// chunkLists is the embedded store, telling which lists chunks were stored
// for: a failed upload has no list id to look them up by.
type chunkLists struct {
	*embedded.Store
	mu    sync.Mutex
	lists map[string]bool
}

func (s *chunkLists) PutListChunk(ctx context.Context, c worklist.Chunk) error {
	s.mu.Lock()
	s.lists[c.ListID] = true
	s.mu.Unlock()
	return s.Store.PutListChunk(ctx, c)
}

type wlEnv struct {
	store  *chunkLists
	jobs   *sentJobs
	vault  *pii.Vault
	issuer auth.Issuer
	mux    *http.ServeMux
}

func newWLEnv(t *testing.T) *wlEnv {
	t.Helper()
	s, err := embedded.Open(filepath.Join(t.TempDir(), "gridcode.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	v, err := pii.NewVault(bytes.Repeat([]byte{7}, pii.KeySize), bytes.Repeat([]byte{8}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := auth.NewIssuer(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &wlEnv{store: &chunkLists{Store: s, lists: map[string]bool{}}, jobs: &sentJobs{}, vault: v, issuer: issuer, mux: http.NewServeMux()}
	now := func() time.Time { return wlNow }
	api := httpapi.NewWorklistAPI(e.store, wlGrids{grid.NewDirectory([]grid.Grid{wlGrid})}, v, now, httpapi.Staff{Issuer: issuer, Now: now}, e.jobs)
	api.Register(e.mux)
	return e
}

func (e *wlEnv) token(t *testing.T, role auth.Role, gridCode string) string {
	t.Helper()
	tok, err := e.issuer.Issue(auth.Principal{Subject: string(role) + "-1", Role: role, Grids: auth.ParseGrids(gridCode), Expires: wlNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *wlEnv) serve(r *http.Request, token string) *httptest.ResponseRecorder {
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

func wlResident(n int) string {
	first17 := fmt.Sprintf("44070319900101%03d", n)
	return first17 + string(idcard.CheckDigit(first17))
}

// countingBody tells whether the handler read the body.
type countingBody struct {
	io.Reader
	read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	b.read += n
	return n, err
}

func TestUploadTooLarge(t *testing.T) {
	t.Parallel()
	csv := "证件号码\n" + wlResident(1) + "\n"
	var big strings.Builder
	big.WriteString("姓名,证件号码\n")
	for n := 0; big.Len() <= httpapi.MaxListBody; n++ {
		fmt.Fprintf(&big, "居民%d,%s\n", n, wlResident(n%1000))
	}
	for _, tc := range []struct {
		name        string
		body        string
		length      int64 // the Content-Length announced; -1 for none
		wantUnread  bool
		wantChunked bool // the upload got as far as storing chunks
	}{
		// A small body announced as too large: refused before a byte is read.
		{"announced too large", csv, httpapi.MaxListBody + 1, true, false},
		// No length announced: read until past the limit, then refused, and
		// the chunks stored until then deleted.
		{"grows too large", big.String(), -1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newWLEnv(t)
			body := &countingBody{Reader: strings.NewReader(tc.body)}
			r := httptest.NewRequest("POST", "/v1/lists?"+url.Values{"name": {"x"}, "kind": {"nat"}}.Encode(), body)
			r.Header.Set("Content-Type", "text/csv")
			r.ContentLength = tc.length
			w := e.serve(r, e.token(t, auth.DistrictAdmin, ""))
			if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "body_too_large") {
				t.Fatalf("status %d %s, want 413 body_too_large", w.Code, w.Body)
			}
			if tc.wantUnread && body.read != 0 {
				t.Errorf("the handler read %d bytes of a body announced too large", body.read)
			}
			if lists, _ := e.store.Lists(context.Background()); len(lists) != 0 {
				t.Errorf("a refused upload stored %d lists", len(lists))
			}
			e.store.mu.Lock()
			defer e.store.mu.Unlock()
			if tc.wantChunked && len(e.store.lists) == 0 {
				t.Fatal("no chunk was stored before the limit: the test needs a bigger body")
			}
			for id := range e.store.lists {
				if left, err := e.store.Chunks(context.Background(), id, true); err != nil || len(left) != 0 {
					t.Errorf("list %s: %d chunks left by the refused upload, %v", id, len(left), err)
				}
			}
		})
	}
}

type wlTaskView struct {
	TaskID   string `json:"taskId"`
	GridCode string `json:"gridCode"`
	Status   string `json:"status"`
}

type wlTaskPage struct {
	Tasks     []wlTaskView `json:"tasks"`
	NextToken string       `json:"nextToken"`
}

// tasks creates open tasks for residents 1..n in the grid, due on
// successive days, and returns their ids in list order.
func (e *wlEnv) tasks(t *testing.T, gridCode string, n int) []string {
	t.Helper()
	var tasks []worklist.Task
	var ids []string
	for i := 1; i <= n; i++ {
		key := report.PersonLookup(e.vault, idcard.ResidentID, wlResident(i))
		task := worklist.Task{
			ID: fmt.Sprintf("t%03d", i), GridCode: gridCode, Reason: "not_in_registry", ListA: "l1", ListB: worklist.RegistryList,
			PersonKey: key, Status: worklist.TaskOpen, DueOn: fmt.Sprintf("2026-12-%02d", i), Version: 1, CreatedAt: wlNow, UpdatedAt: wlNow,
		}
		sealed, err := e.vault.SealJSON(worklist.Evidence{Name: fmt.Sprintf("居民%d", i), IDType: string(idcard.ResidentID), IDNumber: wlResident(i)}, task.ID)
		if err != nil {
			t.Fatal(err)
		}
		task.EvidenceSealed = sealed
		tasks = append(tasks, task)
		ids = append(ids, task.ID)
	}
	if _, err := e.store.CreateTasks(context.Background(), tasks); err != nil {
		t.Fatal(err)
	}
	return ids
}

func (e *wlEnv) audited(t *testing.T, resident int, action string) int {
	t.Helper()
	recs, err := e.store.ByPerson(context.Background(), report.PersonLookup(e.vault, idcard.ResidentID, wlResident(resident)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == action {
			n++
		}
	}
	return n
}

func TestGridTasksPages(t *testing.T) {
	t.Parallel()
	e := newWLEnv(t)
	ids := e.tasks(t, wlGrid.Code, 5)
	worker := e.token(t, auth.GridWorker, wlGrid.Code)
	get := func(query url.Values) (*httptest.ResponseRecorder, wlTaskPage) {
		w := e.serve(httptest.NewRequest("GET", "/v1/grids/"+wlGrid.Code+"/tasks?"+query.Encode(), nil), worker)
		var page wlTaskPage
		if w.Code == http.StatusOK {
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
				t.Fatal(err)
			}
		}
		return w, page
	}

	var got []string
	var tokens []string
	query := url.Values{"limit": {"2"}}
	for range 10 {
		w, page := get(query)
		if w.Code != http.StatusOK {
			t.Fatalf("page after %q: %d %s", query.Get("nextToken"), w.Code, w.Body)
		}
		if len(page.Tasks) > 2 {
			t.Fatalf("a page of %d tasks, limit 2", len(page.Tasks))
		}
		for _, v := range page.Tasks {
			got = append(got, v.TaskID)
		}
		if page.NextToken == "" {
			break
		}
		tokens = append(tokens, page.NextToken)
		query.Set("nextToken", page.NextToken)
	}
	if strings.Join(got, " ") != strings.Join(ids, " ") || len(tokens) != 2 {
		t.Errorf("pages listed %v with %d tokens, want %v in 3 pages", got, len(tokens), ids)
	}
	// Each person listed once, each audited once: the pages audit only
	// what they show.
	for i := 1; i <= 5; i++ {
		if n := e.audited(t, i, "task.list"); n != 1 {
			t.Errorf("resident %d audited %d times, want once", i, n)
		}
	}
	if w, page := get(url.Values{}); w.Code != http.StatusOK || len(page.Tasks) != 5 || page.NextToken != "" {
		t.Errorf("the default page: %d, %d tasks, next %q; want all 5", w.Code, len(page.Tasks), page.NextToken)
	}

	closedPos := func(gridCode string) string {
		return base64URL(gridCode + "#1#2026-12-01#t001")
	}
	for _, tc := range []struct {
		name  string
		query url.Values
		field string
	}{
		{"limit above the maximum", url.Values{"limit": {"201"}}, "limit"},
		{"a negative limit", url.Values{"limit": {"-1"}}, "limit"},
		{"limit not a number", url.Values{"limit": {"zwei"}}, "limit"},
		{"a token that is not base64", url.Values{"nextToken": {"%%%"}}, "nextToken"},
		{"a token of no position", url.Values{"nextToken": {base64URL(wlGrid.Code + "#tasks")}}, "nextToken"},
		{"another grid's token", url.Values{"nextToken": {base64URL("440703006107-01#0#2026-12-01#t001")}}, "nextToken"},
		{"a closed task's position without closed ones", url.Values{"nextToken": {closedPos(wlGrid.Code)}}, "nextToken"},
	} {
		w, _ := get(tc.query)
		var body struct {
			Error  string `json:"error"`
			Fields []struct {
				Field string `json:"field"`
			} `json:"fields"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusBadRequest || len(body.Fields) != 1 || body.Fields[0].Field != tc.field {
			t.Errorf("%s: %d %s, want 400 on %s", tc.name, w.Code, w.Body, tc.field)
		}
	}
	if w, page := get(url.Values{"closed": {"true"}, "nextToken": {closedPos(wlGrid.Code)}}); w.Code != http.StatusOK || len(page.Tasks) != 0 {
		t.Errorf("a closed position with closed ones: %d %s", w.Code, w.Body)
	}
	other := e.token(t, auth.GridWorker, "440703006107-01")
	if w := e.serve(httptest.NewRequest("GET", "/v1/grids/"+wlGrid.Code+"/tasks", nil), other); w.Code != http.StatusForbidden {
		t.Errorf("another grid's worker: %d, want 403", w.Code)
	}
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestVisitAuditsRegistryWrite: a person a visit puts in the registry is
// audited as a registry write, besides the task's view.
func TestVisitAuditsRegistryWrite(t *testing.T) {
	t.Parallel()
	e := newWLEnv(t)
	ids := e.tasks(t, wlGrid.Code, 2)
	worker := e.token(t, auth.GridWorker, wlGrid.Code)
	visit := func(taskID string, body map[string]any) *httptest.ResponseRecorder {
		raw, _ := json.Marshal(body)
		r := httptest.NewRequest("POST", "/v1/tasks/"+taskID+"/visits", bytes.NewReader(raw))
		r.Header.Set("Content-Type", "application/json")
		return e.serve(r, worker)
	}
	newcomer := map[string]any{"name": "新人", "idType": "resident_id", "idNumber": wlResident(9), "address": "白沙大道9号", "residentType": "floating"}
	if w := visit(ids[0], map[string]any{"outcome": "new_person_found", "newPerson": newcomer}); w.Code != http.StatusCreated {
		t.Fatalf("visit: %d %s", w.Code, w.Body)
	}
	if n := e.audited(t, 9, "registry.write"); n != 1 {
		t.Errorf("the new person's registry entry audited %d times, want once", n)
	}
	if n := e.audited(t, 1, "task.visit"); n != 1 {
		t.Errorf("the task's person audited %d times as task.visit, want once", n)
	}
	// A visit that writes no registry entry leaves no registry.write.
	if w := visit(ids[1], map[string]any{"outcome": "verified"}); w.Code != http.StatusCreated {
		t.Fatalf("visit: %d %s", w.Code, w.Body)
	}
	if n := e.audited(t, 2, "registry.write"); n != 0 {
		t.Errorf("a visit without a registry write audited %d", n)
	}
}

// TestTasksRefuseOtherRolesFirst: a role without grid work is refused
// before the task is read, so it cannot tell a missing task from another's.
func TestTasksRefuseOtherRolesFirst(t *testing.T) {
	t.Parallel()
	e := newWLEnv(t)
	ids := e.tasks(t, wlGrid.Code, 1)
	for _, p := range []auth.Principal{
		{Subject: "ga", Role: auth.GroupAdmin, Group: "g1", Expires: wlNow.Add(time.Hour)},
		{Subject: "feed", Role: auth.HealthFeed, Expires: wlNow.Add(time.Hour)},
	} {
		tok, err := e.issuer.Issue(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{ids[0], "tnope"} {
			if w := e.serve(httptest.NewRequest("GET", "/v1/tasks/"+id, nil), tok); w.Code != http.StatusForbidden {
				t.Errorf("%s reads task %s: %d, want 403", p.Role, id, w.Code)
			}
			r := httptest.NewRequest("POST", "/v1/tasks/"+id+"/visits", strings.NewReader(`{"outcome":"verified"}`))
			r.Header.Set("Content-Type", "application/json")
			if w := e.serve(r, tok); w.Code != http.StatusForbidden {
				t.Errorf("%s visits task %s: %d, want 403", p.Role, id, w.Code)
			}
		}
	}
}
