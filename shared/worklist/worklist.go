// Package worklist turns the district's data lists into door-knocking work:
// uploaded lists (the all-staff NAT list, the residence-code list, venue-code
// lists) are reconciled against each other or the registry, and the people
// in one but not the other become verification tasks in their grid.
package worklist

import (
	"context"
	"errors"
	"strings"
	"time"

	"gridcode/shared/dates"
)

// RegistryList is the list id that names the population registry itself.
const RegistryList = "registry"

// Kinds of list; a task's reason names the kind of list the person is
// missing from (not_in_registry: "tested here but not registered").
const (
	KindNAT           = "nat"            // 全员核酸
	KindResidenceCode = "residence_code" // 粤居码
	KindVenueCode     = "venue_code"     // 场所码
	KindOther         = "other"
	KindRegistry      = "registry" // 人口管理底册
)

// List is an uploaded list's description; its rows are in chunks.
type List struct {
	ID        string    `json:"listId"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Rows      int       `json:"rows"`
	Bad       int       `json:"bad"`
	Chunks    int       `json:"chunks"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	ExpiresAt int64     `json:"expiresAt"`
}

// Evidence is what a list says about one person: the row a verification
// task shows the grid worker.
type Evidence struct {
	Name      string `json:"name"`
	IDType    string `json:"idType"`
	IDNumber  string `json:"idNumber"`
	Phone     string `json:"phone,omitempty"`
	Community string `json:"community,omitempty"`
	Address   string `json:"address,omitempty"`
	Place     string `json:"place,omitempty"` // where the list saw them: test site, venue
	Seen      string `json:"seen,omitempty"`  // when, as the list gives it
}

// Chunk is up to ChunkRows rows of a list: the person keys readable (the
// reconciliation compares them), the evidence sealed as one blob.
type Chunk struct {
	ListID string   `json:"listId"`
	N      int      `json:"chunk"`
	Keys   []string `json:"keys"`
	Grids  []string `json:"grids"` // the grid each row's community routes to, "" if none
	Sealed []byte   `json:"evidenceSealed"`
}

// ChunkRows keeps a chunk's item well under DynamoDB's 400 KB.
const ChunkRows = 1000

// Task statuses.
const (
	TaskOpen    = "open"
	TaskRevisit = "revisit" // nobody home: a note was left, go again on DueOn
	TaskClosed  = "closed"
)

// Visit outcomes (敲门行动).
const (
	Verified        = "verified"
	NotHomeNoteLeft = "not_home_note_left"
	MovedOut        = "moved_out"
	NewPersonFound  = "new_person_found"
)

// Task is a verification a grid worker does at the door.
type Task struct {
	ID        string    `json:"taskId"`
	GridCode  string    `json:"gridCode"` // grid.Unassigned: the district pool
	Reason    string    `json:"reason"`   // "not_in_" + the kind of list B
	ListA     string    `json:"listA"`
	ListB     string    `json:"listB"`
	PersonKey string    `json:"personKey"`
	Status    string    `json:"status"`
	Outcome   string    `json:"outcome,omitempty"` // of the last visit
	DueOn     string    `json:"dueOn"`             // district date YYYY-MM-DD
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// EvidenceSealed is the Evidence of list A's row.
	EvidenceSealed []byte  `json:"evidenceSealed"`
	Visits         []Visit `json:"visits,omitempty"`
	ExpiresAt      int64   `json:"expiresAt"`
}

// Visit is one knock at the door.
type Visit struct {
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Outcome   string    `json:"outcome"`
	RevisitOn string    `json:"revisitOn,omitempty"`
	// Sealed holds the visit's personal data: the phone on the note left,
	// the corrected or new registry data, the worker's remark.
	Sealed []byte `json:"sealed,omitempty"`
}

// Reconciliation statuses: a comparison runs as a job after the request
// that asked for it.
const (
	ReconciliationRunning = "running"
	ReconciliationDone    = "done"
	ReconciliationFailed  = "failed"
)

