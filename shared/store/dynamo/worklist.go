package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/worklist"
)

// The worklist's tables:
//
//   - Lists: key listId, one item per list, TTL expiresAt.
//   - ListChunks: key listId + chunk (a number): the chunk's person keys
//     and grids as lists, its evidence sealed in one binary attribute, TTL
//     expiresAt (the list's, once PutList has run; UploadExpiry after the
//     write until then, so an abandoned upload's personal data goes too).
//   - Tasks: key taskId, TTL expiresAt; GSI byGrid (gridCode, gridSort =
//     "<statusRank>#<dueOn>#<taskId>", all attributes) for a grid's list,
//     open and revisit tasks (rank 0) before closed ones (rank 1); sparse
//     GSI byOpenReason (openReason, taskId, keys only) holding only the
//     open and revisit tasks, for the district's counts.
//   - Reconciliations: key reconciliationId.
const (
	// TaskGridIndex is the tasks table's GSI by grid, open tasks first.
	TaskGridIndex = "byGrid"
	// TaskOpenIndex is the tasks table's sparse GSI of open and revisit
	// tasks by reason.
	TaskOpenIndex = "byOpenReason"
	// UploadExpiry is how long a list's chunks are kept before PutList
	// gives them the list's expiry.
	UploadExpiry = 7 * 24 * time.Hour
	// taskWorkers bounds the concurrent conditional writes of CreateTasks
	// and of PutList's expiry updates.
	taskWorkers = 16
)

type chunkItem struct {
	worklist.Chunk
	ExpiresAt int64 `json:"expiresAt,omitempty"`
}

type taskItem struct {
	worklist.Task
	GridSort   string `json:"gridSort"`
	OpenReason string `json:"openReason,omitempty"`
}

func listKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"listId": sAttr(id)}
}

func chunkKey(listID string, n int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"listId": sAttr(listID), "chunk": &types.AttributeValueMemberN{Value: strconv.Itoa(n)}}
}

func taskKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"taskId": sAttr(id)}
}

// isOpen says a task still needs a visit.
func isOpen(status string) bool { return status == worklist.TaskOpen || status == worklist.TaskRevisit }

// gridSort orders a grid's tasks: open and revisit ones first, each part
// by due date; it is the task's worklist.TaskPosition, so a page's last
// position is the index key to start the next page after.
func gridSort(t worklist.Task) string { return worklist.TaskPosition(t) }

func newTaskItem(t worklist.Task) taskItem {
	it := taskItem{Task: t, GridSort: gridSort(t)}
	if isOpen(t.Status) {
		it.OpenReason = t.Reason
	}
	return it
}

// PutListChunk implements worklist.Store: one item, replaced whole.
func (s *Store) PutListChunk(ctx context.Context, c worklist.Chunk) error {
	item, err := marshal(chunkItem{Chunk: c, ExpiresAt: time.Now().Add(UploadExpiry).Unix()})
	if err != nil {
		return fmt.Errorf("marshal chunk %d of list %s: %w", c.N, c.ListID, err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.ListChunks), Item: item}); err != nil {
		return fmt.Errorf("put chunk %d of list %s: %w", c.N, c.ListID, err)
	}
	return nil
}

// DeleteListChunks implements worklist.Store: a Query of the chunks' keys,
// then BatchWriteItem deletes, 25 a call.
func (s *Store) DeleteListChunks(ctx context.Context, listID string) error {
	chunks, err := s.chunkNumbers(ctx, listID)
	if err != nil {
		return fmt.Errorf("delete chunks of list %s: %w", listID, err)
	}
	reqs := make([]types.WriteRequest, len(chunks))
	for i, n := range chunks {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: chunkKey(listID, n)}}
	}
	if err := s.batchWrite(ctx, s.tables.ListChunks, reqs); err != nil {
		return fmt.Errorf("delete chunks of list %s: %w", listID, err)
	}
	return nil
}

