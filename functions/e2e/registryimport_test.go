package e2e_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gridcode/infra/dynamolocal"
	"gridcode/infra/lambdarie"
	"gridcode/infra/s3fake"
	"gridcode/infra/sqsfake"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/registry/importjob"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

// regRow is one line of the registry file the district office uploads.
// Names, ID numbers, phones and addresses are personal data: sealed in the
// tables, never in a log or the error file.
type regRow struct {
	name, idType, idNumber, phone, town, community, address, residentType, landlordPhone string
	// For a row the import must refuse: the field and the reason.
	badField, badReason string
}

// regGrids are the grids people are placed in: 石冲社区 has two, so the
// street picks one; a community with no grid goes to the district pool.
var regGrids = []grid.Grid{
	{Code: "440703006107-01", Name: "石冲社区第一网格", Community: "石冲社区", Town: "棠下镇"},
	{Code: "440703006107-02", Name: "石冲社区第二网格", Community: "石冲社区", Town: "棠下镇"},
	{Code: "440703103206-01", Name: "子绵村第一网格", Community: "子绵村", Town: "荷塘镇"},
}

const (
	regGoodRows = 300
	regChunk    = 100 // CHUNK_ROWS of both functions
)

// registryRows are 300 good rows, with a bad row of each kind among them.
func registryRows() []regRow {
	surnames := []string{"张", "王", "李", "赵", "陈", "刘", "黄", "周", "吴", "梁"}
	given := []string{"伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "桂英", "建华", "志强", "秀兰", "海燕", "晓明", "嘉欣", "子轩", "梓涵", "浩然", "雨桐", "俊杰"}
	places := []struct{ town, community, street string }{
		{"棠下镇", "石冲社区", "新塘里"},
		{"棠下镇", "石冲社区", "长庚里"},
		{"", "石冲", "石冲路"}, // the short name and no town: still 石冲社区
		{"荷塘镇", "子绵村", "子绵大道"},
		{"环市街道", "月亮湾社区", "月亮湾路"}, // no grid: the pool
	}
	types := []string{"常住", "流动", "外来", "常住人口", "floating"}
	var rows []regRow
	for i := range regGoodRows {
		p := places[i%len(places)]
		r := regRow{
			name:         surnames[i%len(surnames)] + given[(i/len(surnames))%len(given)],
			idNumber:     residentID(fmt.Sprintf("440703%04d%02d%02d%03d", 1950+i%55, 1+i%12, 1+i%28, i)),
			town:         p.town,
			community:    p.community,
			address:      fmt.Sprintf("%s%d号", p.street, 1+i%97),
			residentType: types[i%len(types)],
		}
		if i%3 != 0 {
			r.phone = strconv.Itoa(13900000000 + i)
		}
		if r.residentType == "流动" || r.residentType == "floating" {
			r.landlordPhone = strconv.Itoa(13800000000 + i)
		}
		switch i % 50 {
		case 7:
			r.idType, r.idNumber = "护照", fmt.Sprintf("E%08d", 10000000+i)
		case 11:
			r.idType = "居民身份证"
		}
		rows = append(rows, r)
	}
	ok := residentID("44070319880808123")
	wrongCheck := ok[:17] + gcOtherCheck(ok[17])
	bad := []regRow{
		{idNumber: residentID("44070319700101901"), community: "石冲社区", address: "新塘里5号", residentType: "常住", badField: "name", badReason: "required"},
		{name: "郑一", idNumber: wrongCheck, community: "石冲社区", address: "新塘里6号", residentType: "常住", badField: "idNumber", badReason: idcard.ReasonChecksum},
		{name: "郑二", idNumber: "4.40703E+17", community: "石冲社区", address: "新塘里7号", residentType: "常住", badField: "idNumber", badReason: registry.ReasonExcelNumber},
		{name: "郑三", idNumber: residentID("44070319700101903"), phone: "1390013", community: "子绵村", address: "子绵大道8号", residentType: "流动", badField: "phone", badReason: registry.ReasonInvalid},
		{name: "郑四", idNumber: residentID("44070319700101904"), community: "子绵村", address: "子绵大道9号", residentType: "游客", badField: "residentType", badReason: registry.ReasonUnknown},
		{name: "郑五", idNumber: "440703700101905", community: "石冲社区", address: "长庚里10号", residentType: "外来", badField: "idNumber", badReason: idcard.ReasonFirstGeneration},
		{name: "郑六", idNumber: residentID("44070319700101906"), community: "石冲社区", residentType: "常住", badField: "address", badReason: "required"},
	}
	// Spread the bad rows over the chunks, the last one in the last chunk.
	for i, b := range bad {
		at := 20 + i*45
		rows = slices.Insert(rows, at, b)
	}
	return rows
}

// registryCSV is the file as Excel saves it: CRLF, the header in Chinese.
func registryCSV(rows []regRow) string {
	var b strings.Builder
	b.WriteString("姓名,证件类型,证件号码,手机号,镇街,社区,地址,人员类型,房东电话\r\n")
	for _, r := range rows {
		b.WriteString(strings.Join([]string{r.name, r.idType, r.idNumber, r.phone, r.town, r.community, r.address, r.residentType, r.landlordPhone}, ",") + "\r\n")
	}
	return b.String()
}

// regKind is the document kind a good row's idType names.
func regKind(r regRow) idcard.Kind {
	if r.idType == "护照" {
		return idcard.Passport
	}
	return idcard.ResidentID
}

// regEnv is one function's set of tables, queue and emulator.
type regEnv struct {
	name   string
	tables dynamo.Tables
	store  *dynamo.Store
	queue  *sqsfake.Queue
	emu    *lambdarie.Emulator
}

// regSystem is what TestRegistryImport starts.
type regSystem struct {
	db       *dynamodb.Client
	vault    *pii.Vault
	s3       *s3fake.Server
	s3API    *s3.Client
	bucket   string
	s3Event  []byte // testdata/registryimport-s3-put-event.json
	sqsEvent []byte // testdata/registryimport-sqs-event.json
	rows     []regRow
	file     []byte // the rows as a GB18030 CSV
}

// TestRegistryImport runs the registry import as the cloud does: the file
// is uploaded to S3, S3's ObjectCreated event invokes the function under
// the emulator, and the function imports into DynamoDB Local, queues its
// continuations on a local SQS endpoint when it runs out of time, resumes
// from them, and writes the error file back to S3.
func TestRegistryImport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &regSystem{rows: registryRows()}
	var err error
	if s.s3Event, err = os.ReadFile(filepath.Join("testdata", "registryimport-s3-put-event.json")); err != nil {
		t.Fatal(err)
	}
	checkStrict(t, s.s3Event, &events.S3Event{})
	if s.sqsEvent, err = os.ReadFile(filepath.Join("testdata", "registryimport-sqs-event.json")); err != nil {
		t.Fatal(err)
	}
	checkStrict(t, s.sqsEvent, &events.SQSEvent{})
	var fixture events.S3Event
	if err := json.Unmarshal(s.s3Event, &fixture); err != nil || len(fixture.Records) != 1 {
		t.Fatalf("testdata/registryimport-s3-put-event.json: want one record (err %v)", err)
	}
	s.bucket = fixture.Records[0].S3.Bucket.Name
	queueURL := refreshQueueURL(t, s.sqsEvent)

	// DynamoDB Local first: it skips the test (or fails it in CI) when it is
	// not installed, before any time goes into builds.
	s.db = dynamolocal.Client(t)
	endpoint := dynamolocal.Endpoint(t)
	keysFile, _, vault := testKeys(t)
	s.vault = vault

	s.s3 = s3fake.New(s.bucket)
	s3Server := httptest.NewServer(s.s3)
	t.Cleanup(s3Server.Close)
	s.s3API = s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s3Server.URL), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	})
	s.file = gcGB18030(t, registryCSV(s.rows))

	bin := lambdarie.Build(t, "gridcode/functions/registryimport")
	start := func(name string, extra ...string) *regEnv {
		prefix := "regimp-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
		e := &regEnv{name: name, queue: &sqsfake.Queue{URL: queueURL}, tables: dynamo.Tables{
			Registry: prefix + "registry", RegistryIndex: prefix + "registry-index",
			Imports: prefix + "imports", ImportErrors: prefix + "import-errors", Grids: prefix + "grids",
			Lists: prefix + "lists", ListChunks: prefix + "list-chunks",
		}}
		if err := dynamo.CreateTables(ctx, s.db, e.tables); err != nil {
			t.Fatal(err)
		}
		e.store = dynamo.New(s.db, e.tables)
		if err := e.store.PutGrids(ctx, regGrids); err != nil {
			t.Fatal(err)
		}
		sqsServer := httptest.NewServer(e.queue)
		t.Cleanup(sqsServer.Close)
		// The variables template.yaml gives the function, with the key
		// file for KEYS_PARAMETER and the local endpoints.
		env := []string{
			"KEYS_FILE=" + keysFile, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON",
			"REGISTRY_TABLE=" + e.tables.Registry, "REGISTRY_INDEX_TABLE=" + e.tables.RegistryIndex,
			"IMPORTS_TABLE=" + e.tables.Imports, "IMPORT_ERRORS_TABLE=" + e.tables.ImportErrors,
			"GRIDS_TABLE=" + e.tables.Grids, "IMPORT_QUEUE_URL=" + queueURL,
			"LISTS_TABLE=" + e.tables.Lists, "LIST_CHUNKS_TABLE=" + e.tables.ListChunks,
			"SQS_ENDPOINT=" + sqsServer.URL, "S3_ENDPOINT=" + s3Server.URL,
			"CHUNK_ROWS=" + strconv.Itoa(regChunk),
		}
		e.emu = lambdarie.Start(t, bin, append(env, extra...)...)
		return e
	}
	// straight has a minute per invocation and needs no margin: the file
	// is done in one invocation.
	straight := start("straight", "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "PAUSE_MARGIN=0s")
	// pausing keeps a margin longer than its whole timeout: each
	// invocation is past its time after its first chunk, so it does one
	// chunk and queues the rest, whatever the speed of the machine.
	pausing := start("pausing", "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "PAUSE_MARGIN=120s")

	var first regResult
	if !t.Run("import", func(t *testing.T) {
		first = s.testStraight(ctx, t, straight, "registry/蓬江区人口底册 2026-11.csv")
	}) {
		t.FailNow()
	}
	t.Run("same event again", func(t *testing.T) { s.testRepeat(ctx, t, straight, first) })
	t.Run("list", func(t *testing.T) { s.testList(ctx, t, straight) })
	t.Run("paused and resumed", func(t *testing.T) {
		s.testPaused(ctx, t, pausing, "registry/蓬江区人口底册 2026-11 副本.csv", first)
	})
	t.Run("logs", func(t *testing.T) {
		var secret []string
		for _, r := range s.rows {
			for _, v := range []string{r.name, r.idNumber, r.phone, r.landlordPhone, r.address} {
				if v != "" {
					secret = append(secret, v)
				}
			}
		}
		for _, f := range []struct {
			env     *regEnv
			message string
			times   int
		}{
			{straight, `"message":"registry import ended"`, 1},
			{pausing, `"message":"registry import paused"`, 3},
		} {
			logged := func(o string) bool { return strings.Count(o, f.message) >= f.times }
			out := waitOutput(f.env.emu, logged, 5*time.Second)
			if !logged(out) || !strings.Contains(out, `"requestId":"`) {
				t.Errorf("%s: want %d %s log lines with a request id in the output:\n%s", f.env.name, f.times, f.message, out)
			}
			for _, v := range secret {
				if strings.Contains(out, v) {
					t.Errorf("%s: the logs contain %q:\n%s", f.env.name, v, out)
				}
			}
			// Every line the function writes is JSON (the emulator's own
			// lines are not), so CloudWatch can filter them.
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "SDK ") {
					t.Errorf("%s: the SDK logs in plain text: %s", f.env.name, line)
				}
			}
		}
	})
}

