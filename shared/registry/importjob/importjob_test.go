package importjob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/s3fake"
	"gridcode/infra/sqsfake"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/registry/importjob"
	"gridcode/shared/registry/importjob/sqsqueue"
	"gridcode/shared/registry/s3source"
	"gridcode/shared/report"
	"gridcode/shared/store/embedded"
)

const (
	bucket   = "imports"
	queueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/imports"
)

// people are the good rows of the test file; ids ends with the bad row.
var people = []struct{ name, id, community, address string }{
	{"张三", residentID("44070319850312001"), "石冲社区", "新塘里1号"},
	{"李四", residentID("44070319900101002"), "石冲社区", "新塘里2号"},
	{"王五", residentID("44070319781120003"), "子绵村", "子绵大道3号"},
	{"赵六", residentID("44070320010605004"), "月亮湾社区", "月亮湾路4号"},
}

// registryFile has the four people and, on line 4, a row without a name:
// 5 rows, in 3 chunks of 2.
func registryFile() []byte {
	var b strings.Builder
	b.WriteString("姓名,证件号码,社区,地址,人员类型\n")
	for i, p := range people {
		if i == 2 {
			b.WriteString("," + residentID("44070319700101009") + ",石冲社区,新塘里9号,常住\n")
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,常住\n", p.name, p.id, p.community, p.address)
	}
	return []byte(b.String())
}

// wantErrorFile is the error file of registryFile.
var wantErrorFile = errorFile(registry.RowError{Line: 4, Field: "name", Reason: "required"})

// errorFile is the error file of rows.
func errorFile(rows ...registry.RowError) string {
	var b bytes.Buffer
	if err := registry.WriteErrorsCSV(&b, rows); err != nil {
		panic(err)
	}
	return b.String()
}

func residentID(first17 string) string { return first17 + string(idcard.CheckDigit(first17)) }

// env is a job on the embedded store, a local S3 and a local SQS, on a
// fixed clock.
type env struct {
	job   *importjob.Job
	store *embedded.Store
	s3    *s3fake.Server
	queue *sqsfake.Queue
	vault *pii.Vault
	now   time.Time
}

// newEnv builds the job. pausing makes every invocation's time run out
// after its first chunk.
func newEnv(t *testing.T, pausing bool) *env {
	t.Helper()
	e := &env{now: time.Now()}
	var err error
	if e.vault, err = pii.NewVault(bytes.Repeat([]byte{1}, pii.KeySize), bytes.Repeat([]byte{2}, pii.KeySize)); err != nil {
		t.Fatal(err)
	}
	if e.store, err = embedded.Open(filepath.Join(t.TempDir(), "store.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	grids := []grid.Grid{
		{Code: "440703006107-01", Name: "石冲社区第一网格", Community: "石冲社区", Town: "棠下镇"},
		{Code: "440703103206-01", Name: "子绵村第一网格", Community: "子绵村", Town: "荷塘镇"},
	}
	if err := e.store.PutGrids(context.Background(), grids); err != nil {
		t.Fatal(err)
	}
	e.s3 = s3fake.New(bucket)
	s3srv := httptest.NewServer(e.s3)
	t.Cleanup(s3srv.Close)
	e.queue = &sqsfake.Queue{URL: queueURL}
	sqssrv := httptest.NewServer(e.queue)
	t.Cleanup(sqssrv.Close)
	cfg := aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	}
	// The invocations' deadline is an hour after the fixed clock's time:
	// a margin of two hours has passed it before the first chunk ends.
	margin := time.Duration(0)
	if pausing {
		margin = 2 * time.Hour
	}
	e.job = &importjob.Job{
		Importer: &registry.Importer{People: e.store, Imports: e.store, Vault: e.vault, Now: func() time.Time { return e.now }, ChunkRows: 2},
		Grids:    e.store,
		Objects:  s3source.New(cfg, s3srv.URL),
		Queue:    sqsqueue.New(cfg, sqssrv.URL, queueURL),
		Margin:   margin,
	}
	return e
}

// ctx is an invocation's context: its deadline an hour after the clock.
func (e *env) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), e.now.Add(time.Hour))
	t.Cleanup(cancel)
	return ctx
}

