package importjob_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
	"gridcode/shared/registry/importjob"
	"gridcode/shared/report"
	"gridcode/shared/worklist"
)

// listPerson is one good row of a test list.
type listPerson struct{ name, id, phone, community string }

// listPeople are n people, each in a community of the test grids or in
// none (the district pool).
func listPeople(n int) []listPerson {
	communities := []string{"石冲社区", "子绵村", "月亮湾社区"}
	out := make([]listPerson, n)
	for i := range out {
		out[i] = listPerson{
			name:      "核" + string(rune('甲'+i%10)) + fmt.Sprint(i),
			id:        residentID(fmt.Sprintf("440703%04d%02d%02d%03d", 1950+i%40, 1+i%12, 1+i%28, i%1000)),
			phone:     fmt.Sprint(13900000000 + i),
			community: communities[i%len(communities)],
		}
	}
	return out
}

// badListID is the document of the list's refused row: a wrong check digit.
var badListID = func() string {
	ok := residentID("44070319880808123")
	if ok[17] == '0' {
		return ok[:17] + "1"
	}
	return ok[:17] + "0"
}()

// natList is a NAT list as the district's system exports it, GB18030 with
// CRLF: the people, a refused row on line 4 and, on the last line, the
// first person again (counted once).
func natList(t *testing.T, people []listPerson) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString("姓名,证件号码,手机号,社区,地址,检测点,检测时间\r\n")
	for i, p := range people {
		if i == 2 {
			b.WriteString("错号," + badListID + ",13800000000,石冲社区,新塘里1号,石冲小学,2026-11-29 09:00\r\n")
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,新塘里%d号,石冲小学,2026-11-29 09:%02d\r\n", p.name, p.id, p.phone, p.community, i, i%60)
	}
	p := people[0]
	fmt.Fprintf(&b, "%s,%s,%s,%s,新塘里0号,石冲小学,2026-11-29 10:00\r\n", p.name, p.id, p.phone, p.community)
	out, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if utf8.Valid(out) {
		t.Fatal("the list is valid UTF-8: not a GB18030 test")
	}
	return out
}

// withLists lets the job store lists, on the fixed clock.
func (e *env) withLists(store worklist.Store) *env {
	e.job.Lists = &worklist.Uploader{Store: store, Vault: e.vault, Now: func() time.Time { return e.now }}
	return e
}

// gets counts the GETs of key.
func (e *env) gets(key string) int {
	n := 0
	for _, r := range e.s3.Requests() {
		if r.Method == "GET" && r.Key == key {
			n++
		}
	}
	return n
}