// chunkNumbers lists the numbers of a list's stored chunks.
func (s *Store) chunkNumbers(ctx context.Context, listID string) ([]int, error) {
	chunks, err := queryAll[struct {
		N int `json:"chunk"`
	}](ctx, s, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.ListChunks),
		KeyConditionExpression:    aws.String("listId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": sAttr(listID)},
		ProjectionExpression:      aws.String("#c"),
		ExpressionAttributeNames:  map[string]string{"#c": "chunk"},
		ConsistentRead:            aws.Bool(true),
	}, "chunks of list "+listID)
	if err != nil {
		return nil, err
	}
	ns := make([]int, len(chunks))
	for i, c := range chunks {
		ns[i] = c.N
	}
	return ns, nil
}

// PutList implements worklist.Store: the chunks get the list's expiry,
// then the list's item is written, which makes the list visible.
func (s *Store) PutList(ctx context.Context, l worklist.List) error {
	chunks, err := s.chunkNumbers(ctx, l.ID)
	if err != nil {
		return fmt.Errorf("put list %s: %w", l.ID, err)
	}
	update := &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.tables.ListChunks),
		UpdateExpression: aws.String("REMOVE #e"),
		// A chunk gone meanwhile (expired) must not come back as a stub.
		ConditionExpression:      aws.String("attribute_exists(#l)"),
		ExpressionAttributeNames: map[string]string{"#e": TTLAttribute, "#l": "listId"},
	}
	if l.ExpiresAt != 0 {
		update.UpdateExpression = aws.String("SET #e = :e")
		update.ExpressionAttributeValues = map[string]types.AttributeValue{":e": &types.AttributeValueMemberN{Value: strconv.FormatInt(l.ExpiresAt, 10)}}
	}
	err = parallel(ctx, len(chunks), taskWorkers, func(i int) error {
		in := *update
		in.Key = chunkKey(l.ID, chunks[i])
		_, err := s.api.UpdateItem(ctx, &in)
		var gone *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &gone) {
			return fmt.Errorf("chunk %d: %w", chunks[i], err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put list %s: expiry of its chunks: %w", l.ID, err)
	}
	item, err := marshal(l)
	if err != nil {
		return fmt.Errorf("marshal list %s: %w", l.ID, err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Lists), Item: item}); err != nil {
		return fmt.Errorf("put list %s: %w", l.ID, err)
	}
	return nil
}

// GetList implements worklist.Store.
func (s *Store) GetList(ctx context.Context, id string) (worklist.List, error) {
	return getItem[worklist.List](ctx, s, s.tables.Lists, listKey(id), "list "+id, worklist.ErrNotFound)
}

// Lists implements worklist.Store. A district uploads a few lists a week,
// so the table is read whole.
func (s *Store) Lists(ctx context.Context) ([]worklist.List, error) {
	var out []worklist.List
	p := dynamodb.NewScanPaginator(s.api, &dynamodb.ScanInput{TableName: aws.String(s.tables.Lists), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan lists: %w", err)
		}
		for _, item := range page.Items {
			var l worklist.List
			if err := unmarshal(item, &l); err != nil {
				return nil, fmt.Errorf("decode list: %w", err)
			}
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b worklist.List) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// Chunks implements worklist.Store with a Query of the list's chunks in
// order; without evidence, a projection leaves the sealed blob (most of a
// chunk's bytes) on the server.
func (s *Store) Chunks(ctx context.Context, listID string, withEvidence bool) ([]worklist.Chunk, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.ListChunks),
		KeyConditionExpression:    aws.String("listId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": sAttr(listID)},
		ConsistentRead:            aws.Bool(true),
	}
	if !withEvidence {
		in.ProjectionExpression = aws.String("#l, #c, #k, #g")
		in.ExpressionAttributeNames = map[string]string{"#l": "listId", "#c": "chunk", "#k": "keys", "#g": "grids"}
	}
	return queryAll[worklist.Chunk](ctx, s, in, "chunks of list "+listID)
}

