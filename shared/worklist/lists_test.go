package worklist_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/fields"
	"gridcode/shared/registry"
	"gridcode/shared/worklist"
)

func TestUploadStoresRowsAndReportsBadOnes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id1, id2, id3 := residentID(1), residentID(2), residentID(3)
	badChecksum := id3[:17] + map[bool]string{true: "0", false: "1"}[id3[17] != '0']
	csv := "\ufeff姓名,证件类型,证件号码,手机号,社区,地址,检测点,检测时间\r\n" +
		"张三,居民身份证," + id1 + ",+86 138-0013-8000,石冲,新塘里96号,石冲采样点,2026-11-29 08:00\r\n" +
		"李四,," + badChecksum + ",,石冲社区,,,\r\n" + // line 3: checksum
		"王五,身份证,4.40703E+17,,,,,\r\n" + // line 4: Excel ate the digits
		"赵六,驾驶证," + id2 + ",,,,,\r\n" + // line 5: unknown document
		"\r\n" + // a blank line is skipped, but counts as a line
		"张三(again),," + id1 + ",13900139000,白沙社区,,,\r\n" + // line 7: the same person: first row kept
		"钱七,," + id2 + ",010-12345678,火星社区,\" 某街\u202e  1号 \",,\r\n" + // line 8: a landline is left out; no grid; the address cleaned
		"孙八,," + id3 + ",,白沙社区,,,\r\n" // line 9

	l, rowErrs, err := f.uploader().Upload(context.Background(), " 11月29日 全员核酸 ", worklist.KindNAT, "office", strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	want := worklist.List{ID: l.ID, Name: "11月29日 全员核酸", Kind: worklist.KindNAT, Rows: 3, Bad: 3, Chunks: 1,
		CreatedAt: monday, CreatedBy: "office", ExpiresAt: monday.Add(worklist.DefaultRetention).Unix()}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(l.ID, "l") {
		t.Errorf("list id %q: want an l prefix", l.ID)
	}
	wantErrs := []registry.RowError{
		{Line: 3, Field: "idNumber", Reason: "checksum"},
		{Line: 4, Field: "idNumber", Reason: "excel_number"},
		{Line: 5, Field: "idType", Reason: "unknown"},
	}
	if diff := cmp.Diff(wantErrs, rowErrs); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}
	stored, err := f.store.GetList(context.Background(), l.ID)
	if err != nil || stored.Rows != 3 {
		t.Fatalf("stored list %+v, %v", stored, err)
	}

	chunks, err := f.store.Chunks(context.Background(), l.ID, true)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("chunks %d, %v", len(chunks), err)
	}
	c := chunks[0]
	if diff := cmp.Diff([]string{f.key(id1), f.key(id2), f.key(id3)}, c.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	newTang, _ := f.grids.ForPlace("", "石冲社区", "新塘里96号")
	if diff := cmp.Diff([]string{newTang, "", baisha.Code}, c.Grids); diff != "" {
		t.Errorf("grid hints (-want +got):\n%s", diff)
	}
	ev, err := worklist.OpenChunk(f.vault, c)
	if err != nil {
		t.Fatal(err)
	}
	wantEv := []worklist.Evidence{
		{Name: "张三", IDType: "resident_id", IDNumber: id1, Phone: "13800138000", Community: "石冲", Address: "新塘里96号", Place: "石冲采样点", Seen: "2026-11-29 08:00"},
		{Name: "钱七", IDType: "resident_id", IDNumber: id2, Community: "火星社区", Address: "某街 1号"},
		{Name: "孙八", IDType: "resident_id", IDNumber: id3, Community: "白沙社区"},
	}
	if diff := cmp.Diff(wantEv, ev); diff != "" {
		t.Errorf("evidence (-want +got):\n%s", diff)
	}
	if bytes.Contains(c.Sealed, []byte("张三")) || bytes.Contains(c.Sealed, []byte(id1)) {
		t.Error("the chunk's evidence is stored in the clear")
	}
	// The evidence is bound to its chunk: it does not open as another one.
	c.N = 1
	if _, err := worklist.OpenChunk(f.vault, c); err == nil {
		t.Error("a chunk's evidence opened under another chunk number")
	}
}