// upload stores body at key and returns its object.
func (e *env) upload(t *testing.T, key string, body []byte) importjob.Object {
	t.Helper()
	etag, err := e.s3.Put(bucket, key, body)
	if err != nil {
		t.Fatal(err)
	}
	return importjob.Object{Bucket: bucket, Key: key, ETag: etag}
}

// s3Event is the JSON of an S3 notification for objs, keys encoded as S3
// encodes them.
func s3Event(t *testing.T, eventName string, objs ...importjob.Object) json.RawMessage {
	t.Helper()
	var ev events.S3Event
	for _, o := range objs {
		var r events.S3EventRecord
		r.EventSource, r.EventName, r.AWSRegion, r.EventVersion = "aws:s3", eventName, "us-east-1", "2.1"
		r.S3.Bucket.Name, r.S3.Bucket.Arn = o.Bucket, "arn:aws:s3:::"+o.Bucket
		r.S3.Object.Key = strings.ReplaceAll(url.QueryEscape(o.Key), "%2F", "/")
		r.S3.Object.ETag, r.S3.Object.VersionID = o.ETag, o.VersionID
		ev.Records = append(ev.Records, r)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sqsEvent delivers bodies as an SQS batch, message ids m0, m1...
func sqsEvent(t *testing.T, bodies ...string) json.RawMessage {
	t.Helper()
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("m%d", i), Body: b, EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:imports", Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) handleS3(t *testing.T, ev json.RawMessage) importjob.S3Result {
	t.Helper()
	out, err := e.job.Handle(e.ctx(t), ev)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := out.(importjob.S3Result)
	if !ok {
		t.Fatalf("an S3 event answered %T", out)
	}
	return res
}

func (e *env) handleSQS(t *testing.T, ev json.RawMessage) events.SQSEventResponse {
	t.Helper()
	out, err := e.job.Handle(e.ctx(t), ev)
	if err != nil {
		t.Fatal(err)
	}
	res, ok := out.(events.SQSEventResponse)
	if !ok {
		t.Fatalf("an SQS event answered %T", out)
	}
	return res
}

// registered is every test person's stored entry.
func (e *env) registered(t *testing.T) map[string]registry.Person {
	t.Helper()
	var keys []string
	for _, p := range people {
		keys = append(keys, report.PersonLookup(e.vault, idcard.ResidentID, p.id))
	}
	got, err := e.store.GetPeople(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *env) errorFile(t *testing.T, id string) string {
	t.Helper()
	b, ok := e.s3.Object(bucket, importjob.ErrorsKey(id))
	if !ok {
		t.Fatalf("no error file for %s; keys %v", id, e.s3.Keys(bucket, ""))
	}
	return string(b)
}

func TestImportInOneInvocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	obj := e.upload(t, "registry/蓬江 人口.csv", registryFile())
	id := importjob.ImportID(e.vault, obj)

	res := e.handleS3(t, s3Event(t, "ObjectCreated:Put", obj))
	want := importjob.S3Result{Imports: []importjob.Outcome{{ImportID: id, Status: registry.ImportDone, Rows: 5, Written: 4, Bad: 1}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	if got := e.registered(t); len(got) != len(people) {
		t.Errorf("%d people in the registry, want %d", len(got), len(people))
	}
	if got := e.errorFile(t, id); got != wantErrorFile {
		t.Errorf("error file %q, want %q", got, wantErrorFile)
	}
	if n := len(e.queue.Messages()); n != 0 {
		t.Errorf("%d continuations for an import that ended", n)
	}
	run, err := e.store.GetImport(context.Background(), id)
	// The base name only, as the local import keeps it.
	if err != nil || run.Source != "蓬江 人口.csv" || run.Status != registry.ImportDone {
		t.Errorf("import record %+v (err %v)", run, err)
	}
}

// An import that runs out of time queues its continuation; each
// continuation goes on from the checkpoint, and the end is the same as an
// import in one go. A second file in the same event is not started once
// the time is up: it is queued too.
func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	first := e.upload(t, "registry/a.csv", registryFile())
	second := e.upload(t, "registry/b.csv", registryFile())
	firstID, secondID := importjob.ImportID(e.vault, first), importjob.ImportID(e.vault, second)

	res := e.handleS3(t, s3Event(t, "ObjectCreated:Put", first, second))
	want := importjob.S3Result{Imports: []importjob.Outcome{
		{ImportID: firstID, Status: registry.ImportRunning, Rows: 2, Written: 2, Continued: true},
		{ImportID: secondID, Status: registry.ImportRunning, Continued: true},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	wantMsgs := []importjob.Continuation{{ImportID: firstID, Object: first}, {ImportID: secondID, Object: second}}
	if diff := cmp.Diff(wantMsgs, continuations(t, e.queue.Messages())); diff != "" {
		t.Fatalf("continuations (-want +got):\n%s", diff)
	}

	// Each continuation does one chunk and queues the next, until the end.
	for delivered := 0; delivered < len(e.queue.Messages()); delivered++ {
		if delivered > 20 {
			t.Fatal("the continuations do not end")
		}
		resp := e.handleSQS(t, sqsEvent(t, e.queue.Messages()[delivered].Body))
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("continuation %d failed: %+v", delivered, resp.BatchItemFailures)
		}
	}
	// first: chunks 2 and 3 after the S3 invocation; second: chunks 1-3.
	if n := len(e.queue.Messages()); n != 2+1+2 {
		t.Errorf("%d continuations in all, want 5", n)
	}
	for _, id := range []string{firstID, secondID} {
		run, err := e.store.GetImport(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != registry.ImportDone || run.Rows != 5 || run.Bad != 1 || run.Written+run.Unchanged != 4 {
			t.Errorf("import %s: %+v; want done, 5 rows, 1 bad, 4 people", id, run)
		}
		if got := e.errorFile(t, id); got != wantErrorFile {
			t.Errorf("error file of %s: %q, want %q", id, got, wantErrorFile)
		}
	}
	if got := e.registered(t); len(got) != len(people) {
		t.Errorf("%d people in the registry, want %d", len(got), len(people))
	}
}

func continuations(t *testing.T, msgs []sqsfake.Message) []importjob.Continuation {
	t.Helper()
	var out []importjob.Continuation
	for _, m := range msgs {
		var c importjob.Continuation
		if err := json.Unmarshal([]byte(m.Body), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// Events for other keys or other events, and an import that has ended, do
// nothing; an ended import whose error file is gone gets it written again.
func TestNothingToDo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	for _, c := range []struct {
		name, event, key string
	}{
		{"outside registry/", "ObjectCreated:Put", "uploads/people.csv"},
		{"an error file", "ObjectCreated:Put", "errors/imp123.csv"},
		{"not a CSV file", "ObjectCreated:Put", "registry/people.xlsx"},
		{"a deletion", "ObjectRemoved:Delete", "registry/people.csv"},
	} {
		obj := e.upload(t, c.key, registryFile())
		res := e.handleS3(t, s3Event(t, c.event, obj))
		if diff := cmp.Diff(importjob.S3Result{Imports: []importjob.Outcome{}, Ignored: 1}, res); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", c.name, diff)
		}
	}
	if got := e.registered(t); len(got) != 0 || len(e.queue.Messages()) != 0 {
		t.Errorf("ignored events stored %d people, queued %d continuations", len(got), len(e.queue.Messages()))
	}

	obj := e.upload(t, "registry/UPPER.CSV", registryFile())
	id := importjob.ImportID(e.vault, obj)
	ev := s3Event(t, "ObjectCreated:CompleteMultipartUpload", obj)
	if res := e.handleS3(t, ev); len(res.Imports) != 1 || res.Imports[0].Status != registry.ImportDone {
		t.Fatalf("a multipart upload of a .CSV file: %+v, want it imported", res)
	}
	run, err := e.store.GetImport(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	putsBefore := puts(e.s3)

	e.now = e.now.Add(time.Hour)
	res := e.handleS3(t, ev)
	want := importjob.S3Result{Imports: []importjob.Outcome{{ImportID: id, Status: registry.ImportDone, Rows: 5, Written: 4, Bad: 1, AlreadyEnded: true}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("the event again (-want +got):\n%s", diff)
	}
	if again, err := e.store.GetImport(context.Background(), id); err != nil || !cmp.Equal(run, again) {
		t.Errorf("the event again changed the import: %+v, was %+v (err %v)", again, run, err)
	}
	if n := puts(e.s3); n != putsBefore {
		t.Errorf("the event again wrote the error file again")
	}

	e.s3.Delete(bucket, importjob.ErrorsKey(id))
	e.handleS3(t, ev)
	if got := e.errorFile(t, id); got != wantErrorFile {
		t.Errorf("rewritten error file %q, want %q", got, wantErrorFile)
	}
}

func puts(s *s3fake.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == "PUT" {
			n++
		}
	}
	return n
}

// A file refused whole, or gone or replaced while it is imported: the
// import fails with the reason in its error file, and is not retried.
func TestFailedImports(t *testing.T) {
	t.Parallel()
	t.Run("header", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, false)
		obj := e.upload(t, "registry/people.csv", []byte("姓名,手机号\n张三,13800138000\n"))
		id := importjob.ImportID(e.vault, obj)
		res := e.handleS3(t, s3Event(t, "ObjectCreated:Put", obj))
		if len(res.Imports) != 1 || res.Imports[0].Status != registry.ImportFailed || res.Imports[0].Continued {
			t.Fatalf("result %+v; want the import failed, not continued", res)
		}
		var wantRows []registry.RowError
		for _, col := range []string{"idNumber", "community", "address", "residentType"} {
			wantRows = append(wantRows, registry.RowError{Line: 1, Field: "file", Reason: "missing_" + col})
		}
		want := errorFile(wantRows...)
		if got := e.errorFile(t, id); got != want {
			t.Errorf("error file %q, want %q", got, want)
		}
		if n := len(e.queue.Messages()); n != 0 {
			t.Errorf("a failed import queued %d continuations", n)
		}
	})

	for _, c := range []struct {
		name   string
		change func(e *env, obj importjob.Object)
		reason string
	}{
		{"replaced", func(e *env, obj importjob.Object) {
			e.s3.Put(bucket, obj.Key, append(registryFile(), "孙七,"+residentID("44070319700101010")+",子绵村,子绵大道7号,常住\n"...))
		}, importjob.ReasonFileChanged},
		{"deleted", func(e *env, obj importjob.Object) { e.s3.Delete(bucket, obj.Key) }, importjob.ReasonFileMissing},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, true)
			obj := e.upload(t, "registry/people.csv", registryFile())
			id := importjob.ImportID(e.vault, obj)
			e.handleS3(t, s3Event(t, "ObjectCreated:Put", obj))
			msgs := e.queue.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d continuations after the first chunk, want 1", len(msgs))
			}
			c.change(e, obj)
			resp := e.handleSQS(t, sqsEvent(t, msgs[0].Body))
			if len(resp.BatchItemFailures) != 0 {
				t.Errorf("batch item failures %+v: a file that is gone will not come back", resp.BatchItemFailures)
			}
			run, err := e.store.GetImport(context.Background(), id)
			if err != nil || run.Status != registry.ImportFailed || run.Reason != c.reason || run.Rows != 2 || run.FinishedAt.IsZero() {
				t.Errorf("import %+v (err %v); want failed %s at its checkpoint of 2 rows", run, err, c.reason)
			}
			want := errorFile(registry.RowError{Line: run.Line + 1, Field: "file", Reason: c.reason})
			if got := e.errorFile(t, id); got != want {
				t.Errorf("error file %q, want %q", got, want)
			}
			if n := len(e.queue.Messages()); n != 1 {
				t.Errorf("%d continuations, want no more after the failure", n)
			}
		})
	}
}

// A continuation this function did not send fails alone in its batch and
// changes nothing.
func TestBadContinuations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	obj := e.upload(t, "registry/people.csv", registryFile())
	good, err := json.Marshal(importjob.Continuation{ImportID: importjob.ImportID(e.vault, obj), Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	other := e.upload(t, "elsewhere/people.csv", registryFile())
	bodies := []string{
		string(good),
		`not json`,
		`{"importId":"impx","bucket":"imports","key":"registry/people.csv","eTag":"` + obj.ETag + `"}`,
		strings.Replace(string(good), `"bucket"`, `"extra":1,"bucket"`, 1),
		fmt.Sprintf(`{"importId":%q,"bucket":"imports","key":"elsewhere/people.csv","eTag":%q}`, importjob.ImportID(e.vault, other), other.ETag),
		`{}`,
	}
	resp := e.handleSQS(t, sqsEvent(t, bodies...))
	want := []events.SQSBatchItemFailure{{ItemIdentifier: "m1"}, {ItemIdentifier: "m2"}, {ItemIdentifier: "m3"}, {ItemIdentifier: "m4"}, {ItemIdentifier: "m5"}}
	if diff := cmp.Diff(want, resp.BatchItemFailures); diff != "" {
		t.Errorf("batch item failures (-want +got):\n%s", diff)
	}
	if got := e.registered(t); len(got) != len(people) {
		t.Errorf("the good continuation imported %d people, want %d", len(got), len(people))
	}
	if _, err := e.store.GetImport(context.Background(), importjob.ImportID(e.vault, other)); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("a continuation outside registry/ started an import (err %v)", err)
	}
}

// A store that fails: the S3 invocation hands the import to the queue
// (with a delay) instead of failing into S3's silent retries; a
// continuation is reported as a batch item failure, for SQS to redeliver.
func TestStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	obj := e.upload(t, "registry/people.csv", registryFile())
	id := importjob.ImportID(e.vault, obj)
	e.store.Close()

	res := e.handleS3(t, s3Event(t, "ObjectCreated:Put", obj))
	want := importjob.S3Result{Imports: []importjob.Outcome{{ImportID: id, Status: registry.ImportRunning, Continued: true}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	msgs := continuations(t, e.queue.Messages())
	if diff := cmp.Diff([]importjob.Continuation{{ImportID: id, Object: obj}}, msgs); diff != "" {
		t.Fatalf("continuations (-want +got):\n%s", diff)
	}
	resp := e.handleSQS(t, sqsEvent(t, e.queue.Messages()[0].Body))
	if diff := cmp.Diff([]events.SQSBatchItemFailure{{ItemIdentifier: "m0"}}, resp.BatchItemFailures); diff != "" {
		t.Errorf("batch item failures (-want +got):\n%s", diff)
	}
}

func TestHandleRefusesOtherEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	for _, c := range []struct{ name, raw string }{
		{"not JSON", `[`},
		{"no records", `{"Records":[]}`},
		{"another source", `{"Records":[{"eventSource":"aws:dynamodb"}]}`},
		{"a scheduled event", `{"detail-type":"Scheduled Event","time":"2026-11-29T06:00:00Z"}`},
	} {
		if _, err := e.job.Handle(e.ctx(t), json.RawMessage(c.raw)); err == nil {
			t.Errorf("%s: handled", c.name)
		}
	}
}

// The import id is the object's version: the same upload delivered twice
// is one import, another upload of the key another.
func TestImportID(t *testing.T) {
	t.Parallel()
	v, err := pii.NewVault(bytes.Repeat([]byte{1}, pii.KeySize), bytes.Repeat([]byte{2}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	base := importjob.Object{Bucket: "b", Key: "registry/a.csv", ETag: "e1"}
	ids := map[string]importjob.Object{}
	for _, o := range []importjob.Object{
		base,
		{Bucket: "b", Key: "registry/a.csv", ETag: "e2"},
		{Bucket: "b", Key: "registry/b.csv", ETag: "e1"},
		{Bucket: "c", Key: "registry/a.csv", ETag: "e1"},
		{Bucket: "b", Key: "registry/a.csv", VersionID: "v1", ETag: "e1"},
	} {
		id := importjob.ImportID(v, o)
		if prev, dup := ids[id]; dup {
			t.Errorf("%+v and %+v share the id %s", prev, o, id)
		}
		ids[id] = o
		if !strings.HasPrefix(id, "imp") || len(id) != 27 || strings.Contains(id, "a.csv") {
			t.Errorf("id %q: want imp + 24 characters of a keyed hash", id)
		}
	}
	again := base
	if importjob.ImportID(v, again) != importjob.ImportID(v, base) {
		t.Error("the same object has two ids")
	}
}

// interleaved is the store with a hook run once, the next time an import
// is read, after the read: another invocation then runs between this
// one's read of the checkpoint and its first write.
type interleaved struct {
	*embedded.Store
	mu     sync.Mutex
	before func()
}

func (s *interleaved) GetImport(ctx context.Context, id string) (registry.Import, error) {
	run, err := s.Store.GetImport(ctx, id)
	s.mu.Lock()
	hook := s.before
	s.before = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return run, err
}

// S3 delivers an event again while the import's continuation runs: both
// invocations read the same checkpoint. The one that writes second stops
// quietly (reported as a success, nothing queued) and the import goes on
// as one chain of continuations, each row counted once.
func TestOverlappingInvocations(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// late is the invocation that reads the checkpoint first and
		// writes second; early runs in between.
		lateIsS3 bool
	}{
		{"the continuation is late", false},
		{"the redelivered event is late", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, true)
			store := &interleaved{Store: e.store}
			e.job.Importer.Imports = store
			obj := e.upload(t, "registry/people.csv", registryFile())
			id := importjob.ImportID(e.vault, obj)
			event := s3Event(t, "ObjectCreated:Put", obj)
			e.handleS3(t, event) // the first chunk; continuation 0 queued
			if n := len(e.queue.Messages()); n != 1 {
				t.Fatalf("%d continuations after the first chunk, want 1", n)
			}
			continuation := sqsEvent(t, e.queue.Messages()[0].Body)

			late, early := func() any { return e.handleSQS(t, continuation) }, func() any { return e.handleS3(t, event) }
			if c.lateIsS3 {
				late, early = early, late
			}
			store.mu.Lock()
			store.before = func() { early() }
			store.mu.Unlock()
			switch got := late().(type) {
			case events.SQSEventResponse:
				if len(got.BatchItemFailures) != 0 {
					t.Errorf("the late continuation failed: %+v; want it taken as done", got.BatchItemFailures)
				}
			case importjob.S3Result:
				want := importjob.S3Result{Imports: []importjob.Outcome{{ImportID: id, Status: registry.ImportRunning, Rows: 2, Written: 2, Overlapped: true}}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("the late event (-want +got):\n%s", diff)
				}
			}
			// Only the early invocation queued a continuation.
			if n := len(e.queue.Messages()); n != 2 {
				t.Fatalf("%d continuations after the overlap, want 2 (the first and the early invocation's)", n)
			}
			for delivered := 1; delivered < len(e.queue.Messages()); delivered++ {
				if delivered > 20 {
					t.Fatal("the continuations do not end")
				}
				if resp := e.handleSQS(t, sqsEvent(t, e.queue.Messages()[delivered].Body)); len(resp.BatchItemFailures) != 0 {
					t.Fatalf("continuation %d failed: %+v", delivered, resp.BatchItemFailures)
				}
			}
			run, err := e.store.GetImport(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != registry.ImportDone || run.Rows != 5 || run.Bad != 1 || run.Written+run.Unchanged != 4 {
				t.Errorf("import %+v; want done, 5 rows, 1 bad, 4 people", run)
			}
			if got := e.errorFile(t, id); got != wantErrorFile {
				t.Errorf("error file %q, want %q", got, wantErrorFile)
			}
			if got := e.registered(t); len(got) != len(people) {
				t.Errorf("%d people in the registry, want %d", len(got), len(people))
			}
		})
	}
}

// Two deliveries of one event find no import and both start it: the
// second to write its start stops quietly.
func TestOverlappingStarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	store := &interleaved{Store: e.store}
	e.job.Importer.Imports = store
	obj := e.upload(t, "registry/people.csv", registryFile())
	id := importjob.ImportID(e.vault, obj)
	event := s3Event(t, "ObjectCreated:Put", obj)
	var early importjob.S3Result
	store.before = func() { early = e.handleS3(t, event) }
	late := e.handleS3(t, event)
	want := importjob.S3Result{Imports: []importjob.Outcome{{ImportID: id, Status: registry.ImportDone, Rows: 5, Written: 4, Bad: 1}}}
	if diff := cmp.Diff(want, early); diff != "" {
		t.Errorf("the early delivery (-want +got):\n%s", diff)
	}
	want = importjob.S3Result{Imports: []importjob.Outcome{{ImportID: id, Status: registry.ImportRunning, Overlapped: true}}}
	if diff := cmp.Diff(want, late); diff != "" {
		t.Errorf("the late delivery (-want +got):\n%s", diff)
	}
	if n := len(e.queue.Messages()); n != 0 {
		t.Errorf("%d continuations, want none", n)
	}
	run, err := e.store.GetImport(context.Background(), id)
	if err != nil || run.Status != registry.ImportDone || run.Rows != 5 {
		t.Errorf("import %+v (%v); want done, 5 rows", run, err)
	}
}