// regResult is the end state of an import, to compare two imports of the
// same file.
type regResult struct {
	run       registry.Import
	people    map[string]regPerson
	errorFile []byte
	object    importjob.Object
}

// regPerson is a stored entry with what differs between two imports of the
// same rows (the source, the time, the seal's random nonce) left out.
type regPerson struct {
	IDType       idcard.Kind
	GridCode     string
	Town         string
	Community    string
	ResidentType registry.ResidentType
	Status       string
	Tokens       []string
	ContentHash  string
	Personal     registry.Personal
}

// upload puts the file to S3 with the SDK, as the office's upload does, and
// makes the ObjectCreated:Put event S3 sends for it.
func (s *regSystem) upload(ctx context.Context, t *testing.T, key string) ([]byte, importjob.Object) {
	t.Helper()
	return s.uploadFile(ctx, t, key, s.file)
}

// uploadFile is upload of another file.
func (s *regSystem) uploadFile(ctx context.Context, t *testing.T, key string, file []byte) ([]byte, importjob.Object) {
	t.Helper()
	put, err := s.s3API.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(file), ContentType: aws.String("text/csv"),
	})
	if err != nil {
		t.Fatal(err)
	}
	etag := strings.Trim(aws.ToString(put.ETag), `"`)

	var ev map[string]any
	if err := json.Unmarshal(s.s3Event, &ev); err != nil {
		t.Fatal(err)
	}
	rec := ev["Records"].([]any)[0].(map[string]any)
	rec["eventTime"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	obj := rec["s3"].(map[string]any)["object"].(map[string]any)
	obj["key"], obj["size"], obj["eTag"] = s3EventKey(key), len(file), etag
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	checkStrict(t, out, &events.S3Event{})
	var typed events.S3Event
	if err := json.Unmarshal(out, &typed); err != nil || typed.Records[0].S3.Object.URLDecodedKey != key {
		t.Fatalf("the event's key decodes to %q (err %v), want %q", typed.Records[0].S3.Object.URLDecodedKey, err, key)
	}
	return out, importjob.Object{Bucket: s.bucket, Key: key, ETag: etag}
}