// Chunk implements worklist.Store.
func (s *Store) Chunk(ctx context.Context, listID string, n int) (worklist.Chunk, error) {
	return getItem[worklist.Chunk](ctx, s, s.tables.ListChunks, chunkKey(listID, n), "chunk "+strconv.Itoa(n)+" of list "+listID, worklist.ErrNotFound)
}

// CreateTasks implements worklist.Store. A reconciliation run again finds
// most of its tasks made already, so the ids that exist are read first
// (BatchGetItem, keys only); the rest are written one conditional PutItem
// each, several at once, so two runs at once still create each task once.
func (s *Store) CreateTasks(ctx context.Context, tasks []worklist.Task) (int, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(tasks))
	first := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		if !first[t.ID] {
			first[t.ID] = true
			keys = append(keys, taskKey(t.ID))
		}
	}
	var mu sync.Mutex
	exists := make(map[string]bool)
	proj := expression.NamesList(expression.Name("taskId"))
	err := s.batchGetProjected(ctx, s.tables.Tasks, keys, &proj, func(item map[string]types.AttributeValue) error {
		id, ok := item["taskId"].(*types.AttributeValueMemberS)
		if !ok {
			return errors.New("an item without taskId")
		}
		mu.Lock()
		exists[id.Value] = true
		mu.Unlock()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("create tasks: read existing: %w", err)
	}
	var todo []worklist.Task
	for _, t := range tasks {
		if !exists[t.ID] {
			exists[t.ID] = true // the first of duplicate ids wins
			todo = append(todo, t)
		}
	}
	var created atomic.Int64
	err = parallel(ctx, len(todo), taskWorkers, func(i int) error {
		t := todo[i]
		item, err := marshal(newTaskItem(t))
		if err != nil {
			return fmt.Errorf("marshal task %s: %w", t.ID, err)
		}
		_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(s.tables.Tasks),
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(taskId)"),
		})
		var failed *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &failed):
			return nil // created meanwhile by another run
		case err != nil:
			return fmt.Errorf("put task %s: %w", t.ID, err)
		}
		created.Add(1)
		return nil
	})
	if err != nil {
		return int(created.Load()), fmt.Errorf("create tasks: %w", err)
	}
	return int(created.Load()), nil
}

// GetTask implements worklist.Store.
func (s *Store) GetTask(ctx context.Context, id string) (worklist.Task, error) {
	return getItem[worklist.Task](ctx, s, s.tables.Tasks, taskKey(id), "task "+id, worklist.ErrNotFound)
}

// GridTasks implements worklist.Store with a Query of the grid index,
// whose sort key puts open and revisit tasks first, each by due date. It
// asks for one task more than the page, to know whether another follows.
func (s *Store) GridTasks(ctx context.Context, q worklist.TaskQuery) (worklist.TaskPage, error) {
	if q.Limit <= 0 {
		return worklist.TaskPage{}, fmt.Errorf("query tasks of grid %s: limit %d", q.GridCode, q.Limit)
	}
	key := expression.Key("gridCode").Equal(expression.Value(q.GridCode))
	if !q.WithClosed {
		key = key.And(expression.Key("gridSort").BeginsWith("0#"))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return worklist.TaskPage{}, fmt.Errorf("query tasks of grid %s: %w", q.GridCode, err)
	}
	var start map[string]types.AttributeValue
	if q.After != "" {
		open, _, id, ok := worklist.ParseTaskPosition(q.After)
		if !ok {
			return worklist.TaskPage{}, fmt.Errorf("query tasks of grid %s: malformed position %q", q.GridCode, q.After)
		}
		// Past the open tasks, none follows; DynamoDB refuses a start key
		// outside the key condition.
		if !open && !q.WithClosed {
			return worklist.TaskPage{}, nil
		}
		// A start key of an index names the index's key and the table's.
		start = map[string]types.AttributeValue{"gridCode": sAttr(q.GridCode), "gridSort": sAttr(q.After), "taskId": sAttr(id)}
	}
	var page worklist.TaskPage
	for {
		out, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Tasks),
			IndexName:                 aws.String(TaskGridIndex),
			KeyConditionExpression:    expr.KeyCondition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(q.Limit - len(page.Tasks) + 1)),
		})
		if err != nil {
			return worklist.TaskPage{}, fmt.Errorf("query tasks of grid %s: %w", q.GridCode, err)
		}
		for _, item := range out.Items {
			if len(page.Tasks) == q.Limit {
				page.Next = gridSort(page.Tasks[len(page.Tasks)-1])
				return page, nil
			}
			var t worklist.Task
			if err := unmarshal(item, &t); err != nil {
				return worklist.TaskPage{}, fmt.Errorf("decode task of grid %s: %w", q.GridCode, err)
			}
			page.Tasks = append(page.Tasks, t)
		}
		if out.LastEvaluatedKey == nil {
			return page, nil
		}
		start = out.LastEvaluatedKey
	}
}

