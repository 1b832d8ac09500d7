package gridwork

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/worklist"
)

// Tasks is the door-knocking work: a grid's verification tasks, one task
// with its evidence and history, and the visits.
type Tasks struct {
	Store worklist.Store
	Desk  func(ctx context.Context) (*worklist.Desk, error) // the desk with the current grids
	Vault *pii.Vault
	Audit Auditor
}

// TaskView is a task as a grid worker sees it.
type TaskView struct {
	TaskID    string            `json:"taskId"`
	GridCode  string            `json:"gridCode"`
	Reason    string            `json:"reason"`
	ListA     string            `json:"listA"`
	ListB     string            `json:"listB"`
	Status    string            `json:"status"`
	Outcome   string            `json:"outcome,omitempty"`
	DueOn     string            `json:"dueOn"`
	Version   int               `json:"version"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	Evidence  worklist.Evidence `json:"evidence"`
	Visits    []VisitView       `json:"visits"`
}

// VisitView is one visit of a task's history: the note's phone masked.
type VisitView struct {
	At        time.Time   `json:"at"`
	By        string      `json:"by"`
	Outcome   string      `json:"outcome"`
	RevisitOn string      `json:"revisitOn,omitempty"`
	NotePhone string      `json:"notePhone,omitempty"`
	Remark    string      `json:"remark,omitempty"`
	Corrected *EntryInput `json:"corrected,omitempty"`
	NewPerson *EntryInput `json:"newPerson,omitempty"`
}

// EntryInput is a registry entry as a visit's body gives it and as its
// history shows it (ID and phones masked).
type EntryInput struct {
	Name          string `json:"name"`
	IDType        string `json:"idType"`
	IDNumber      string `json:"idNumber"`
	Phone         string `json:"phone,omitempty"`
	Town          string `json:"town,omitempty"`
	Community     string `json:"community,omitempty"`
	Address       string `json:"address"`
	ResidentType  string `json:"residentType,omitempty"`
	LandlordPhone string `json:"landlordPhone,omitempty"`
}

// Entry is the registry entry; the domain checks every field.
func (e *EntryInput) Entry() *registry.Entry {
	if e == nil {
		return nil
	}
	return &registry.Entry{
		Personal: registry.Personal{
			Name: e.Name, IDNumber: e.IDNumber, Phone: e.Phone, Address: e.Address, LandlordPhone: e.LandlordPhone,
		},
		IDType: idcard.Kind(e.IDType), Town: e.Town, Community: e.Community, ResidentType: registry.ResidentType(e.ResidentType),
	}
}

func maskedEntry(e *registry.Entry) *EntryInput {
	if e == nil {
		return nil
	}
	m := e.Personal.Masked(e.IDType)
	return &EntryInput{
		Name: m.Name, IDType: string(e.IDType), IDNumber: m.IDNumber, Phone: m.Phone,
		Town: e.Town, Community: e.Community, Address: m.Address, ResidentType: string(e.ResidentType),
		LandlordPhone: m.LandlordPhone,
	}
}

// VisitRequest is the body of POST /v1/tasks/{taskId}/visits.
type VisitRequest struct {
	Outcome   string      `json:"outcome"`
	NotePhone string      `json:"notePhone,omitempty"`
	RevisitOn string      `json:"revisitOn,omitempty"`
	Remark    string      `json:"remark,omitempty"`
	Corrected *EntryInput `json:"corrected,omitempty"`
	NewPerson *EntryInput `json:"newPerson,omitempty"`
}

func (r VisitRequest) input() worklist.VisitInput {
	return worklist.VisitInput{
		Outcome: r.Outcome, NotePhone: r.NotePhone, RevisitOn: r.RevisitOn, Remark: r.Remark,
		Corrected: r.Corrected.Entry(), NewPerson: r.NewPerson.Entry(),
	}
}

// Page sizes of a grid's task list: a district-wide reconciliation can put
// thousands of tasks in one grid (or the pool), more than one Lambda
// response carries.
const (
	DefaultTaskPageSize = 50
	MaxTaskPageSize     = 200
)

// TaskFilter is what a grid's task list is asked for: closed tasks too,
// and which page (the previous page's NextToken, and a size).
type TaskFilter struct {
	WithClosed bool
	NextToken  string
	Limit      int // 0: DefaultTaskPageSize
}

// TaskPage is one page of a grid's tasks; NextToken is empty on the last.
type TaskPage struct {
	Tasks     []TaskView `json:"tasks"`
	NextToken string     `json:"nextToken,omitempty"`
}

// GridTasks returns a page of a grid's tasks, open ones first by due day;
// only the page's people are opened and audited. A bad limit, or a
// nextToken this listing could not have made (another grid's, a closed
// task's without closed ones asked for), is a *fields.Error.
func (t Tasks) GridTasks(ctx context.Context, c Caller, gridCode string, f TaskFilter) (TaskPage, error) {
	if !c.CanReadGrid(gridCode) {
		return TaskPage{}, auth.ErrForbidden
	}
	q := worklist.TaskQuery{GridCode: gridCode, WithClosed: f.WithClosed, Limit: f.Limit}
	var fc fields.Collector
	if f.NextToken != "" {
		// The token comes back from the client: it must be a position this
		// same listing could have produced.
		raw, err := base64.RawURLEncoding.DecodeString(f.NextToken)
		pos, inGrid := strings.CutPrefix(string(raw), gridCode+"#")
		open, _, _, ok := worklist.ParseTaskPosition(pos)
		if err != nil || !inGrid || !ok || (!open && !f.WithClosed) {
			fc.Add("nextToken", "invalid")
		}
		q.After = pos
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultTaskPageSize
	case q.Limit < 0 || q.Limit > MaxTaskPageSize:
		fc.Add("limit", "out_of_range")
	}
	if err := fc.Err("invalid_query"); err != nil {
		return TaskPage{}, err
	}
	page, err := t.Store.GridTasks(ctx, q)
	if err != nil {
		return TaskPage{}, err
	}
	views, err := t.views(ctx, c, "task.list", page.Tasks...)
	if err != nil {
		return TaskPage{}, err
	}
	out := TaskPage{Tasks: views}
	if page.Next != "" {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(gridCode + "#" + page.Next))
	}
	return out, nil
}

// Get returns one task with its history.
func (t Tasks) Get(ctx context.Context, c Caller, id string) (TaskView, error) {
	if err := requireGridWork(c); err != nil {
		return TaskView{}, err
	}
	task, err := t.Store.GetTask(ctx, id)
	if err != nil {
		return TaskView{}, err
	}
	if !c.CanReadGrid(task.GridCode) {
		return TaskView{}, auth.ErrForbidden
	}
	vs, err := t.views(ctx, c, "task.view", task)
	if err != nil {
		return TaskView{}, err
	}
	return vs[0], nil
}

// Visit records a knock at the door by a worker of the task's grid. A
// registry entry the visit wrote is audited as registry.write, the task
// shown back as task.visit.
func (t Tasks) Visit(ctx context.Context, c Caller, id string, in VisitRequest) (TaskView, error) {
	if err := requireGridWork(c); err != nil {
		return TaskView{}, err
	}
	task, err := t.Store.GetTask(ctx, id)
	if err != nil {
		return TaskView{}, err
	}
	if !c.CanReadGrid(task.GridCode) {
		return TaskView{}, auth.ErrForbidden
	}
	desk, err := t.Desk(ctx)
	if err != nil {
		return TaskView{}, err
	}
	task, wrote, err := desk.Visit(ctx, c.Subject, id, in.input())
	if err != nil {
		return TaskView{}, err
	}
	// A retry of the visit after this failed writes the record again:
	// the log holds the write at least once.
	if wrote != "" {
		if err := t.Audit.Record(ctx, c, "registry.write", wrote); err != nil {
			return TaskView{}, err
		}
	}
	vs, err := t.views(ctx, c, "task.visit", task)
	if err != nil {
		return TaskView{}, err
	}
	return vs[0], nil
}

func (t Tasks) views(ctx context.Context, c Caller, action string, tasks ...worklist.Task) ([]TaskView, error) {
	out := make([]TaskView, 0, len(tasks))
	keys := make([]string, 0, len(tasks))
	for _, task := range tasks {
		ev, err := worklist.OpenEvidence(t.Vault, task)
		if err != nil {
			return nil, err
		}
		ev.IDNumber = idcard.Mask(idcard.Kind(ev.IDType), ev.IDNumber)
		ev.Phone = phone.Mask(ev.Phone)
		visits := make([]VisitView, len(task.Visits))
		for n, v := range task.Visits {
			d, err := worklist.OpenVisit(t.Vault, task, n)
			if err != nil {
				return nil, err
			}
			visits[n] = VisitView{
				At: v.At, By: v.By, Outcome: v.Outcome, RevisitOn: v.RevisitOn, NotePhone: phone.Mask(d.NotePhone),
				Remark: d.Remark, Corrected: maskedEntry(d.Corrected), NewPerson: maskedEntry(d.NewPerson),
			}
		}
		out = append(out, TaskView{
			TaskID: task.ID, GridCode: task.GridCode, Reason: task.Reason, ListA: task.ListA, ListB: task.ListB,
			Status: task.Status, Outcome: task.Outcome, DueOn: task.DueOn, Version: task.Version,
			CreatedAt: task.CreatedAt, UpdatedAt: task.UpdatedAt, Evidence: ev, Visits: visits,
		})
		keys = append(keys, task.PersonKey)
	}
	if err := t.Audit.Record(ctx, c, action, keys...); err != nil {
		return nil, err
	}
	return out, nil
}
