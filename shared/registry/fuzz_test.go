package registry

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/csvin"
	"gridcode/shared/fields"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
)

// fuzzNow is 2026-11-30 09:30 in the district.
var fuzzNow = time.Date(2026, 11, 30, 1, 30, 0, 0, time.UTC)

// rowReasons are the reasons CheckRow may give for each field.
var rowReasons = map[string][]string{
	"name":          {"required", "too_long", "invalid_characters"},
	"idType":        {ReasonUnknown},
	"idNumber":      {"required", "format", "checksum", "birth_date", "region", "first_generation", ReasonExcelNumber},
	"phone":         {ReasonInvalid},
	"landlordPhone": {ReasonInvalid},
	"town":          {"too_long", "invalid_characters"},
	"community":     {"required", "too_long", "invalid_characters"},
	"address":       {"required", "too_long", "invalid_characters"},
	"residentType":  {"required", ReasonUnknown},
}

// checkRowErrors fails t unless every error is of line, a known field and
// one of its reasons, each field at most once.
func checkRowErrors(t *testing.T, errs []RowError, line int) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range errs {
		if e.Line != line || !slices.Contains(rowReasons[e.Field], e.Reason) || seen[e.Field] {
			t.Fatalf("row of line %d: error %+v (of %+v)", line, e, errs)
		}
		seen[e.Field] = true
	}
}

// FuzzCheckRow checks a registry row, from a file or a form: each problem
// names the row's line, a field and a stable reason, never a value; an
// accepted row is a fixed point (its entry, checked again, comes back the
// same and without problems); its masked form shows no more of the ID
// number and phones than their masks; and its sealed JSON is what
// encoding/json writes.
func FuzzCheckRow(f *testing.F) {
	f.Add("张三", "居民身份证", "11010519491231002X", "+86 138-0013-8000", "环市街道", "石冲社区", "新塘里96号", "常住", "", 2)
	f.Add(" 李四 ", "", "'44070319900307123x", "１３９ ００１３ ９０００", "", " 石冲社区", "白沙路1号", "Floating", "13800138000", 3)
	f.Add("王五", "身份证", "4.40703E+17", "0750-3123456", "", "白沙", "x", "外来人口", "'13800138000", 4)
	f.Add("John Smith", "Passport", "e1234567", "", "", "白沙社区", "a\u202eb", "permanent", "", 5)
	f.Add("", "驾驶证", "440703900307123", "", strings.Repeat("镇", 31), "", "", "", "", 6)
	f.Add("赵六", "台胞证", "1234567801(B)", "", "", "石冲社区", "\"<&>\"", "户籍", "", 7)
	f.Add("\xff", "hk_macao_permit", "H12345678", "", "", "石冲社区", "\u2028", "流动", "", 8)
	f.Fuzz(func(t *testing.T, name, idType, idNumber, phoneNumber, town, community, address, residentType, landlord string, line int) {
		row := Row{Name: name, IDType: idType, IDNumber: idNumber, Phone: phoneNumber, Town: town, Community: community,
			Address: address, ResidentType: residentType, LandlordPhone: landlord}

		raw := Personal{Name: name, IDNumber: idNumber, Phone: phoneNumber, Address: address, LandlordPhone: landlord}
		if want, _ := json.Marshal(raw); !bytes.Equal(personalJSON(raw), want) {
			t.Fatalf("personalJSON(%+v) = %s, encoding/json %s", raw, personalJSON(raw), want)
		}

		e, errs := CheckRow(row, line, fuzzNow)
		checkRowErrors(t, errs, line)
		if len(errs) > 0 {
			return
		}
		again, errs := CheckRow(e.Row(), line, fuzzNow)
		if len(errs) > 0 || !reflect.DeepEqual(again, e) {
			t.Fatalf("CheckRow(%+v) = %+v; checked again %+v, %+v", row, e, again, errs)
		}
		if _, reason := idcard.Check(e.IDType, e.IDNumber, fuzzNow); reason != "" {
			t.Fatalf("accepted document %s %q: %s", e.IDType, e.IDNumber, reason)
		}
		for _, p := range []string{e.Phone, e.LandlordPhone} {
			if n, ok := phone.Normalize(p); p != "" && (!ok || n != p) {
				t.Fatalf("accepted phone %q", p)
			}
		}
		m := e.Personal.Masked(e.IDType)
		if m.Name != e.Name || m.Address != e.Address || m.IDNumber != idcard.Mask(e.IDType, e.IDNumber) ||
			m.Phone != phone.Mask(e.Phone) || m.LandlordPhone != phone.Mask(e.LandlordPhone) ||
			(m.IDNumber == e.IDNumber) || (e.Phone != "" && m.Phone == e.Phone) {
			t.Fatalf("Masked(%+v) = %+v", e.Personal, m)
		}
		if want, _ := json.Marshal(e.Personal); !bytes.Equal(personalJSON(e.Personal), want) {
			t.Fatalf("personalJSON(%+v) = %s, encoding/json %s", e.Personal, personalJSON(e.Personal), want)
		}
	})
}