// UpdateTask implements worklist.Store: the task replaced whole, on the
// condition that the stored one still has fromVersion.
func (s *Store) UpdateTask(ctx context.Context, t worklist.Task, fromVersion int) error {
	item, err := marshal(newTaskItem(t))
	if err != nil {
		return fmt.Errorf("marshal task %s: %w", t.ID, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.tables.Tasks),
		Item:                                item,
		ConditionExpression:                 aws.String("#v = :from"),
		ExpressionAttributeNames:            map[string]string{"#v": "version"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":from": &types.AttributeValueMemberN{Value: strconv.Itoa(fromVersion)}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed) && failed.Item == nil:
		return fmt.Errorf("update task %s: %w", t.ID, worklist.ErrNotFound)
	case errors.As(err, &failed):
		return fmt.Errorf("update task %s from version %d: %w", t.ID, fromVersion, worklist.ErrConflict)
	case err != nil:
		return fmt.Errorf("update task %s: %w", t.ID, err)
	}
	return nil
}

// PutReconciliation implements worklist.Store: one item.
func (s *Store) PutReconciliation(ctx context.Context, r worklist.Reconciliation) error {
	item, err := marshal(r)
	if err != nil {
		return fmt.Errorf("marshal reconciliation %s: %w", r.ID, err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Reconciliations), Item: item}); err != nil {
		return fmt.Errorf("put reconciliation %s: %w", r.ID, err)
	}
	return nil
}

// GetReconciliation implements worklist.Store: one consistent read, so a
// caller polling a job sees the worker's last write.
func (s *Store) GetReconciliation(ctx context.Context, id string) (worklist.Reconciliation, error) {
	key := map[string]types.AttributeValue{"reconciliationId": sAttr(id)}
	return getItem[worklist.Reconciliation](ctx, s, s.tables.Reconciliations, key, "reconciliation "+id, worklist.ErrNotFound)
}

// OpenTaskCounts implements worklist.Store and stats.Source with a Scan of
// the sparse open-task index: it holds only open and revisit tasks, keys
// only, so the statistics read a few bytes per open task and nothing of
// the closed ones.
func (s *Store) OpenTaskCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	p := dynamodb.NewScanPaginator(s.api, &dynamodb.ScanInput{
		TableName:                aws.String(s.tables.Tasks),
		IndexName:                aws.String(TaskOpenIndex),
		ProjectionExpression:     aws.String("#r"),
		ExpressionAttributeNames: map[string]string{"#r": "openReason"},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan open tasks: %w", err)
		}
		for _, item := range page.Items {
			r, ok := item["openReason"].(*types.AttributeValueMemberS)
			if !ok {
				return nil, errors.New("scan open tasks: an item without openReason")
			}
			out[r.Value]++
		}
	}
	return out, nil
}
