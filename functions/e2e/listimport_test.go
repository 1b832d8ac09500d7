package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
	"gridcode/shared/registry/importjob"
	"gridcode/shared/report"
	"gridcode/shared/worklist"
)

// listRow is one line of a NAT list (全员核酸) as the district's system
// exports it.
type listRow struct{ name, idNumber, phone, community, address string }

// natListRows are more people than one chunk holds, a row whose ID has a
// wrong check digit on line 5, and the first person again on the last line
// (a second test the same day: counted once).
func natListRows() (rows []listRow, people int, badLine int) {
	communities := []string{"石冲社区", "子绵村", "月亮湾社区"}
	people = worklist.ChunkRows + 150
	for i := range people {
		rows = append(rows, listRow{
			name:      []string{"林", "何", "邓", "冯", "谭"}[i%5] + []string{"晓东", "嘉怡", "子豪", "丽华", "国强"}[(i/5)%5],
			idNumber:  residentID(fmt.Sprintf("440703%04d%02d%02d%03d", 1950+i%45, 1+i%12, 1+i%28, i%1000)),
			phone:     fmt.Sprint(13700000000 + i),
			community: communities[i%len(communities)],
			address:   fmt.Sprintf("新塘里%d号", 100+i),
		})
	}
	ok := residentID("44070319790505123")
	rows = slices.Insert(rows, 3, listRow{name: "错号", idNumber: ok[:17] + gcOtherCheck(ok[17]), phone: "13700009999", community: "石冲社区", address: "新塘里1号"})
	return append(rows, rows[0]), people, 5
}

// natListCSV is the list as Excel saves it: CRLF, the header in Chinese.
func natListCSV(rows []listRow) string {
	var b strings.Builder
	b.WriteString("姓名,证件号码,手机号,社区,地址,检测点,采样时间\r\n")
	for i, r := range rows {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,石冲小学,2026-11-29 %02d:%02d\r\n", r.name, r.idNumber, r.phone, r.community, r.address, 8+i/60%10, i%60)
	}
	return b.String()
}