// s3EventKey encodes a key as S3 notifications carry it: form-encoded
// (space as +, UTF-8 percent-encoded), the slashes kept.
func s3EventKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

func (s *regSystem) invokeS3(ctx context.Context, t *testing.T, e *regEnv, ev []byte) importjob.S3Result {
	t.Helper()
	out, err := e.emu.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var res importjob.S3Result
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("%s: the function answered %s, not an import result (%v)\nfunction output:\n%s", e.name, out, err, e.emu.Output())
	}
	return res
}

func (s *regSystem) invokeSQS(ctx context.Context, t *testing.T, e *regEnv, ev []byte) events.SQSEventResponse {
	t.Helper()
	out, err := e.emu.Invoke(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("%s: the function answered %s, not an SQS batch response (%v)\nfunction output:\n%s", e.name, out, err, e.emu.Output())
	}
	return resp
}

// testStraight imports the file in one invocation and checks everything it
// stored.
func (s *regSystem) testStraight(ctx context.Context, t *testing.T, e *regEnv, key string) regResult {
	ev, obj := s.upload(ctx, t, key)
	id := importjob.ImportID(s.vault, obj)
	res := s.invokeS3(ctx, t, e, ev)
	want := importjob.S3Result{Imports: []importjob.Outcome{{
		ImportID: id, Status: registry.ImportDone, Rows: len(s.rows), Written: regGoodRows, Bad: len(s.rows) - regGoodRows,
	}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("the S3 invocation's result (-want +got):\n%s\nfunction output:\n%s", diff, e.emu.Output())
	}
	if msgs := e.queue.Messages(); len(msgs) != 0 {
		t.Errorf("a finished import queued %d continuations", len(msgs))
	}
	return s.checkImported(ctx, t, e, obj)
}

// checkImported checks an ended import of s.file: its record, every person
// in the registry, the error file.
func (s *regSystem) checkImported(ctx context.Context, t *testing.T, e *regEnv, obj importjob.Object) regResult {
	t.Helper()
	id := importjob.ImportID(s.vault, obj)
	r := regResult{people: map[string]regPerson{}, object: obj}
	var err error
	if r.run, err = e.store.GetImport(ctx, id); err != nil {
		t.Fatalf("the import %s is not in the Imports table: %v", id, err)
	}
	run := r.run
	if run.Status != registry.ImportDone || run.Source != filepath.Base(obj.Key) || run.Rows != len(s.rows) ||
		run.Written != regGoodRows || run.Unchanged != 0 || run.Bad != len(s.rows)-regGoodRows ||
		run.Offset != int64(len(s.file)) || run.Line != len(s.rows)+1 || run.FinishedAt.IsZero() || run.ExpiresAt <= time.Now().Unix() {
		t.Errorf("import record %+v; want done, source %s, %d rows, %d written, %d bad, offset %d, line %d, finished, expiring later",
			run, filepath.Base(obj.Key), len(s.rows), regGoodRows, len(s.rows)-regGoodRows, len(s.file), len(s.rows)+1)
	}

	// Every good row is in the registry, sealed, in its community's grid;
	// no bad row is.
	communityGrids := map[string][]string{}
	for _, g := range regGrids {
		communityGrids[g.Community] = append(communityGrids[g.Community], g.Code)
	}
	var keys []string
	byKey := map[string]regRow{}
	var refused []string
	for _, row := range s.rows {
		if row.badField != "" {
			if row.badField != "idNumber" {
				refused = append(refused, report.PersonLookup(s.vault, idcard.ResidentID, row.idNumber))
			}
			continue
		}
		k := report.PersonLookup(s.vault, regKind(row), row.idNumber)
		keys = append(keys, k)
		byKey[k] = row
	}
	people, err := e.store.GetPeople(ctx, append(slices.Clone(keys), refused...))
	if err != nil {
		t.Fatal(err)
	}
	if len(people) != regGoodRows {
		t.Errorf("%d of the %d good rows and the refused rows are in the registry, want exactly the %d good", len(people), len(keys), regGoodRows)
	}
	for _, k := range refused {
		if _, ok := people[k]; ok {
			t.Errorf("a refused row's person %s is in the registry", k)
		}
	}
	for _, k := range keys {
		p, ok := people[k]
		row := byKey[k]
		if !ok {
			t.Errorf("row %s %s: not in the registry", row.community, row.address)
			continue
		}
		personal, err := registry.Open(s.vault, p)
		if err != nil {
			t.Errorf("person %s: %v", k, err)
			continue
		}
		want := registry.Personal{Name: row.name, IDNumber: row.idNumber, Phone: row.phone, Address: row.address, LandlordPhone: row.landlordPhone}
		if diff := cmp.Diff(want, personal); diff != "" {
			t.Errorf("person %s: sealed personal data (-row +stored):\n%s", k, diff)
		}
		community := row.community
		if community == "石冲" {
			community = "石冲社区"
		}
		grids := communityGrids[community]
		if len(grids) == 0 {
			grids = []string{grid.Unassigned}
		}
		if !slices.Contains(grids, p.GridCode) || p.Status != registry.StatusActive || p.IDType != regKind(row) || p.Source != id {
			t.Errorf("person %s (%s): grid %s, status %s, idType %s, source %s; want one of %v, active, %s, %s",
				k, row.community, p.GridCode, p.Status, p.IDType, p.Source, grids, regKind(row), id)
		}
		tokens := slices.Clone(p.Tokens)
		slices.Sort(tokens)
		r.people[k] = regPerson{
			IDType: p.IDType, GridCode: p.GridCode, Town: p.Town, Community: p.Community, ResidentType: p.ResidentType,
			Status: p.Status, Tokens: tokens, ContentHash: p.ContentHash, Personal: personal,
		}
	}
	if n := refreshCount(ctx, t, s.db, e.tables.Registry); n != regGoodRows {
		t.Errorf("the registry table has %d items, want %d", n, regGoodRows)
	}
	s.checkRegistryItemsSealed(ctx, t, e)

	// The error file: each refused row by its line in the file, what was
	// wrong and never the value.
	var ok bool
	if r.errorFile, ok = s.s3.Object(s.bucket, importjob.ErrorsKey(id)); !ok {
		t.Fatalf("no error file %s in the bucket (keys %v)", importjob.ErrorsKey(id), s.s3.Keys(s.bucket, ""))
	}
	var refusedRows []registry.RowError
	for i, row := range s.rows {
		if row.badField != "" {
			refusedRows = append(refusedRows, registry.RowError{Line: i + 2, Field: row.badField, Reason: row.badReason})
		}
	}
	var want bytes.Buffer
	if err := registry.WriteErrorsCSV(&want, refusedRows); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Bytes(), r.errorFile) {
		t.Errorf("error file:\n%s\nwant (each refused row by its line in the file):\n%s", r.errorFile, want.Bytes())
	}
	body, hasBOM := bytes.CutPrefix(r.errorFile, []byte("\ufeff"))
	if records, err := csv.NewReader(bytes.NewReader(body)).ReadAll(); err != nil || !hasBOM || len(records) != len(refusedRows)+1 {
		t.Errorf("error file: BOM %v, %d records (err %v); want UTF-8 with BOM, a header and %d rows", hasBOM, len(records), err, len(refusedRows))
	}
	for _, row := range s.rows {
		for _, v := range []string{row.name, row.idNumber, row.phone, row.address} {
			if v != "" && bytes.Contains(r.errorFile, []byte(v)) {
				t.Errorf("the error file holds %q", v)
			}
		}
	}
	return r
}