func (e *env) lists(t *testing.T) []worklist.List {
	t.Helper()
	ls, err := e.store.Lists(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// A district-wide list of more than one chunk, uploaded to lists/nat/:
// stored as a list named after the file, its rows in chunks, the refused
// row in its error file; the event again stores nothing and reads nothing.
func TestListUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.withLists(e.store)
	people := listPeople(worklist.ChunkRows + 203)
	key := "lists/nat/全员核酸 第3轮 11-29.CSV"
	obj := e.upload(t, key, natList(t, people))
	id := importjob.ListID(e.vault, obj)
	ev := s3Event(t, "ObjectCreated:CompleteMultipartUpload", obj)

	res := e.handleS3(t, ev)
	want := importjob.S3Result{Imports: []importjob.Outcome{}, Lists: []importjob.ListOutcome{{
		ListID: id, Kind: worklist.KindNAT, Status: registry.ImportDone, Rows: len(people), Bad: 1, Chunks: 2,
	}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	l, err := e.store.GetList(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	wantList := worklist.List{
		ID: id, Name: "全员核酸 第3轮 11-29", Kind: worklist.KindNAT, Rows: len(people), Bad: 1, Chunks: 2,
		CreatedAt: e.now.UTC(), CreatedBy: importjob.ListCreatedBy, ExpiresAt: e.now.Add(worklist.DefaultRetention).Unix(),
	}
	if diff := cmp.Diff(wantList, l); diff != "" {
		t.Errorf("stored list (-want +got):\n%s", diff)
	}

	// The chunks hold each person once, in file order, placed in the grid
	// of their community.
	chunks, err := e.store.Chunks(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	var keys, grids []string
	for _, c := range chunks {
		keys, grids = append(keys, c.Keys...), append(grids, c.Grids...)
	}
	var wantKeys, wantGrids []string
	for _, p := range people {
		wantKeys = append(wantKeys, report.PersonLookup(e.vault, idcard.ResidentID, p.id))
		wantGrids = append(wantGrids, map[string]string{"石冲社区": "440703006107-01", "子绵村": "440703103206-01"}[p.community])
	}
	if len(chunks) != 2 || !slices.Equal(keys, wantKeys) || !slices.Equal(grids, wantGrids) {
		t.Errorf("%d chunks, %d keys (equal to the people's: %v), grids as the communities: %v; want 2 chunks of the %d people",
			len(chunks), len(keys), slices.Equal(keys, wantKeys), slices.Equal(grids, wantGrids), len(people))
	}
	// The sealed evidence is what the list said: reconciled against the
	// empty registry, every person is a task showing their row.
	rc := &worklist.Reconciler{Lists: e.store, Registry: e.store, Vault: e.vault, Now: func() time.Time { return e.now }}
	rec, err := rc.Run(context.Background(), id, worklist.RegistryList)
	if err != nil || rec.Created != len(people) {
		t.Fatalf("reconciliation %+v (err %v); want a task for each of the %d people", rec, err, len(people))
	}
	task, err := e.store.GetTask(context.Background(), worklist.TaskID(e.vault, id, worklist.RegistryList, wantKeys[5]))
	if err != nil {
		t.Fatal(err)
	}
	if evidence, err := worklist.OpenEvidence(e.vault, task); err != nil || evidence.Name != people[5].name || evidence.IDNumber != people[5].id || evidence.Phone != people[5].phone {
		t.Errorf("evidence %+v (err %v), want person 5's row %+v", evidence, err, people[5])
	}

	if got, want := e.errorFile(t, id), errorFile(registry.RowError{Line: 4, Field: "idNumber", Reason: idcard.ReasonChecksum}); got != want {
		t.Errorf("error file %q, want %q", got, want)
	}
	// One GET, from the first byte, pinned to the upload the event saw.
	var getReqs []string
	for _, r := range e.s3.Requests() {
		if r.Method == "GET" && r.Key == key {
			getReqs = append(getReqs, fmt.Sprintf("range %q if-match %q", r.Range, r.IfMatch))
		}
	}
	if want := []string{fmt.Sprintf("range %q if-match %q", "", `"`+obj.ETag+`"`)}; !slices.Equal(getReqs, want) {
		t.Errorf("GETs of the list %v, want %v", getReqs, want)
	}
	if n := len(e.queue.Messages()); n != 0 {
		t.Errorf("a stored list queued %d messages", n)
	}

	requests := len(e.s3.Requests())
	e.now = e.now.Add(time.Hour)
	again := e.handleS3(t, ev)
	want.Lists[0].AlreadyEnded = true
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("the event again (-want +got):\n%s", diff)
	}
	if n := len(e.s3.Requests()); n != requests {
		t.Errorf("the event again made %d S3 requests", n-requests)
	}
	if ls := e.lists(t); len(ls) != 1 || !cmp.Equal(ls[0], l) {
		t.Errorf("lists after the event again: %+v, want only %+v", ls, l)
	}
}

// Which uploads the function takes, and for what.
func TestUploadRouting(t *testing.T) {
	t.Parallel()
	list := "姓名,证件号码\n张三," + residentID("44070319850312001") + "\n"
	for _, c := range []struct {
		name, event, key string
		lists            bool // the job stores lists
		imports, stored  int
	}{
		{"a registry file", "ObjectCreated:Put", "registry/people.csv", true, 1, 0},
		{"a list", "ObjectCreated:Put", "lists/nat/nat.csv", true, 0, 1},
		{"a list from Excel", "ObjectCreated:Post", "lists/venue_code/场所码.CSV", true, 0, 1},
		{"a list in a subfolder", "ObjectCreated:Copy", "lists/residence_code/2026/粤居码.csv", true, 0, 1},
		{"a list, no list store", "ObjectCreated:Put", "lists/nat/nat.csv", false, 0, 0},
		{"a list's spreadsheet", "ObjectCreated:Put", "lists/nat/nat.xlsx", true, 0, 0},
		{"a list's deletion", "ObjectRemoved:Delete", "lists/nat/nat.csv", true, 0, 0},
		{"a list's error file", "ObjectCreated:Put", "errors/l123.csv", true, 0, 0},
		{"lists/ not at the start", "ObjectCreated:Put", "old/lists/nat/nat.csv", true, 0, 0},
		{"a folder named like it", "ObjectCreated:Put", "lists-old/nat/nat.csv", true, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false)
			if c.lists {
				e.withLists(e.store)
			}
			body := []byte(list)
			if strings.HasPrefix(c.key, "registry/") {
				body = registryFile()
			}
			obj := e.upload(t, c.key, body)
			res := e.handleS3(t, s3Event(t, c.event, obj))
			ignored := 1 - c.imports - c.stored
			if len(res.Imports) != c.imports || len(res.Lists) != c.stored || res.Ignored != ignored {
				t.Fatalf("result %+v; want %d imports, %d lists, %d ignored", res, c.imports, c.stored, ignored)
			}
			if c.stored == 1 {
				if _, err := e.store.GetList(context.Background(), importjob.ListID(e.vault, obj)); err != nil || res.Lists[0].Status != registry.ImportDone {
					t.Errorf("list %+v not stored (err %v)", res.Lists[0], err)
				}
			}
			if c.imports+c.stored == 0 && (e.gets(c.key) != 0 || len(e.lists(t)) != 0) {
				t.Errorf("an ignored upload was read (%d GETs) or stored (%d lists)", e.gets(c.key), len(e.lists(t)))
			}
		})
	}
}

// A list refused whole: no list, no chunk, an error file saying why, no
// retry. A bad kind or name is refused before the file is read.
func TestListRefused(t *testing.T) {
	t.Parallel()
	good := "姓名,证件号码\n张三," + residentID("44070319850312001") + "\n"
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	file := func(rows ...registry.RowError) string { return errorFile(rows...) }
	for _, c := range []struct {
		name, key, body string
		change          func(e *env, obj importjob.Object)
		reason          string
		errorFile       string
		read            bool // the file is read
	}{
		{name: "unknown kind", key: "lists/covid/nat.csv", body: good, reason: importjob.ReasonUnknownKind,
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "unknown_kind"})},
		{name: "the registry's kind", key: "lists/registry/底册.csv", body: good, reason: importjob.ReasonUnknownKind,
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "unknown_kind"})},
		{name: "no kind folder", key: "lists/nat.csv", body: good, reason: importjob.ReasonUnknownKind,
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "unknown_kind"})},
		{name: "no name", key: "lists/nat/ .csv", body: good, reason: "name_required",
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "name_required"})},
		{name: "no ID column", key: "lists/nat/nat.csv", body: "姓名,手机号\n张三,13800138000\n", reason: "missing_idNumber", read: true,
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "missing_idNumber"})},
		{name: "UTF-16", key: "lists/nat/nat.csv", body: string(utf16), reason: worklist.ReasonEncoding, read: true,
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "encoding"})},
		{name: "no usable row", key: "lists/nat/nat.csv", body: "姓名,证件号码\n错号," + badListID + "\n", reason: worklist.ReasonNoRows, read: true,
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "no_rows"}, registry.RowError{Line: 2, Field: "idNumber", Reason: idcard.ReasonChecksum})},
		{name: "replaced", key: "lists/nat/nat.csv", body: good, reason: importjob.ReasonFileChanged, read: true,
			change: func(e *env, obj importjob.Object) {
				e.s3.Put(bucket, obj.Key, []byte(good+"李四,"+residentID("44070319900101002")+"\n"))
			},
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "changed"})},
		{name: "deleted", key: "lists/nat/nat.csv", body: good, reason: importjob.ReasonFileMissing, read: true,
			change:    func(e *env, obj importjob.Object) { e.s3.Delete(bucket, obj.Key) },
			errorFile: file(registry.RowError{Line: 1, Field: "file", Reason: "missing"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false)
			e.withLists(e.store)
			obj := e.upload(t, c.key, []byte(c.body))
			if c.change != nil {
				c.change(e, obj)
			}
			id := importjob.ListID(e.vault, obj)
			kind, _ := importjob.ListFile(c.key)
			if c.reason == importjob.ReasonUnknownKind {
				kind = "" // the folder is not logged
			}
			res := e.handleS3(t, s3Event(t, "ObjectCreated:Put", obj))
			want := importjob.S3Result{Imports: []importjob.Outcome{}, Lists: []importjob.ListOutcome{{
				ListID: id, Kind: kind, Status: registry.ImportFailed, Reason: c.reason,
			}}}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if got := e.errorFile(t, id); got != c.errorFile {
				t.Errorf("error file %q, want %q", got, c.errorFile)
			}
			if n := e.gets(c.key); (n > 0) != c.read {
				t.Errorf("%d GETs of the file; want it read: %v", n, c.read)
			}
			chunks, err := e.store.Chunks(context.Background(), id, false)
			if err != nil || len(chunks) != 0 || len(e.lists(t)) != 0 {
				t.Errorf("%d chunks (err %v), %d lists; want none", len(chunks), err, len(e.lists(t)))
			}
			if n := len(e.queue.Messages()); n != 0 {
				t.Errorf("a refused list queued %d retries", n)
			}
		})
	}
}

