package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gridcode/shared/fields"
	"gridcode/shared/registry"
	"gridcode/shared/store/embedded"
)

// registryFile is a registry export as a district office's Excel saves it,
// with a bad row of every kind. Line numbers are in the comments.
func registryFile() string {
	rows := []string{
		"序号,*姓名,证件类型,身份证号码,手机号码（选填）,镇街,村(社区),详细地址,人员类型,房东电话",                // 1
		"1,张三,居民身份证," + residentID(1) + ",13800138000,环市街道,石冲社区,新塘里96号,常住,", // 2
		"2,李四,," + residentID(2) + ",,环市,石冲,\"长庚里\n12号\",流动,13900139001",    // 3-4
		"", // 5: blank
		"3,王五,护照,E1234567,,杜阮镇,子绵村,东头巷1号,外来,",                          // 6
		"4,,居民身份证,1.10105E+17,12345,,石冲社区,,暂住,",                        // 7: name, idNumber, phone, address, residentType
		"5,赵六,驾驶证,X1,,,石冲社区,新塘里1号,常住,",                                 // 8: idType
		"6,钱七,," + badCheckDigit(residentID(7)) + ",,,石冲社区,新塘里2号,常住,",  // 9: checksum
		"7,孙\"八,," + residentID(8) + ",,,石冲社区,新塘里3号,常住,",               // 10: malformed
		"8,周九,," + residentID(9) + ",,,长庚社区,某街1号,常住,",                  // 11: unknown community: the pool
		"9,张三,," + residentID(1) + ",13800138001,环市街道,石冲社区,新塘里98号,常住,", // 12: 张三 again, later wins
		"10,吴十,," + residentID(10) + ",,,石冲社区,新塘里4号,permanent,",        // 13
	}
	return "\uFEFF" + strings.Join(rows, "\r\n") + "\r\n"
}

// badCheckDigit gives a resident ID another check digit.
func badCheckDigit(id string) string {
	if id[17] == '1' {
		return id[:17] + "2"
	}
	return id[:17] + "1"
}

// wantErrors are registryFile's refused rows.
var wantErrors = []registry.RowError{
	{Line: 7, Field: "name", Reason: "required"},
	{Line: 7, Field: "idNumber", Reason: "excel_number"},
	{Line: 7, Field: "phone", Reason: "invalid"},
	{Line: 7, Field: "address", Reason: "required"},
	{Line: 7, Field: "residentType", Reason: "unknown"},
	{Line: 8, Field: "idType", Reason: "unknown"},
	{Line: 9, Field: "idNumber", Reason: "checksum"},
	{Line: 10, Field: "row", Reason: "malformed"},
}

func newImporter(t *testing.T, store *embedded.Store, chunkRows int) *registry.Importer {
	t.Helper()
	return &registry.Importer{
		People: store, Imports: store, Vault: testVault(t), Grids: testGrids(),
		Now: fixedNow, ChunkRows: chunkRows, Workers: 3,
	}
}

// registryState is everything a store holds about people, opened.
type opened struct {
	registry.Person
	registry.Personal
}

func registryState(t *testing.T, store *embedded.Store) map[string]opened {
	t.Helper()
	ctx := context.Background()
	grids, err := store.PersonKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(grids))
	for k := range grids {
		keys = append(keys, k)
	}
	people, err := store.GetPeople(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]opened{}
	for k, p := range people {
		personal, err := registry.Open(testVault(t), p)
		if err != nil {
			t.Fatal(err)
		}
		p.Sealed = nil // sealed with a random nonce each time
		out[k] = opened{p, personal}
	}
	return out
}

func TestImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, enc := range []string{"utf-8", "gb18030"} {
		t.Run(enc, func(t *testing.T) {
			t.Parallel()
			file := []byte(registryFile())
			if enc == "gb18030" {
				file = gb18030(t, registryFile())
			}
			store := openStore(t)
			im := newImporter(t, store, 0)
			var seen []registry.Import
			run, err := im.Run(ctx, registry.Import{ID: "imp1", Source: "registry.csv"}, bytesSource{file}, time.Time{},
				func(r registry.Import) { seen = append(seen, r) })
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := registry.Import{
				ID: "imp1", Source: "registry.csv", Status: registry.ImportDone, Offset: int64(len(file)), Line: 13,
				Rows: 10, Written: 5, Unchanged: 1, Bad: 4, StartedAt: now, UpdatedAt: now, FinishedAt: now,
				ExpiresAt: now.Add(registry.ImportRetention).Unix(),
				Version:   2, // the start and the one chunk
			}
			if run != want {
				t.Errorf("run\n got %+v\nwant %+v", run, want)
			}
			if len(seen) != 1 || seen[0] != want {
				t.Errorf("progress saw %+v", seen)
			}
			if stored, err := store.GetImport(ctx, "imp1"); err != nil || stored != want {
				t.Errorf("stored import %+v, %v", stored, err)
			}
			if errs, err := store.RowErrors(ctx, "imp1"); err != nil || !reflect.DeepEqual(errs, wantErrors) {
				t.Errorf("row errors\n got %+v\nwant %+v", errs, wantErrors)
			}

			people := registryState(t, store)
			byName := map[string]opened{}
			for _, p := range people {
				byName[p.Name] = p
			}
			if len(people) != 5 || len(byName) != 5 {
				t.Fatalf("registry has %d people: %+v", len(people), byName)
			}
			zhang := byName["张三"]
			if zhang.Address != "新塘里98号" || zhang.Phone != "13800138001" {
				t.Errorf("张三's later row did not win: %+v", zhang.Personal)
			}
			li := byName["李四"]
			if li.Address != "长庚里 12号" || li.Community != "石冲社区" || li.Town != "环市街道" ||
				li.ResidentType != registry.Floating || li.LandlordPhone != "13900139001" || !strings.HasPrefix(li.GridCode, "440703006107-") {
				t.Errorf("李四 (石冲 in 环市) stored as %+v", li)
			}
			if wang := byName["王五"]; wang.GridCode != "440703103206-01" || wang.IDNumber != "E1234567" || wang.ResidentType != registry.Outsider {
				t.Errorf("王五 stored as %+v", wang)
			}
			if zhou := byName["周九"]; zhou.GridCode != "unassigned" || zhou.Community != "长庚社区" {
				t.Errorf("周九 of an unknown community stored as %+v", zhou)
			}
			for _, p := range people {
				if p.Status != registry.StatusActive || p.Source != "imp1" || !p.UpdatedAt.Equal(now) || len(p.Tokens) < 5 ||
					p.ImportHash == "" || p.ImportHash != p.ContentHash {
					t.Errorf("%s stored as %+v", p.Name, p.Person)
				}
			}

			// The same file again changes nothing.
			again, err := im.Run(ctx, registry.Import{ID: "imp2"}, bytesSource{file}, time.Time{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if again.Written != 0 || again.Unchanged != 6 || again.Bad != 4 || again.Rows != 10 {
				t.Errorf("rerun: %+v, want 0 written, 6 unchanged", again)
			}
			if after := registryState(t, store); !reflect.DeepEqual(after, people) {
				t.Error("a rerun changed the registry")
			}
		})
	}
}

// TestImportResume pauses after every chunk: resuming from each
// checkpoint ends with the registry, counts and refused rows of a straight
// run.
func TestImportResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := bytesSource{gb18030(t, registryFile())}
	for _, chunkRows := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprint(chunkRows), func(t *testing.T) {
			t.Parallel()
			straightStore := openStore(t)
			straight, err := newImporter(t, straightStore, chunkRows).Run(ctx, registry.Import{ID: "imp"}, file, time.Time{}, nil)
			if err != nil {
				t.Fatal(err)
			}

			store := openStore(t)
			run := registry.Import{ID: "imp"}
			pauses := 0
			for {
				// A new importer each time, as a new Lambda invocation;
				// the deadline has passed: pause after one chunk.
				run, err = newImporter(t, store, chunkRows).Run(ctx, run, file, now.Add(-time.Second), nil)
				if !errors.Is(err, registry.ErrPaused) {
					break
				}
				pauses++
				if stored, err := store.GetImport(ctx, "imp"); err != nil || stored != run {
					t.Fatalf("checkpoint %+v, stored %+v, %v", run, stored, err)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if wantPauses := (10+chunkRows-1)/chunkRows - 1; pauses < wantPauses {
				t.Errorf("paused %d times, want at least %d", pauses, wantPauses)
			}
			// Each resume writes the record once more as it starts.
			if run.Version != straight.Version+pauses {
				t.Errorf("resumed run at version %d, want %d: the straight run's %d and one per resume", run.Version, straight.Version+pauses, straight.Version)
			}
			run.Version = straight.Version
			if run != straight {
				t.Errorf("resumed run\n got %+v\nwant %+v", run, straight)
			}
			if got, want := registryState(t, store), registryState(t, straightStore); !reflect.DeepEqual(got, want) {
				t.Errorf("resumed registry differs from a straight run's")
			}
			got, _ := store.RowErrors(ctx, "imp")
			if !reflect.DeepEqual(got, wantErrors) {
				t.Errorf("row errors\n got %+v\nwant %+v", got, wantErrors)
			}
		})
	}
}

func TestImportRefusesFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name     string
		file     []byte
		run      registry.Import
		problems []fields.Problem
	}{
		{"utf-16", []byte("\xff\xfe\x53\x59\x0d\x54,\x00"), registry.Import{}, []fields.Problem{{Field: "file", Reason: "encoding"}}},
		{"empty", []byte("\uFEFF\r\n\r\n"), registry.Import{}, []fields.Problem{{Field: "header", Reason: "required"}}},
		{"columns missing", []byte("姓名,姓名,证件号码,社区\n张三,张三,1,石冲\n"), registry.Import{}, []fields.Problem{
			{Field: "header", Reason: "duplicate_name"}, {Field: "header", Reason: "missing_address"}, {Field: "header", Reason: "missing_residentType"},
		}},
		{"broken header", []byte("姓名,\"证件号码\"x\n"), registry.Import{}, []fields.Problem{{Field: "header", Reason: "malformed"}}},
		{"file shorter than the checkpoint", []byte(registryFile()), registry.Import{Offset: 1 << 20, Line: 5000}, []fields.Problem{{Field: "file", Reason: "changed"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := openStore(t)
			tc.run.ID = "imp"
			run, err := newImporter(t, store, 0).Run(ctx, tc.run, bytesSource{tc.file}, time.Time{}, nil)
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != registry.CodeInvalidFile || !reflect.DeepEqual(fe.Problems, tc.problems) {
				t.Fatalf("Run error %v, want problems %+v", err, tc.problems)
			}
			var reasons []string
			for _, p := range tc.problems {
				reasons = append(reasons, p.Reason)
			}
			if run.Status != registry.ImportFailed || run.Reason != strings.Join(reasons, ",") || !run.FinishedAt.Equal(now) {
				t.Errorf("run %+v", run)
			}
			if stored, err := store.GetImport(ctx, "imp"); err != nil || stored != run {
				t.Errorf("stored %+v, %v", stored, err)
			}
			if keys, _ := store.PersonKeys(ctx); len(keys) != 0 {
				t.Errorf("a refused file stored %d people", len(keys))
			}
		})
	}
}

// TestImportTabs reads a tab-separated UTF-8 file, as a sheet copied out
// of Excel gives it.
func TestImportTabs(t *testing.T) {
	t.Parallel()
	file := "name\tID Number\tcommunity\taddress\tresident type\n" +
		"张三\t" + residentID(1) + "\t石冲社区\t新塘里96号,201房\t常住\n"
	store := openStore(t)
	run, err := newImporter(t, store, 0).Run(context.Background(), registry.Import{ID: "imp"}, bytesSource{[]byte(file)}, time.Time{}, nil)
	if err != nil || run.Written != 1 || run.Bad != 0 {
		t.Fatalf("Run = %+v, %v", run, err)
	}
	for _, p := range registryState(t, store) {
		if p.Address != "新塘里96号,201房" {
			t.Errorf("address %q", p.Address)
		}
	}
}

func TestWriteErrorsCSV(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := registry.WriteErrorsCSV(&b, wantErrors[:3]); err != nil {
		t.Fatal(err)
	}
	want := "\uFEFF行号,字段,原因\r\n" +
		"7,姓名,必填 (required)\r\n" +
		"7,证件号码,\"被Excel转成了数字,请把该列设为文本 (excel_number)\"\r\n" +
		"7,手机号,不是有效的手机号 (invalid)\r\n"
	if b.String() != want {
		t.Errorf("WriteErrorsCSV\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	if err := registry.WriteErrorsCSV(&b, []registry.RowError{{Line: 3, Field: "row", Reason: "something_new"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "3,整行,something_new\r\n") {
		t.Errorf("unknown reason written as %q", b.String())
	}
	// Whole-file refusals say in Chinese what is wrong with the file.
	b.Reset()
	whole := []registry.RowError{{Line: 1, Field: "header", Reason: "missing_address"}, {Line: 1, Field: "file", Reason: "unknown_kind"}}
	if err := registry.WriteErrorsCSV(&b, whole); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "1,表头,缺少列地址 (missing_address)\r\n") || !strings.Contains(b.String(), "1,文件,目录没有说明名单类型") {
		t.Errorf("whole-file refusals written as %q", b.String())
	}
}
