package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/worklist"
)

var (
	// bucketLists: list id -> JSON List.
	bucketLists = []byte("lists")
	// bucketListChunks: list id \x00 chunk number (uint32, big-endian) ->
	// encodeChunk(Chunk).
	bucketListChunks = []byte("list_chunks")
	// bucketTasks: task id -> JSON Task.
	bucketTasks = []byte("tasks")
	// bucketTasksByGrid: taskGridKey(Task) -> nothing.
	bucketTasksByGrid = []byte("tasks_by_grid")
	// bucketOpenTaskCounts: reason -> open and revisit tasks (uint64,
	// big-endian), kept in the transactions that change tasks.
	bucketOpenTaskCounts = []byte("task_open_counts")
	// bucketReconciliations: reconciliation id -> JSON Reconciliation.
	bucketReconciliations = []byte("reconciliations")
)

// gridWorkBuckets are created by Open.
var gridWorkBuckets = [][]byte{
	bucketPeople, bucketImports, bucketImportErrors,
	bucketLists, bucketListChunks, bucketTasks, bucketTasksByGrid, bucketOpenTaskCounts, bucketReconciliations,
	bucketAudit, bucketAuditByActor,
}

var _ worklist.Store = (*Store)(nil)

func chunkKey(listID string, n int) []byte {
	return binary.BigEndian.AppendUint32(key(listID, ""), uint32(n))
}

// A chunk row holds the row count, every key's length, the keys end to
// end, the same for the grids, then the sealed evidence: the
// reconciliation reads 800,000 keys of a list without touching the
// evidence, and each block becomes one string that the keys share.
func encodeChunk(c worklist.Chunk) []byte {
	n := len(c.Sealed) + 2*binary.MaxVarintLen32*(1+len(c.Keys))
	for i := range c.Keys {
		n += len(c.Keys[i]) + len(c.Grids[i])
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(c.Keys)))
	for _, block := range [][]string{c.Keys, c.Grids} {
		for _, s := range block {
			b = binary.AppendUvarint(b, uint64(len(s)))
		}
		for _, s := range block {
			b = append(b, s...)
		}
	}
	return append(b, c.Sealed...)
}

var errShortChunk = errors.New("chunk row too short")

// readBlock reads n lengths and the strings they measure.
func readBlock(v []byte, n int) ([]string, []byte, error) {
	lens := make([]int, n)
	total := 0
	for i := range n {
		l, w := binary.Uvarint(v)
		if w <= 0 || l > uint64(len(v)) {
			return nil, nil, errShortChunk
		}
		lens[i], total, v = int(l), total+int(l), v[w:]
	}
	if total > len(v) {
		return nil, nil, errShortChunk
	}
	block := string(v[:total])
	out := make([]string, n)
	at := 0
	for i, l := range lens {
		out[i] = block[at : at+l]
		at += l
	}
	return out, v[total:], nil
}

func decodeChunk(listID string, n int, v []byte, withEvidence bool) (worklist.Chunk, error) {
	c := worklist.Chunk{ListID: listID, N: n}
	rows, w := binary.Uvarint(v)
	if w <= 0 || rows > uint64(len(v)) {
		return c, errShortChunk
	}
	v = v[w:]
	if rows == 0 {
		if withEvidence {
			c.Sealed = cloneOrNil(v)
		}
		return c, nil
	}
	var err error
	if c.Keys, v, err = readBlock(v, int(rows)); err != nil {
		return c, err
	}
	if c.Grids, v, err = readBlock(v, int(rows)); err != nil {
		return c, err
	}
	if withEvidence {
		c.Sealed = cloneOrNil(v)
	}
	return c, nil
}

// PutListChunk implements worklist.Store.
func (s *Store) PutListChunk(ctx context.Context, c worklist.Chunk) error {
	if len(c.Grids) != len(c.Keys) {
		return fmt.Errorf("put chunk %d of list %s: %d grids for %d keys", c.N, c.ListID, len(c.Grids), len(c.Keys))
	}
	row := encodeChunk(c)
	// The uploader writes chunks from several goroutines: Batch gives them
	// one commit and one fsync.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketListChunks).Put(chunkKey(c.ListID, c.N), row)
	})
	if err != nil {
		return fmt.Errorf("put chunk %d of list %s: %w", c.N, c.ListID, err)
	}
	return nil
}

// DeleteListChunks implements worklist.Store in one transaction.
func (s *Store) DeleteListChunks(ctx context.Context, listID string) error {
	prefix := key(listID, "")
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketListChunks).Cursor()
		// Delete moves the cursor to the next key, so the loop does not step.
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete chunks of list %s: %w", listID, err)
	}
	return nil
}