// checkRegistryItemsSealed reads every registry item as DynamoDB holds it:
// no name, ID number, phone or address in plain text.
func (s *regSystem) checkRegistryItemsSealed(ctx context.Context, t *testing.T, e *regEnv) {
	t.Helper()
	var values []string
	for _, row := range s.rows {
		for _, v := range []string{row.name, row.idNumber, row.phone, row.landlordPhone, row.address} {
			if v != "" {
				values = append(values, v)
			}
		}
	}
	for _, table := range []string{e.tables.Registry, e.tables.RegistryIndex} {
		p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			for _, item := range page.Items {
				gcCheckPlain(t, table+" item", item, values...)
			}
		}
	}
}

// testRepeat delivers the same S3 event again, as S3 may: the import has
// ended, so nothing is written, queued or uploaded.
func (s *regSystem) testRepeat(ctx context.Context, t *testing.T, e *regEnv, first regResult) {
	ev, obj := s.upload(ctx, t, first.object.Key) // the same bytes: the same ETag, the same import
	if obj != first.object {
		t.Fatalf("a second upload of the same file is %+v, was %+v", obj, first.object)
	}
	registryItems := refreshCount(ctx, t, s.db, e.tables.Registry)
	indexItems := refreshCount(ctx, t, s.db, e.tables.RegistryIndex)
	puts := s.s3Puts()

	res := s.invokeS3(ctx, t, e, ev)
	want := importjob.S3Result{Imports: []importjob.Outcome{{
		ImportID: first.run.ID, Status: registry.ImportDone, Rows: first.run.Rows, Written: first.run.Written, Bad: first.run.Bad, AlreadyEnded: true,
	}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("the repeated event's result (-want +got):\n%s", diff)
	}
	run, err := e.store.GetImport(ctx, first.run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.run, run); diff != "" {
		t.Errorf("the repeated event changed the import record (-before +after):\n%s", diff)
	}
	if n := refreshCount(ctx, t, s.db, e.tables.Registry); n != registryItems {
		t.Errorf("the registry table has %d items, had %d", n, registryItems)
	}
	if n := refreshCount(ctx, t, s.db, e.tables.RegistryIndex); n != indexItems {
		t.Errorf("the registry index has %d items, had %d", n, indexItems)
	}
	if p := s.s3Puts(); p != puts {
		t.Errorf("the repeated event wrote to S3 (%d PUTs, were %d)", p, puts)
	}
	if msgs := e.queue.Messages(); len(msgs) != 0 {
		t.Errorf("the repeated event queued %d continuations", len(msgs))
	}
	keys := slices.Collect(func(yield func(string) bool) {
		for k := range first.people {
			if !yield(k) {
				return
			}
		}
	})
	people, err := e.store.GetPeople(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range people {
		if p.Source != first.run.ID || p.UpdatedAt.After(first.run.FinishedAt) {
			t.Errorf("person %s was written again: source %s, updated %s after the import ended %s", k, p.Source, p.UpdatedAt, first.run.FinishedAt)
		}
	}
}

func (s *regSystem) s3Puts() int {
	n := 0
	for _, r := range s.s3.Requests() {
		if r.Method == "PUT" {
			n++
		}
	}
	return n
}

// testPaused imports the same file under another key with the function
// that stops after each chunk: the S3 invocation and each continuation do
// one chunk and queue the next, the last one ends the import, and the end
// state is the straight import's. A forged continuation in a batch fails
// alone; a continuation delivered again after the end changes nothing.
func (s *regSystem) testPaused(ctx context.Context, t *testing.T, e *regEnv, key string, straight regResult) {
	ev, obj := s.upload(ctx, t, key)
	id := importjob.ImportID(s.vault, obj)
	if id == straight.run.ID {
		t.Fatalf("two keys have one import id %s", id)
	}
	res := s.invokeS3(ctx, t, e, ev)
	if len(res.Imports) != 1 || res.Imports[0].Status != registry.ImportRunning || !res.Imports[0].Continued || res.Imports[0].Rows != regChunk {
		t.Fatalf("the S3 invocation's result %+v; want the import running after one chunk of %d rows, continued\nfunction output:\n%s", res, regChunk, e.emu.Output())
	}

	forged := sqsfake.Message{ID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", Body: fmt.Sprintf(`{"importId":"impforged","bucket":%q,"key":%q,"eTag":%q}`, obj.Bucket, obj.Key, obj.ETag)}
	wantChunks := (len(s.rows) + regChunk - 1) / regChunk
	var last sqsfake.Message
	for chunk := 2; chunk <= wantChunks; chunk++ {
		msgs := e.queue.Messages()
		if len(msgs) != chunk-1 {
			t.Fatalf("after chunk %d: %d continuations queued, want %d\nfunction output:\n%s", chunk-1, len(msgs), chunk-1, e.emu.Output())
		}
		last = msgs[len(msgs)-1]
		var c importjob.Continuation
		dec := json.NewDecoder(strings.NewReader(last.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("continuation %q: %v", last.Body, err)
		}
		if want := (importjob.Continuation{ImportID: id, Object: obj}); c != want {
			t.Fatalf("continuation %+v, want %+v", c, want)
		}
		run, err := e.store.GetImport(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != registry.ImportRunning || run.Rows != (chunk-1)*regChunk || run.Line != (chunk-1)*regChunk+1 {
			t.Errorf("checkpoint after chunk %d: %+v; want running, %d rows, line %d", chunk-1, run, (chunk-1)*regChunk, (chunk-1)*regChunk+1)
		}
		batch := []sqsfake.Message{last}
		var wantFailures []events.SQSBatchItemFailure
		if chunk == 2 {
			batch = append(batch, forged)
			wantFailures = []events.SQSBatchItemFailure{{ItemIdentifier: forged.ID}}
		}
		resp := s.invokeSQS(ctx, t, e, refreshSQSEvent(t, s.sqsEvent, batch, 1))
		if diff := cmp.Diff(wantFailures, resp.BatchItemFailures, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("chunk %d: batch item failures (-want +got):\n%s\nfunction output:\n%s", chunk, diff, e.emu.Output())
		}
	}
	if n := len(e.queue.Messages()); n != wantChunks-1 {
		t.Errorf("%d continuations in all, want %d (one per chunk but the last)", n, wantChunks-1)
	}

	paused := s.checkImported(ctx, t, e, obj)
	for _, r := range []*registry.Import{&paused.run, &straight.run} {
		r.ID, r.Source, r.StartedAt, r.UpdatedAt, r.FinishedAt, r.ExpiresAt = "", "", time.Time{}, time.Time{}, time.Time{}, 0
		r.Version = 0 // each resumed chunk also writes the start of its invocation
	}
	if diff := cmp.Diff(straight.run, paused.run); diff != "" {
		t.Errorf("the import in chunks ended otherwise than the straight one (-straight +chunks):\n%s", diff)
	}
	if diff := cmp.Diff(straight.people, paused.people); diff != "" {
		t.Errorf("the registry after the import in chunks differs (-straight +chunks):\n%s", diff)
	}
	if !bytes.Equal(straight.errorFile, paused.errorFile) {
		t.Errorf("error files differ:\nstraight:\n%s\nchunks:\n%s", straight.errorFile, paused.errorFile)
	}

	// The last continuation again (SQS delivers at least once): the import
	// has ended; nothing is queued or written.
	before, err := e.store.GetImport(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	puts := s.s3Puts()
	resp := s.invokeSQS(ctx, t, e, refreshSQSEvent(t, s.sqsEvent, []sqsfake.Message{last}, 2))
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("the repeated continuation failed: %+v", resp.BatchItemFailures)
	}
	after, err := e.store.GetImport(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the repeated continuation changed the import (-before +after):\n%s", diff)
	}
	if n := len(e.queue.Messages()); n != wantChunks-1 {
		t.Errorf("the repeated continuation queued another: %d continuations", n)
	}
	if p := s.s3Puts(); p != puts {
		t.Errorf("the repeated continuation wrote to S3")
	}
}
