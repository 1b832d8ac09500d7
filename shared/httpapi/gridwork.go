package httpapi

import (
	"context"
	"errors"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"gridcode/shared/audit"
	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/gridwork"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/stats"
	"gridcode/shared/worklist"
)

// Body limits of grid work. A list or a registry file of the whole
// district (800,000 rows, about 80 MB) is uploaded locally through the CLI
// and in the cloud to the uploads bucket; the HTTP upload takes what one
// Lambda request can carry.
const (
	MaxListBody     = 6 << 20
	MaxFollowUpBody = 4 << 10
	MaxVisitBody    = 8 << 10
	MaxReconcile    = 1 << 10
)

// caller is the verified principal with the client address for the audit.
func (s Staff) caller(r *http.Request) (gridwork.Caller, error) {
	p, err := s.principal(r)
	if err != nil {
		return gridwork.Caller{}, err
	}
	from, _, splitErr := net.SplitHostPort(r.RemoteAddr)
	if splitErr != nil {
		from = r.RemoteAddr
	}
	return gridwork.Caller{Principal: p, From: from}, nil
}

// answerCaller serves a staff read or change: the verified caller (with
// the client address the audit records), then do, then its result as JSON
// with status, or the error.
func (s Staff) answerCaller(w http.ResponseWriter, r *http.Request, status int, do func(gridwork.Caller) (any, error)) {
	c, err := s.caller(r)
	if err == nil {
		var v any
		if v, err = do(c); err == nil {
			writeJSON(w, status, v)
			return
		}
	}
	fail(w, r, err)
}

// RegistryAPI serves the population registry: search, and the imports'
// progress and refused rows; and the audit trail of who read whom.
type RegistryAPI struct {
	Search  gridwork.Search
	Imports registry.ImportStore
	Trail   gridwork.Trail
	Staff   Staff
}

// Register mounts the routes on mux.
func (a RegistryAPI) Register(mux Router) {
	mux.HandleFunc("GET /v1/audit", a.audit)
	mux.HandleFunc("GET /v1/registry/search", a.search)
	mux.HandleFunc("GET /v1/registry/imports/{importId}", a.importRun)
	mux.HandleFunc("GET /v1/registry/imports/{importId}/errors", a.importErrors)
}

func (a RegistryAPI) search(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		q := r.URL.Query()
		limit, err := queryInt(q.Get("limit"), "limit")
		if err != nil {
			return nil, err
		}
		found, err := a.Search.Run(r.Context(), c, gridwork.SearchQuery{
			Name: q.Get("name"), Community: q.Get("community"), Address: q.Get("address"),
			PhoneLast4: q.Get("phoneLast4"), IDLast4: q.Get("idLast4"), Limit: limit,
		})
		return map[string]any{"results": found}, err
	})
}

// audit lists the audit records of a person (?person=, their document
// number or person key; &idType=) or of a staff member (?actor=), or both.
func (a RegistryAPI) audit(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		q := r.URL.Query()
		records, err := a.Trail.Find(r.Context(), c, gridwork.TrailQuery{Person: q.Get("person"), IDType: q.Get("idType"), Actor: q.Get("actor")})
		if records == nil {
			records = []audit.Record{}
		}
		return map[string]any{"records": records}, err
	})
}