// PutList implements worklist.Store.
func (s *Store) PutList(ctx context.Context, l worklist.List) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketLists), []byte(l.ID), l)
	})
	if err != nil {
		return fmt.Errorf("put list %s: %w", l.ID, err)
	}
	return nil
}

// GetList implements worklist.Store.
func (s *Store) GetList(ctx context.Context, id string) (worklist.List, error) {
	return getJSON[worklist.List](s.db, bucketLists, []byte(id), "list "+id, worklist.ErrNotFound)
}

// Lists implements worklist.Store.
func (s *Store) Lists(ctx context.Context) ([]worklist.List, error) {
	var out []worklist.List
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLists).ForEach(func(k, v []byte) error {
			var l worklist.List
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("decode list %s: %w", k, err)
			}
			out = append(out, l)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b worklist.List) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

// Chunks implements worklist.Store with a seek to the list's chunks,
// which the big-endian numbers keep in order.
func (s *Store) Chunks(ctx context.Context, listID string, withEvidence bool) ([]worklist.Chunk, error) {
	var out []worklist.Chunk
	prefix := key(listID, "")
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPrefixed(tx.Bucket(bucketListChunks), prefix, func(k, v []byte) error {
			if len(k) != len(prefix)+4 {
				return fmt.Errorf("list chunk key %q: %w", k, errShortChunk)
			}
			n := int(binary.BigEndian.Uint32(k[len(prefix):]))
			c, err := decodeChunk(listID, n, v, withEvidence)
			if err != nil {
				return fmt.Errorf("decode chunk %d of list %s: %w", n, listID, err)
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// Chunk implements worklist.Store.
func (s *Store) Chunk(ctx context.Context, listID string, n int) (worklist.Chunk, error) {
	var c worklist.Chunk
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketListChunks).Get(chunkKey(listID, n))
		if v == nil {
			return fmt.Errorf("chunk %d of list %s: %w", n, listID, worklist.ErrNotFound)
		}
		var err error
		if c, err = decodeChunk(listID, n, v, true); err != nil {
			return fmt.Errorf("decode chunk %d of list %s: %w", n, listID, err)
		}
		return nil
	})
	return c, err
}

func taskIsOpen(status string) bool { return status != worklist.TaskClosed }

// taskGridKey orders a grid's tasks: open and revisit ones ("0") before
// closed ones ("1"), each by due date, then id.
func taskGridKey(t worklist.Task) []byte {
	rank := "0"
	if !taskIsOpen(t.Status) {
		rank = "1"
	}
	return key(t.GridCode, rank, t.DueOn, t.ID)
}

// openCounts gathers the changes to the open-task counts of one
// transaction and writes them once.
type openCounts map[string]int

func (c openCounts) add(t worklist.Task, delta int) {
	if taskIsOpen(t.Status) {
		c[t.Reason] += delta
	}
}

func (c openCounts) write(tx *bolt.Tx) error {
	b := tx.Bucket(bucketOpenTaskCounts)
	for reason, delta := range c {
		if delta == 0 {
			continue
		}
		n := delta
		if v := b.Get([]byte(reason)); len(v) == 8 {
			n += int(binary.BigEndian.Uint64(v))
		}
		if n <= 0 {
			if err := b.Delete([]byte(reason)); err != nil {
				return err
			}
			continue
		}
		if err := b.Put([]byte(reason), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
			return err
		}
	}
	return nil
}

// CreateTasks implements worklist.Store in one transaction, in id order.
func (s *Store) CreateTasks(ctx context.Context, tasks []worklist.Task) (int, error) {
	if len(tasks) == 0 {
		return 0, nil
	}
	order := make([]int, len(tasks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(tasks[a].ID, tasks[b].ID) })
	created := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, counts := tx.Bucket(bucketTasks), openCounts{}
		var gridKeys [][]byte
		for _, i := range order {
			t := tasks[i]
			if t.ID == "" {
				return errors.New("a task without an id")
			}
			if b.Get([]byte(t.ID)) != nil {
				continue
			}
			if err := putJSON(b, []byte(t.ID), t); err != nil {
				return err
			}
			gridKeys = append(gridKeys, taskGridKey(t))
			counts.add(t, 1)
		}
		// In key order too: bbolt inserts into a node's sorted keys, and
		// 40,000 keys out of order cost a copy each.
		slices.SortFunc(gridKeys, bytes.Compare)
		byGrid := tx.Bucket(bucketTasksByGrid)
		for _, k := range gridKeys {
			if err := byGrid.Put(k, nil); err != nil {
				return err
			}
		}
		created = len(gridKeys)
		return counts.write(tx)
	})
	if err != nil {
		return 0, fmt.Errorf("create %d tasks: %w", len(tasks), err)
	}
	return created, nil
}