// FuzzRegistryFile checks a registry file as the importer reads it, on any
// bytes: the header picks the columns or the file is refused with a
// *fields.Error naming the header; each row is checked with the line it
// starts on; and the error file written for the refused rows is a CSV of
// one line per problem, in order, that Excel opens (BOM, the header
// 行号,字段,原因).
func FuzzRegistryFile(f *testing.F) {
	const file = "姓名,证件类型,证件号码,手机号,镇街,社区,地址,人员类型,房东电话\r\n" +
		"张三,居民身份证,11010519491231002X,13800138000,环市街道,石冲社区,新塘里96号,常住,\r\n" +
		"李四,,110105194912310021,0750-3123456,,石冲社区,,流动,1380013800\r\n" +
		"王五,身份证,4.40703E+17,,,,\"白沙路\n1号\",外来,\r\n"
	f.Add([]byte(file))
	f.Add([]byte("\ufeff" + file))
	if gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(file)); err == nil {
		f.Add(gb)
	}
	f.Add([]byte("姓名\t公民身份号码\t村(社区)\t现住址\t人口类型\n张三\t11010519491231002X\t石冲社区\t1号\t户籍人口\n"))
	f.Add([]byte("姓名,姓名,证件号码\n"))
	f.Add([]byte("\xff\xfe姓\x00"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		enc, err := csvin.Sniff(data[:min(len(data), 4096)])
		if err != nil {
			return
		}
		rd := csvin.NewReader(bytes.NewReader(data), enc, 0, 0)
		header, err := rd.Next()
		if err != nil {
			return
		}
		cols, err := csvin.Columns(header.Fields, columnNames, requiredColumns...)
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Columns: %v", err)
			}
			for _, p := range fe.Problems {
				col, _ := strings.CutPrefix(strings.TrimPrefix(p.Reason, "duplicate_"), "missing_")
				if p.Field != "header" || fieldLabels[col] == "" {
					t.Fatalf("header %q: problem %+v", header.Fields, p)
				}
			}
			return
		}
		for _, col := range requiredColumns {
			if _, ok := cols[col]; !ok {
				t.Fatalf("header %q: no column %s", header.Fields, col)
			}
		}
		var all []RowError
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			var le *csvin.LineError
			if errors.As(err, &le) {
				all = append(all, RowError{Line: rec.Line, Field: FieldRow, Reason: le.Reason()})
				continue
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			_, errs := CheckRow(rowOf(rec.Fields, cols), rec.Line, fuzzNow)
			checkRowErrors(t, errs, rec.Line)
			all = append(all, errs...)
		}

		var out bytes.Buffer
		if err := WriteErrorsCSV(&out, all); err != nil {
			t.Fatal(err)
		}
		text, ok := bytes.CutPrefix(out.Bytes(), []byte("\ufeff"))
		if !ok {
			t.Fatal("error file without a BOM")
		}
		back, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
		if err != nil || len(back) != len(all)+1 || !slices.Equal(back[0], []string{"行号", "字段", "原因"}) {
			t.Fatalf("error file %q read back as %q, %v", text, back, err)
		}
		for i, e := range all {
			got := back[i+1]
			if got[0] != strconv.Itoa(e.Line) || got[1] != fieldLabels[e.Field] || !strings.HasSuffix(got[2], "("+e.Reason+")") {
				t.Fatalf("error %+v written as %q", e, got)
			}
		}
	})
}