// Reconciliation is one comparison of two lists.
type Reconciliation struct {
	ID     string `json:"reconciliationId"`
	Status string `json:"status"`
	// Reason is a code (never personal data) saying why a failed one failed.
	Reason  string    `json:"reason,omitempty"`
	ListA   string    `json:"listA"`
	ListB   string    `json:"listB"`
	RowsA   int       `json:"rowsA"`
	RowsB   int       `json:"rowsB"`
	Missing int       `json:"missing"` // people of A not in B
	Created int       `json:"created"` // new tasks (the rest existed from an earlier run)
	ToPool  int       `json:"toPool"`  // tasks with no known grid
	At      time.Time `json:"at"`
	Seconds float64   `json:"seconds"`
}

var (
	ErrNotFound = errors.New("worklist: not found")
	// ErrConflict means the task changed since it was read.
	ErrConflict = errors.New("worklist: task changed meanwhile")
)

// Store keeps lists and tasks.
type Store interface {
	// PutListChunk stores one chunk; the list is not visible until PutList.
	PutListChunk(ctx context.Context, c Chunk) error
	// DeleteListChunks deletes every chunk of a list, for an upload that
	// failed: its rows are personal data with no list to show them.
	DeleteListChunks(ctx context.Context, listID string) error
	PutList(ctx context.Context, l List) error
	// GetList returns ErrNotFound for an unknown id.
	GetList(ctx context.Context, id string) (List, error)
	// Lists lists every list, newest first.
	Lists(ctx context.Context) ([]List, error)
	// Chunks returns a list's chunks in order; without evidence, Sealed is
	// left empty (the comparison needs only keys and grids).
	Chunks(ctx context.Context, listID string, withEvidence bool) ([]Chunk, error)
	// Chunk returns one chunk with its evidence.
	Chunk(ctx context.Context, listID string, n int) (Chunk, error)

	// CreateTasks stores each task unless one with its id exists, and
	// returns how many it created.
	CreateTasks(ctx context.Context, tasks []Task) (created int, err error)
	// GetTask returns ErrNotFound for an unknown id.
	GetTask(ctx context.Context, id string) (Task, error)
	// GridTasks returns a page of a grid's tasks in TaskPosition order:
	// open and revisit ones first by DueOn, then closed ones (only if
	// q.WithClosed), each part by id.
	GridTasks(ctx context.Context, q TaskQuery) (TaskPage, error)
	// UpdateTask stores t (with Version already fromVersion+1) if the stored
	// task still has fromVersion, else ErrConflict.
	UpdateTask(ctx context.Context, t Task, fromVersion int) error
	// PutReconciliation records a comparison, running or with its result.
	PutReconciliation(ctx context.Context, r Reconciliation) error
	// GetReconciliation returns ErrNotFound for an unknown id.
	GetReconciliation(ctx context.Context, id string) (Reconciliation, error)
	// OpenTaskCounts counts open and revisit tasks by reason, for the
	// district's statistics.
	OpenTaskCounts(ctx context.Context) (map[string]int, error)
}

// TaskQuery selects a page of one grid's tasks.
type TaskQuery struct {
	GridCode   string
	WithClosed bool
	// After is the TaskPosition of the last task of the previous page; ""
	// starts at the first.
	After string
	// Limit (> 0) bounds the page.
	Limit int
}

// TaskPage is one page of a grid's tasks; Next is the TaskPosition of its
// last task when more follow, else empty.
type TaskPage struct {
	Tasks []Task
	Next  string
}

// TaskPosition is where a task sorts in its grid's list: "0" for an open
// or revisit task, "1" for a closed one, then its due day and its id, as
// "0#2026-11-30#t…". The stores order by it and page after it.
func TaskPosition(t Task) string {
	rank := "1"
	if t.Status != TaskClosed {
		rank = "0"
	}
	return rank + "#" + t.DueOn + "#" + t.ID
}

// ParseTaskPosition splits a TaskPosition; ok is false for a string
// TaskPosition cannot have made.
func ParseTaskPosition(pos string) (open bool, dueOn, id string, ok bool) {
	rank, rest, ok1 := strings.Cut(pos, "#")
	dueOn, id, ok2 := strings.Cut(rest, "#")
	if !ok1 || !ok2 || (rank != "0" && rank != "1") || id == "" || strings.Contains(id, "#") {
		return false, "", "", false
	}
	if _, valid := dates.Parse(dueOn); !valid {
		return false, "", "", false
	}
	return rank == "0", dueOn, id, true
}