// testList uploads a district NAT list under lists/nat/: S3's event makes
// the function store it as a list, its rows in chunks in DynamoDB, sealed,
// and its refused row in the error file; the same event again stores and
// writes nothing.
func (s *regSystem) testList(ctx context.Context, t *testing.T, e *regEnv) {
	rows, people, badLine := natListRows()
	file := gcGB18030(t, natListCSV(rows))
	key := "lists/nat/全员核酸 第3轮 2026-11-29.csv"
	ev, obj := s.uploadFile(ctx, t, key, file)
	id := importjob.ListID(s.vault, obj)

	res := s.invokeS3(ctx, t, e, ev)
	want := importjob.S3Result{Imports: []importjob.Outcome{}, Lists: []importjob.ListOutcome{{
		ListID: id, Kind: worklist.KindNAT, Status: registry.ImportDone, Rows: people, Bad: 1, Chunks: 2,
	}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("the S3 invocation's result (-want +got):\n%s\nfunction output:\n%s", diff, e.emu.Output())
	}
	l, err := e.store.GetList(ctx, id)
	if err != nil {
		t.Fatalf("the list %s is not in the Lists table: %v", id, err)
	}
	if l.Name != "全员核酸 第3轮 2026-11-29" || l.Kind != worklist.KindNAT || l.Rows != people || l.Bad != 1 || l.Chunks != 2 ||
		l.CreatedBy != importjob.ListCreatedBy || l.ExpiresAt <= time.Now().Unix() {
		t.Errorf("list %+v; want named after the file, nat, %d rows, 1 bad, 2 chunks, by %s, expiring later", l, people, importjob.ListCreatedBy)
	}

	// The chunks: each person once, in file order, placed by community.
	chunks, err := e.store.Chunks(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	var keys, grids []string
	for _, c := range chunks {
		if len(c.Sealed) == 0 {
			t.Errorf("chunk %d has no sealed evidence", c.N)
		}
		keys, grids = append(keys, c.Keys...), append(grids, c.Grids...)
	}
	var wantKeys []string
	for _, r := range rows[:len(rows)-1] {
		if r.name != "错号" {
			wantKeys = append(wantKeys, report.PersonLookup(s.vault, idcard.ResidentID, r.idNumber))
		}
	}
	if len(chunks) != 2 || !slices.Equal(keys, wantKeys) {
		t.Errorf("%d chunks of %d keys; want 2 chunks of the %d people's keys in file order", len(chunks), len(keys), len(wantKeys))
	}
	if i := slices.Index(grids, ""); len(grids) != people || grids[0] != "440703006107-01" && grids[0] != "440703006107-02" || grids[1] != "440703103206-01" || grids[2] != "" || i != 2 {
		t.Errorf("grids %v...; want 石冲社区's, 子绵村's, none for 月亮湾社区", grids[:min(3, len(grids))])
	}
	if n := refreshCount(ctx, t, s.db, e.tables.ListChunks); n != 2 {
		t.Errorf("the chunks table has %d items, want 2", n)
	}
	var values []string
	for _, r := range rows {
		values = append(values, r.name, r.idNumber, r.phone, r.address)
	}
	for _, table := range []string{e.tables.Lists, e.tables.ListChunks} {
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

	errorFile, ok := s.s3.Object(s.bucket, importjob.ErrorsKey(id))
	if !ok {
		t.Fatalf("no error file %s in the bucket (keys %v)", importjob.ErrorsKey(id), s.s3.Keys(s.bucket, "errors/"))
	}
	var wantFile bytes.Buffer
	if err := registry.WriteErrorsCSV(&wantFile, []registry.RowError{{Line: badLine, Field: "idNumber", Reason: idcard.ReasonChecksum}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(errorFile, wantFile.Bytes()) {
		t.Errorf("error file:\n%s\nwant:\n%s", errorFile, wantFile.Bytes())
	}

	// The same event again, as S3 may deliver it: nothing is read or written.
	lists, listChunks, puts := refreshCount(ctx, t, s.db, e.tables.Lists), refreshCount(ctx, t, s.db, e.tables.ListChunks), s.s3Puts()
	gets := s.s3Gets(key)
	again := s.invokeS3(ctx, t, e, ev)
	want.Lists[0].AlreadyEnded = true
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("the repeated event's result (-want +got):\n%s", diff)
	}
	if n := refreshCount(ctx, t, s.db, e.tables.Lists); n != lists || n != 1 {
		t.Errorf("the lists table has %d items, had %d; want the one list", n, lists)
	}
	if n := refreshCount(ctx, t, s.db, e.tables.ListChunks); n != listChunks {
		t.Errorf("the chunks table has %d items, had %d", n, listChunks)
	}
	if after, err := e.store.GetList(ctx, id); err != nil || !cmp.Equal(after, l) {
		t.Errorf("the repeated event changed the list: %+v, was %+v (err %v)", after, l, err)
	}
	if p, g := s.s3Puts(), s.s3Gets(key); p != puts || g != gets {
		t.Errorf("the repeated event made %d PUTs and %d GETs", p-puts, g-gets)
	}
	if msgs := e.queue.Messages(); len(msgs) != 0 {
		t.Errorf("the list queued %d messages", len(msgs))
	}

	// The logs say what happened, never who was on the list.
	logged := func(o string) bool { return strings.Count(o, `"message":"list upload ended"`) == 1 }
	out := waitOutput(e.emu, logged, 5*time.Second)
	if !logged(out) || !strings.Contains(out, id) {
		t.Errorf("want one list upload ended log line naming %s:\n%s", id, out)
	}
	for _, v := range append(values, l.Name, path.Base(key)) {
		if v != "" && strings.Contains(out, v) {
			t.Errorf("the logs contain %q", v)
		}
	}
}

func (s *regSystem) s3Gets(key string) int {
	n := 0
	for _, r := range s.s3.Requests() {
		if r.Method == "GET" && r.Key == key {
			n++
		}
	}
	return n
}