func TestUploadGB18030WithTabs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	text := "姓名\t身份证号码\t村居\r\n𠮷田花子\t" + residentID(10) + "\t白沙\r\n陈大文\t" + residentID(11) + "\t\r\n"
	gb, err := simplifiedchinese.GB18030.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	l, rowErrs, err := f.uploader().Upload(context.Background(), "粤居码", worklist.KindResidenceCode, "office", strings.NewReader(gb))
	if err != nil || len(rowErrs) > 0 {
		t.Fatalf("upload: %v, row errors %v", err, rowErrs)
	}
	c, err := f.store.Chunk(context.Background(), l.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := worklist.OpenChunk(f.vault, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 || ev[0].Name != "𠮷田花子" || ev[0].Community != "白沙" || ev[1].Name != "陈大文" {
		t.Errorf("evidence %+v: want the names decoded from GB18030", ev)
	}
	if diff := cmp.Diff([]string{baisha.Code, ""}, c.Grids); diff != "" {
		t.Errorf("grid hints (-want +got):\n%s", diff)
	}
}

func TestUploadChunks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const people = 2*worklist.ChunkRows + 17
	var b strings.Builder
	b.WriteString("证件号码\n")
	for i := range people {
		b.WriteString(residentID(i) + "\n")
	}
	l := f.upload(t, worklist.KindVenueCode, b.String())
	if l.Rows != people || l.Chunks != 3 {
		t.Fatalf("list rows %d chunks %d, want %d rows in 3 chunks", l.Rows, l.Chunks, people)
	}
	chunks, err := f.store.Chunks(context.Background(), l.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for i, c := range chunks {
		sizes = append(sizes, len(c.Keys))
		if c.N != i || len(c.Grids) != len(c.Keys) || len(c.Sealed) != 0 {
			t.Errorf("chunk %d: n %d, %d grids for %d keys, %d sealed bytes without evidence", i, c.N, len(c.Grids), len(c.Keys), len(c.Sealed))
		}
	}
	if diff := cmp.Diff([]int{worklist.ChunkRows, worklist.ChunkRows, 17}, sizes); diff != "" {
		t.Errorf("chunk sizes (-want +got):\n%s", diff)
	}
	last, err := f.store.Chunk(context.Background(), l.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := worklist.OpenChunk(f.vault, last)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ev[16].IDNumber, residentID(people-1); got != want {
		t.Errorf("last row's document %s, want %s", got, want)
	}
}

func TestUploadRefuses(t *testing.T) {
	t.Parallel()
	good := "证件号码\n" + residentID(1) + "\n"
	utf16 := []byte{0xff, 0xfe, '1', 0, ',', 0, '2', 0, '\n', 0}
	for _, tc := range []struct {
		name, listName, kind, body string
		want                       []fields.Problem
		wantRowErrs                int
	}{
		{"no name, unknown kind", "", "census", good, []fields.Problem{{Field: "name", Reason: "required"}, {Field: "kind", Reason: "unknown"}}, 0},
		{"no kind", "x", "", good, []fields.Problem{{Field: "kind", Reason: "required"}}, 0},
		{"the registry is imported, not uploaded", "x", worklist.KindRegistry, good, []fields.Problem{{Field: "kind", Reason: "unknown"}}, 0},
		{"name too long", strings.Repeat("名", worklist.MaxListNameRunes+1), worklist.KindNAT, good, []fields.Problem{{Field: "name", Reason: "too_long"}}, 0},
		{"no document column", "x", worklist.KindNAT, "姓名,手机号\n张三,13800138000\n", []fields.Problem{{Field: "header", Reason: "missing_idNumber"}}, 0},
		{"empty file", "x", worklist.KindNAT, "", []fields.Problem{{Field: "header", Reason: "required"}}, 0},
		{"header only", "x", worklist.KindNAT, "证件号码\n", []fields.Problem{{Field: "file", Reason: worklist.ReasonNoRows}}, 0},
		{"every row bad", "x", worklist.KindNAT, "证件号码\n123\n440703\n", []fields.Problem{{Field: "file", Reason: worklist.ReasonNoRows}}, 2},
		{"UTF-16", "x", worklist.KindNAT, string(utf16), nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			_, rowErrs, err := f.uploader().Upload(context.Background(), tc.listName, tc.kind, "office", strings.NewReader(tc.body))
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != worklist.CodeInvalidList {
				t.Fatalf("error %v: want a *fields.Error %s", err, worklist.CodeInvalidList)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, fe.Problems); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
			}
			if len(rowErrs) != tc.wantRowErrs {
				t.Errorf("%d row errors, want %d", len(rowErrs), tc.wantRowErrs)
			}
			if lists, _ := f.store.Lists(context.Background()); len(lists) != 0 {
				t.Errorf("a refused upload stored %d lists", len(lists))
			}
		})
	}
}

func TestUploadReportsAtMostMaxRowErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var b strings.Builder
	b.WriteString("证件号码\n" + residentID(1) + "\n")
	const bad = worklist.MaxRowErrors + 5
	for i := range bad {
		fmt.Fprintf(&b, "bad%d\n", i)
	}
	l, rowErrs, err := f.uploader().Upload(context.Background(), "x", worklist.KindOther, "office", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if l.Bad != bad || l.Rows != 1 || len(rowErrs) != worklist.MaxRowErrors {
		t.Errorf("bad %d rows %d, %d row errors; want %d bad, 1 row, %d errors", l.Bad, l.Rows, len(rowErrs), bad, worklist.MaxRowErrors)
	}
	if rowErrs[0].Line != 3 {
		t.Errorf("first row error on line %d, want 3", rowErrs[0].Line)
	}
}

func TestUploadCarriesOnPastABrokenLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.uploader()
	u.Retention = 7 * 24 * time.Hour
	csv := "证件号码,姓名\n" + residentID(1) + ",a\"b\n" + residentID(2) + ",\"多行\n姓名\"\n" + residentID(3) + ",丙\n"
	l, rowErrs, err := u.Upload(context.Background(), "x", worklist.KindOther, "office", strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]registry.RowError{{Line: 2, Field: "row", Reason: "malformed"}}, rowErrs); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}
	if l.Rows != 2 || l.Bad != 1 || l.ExpiresAt != monday.Add(7*24*time.Hour).Unix() {
		t.Errorf("list %+v: want 2 rows, 1 bad, kept 7 days", l)
	}
	c, err := f.store.Chunk(context.Background(), l.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := worklist.OpenChunk(f.vault, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 2 || ev[0].Name != "多行 姓名" || ev[1].Name != "丙" {
		t.Errorf("evidence %+v", ev)
	}
}

// chunkWatch is the store as the uploader sees it, telling the test which
// chunks it stored, and failing where a test asks it to.
type chunkWatch struct {
	stores
	mu      sync.Mutex
	lists   map[string]bool // the lists chunks were stored for
	stored  int
	reached chan struct{} // closed once `wait` chunks are stored
	wait    int
	// failChunk fails the chunk of that number (-1: none), once chunk 0
	// is stored, so that the failure leaves a chunk behind.
	failChunk int
	failList  bool
	chunk0    chan struct{}
}

var errStoreDown = errors.New("store down")

func newChunkWatch(s stores, wait, failChunk int, failList bool) *chunkWatch {
	return &chunkWatch{stores: s, lists: map[string]bool{}, reached: make(chan struct{}), wait: wait,
		failChunk: failChunk, failList: failList, chunk0: make(chan struct{})}
}

func (w *chunkWatch) PutListChunk(ctx context.Context, c worklist.Chunk) error {
	if c.N == w.failChunk {
		<-w.chunk0
		return errStoreDown
	}
	if err := w.stores.PutListChunk(ctx, c); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lists[c.ListID] = true
	if c.N == 0 {
		close(w.chunk0)
	}
	if w.stored++; w.stored == w.wait {
		close(w.reached)
	}
	return nil
}

func (w *chunkWatch) PutList(ctx context.Context, l worklist.List) error {
	if w.failList {
		return errStoreDown
	}
	return w.stores.PutList(ctx, l)
}

// stallingReader gives text, then waits for reached and ends as end says.
type stallingReader struct {
	text    *strings.Reader
	reached <-chan struct{}
	end     func() error
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.text.Len() > 0 {
		return r.text.Read(p)
	}
	<-r.reached
	return 0, r.end()
}

// TestUploadFailedLeavesNoChunks: whatever stops an upload, the chunks it
// stored before are deleted, and no list is made.
func TestUploadFailedLeavesNoChunks(t *testing.T) {
	t.Parallel()
	var rows strings.Builder
	rows.WriteString("姓名,证件号码\n")
	for i := range 2 * worklist.ChunkRows {
		fmt.Fprintf(&rows, "居民%d,%s\n", i, residentID(i))
	}
	// A row cut short: the reader stalls inside it, so both chunks before
	// it are complete and stored while it waits.
	const partial = "居民,44070"
	tooBig := &http.MaxBytesError{Limit: 100}

	for _, tc := range []struct {
		name      string
		wait      int // chunks stored before the reader ends
		end       func(cancel context.CancelFunc) error
		failChunk int
		failList  bool
		want      func(err error) bool
	}{
		{"the body is too large", 2, func(context.CancelFunc) error { return tooBig }, -1, false,
			func(err error) bool { var e *http.MaxBytesError; return errors.As(err, &e) }},
		{"the client goes away", 2, func(cancel context.CancelFunc) error { cancel(); return io.ErrUnexpectedEOF }, -1, false,
			func(err error) bool { return err != nil }},
		{"the caller's context ends", 2, func(cancel context.CancelFunc) error { cancel(); return io.EOF }, -1, false,
			func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"a chunk is not stored", 1, func(context.CancelFunc) error { return io.EOF }, 1, false,
			func(err error) bool { return errors.Is(err, errStoreDown) }},
		{"the list is not stored", 2, func(context.CancelFunc) error { return io.EOF }, -1, true,
			func(err error) bool { return errors.Is(err, errStoreDown) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			watch := newChunkWatch(f.store, tc.wait, tc.failChunk, tc.failList)
			u := f.uploader()
			u.Store = watch
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			body := &stallingReader{text: strings.NewReader(rows.String() + partial), reached: watch.reached,
				end: func() error { return tc.end(cancel) }}
			if tc.failList {
				body.text = strings.NewReader(rows.String())
			}
			_, _, err := u.Upload(ctx, "x", worklist.KindNAT, "office", body)
			if !tc.want(err) {
				t.Fatalf("error %v", err)
			}
			watch.mu.Lock()
			defer watch.mu.Unlock()
			if len(watch.lists) != 1 || watch.stored < 1 {
				t.Fatalf("chunks stored for %d lists, %d chunks: the test needs one stored", len(watch.lists), watch.stored)
			}
			for id := range watch.lists {
				left, err := f.store.Chunks(context.Background(), id, true)
				if err != nil || len(left) != 0 {
					t.Errorf("list %s: %d chunks left after the failed upload, %v", id, len(left), err)
				}
			}
			if lists, _ := f.store.Lists(context.Background()); len(lists) != 0 {
				t.Errorf("a failed upload stored %d lists", len(lists))
			}
		})
	}
}