func (a RegistryAPI) importRun(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	im, err := a.Imports.GetImport(r.Context(), r.PathValue("importId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, im)
}

// importErrors downloads the refused rows as a CSV Excel opens: line,
// column and reason, never the values.
func (a RegistryAPI) importErrors(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	id := r.PathValue("importId")
	if _, err := a.Imports.GetImport(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	errs, err := a.Imports.RowErrors(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`-errors.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_ = registry.WriteErrorsCSV(w, errs)
}

// WorklistAPI serves the district's lists, their reconciliation and the
// door-knocking tasks it makes.
type WorklistAPI struct {
	Uploader   func(ctx context.Context) (*worklist.Uploader, error)
	Reconciler *worklist.Reconciler
	// Jobs runs the reconciliations POST /v1/reconcile starts.
	Jobs  worklist.JobQueue
	Lists worklist.Store
	Tasks gridwork.Tasks
	Staff Staff
}

// Register mounts the routes on mux.
func (a WorklistAPI) Register(mux Router) {
	mux.HandleFunc("POST /v1/lists", a.upload)
	mux.HandleFunc("GET /v1/lists", a.lists)
	mux.HandleFunc("POST /v1/reconcile", a.reconcile)
	mux.HandleFunc("GET /v1/reconcile/{reconciliationId}", a.reconciliation)
	mux.HandleFunc("GET /v1/grids/{gridCode}/tasks", a.gridTasks)
	mux.HandleFunc("GET /v1/tasks/{taskId}", a.task)
	mux.HandleFunc("POST /v1/tasks/{taskId}/visits", a.visit)
}

// upload takes a list as CSV: ?name=…&kind=nat|residence_code|venue_code|other.
func (a WorklistAPI) upload(w http.ResponseWriter, r *http.Request) {
	p, err := a.Staff.principal(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !p.IsDistrictAdmin() {
		fail(w, r, auth.ErrForbidden)
		return
	}
	// Excel on Windows labels a CSV file application/vnd.ms-excel.
	switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt {
	case "text/csv", "text/plain", "application/vnd.ms-excel":
	default:
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type")
		return
	}
	// A body announced too large is refused unread; one that grows past the
	// limit is cut by MaxBytesReader, and Upload deletes what it stored.
	if r.ContentLength > MaxListBody {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large")
		return
	}
	up, err := a.Uploader(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	q := r.URL.Query()
	body := http.MaxBytesReader(w, r.Body, MaxListBody)
	l, rowErrs, err := up.Upload(r.Context(), q.Get("name"), q.Get("kind"), p.Subject, body)
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large")
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	if rowErrs == nil {
		rowErrs = []registry.RowError{}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"list": l, "rowErrors": rowErrs})
}

func (a WorklistAPI) lists(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	ls, err := a.Lists.Lists(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": ls})
}

// reconcileRequest: people in listA and not in listB become tasks;
// direction b_not_in_a swaps the lists.
type reconcileRequest struct {
	ListA     string `json:"listA"`
	ListB     string `json:"listB"`
	Direction string `json:"direction"`
}

func (a WorklistAPI) reconcile(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	var in reconcileRequest
	if decodeJSON(w, r, MaxReconcile, &in) != nil {
		return
	}
	var c fields.Collector
	if in.ListA == "" {
		c.Add("listA", "required")
	}
	if in.ListB == "" {
		c.Add("listB", "required")
	}
	switch in.Direction {
	case "", "a_not_in_b":
	case "b_not_in_a":
		in.ListA, in.ListB = in.ListB, in.ListA
	default:
		c.Add("direction", "unknown")
	}
	if err := c.Err("invalid_request"); err != nil {
		fail(w, r, err)
		return
	}
	// Two district-wide lists take longer than API Gateway waits: the
	// comparison runs as a job, and its record answers how it went.
	res, err := a.Reconciler.Start(r.Context(), a.Jobs, in.ListA, in.ListB)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/reconcile/"+res.ID)
	writeJSON(w, http.StatusAccepted, res)
}

// reconciliation answers how a reconciliation went: running, done with its
// counts, or failed with a reason code.
func (a WorklistAPI) reconciliation(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	res, err := a.Lists.GetReconciliation(r.Context(), r.PathValue("reconciliationId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// gridTasks: ?closed=true also lists closed tasks; limit and nextToken
// page through them.
func (a WorklistAPI) gridTasks(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		q := r.URL.Query()
		limit, err := queryInt(q.Get("limit"), "limit")
		if err != nil {
			return nil, err
		}
		return a.Tasks.GridTasks(r.Context(), c, r.PathValue("gridCode"), gridwork.TaskFilter{
			WithClosed: q.Get("closed") == "true", NextToken: q.Get("nextToken"), Limit: limit,
		})
	})
}

func (a WorklistAPI) task(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		return a.Tasks.Get(r.Context(), c, r.PathValue("taskId"))
	})
}

func (a WorklistAPI) visit(w http.ResponseWriter, r *http.Request) {
	c, err := a.Staff.caller(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var in gridwork.VisitRequest
	if decodeJSON(w, r, MaxVisitBody, &in) != nil {
		return
	}
	v, err := a.Tasks.Visit(r.Context(), c, r.PathValue("taskId"), in)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// FollowUpsAPI serves what grid workers do about reports after they came
// in, and the overdue worklists.
type FollowUpsAPI struct {
	FollowUps gridwork.FollowUps
	Staff     Staff
}

// Register mounts the routes on mux.
func (a FollowUpsAPI) Register(mux Router) {
	mux.HandleFunc("POST /v1/reports/{reportId}/followups", a.record)
	mux.HandleFunc("GET /v1/grids/{gridCode}/followups/overdue", a.overdue)
	mux.HandleFunc("GET /v1/followups/escalated", a.escalated)
}

func (a FollowUpsAPI) record(w http.ResponseWriter, r *http.Request) {
	c, err := a.Staff.caller(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var in report.FollowUpInput
	if decodeJSON(w, r, MaxFollowUpBody, &in) != nil {
		return
	}
	rec, err := a.FollowUps.Record(r.Context(), c, r.PathValue("reportId"), in)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, rec)
}

func (a FollowUpsAPI) overdue(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		due, err := a.FollowUps.Overdue(r.Context(), c, r.PathValue("gridCode"))
		return map[string]any{"overdue": due}, err
	})
}

// escalated: ?level=community|district (default community) &community=.
func (a FollowUpsAPI) escalated(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		q := r.URL.Query()
		var level report.EscalationLevel
		switch q.Get("level") {
		case "", "community":
			level = report.EscalationCommunity
		case "district":
			level = report.EscalationDistrict
		default:
			return nil, &fields.Error{Code: "invalid_query", Problems: []fields.Problem{{Field: "level", Reason: "unknown"}}}
		}
		due, err := a.FollowUps.Escalated(r.Context(), c, level, q.Get("community"))
		return map[string]any{"escalated": due}, err
	})
}

// StatsAPI serves the district office's numbers.
type StatsAPI struct {
	Source    stats.Source
	Grids     gridwork.Grids
	Deadlines report.Deadlines
	Staff     Staff
}

// Register mounts the routes on mux.
func (a StatsAPI) Register(mux Router) {
	mux.HandleFunc("GET /v1/stats", a.stats)
}

func (a StatsAPI) stats(w http.ResponseWriter, r *http.Request) {
	if !a.Staff.requireAdmin(w, r) {
		return
	}
	now := a.Staff.Now()
	q := r.URL.Query()
	from, to, err := stats.ParseRange(q.Get("from"), q.Get("to"), now)
	if err != nil {
		fail(w, r, err)
		return
	}
	dir, err := a.Grids.Grids(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	st, err := stats.Build(r.Context(), a.Source, dir.Grids(), from, to, now, a.Deadlines)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// queryInt reads an optional number from the query.
func queryInt(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, &fields.Error{Code: "invalid_query", Problems: []fields.Problem{{Field: name, Reason: "not_a_number"}}}
	}
	return n, nil
}

// RegistryStores is where the registry routes read and audit.
type RegistryStores interface {
	registry.Store
	registry.ImportStore
	audit.Log
}

// NewRegistryAPI wires the registry routes; scope is gridwork.ScopeCommunity
// or gridwork.ScopeTown.
func NewRegistryAPI(store RegistryStores, grids gridwork.Grids, vault *pii.Vault, now func() time.Time, scope string, staff Staff) RegistryAPI {
	return RegistryAPI{
		Search: gridwork.Search{
			Searcher: &registry.Searcher{Store: store, Vault: vault}, Grids: grids,
			Audit: gridwork.Auditor{Log: store, Now: now}, Scope: scope,
		},
		Imports: store,
		Trail:   gridwork.Trail{Log: store, Vault: vault, Now: now},
		Staff:   staff,
	}
}

// WorklistStores is where the worklist routes keep their data.
type WorklistStores interface {
	worklist.Store
	registry.Store
	audit.Log
}

// NewWorklistAPI wires the worklist routes; the local server and the
// Lambda build them alike. jobs runs the reconciliations.
func NewWorklistAPI(store WorklistStores, grids gridwork.Grids, vault *pii.Vault, now func() time.Time, staff Staff, jobs worklist.JobQueue) WorklistAPI {
	return WorklistAPI{
		Uploader: func(ctx context.Context) (*worklist.Uploader, error) {
			dir, err := grids.Grids(ctx)
			if err != nil {
				return nil, err
			}
			return &worklist.Uploader{Store: store, Vault: vault, Grids: dir, Now: now}, nil
		},
		Reconciler: &worklist.Reconciler{Lists: store, Registry: store, Vault: vault, Now: now},
		Jobs:       jobs,
		Lists:      store,
		Tasks: gridwork.Tasks{
			Store: store, Vault: vault, Audit: gridwork.Auditor{Log: store, Now: now},
			Desk: func(ctx context.Context) (*worklist.Desk, error) {
				dir, err := grids.Grids(ctx)
				if err != nil {
					return nil, err
				}
				return &worklist.Desk{Tasks: store, Registry: store, Vault: vault, Grids: dir, Now: now}, nil
			},
		},
		Staff: staff,
	}
}

// FollowUpStores is where the follow-up routes read and write reports.
type FollowUpStores interface {
	report.Store
	report.FollowUpStore
	audit.Log
}

// NewFollowUpsAPI wires the follow-up routes; vault seals and opens the
// follow-ups' notes.
func NewFollowUpsAPI(store FollowUpStores, grids gridwork.Grids, vault *pii.Vault, now func() time.Time, staff Staff) FollowUpsAPI {
	d := report.DefaultDeadlines()
	return FollowUpsAPI{
		FollowUps: gridwork.FollowUps{
			Grids: grids, Deadlines: d, Now: now, Audit: gridwork.Auditor{Log: store, Now: now},
			Desk: &report.FollowUps{Reports: store, Updates: store, Grids: grids, Vault: vault, Deadlines: d, Now: now},
		},
		Staff: staff,
	}
}