// flakyLists fails the next PutList, once: the upload has written its
// chunks by then.
type flakyLists struct {
	worklist.Store
	mu   sync.Mutex
	fail bool
}

var errFlaky = errors.New("flaky: throttled")

func (s *flakyLists) PutList(ctx context.Context, l worklist.List) error {
	s.mu.Lock()
	fail := s.fail
	s.fail = false
	s.mu.Unlock()
	if fail {
		return errFlaky
	}
	return s.Store.PutList(ctx, l)
}

// An upload that fails for the store deletes its chunks and is handed to
// the queue; the retry stores the list, and a forged retry fails alone.
func TestListRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.withLists(&flakyLists{Store: e.store, fail: true})
	people := listPeople(5)
	obj := e.upload(t, "lists/residence_code/粤居码.csv", natList(t, people))
	id := importjob.ListID(e.vault, obj)

	res := e.handleS3(t, s3Event(t, "ObjectCreated:Put", obj))
	want := importjob.S3Result{Imports: []importjob.Outcome{}, Lists: []importjob.ListOutcome{{ListID: id, Status: registry.ImportRunning, Continued: true}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	if chunks, err := e.store.Chunks(context.Background(), id, false); err != nil || len(chunks) != 0 {
		t.Errorf("the failed upload left %d chunks (err %v)", len(chunks), err)
	}
	if _, ok := e.s3.Object(bucket, importjob.ErrorsKey(id)); ok {
		t.Error("a failed upload wrote an error file")
	}
	msgs := continuations(t, e.queue.Messages())
	if diff := cmp.Diff([]importjob.Continuation{{ImportID: id, Object: obj}}, msgs); diff != "" {
		t.Fatalf("retries (-want +got):\n%s", diff)
	}

	retry := e.queue.Messages()[0].Body
	forged := fmt.Sprintf(`{"importId":"lforged","bucket":%q,"key":%q,"eTag":%q}`, obj.Bucket, obj.Key, obj.ETag)
	asImport := fmt.Sprintf(`{"importId":%q,"bucket":%q,"key":%q,"eTag":%q}`, importjob.ImportID(e.vault, obj), obj.Bucket, obj.Key, obj.ETag)
	resp := e.handleSQS(t, sqsEvent(t, forged, retry, asImport))
	if diff := cmp.Diff([]events.SQSBatchItemFailure{{ItemIdentifier: "m0"}, {ItemIdentifier: "m2"}}, resp.BatchItemFailures); diff != "" {
		t.Errorf("batch item failures (-want +got):\n%s", diff)
	}
	l, err := e.store.GetList(context.Background(), id)
	if err != nil || l.Rows != len(people) || l.Bad != 1 || l.Kind != worklist.KindResidenceCode || l.Name != "粤居码" {
		t.Errorf("list %+v (err %v); want the %d people, 1 bad, residence_code, 粤居码", l, err, len(people))
	}
	if got, want := e.errorFile(t, id), errorFile(registry.RowError{Line: 4, Field: "idNumber", Reason: idcard.ReasonChecksum}); got != want {
		t.Errorf("error file %q, want %q", got, want)
	}
	if len(e.lists(t)) != 1 || len(e.queue.Messages()) != 1 {
		t.Errorf("%d lists, %d messages; want the one list, no other retry", len(e.lists(t)), len(e.queue.Messages()))
	}
}

// An event of two lists in an invocation whose time is up: the first is
// stored all the same, the second waits in the queue for the next
// invocation.
func TestListsWhenTimeIsUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.withLists(e.store)
	first := e.upload(t, "lists/nat/a.csv", natList(t, listPeople(3)))
	second := e.upload(t, "lists/other/b.csv", natList(t, listPeople(4)))
	firstID, secondID := importjob.ListID(e.vault, first), importjob.ListID(e.vault, second)

	res := e.handleS3(t, s3Event(t, "ObjectCreated:Put", first, second))
	want := importjob.S3Result{Imports: []importjob.Outcome{}, Lists: []importjob.ListOutcome{
		{ListID: firstID, Kind: worklist.KindNAT, Status: registry.ImportDone, Rows: 3, Bad: 1, Chunks: 1},
		{ListID: secondID, Status: registry.ImportRunning, Continued: true},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	if e.gets(second.Key) != 0 {
		t.Error("the second list was read in an invocation whose time was up")
	}
	msgs := e.queue.Messages()
	if diff := cmp.Diff([]importjob.Continuation{{ImportID: secondID, Object: second}}, continuations(t, msgs)); diff != "" {
		t.Fatalf("queued (-want +got):\n%s", diff)
	}
	if resp := e.handleSQS(t, sqsEvent(t, msgs[0].Body)); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("the queued list failed: %+v", resp.BatchItemFailures)
	}
	if l, err := e.store.GetList(context.Background(), secondID); err != nil || l.Rows != 4 || l.Kind != worklist.KindOther {
		t.Errorf("second list %+v (err %v); want 4 rows of kind other", l, err)
	}
}

// The list id is the object's version, as the import id is, and another
// id than the import's.
func TestListID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	base := importjob.Object{Bucket: "b", Key: "lists/nat/a.csv", ETag: "e1"}
	ids := map[string]importjob.Object{}
	for _, o := range []importjob.Object{
		base,
		{Bucket: "b", Key: "lists/nat/a.csv", ETag: "e2"},
		{Bucket: "b", Key: "lists/nat/b.csv", ETag: "e1"},
		{Bucket: "b", Key: "lists/other/a.csv", ETag: "e1"},
		{Bucket: "c", Key: "lists/nat/a.csv", ETag: "e1"},
		{Bucket: "b", Key: "lists/nat/a.csv", VersionID: "v1", ETag: "e1"},
	} {
		id := importjob.ListID(e.vault, o)
		if prev, dup := ids[id]; dup {
			t.Errorf("%+v and %+v share the id %s", prev, o, id)
		}
		ids[id] = o
		if !strings.HasPrefix(id, "l") || len(id) != 25 || strings.Contains(id, "a.csv") || id == "l"+importjob.ImportID(e.vault, o)[3:] {
			t.Errorf("id %q: want l + 24 characters of a keyed hash of its own", id)
		}
	}
	same := base // a copy: the id depends on the object's fields only
	if importjob.ListID(e.vault, same) != importjob.ListID(e.vault, base) {
		t.Error("the same object has two ids")
	}
}

func TestListFile(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("长", worklist.MaxListNameRunes+5)
	for _, c := range []struct{ key, kind, name string }{
		{"lists/nat/全员核酸.csv", "nat", "全员核酸"},
		{"lists/venue_code/场所码 11-29.CSV", "venue_code", "场所码 11-29"},
		{"lists/residence_code/2026/11/粤居码.csv", "residence_code", "粤居码"},
		{"lists/nat/  two  spaces .csv", "nat", "two spaces"},
		{"lists/nat.csv", "", "nat"},
		{"lists//x.csv", "", "x"},
		{"lists/other/" + long + ".csv", "other", long[:worklist.MaxListNameRunes*len("长")]},
	} {
		kind, name := importjob.ListFile(c.key)
		if kind != c.kind || name != c.name {
			t.Errorf("ListFile(%q) = %q, %q; want %q, %q", c.key, kind, name, c.kind, c.name)
		}
	}
}