func getTask(tx *bolt.Tx, id string) (worklist.Task, error) {
	var t worklist.Task
	v := tx.Bucket(bucketTasks).Get([]byte(id))
	if v == nil {
		return t, fmt.Errorf("task %s: %w", id, worklist.ErrNotFound)
	}
	if err := json.Unmarshal(v, &t); err != nil {
		return t, fmt.Errorf("decode task %s: %w", id, err)
	}
	return t, nil
}

// GetTask implements worklist.Store.
func (s *Store) GetTask(ctx context.Context, id string) (worklist.Task, error) {
	var t worklist.Task
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		t, err = getTask(tx, id)
		return err
	})
	return t, err
}

// GridTasks implements worklist.Store with a seek in the grid index: its
// keys are in the order the port promises, so a page starts right after
// the position it is given.
func (s *Store) GridTasks(ctx context.Context, q worklist.TaskQuery) (worklist.TaskPage, error) {
	if q.Limit <= 0 {
		return worklist.TaskPage{}, fmt.Errorf("tasks of grid %s: limit %d", q.GridCode, q.Limit)
	}
	prefix := key(q.GridCode, "")
	if !q.WithClosed {
		prefix = key(q.GridCode, "0", "")
	}
	start := prefix
	var after []byte
	if q.After != "" {
		open, dueOn, id, ok := worklist.ParseTaskPosition(q.After)
		if !ok {
			return worklist.TaskPage{}, fmt.Errorf("tasks of grid %s: malformed position %q", q.GridCode, q.After)
		}
		after = taskGridKey(worklist.Task{GridCode: q.GridCode, Status: statusOf(open), DueOn: dueOn, ID: id})
		if bytes.Compare(after, start) > 0 {
			start = after
		}
	}
	var page worklist.TaskPage
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTasksByGrid).Cursor()
		for k, _ := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if after != nil && bytes.Compare(k, after) <= 0 {
				continue
			}
			if len(page.Tasks) == q.Limit {
				page.Next = worklist.TaskPosition(page.Tasks[len(page.Tasks)-1])
				return nil
			}
			id := k[bytes.LastIndexByte(k, 0)+1:]
			t, err := getTask(tx, string(id))
			if err != nil {
				return err
			}
			page.Tasks = append(page.Tasks, t)
		}
		return nil
	})
	if err != nil {
		return worklist.TaskPage{}, fmt.Errorf("tasks of grid %s: %w", q.GridCode, err)
	}
	return page, nil
}

// statusOf is a status of the rank a task position names.
func statusOf(open bool) string {
	if open {
		return worklist.TaskOpen
	}
	return worklist.TaskClosed
}

// UpdateTask implements worklist.Store: the grid index entry and the open
// counts move with the task, in the same transaction.
func (s *Store) UpdateTask(ctx context.Context, t worklist.Task, fromVersion int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		stored, err := getTask(tx, t.ID)
		if err != nil {
			return err
		}
		if stored.Version != fromVersion {
			return fmt.Errorf("version %d, now %d: %w", fromVersion, stored.Version, worklist.ErrConflict)
		}
		byGrid := tx.Bucket(bucketTasksByGrid)
		if err := byGrid.Delete(taskGridKey(stored)); err != nil {
			return err
		}
		if err := byGrid.Put(taskGridKey(t), nil); err != nil {
			return err
		}
		counts := openCounts{}
		counts.add(stored, -1)
		counts.add(t, 1)
		if err := counts.write(tx); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketTasks), []byte(t.ID), t)
	})
	if err != nil {
		return fmt.Errorf("update task %s: %w", t.ID, err)
	}
	return nil
}

// PutReconciliation implements worklist.Store.
func (s *Store) PutReconciliation(ctx context.Context, r worklist.Reconciliation) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketReconciliations), []byte(r.ID), r)
	})
	if err != nil {
		return fmt.Errorf("put reconciliation %s: %w", r.ID, err)
	}
	return nil
}

// GetReconciliation implements worklist.Store.
func (s *Store) GetReconciliation(ctx context.Context, id string) (worklist.Reconciliation, error) {
	return getJSON[worklist.Reconciliation](s.db, bucketReconciliations, []byte(id), "reconciliation "+id, worklist.ErrNotFound)
}

// OpenTaskCounts implements worklist.Store and stats.Source from the
// counts the task writes keep.
func (s *Store) OpenTaskCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpenTaskCounts).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("open task count of %s: %d bytes", k, len(v))
			}
			out[string(k)] = int(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	return out, err
}
