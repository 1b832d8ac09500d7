package group

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/fields"
	"gridcode/shared/idcard"
)

// rosterNow is 2024-05-01 09:00 in Shanghai.
var rosterNow = time.Date(2024, 5, 1, 1, 0, 0, 0, time.UTC)

// residentID completes a 17-digit prefix with its check digit.
func residentID(first17 string) string {
	return first17 + string(idcard.CheckDigit(first17))
}

var (
	idZhang = residentID("11010119900307123") // Beijing
	idLi    = residentID("44010619850101002") // Guangzhou
	idWang  = residentID("31011520000229456") // Shanghai, leap day
)

// problems returns err's problems, failing unless it is a *fields.Error
// with code.
func problems(t *testing.T, err error, code string) []fields.Problem {
	t.Helper()
	var fe *fields.Error
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want *fields.Error", err, err)
	}
	if fe.Code != code {
		t.Fatalf("code = %q, want %q", fe.Code, code)
	}
	return fe.Problems
}

func wantProblems(t *testing.T, err error, code string, want ...fields.Problem) {
	t.Helper()
	if got := problems(t, err, code); !slices.Equal(got, want) {
		t.Errorf("problems:\n got %v\nwant %v", got, want)
	}
}

func parseCSV(t *testing.T, data []byte) []RosterRow {
	t.Helper()
	rows, err := ParseRosterCSV(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ParseRosterCSV: %v", err)
	}
	return rows
}

// sampleCSV has a rare name outside the BMP, a full-width ID digit, a
// passport, a blank line, an Excel empty row and an ignored column.
var sampleCSV = "序号,姓名,证件类型,证件号码,手机号,备注\r\n" +
	"1, 张三 ,居民身份证," + idZhang + ",138 0013 8000,\r\n" +
	"\r\n" +
	"2,𠮷田,," + strings.Replace(idLi, "1", "１", 1) + ",,新员工\r\n" +
	",,,,,\r\n" +
	"3,John Smith,护照,E12345678,+86 139-0013-9000,\r\n"

var sampleRows = []RosterRow{
	{Name: "张三", IDType: "居民身份证", IDNumber: idZhang, Phone: "138 0013 8000", Line: 2},
	{Name: "𠮷田", IDNumber: strings.Replace(idLi, "1", "１", 1), Line: 4},
	{Name: "John Smith", IDType: "护照", IDNumber: "E12345678", Phone: "+86 139-0013-9000", Line: 6},
}

var sampleChecked = []CheckedRow{
	{Name: "张三", IDType: idcard.ResidentID, IDNumber: idZhang, Phone: "13800138000"},
	{Name: "𠮷田", IDType: idcard.ResidentID, IDNumber: idLi},
	{Name: "John Smith", IDType: idcard.Passport, IDNumber: "E12345678", Phone: "13900139000"},
}

func checkSample(t *testing.T, rows []RosterRow) {
	t.Helper()
	if !slices.Equal(rows, sampleRows) {
		t.Fatalf("rows:\n got %+v\nwant %+v", rows, sampleRows)
	}
	checked, err := CheckRoster(rows, rosterNow, CSVLines(rows))
	if err != nil {
		t.Fatalf("CheckRoster: %v", err)
	}
	if !slices.Equal(checked, sampleChecked) {
		t.Errorf("checked:\n got %+v\nwant %+v", checked, sampleChecked)
	}
}

func TestParseRosterCSVUTF8(t *testing.T) {
	t.Parallel()
	checkSample(t, parseCSV(t, []byte(sampleCSV)))
}

func TestParseRosterCSVUTF8BOM(t *testing.T) {
	t.Parallel()
	checkSample(t, parseCSV(t, []byte("\uFEFF"+sampleCSV)))
}

func TestParseRosterCSVGB18030(t *testing.T) {
	t.Parallel()
	gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(sampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(gb, []byte("姓名")) {
		t.Fatal("encoder left UTF-8")
	}
	checkSample(t, parseCSV(t, gb))

	// GBK, as older Excel writes it, is a subset of GB18030 (without 𠮷).
	gbkText := strings.Replace(sampleCSV, "𠮷田", "李四", 1)
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(gbkText))
	if err != nil {
		t.Fatal(err)
	}
	if rows := parseCSV(t, gbk); rows[1].Name != "李四" || rows[0].IDType != "居民身份证" {
		t.Errorf("GBK rows = %+v", rows)
	}
}

func TestParseRosterCSVEnglishHeader(t *testing.T) {
	t.Parallel()
	// Any order, any case, spacing and markers, quoted cells, LF only.
	data := "Phone, ID Number ,note,\"Name*\",id_type\n" +
		"13800138000,\"" + idZhang + "\",x,\"Zhang, San\",RESIDENT_ID\n" +
		"," + idWang + ",,王五\n" // short row: idType missing, default
	rows := parseCSV(t, []byte(data))
	want := []RosterRow{
		{Name: "Zhang, San", IDType: "RESIDENT_ID", IDNumber: idZhang, Phone: "13800138000", Line: 2},
		{Name: "王五", IDNumber: idWang, Line: 3},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", rows, want)
	}
	if _, err := CheckRoster(rows, rosterNow, CSVLines(rows)); err != nil {
		t.Errorf("CheckRoster: %v", err)
	}
}

func TestParseRosterCSVHeaderVariants(t *testing.T) {
	t.Parallel()
	for _, header := range []string{
		"姓名,身份证号",
		"姓名,身份证号码,手机号码",
		"姓名（必填）,证件号码*,电话",
		"name,idNumber,phone,idType",
		"姓名\t身份证号\t手机号", // tab-separated (Excel "text" export)
	} {
		sep := ","
		if strings.Contains(header, "\t") {
			sep = "\t"
		}
		rows, err := ParseRosterCSV(strings.NewReader(header + "\n张三" + sep + idZhang + "\n"))
		if err != nil {
			t.Errorf("%q: %v", header, err)
			continue
		}
		if len(rows) != 1 || rows[0].Name != "张三" || rows[0].IDNumber != idZhang {
			t.Errorf("%q: rows = %+v", header, rows)
		}
	}
}

func TestParseRosterCSVHeaderProblems(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want []fields.Problem
	}{
		{"", []fields.Problem{{Field: "header", Reason: "required"}}},
		{"\uFEFF\r\n\r\n", []fields.Problem{{Field: "header", Reason: "required"}}},
		{"姓名,手机号\n张三,13800138000\n", []fields.Problem{{Field: "header", Reason: "missing_idNumber"}}},
		{"证件号码\n" + idZhang + "\n", []fields.Problem{{Field: "header", Reason: "missing_name"}}},
		{"a,b,c\n1,2,3\n", []fields.Problem{{Field: "header", Reason: "missing_name"}, {Field: "header", Reason: "missing_idNumber"}}},
		{"姓名,身份证号,证件号码\n", []fields.Problem{{Field: "header", Reason: "duplicate_idNumber"}}},
		{"\"姓名,证件号码\n", []fields.Problem{{Field: "header", Reason: "malformed"}}},
	} {
		_, err := ParseRosterCSV(strings.NewReader(tt.in))
		if got := problems(t, err, CodeInvalidRoster); !slices.Equal(got, tt.want) {
			t.Errorf("%q: problems = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseRosterCSVFileProblems(t *testing.T) {
	t.Parallel()
	// UTF-16LE with BOM, as Excel's "Unicode text" writes.
	utf16 := []byte{0xFF, 0xFE, 'n', 0, 'a', 0, 'm', 0, 'e', 0}
	_, err := ParseRosterCSV(bytes.NewReader(utf16))
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "file", Reason: ProblemEncoding})

	// Broken quoting on line 3 is reported on line 3.
	_, err = ParseRosterCSV(strings.NewReader("姓名,证件号码\n张三," + idZhang + "\n李\"四,x\n"))
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows[3]", Reason: ProblemMalformed})

	big := strings.Repeat("x", MaxRosterBytes+1)
	if _, err := ParseRosterCSV(strings.NewReader(big)); !errors.Is(err, ErrRosterTooLarge) {
		t.Errorf("too large: err = %v", err)
	}
	readErr := errors.New("connection reset")
	if _, err := ParseRosterCSV(iotestErrReader{readErr}); !errors.Is(err, readErr) {
		t.Errorf("read error: err = %v", err)
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestCheckRosterRowProblems(t *testing.T) {
	t.Parallel()
	data := "姓名,证件类型,证件号码,手机号\n" + // line 1
		"张三,," + idZhang + ",\n" + // 2: fine
		",,,\n" + // blank, skipped
		",," + idLi + ",\n" + // 4: no name
		strings.Repeat("长", 31) + ",," + idWang + ",12345\n" + // 5: long name, bad phone
		"王\u202e五,驾照," + idWang + ",13800138000\n" + // 6: bidi override, unknown type
		"赵六,," + idZhang[:17] + "0" + ",\n" + // 7: checksum (idZhang ends in 4)
		"\"钱\n七\",,1234567890123,\n" + // 8-9: quoted newline, format
		"孙八,,4.40106E+17,\n" + // 10: Excel number
		"周九,身份证," + strings.ToLower(idZhang) + ",\n" + // 11: duplicate of line 2
		"吴十,护照,E1234567,\n" + // 12: fine
		"郑十一,passport,e1234567,13800138000\n" + // 13: duplicate after normalising
		"冯十二,,110101900307123,\n" // 14: first generation
	if idZhang[17] == '0' {
		t.Fatal("test ID ends in 0; pick another")
	}
	rows := parseCSV(t, []byte(data))
	_, err := CheckRoster(rows, rosterNow, CSVLines(rows))
	wantProblems(t, err, CodeInvalidRoster,
		fields.Problem{Field: "rows[4].name", Reason: "required"},
		fields.Problem{Field: "rows[5].name", Reason: "too_long"},
		fields.Problem{Field: "rows[5].phone", Reason: "invalid"},
		fields.Problem{Field: "rows[6].name", Reason: "invalid_characters"},
		fields.Problem{Field: "rows[6].idType", Reason: "unknown"},
		fields.Problem{Field: "rows[7].idNumber", Reason: idcard.ReasonChecksum},
		fields.Problem{Field: "rows[8].idNumber", Reason: idcard.ReasonFormat},
		fields.Problem{Field: "rows[10].idNumber", Reason: ProblemExcelNumber},
		fields.Problem{Field: "rows[11].idNumber", Reason: ProblemDuplicate},
		fields.Problem{Field: "rows[13].idNumber", Reason: ProblemDuplicate},
		fields.Problem{Field: "rows[14].idNumber", Reason: idcard.ReasonFirstGeneration},
	)
}

func TestCheckRosterBirthDateUsesDistrictDay(t *testing.T) {
	t.Parallel()
	// Born 2024-05-01: already that day in Shanghai at 2024-04-30 17:00 UTC.
	id := residentID("11010120240501123")
	rows := []RosterRow{{Name: "新生", IDNumber: id}}
	if _, err := CheckRoster(rows, time.Date(2024, 4, 30, 17, 0, 0, 0, time.UTC), nil); err != nil {
		t.Errorf("born today in Shanghai: %v", err)
	}
	_, err := CheckRoster(rows, time.Date(2024, 4, 30, 15, 0, 0, 0, time.UTC), nil)
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows[0].idNumber", Reason: idcard.ReasonBirthDate})
}

func TestCheckRosterSize(t *testing.T) {
	t.Parallel()
	_, err := CheckRoster(nil, rosterNow, nil)
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows", Reason: ProblemEmpty})

	// A header-only CSV parses to no rows, which CheckRoster refuses.
	rows := parseCSV(t, []byte("姓名,证件号码\r\n\r\n"))
	_, err = CheckRoster(rows, rosterNow, CSVLines(rows))
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows", Reason: ProblemEmpty})

	// MaxRoster distinct valid rows pass; one more is too many.
	many := make([]RosterRow, MaxRoster+1)
	for i := range many {
		born := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("20060102")
		many[i] = RosterRow{Name: "成员" + strconv.Itoa(i), IDNumber: residentID("110101" + born + "123")}
	}
	if checked, err := CheckRoster(many[:MaxRoster], rosterNow, nil); err != nil || len(checked) != MaxRoster {
		t.Fatalf("MaxRoster rows: %d, %v", len(checked), err)
	}
	_, err = CheckRoster(many, rosterNow, nil)
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows", Reason: ProblemTooMany})

	// The CSV parser stops at MaxRoster+1 rows rather than reading on.
	var b strings.Builder
	b.WriteString("姓名,证件号码\n")
	for _, r := range many {
		b.WriteString(r.Name + "," + r.IDNumber + "\n")
	}
	_, err = ParseRosterCSV(strings.NewReader(b.String()))
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows", Reason: ProblemTooMany})
}

func TestParseRosterJSON(t *testing.T) {
	t.Parallel()
	body := `{"members":[
		{"name":"张三","idType":"resident_id","idNumber":"` + idZhang + `","phone":"13800138000"},
		{"name":"𠮷田","idNumber":"` + idLi + `"},
		{"name":"","idType":"passport","idNumber":"E1","phone":"abc"}
	]}`
	rows, err := ParseRosterJSON(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []RosterRow{
		{Name: "张三", IDType: "resident_id", IDNumber: idZhang, Phone: "13800138000"},
		{Name: "𠮷田", IDNumber: idLi},
		{IDType: "passport", IDNumber: "E1", Phone: "abc"},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", rows, want)
	}
	// JSON rows are numbered by array index.
	_, err = CheckRoster(rows, rosterNow, nil)
	wantProblems(t, err, CodeInvalidRoster,
		fields.Problem{Field: "rows[2].name", Reason: "required"},
		fields.Problem{Field: "rows[2].idNumber", Reason: idcard.ReasonFormat},
		fields.Problem{Field: "rows[2].phone", Reason: "invalid"},
	)
}

func TestParseRosterJSONRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want []fields.Problem
	}{
		{`{"members":[{"name":"张三","idNumber":"x","email":"a@b"}]}`, []fields.Problem{{Field: "email", Reason: "unknown_field"}}},
		{`{"members":[],"groupId":"G1"}`, []fields.Problem{{Field: "groupId", Reason: "unknown_field"}}},
		{`{"members":[{"name":1}]}`, []fields.Problem{{Field: "members.name", Reason: "wrong_type"}}},
		{`{"members":[]} {}`, nil},
		{`{"members":[`, nil},
		{``, nil},
	} {
		_, err := ParseRosterJSON(strings.NewReader(tt.in))
		if got := problems(t, err, CodeInvalidJSON); !slices.Equal(got, tt.want) {
			t.Errorf("%s: problems = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestIDTypeNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want idcard.Kind
	}{
		{"", idcard.ResidentID},
		{" resident_id ", idcard.ResidentID},
		{"居民身份证", idcard.ResidentID},
		{"身份证", idcard.ResidentID},
		{"Passport", idcard.Passport},
		{"护照", idcard.Passport},
		{"回乡证", idcard.HKMacaoPermit},
		{"港澳居民来往内地通行证", idcard.HKMacaoPermit},
		{"台胞证", idcard.TaiwanPermit},
		{"taiwan_permit", idcard.TaiwanPermit},
	} {
		if got, ok := ParseIDType(tt.in); !ok || got != tt.want {
			t.Errorf("ParseIDType(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"驾照", "港澳通行证", "id"} {
		if k, ok := ParseIDType(bad); ok {
			t.Errorf("ParseIDType(%q) = %q, want refused", bad, k)
		}
	}
	// Every kind's Chinese name reads back as the kind.
	for _, k := range []idcard.Kind{idcard.ResidentID, idcard.Passport, idcard.HKMacaoPermit, idcard.TaiwanPermit} {
		if got, ok := ParseIDType(IDTypeName(k)); !ok || got != k {
			t.Errorf("ParseIDType(IDTypeName(%q)) = %q, %v", k, got, ok)
		}
	}
	if got := IDTypeName("military"); got != "military" {
		t.Errorf("IDTypeName(unknown) = %q", got)
	}
}

func TestCheckJoin(t *testing.T) {
	t.Parallel()
	got, err := CheckJoin(RosterRow{Name: " 𠮷 ", IDNumber: idWang, Phone: "＋８６ １３８００１３８０００"}, rosterNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := (CheckedRow{Name: "𠮷", IDType: idcard.ResidentID, IDNumber: idWang, Phone: "13800138000"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	_, err = CheckJoin(RosterRow{Name: "张三", IDType: "passport", IDNumber: "E1"}, rosterNow)
	wantProblems(t, err, CodeInvalidJoin, fields.Problem{Field: "idNumber", Reason: idcard.ReasonFormat})
}

func TestReadRoster(t *testing.T) {
	t.Parallel()
	got, err := ReadRoster(strings.NewReader(sampleCSV), "text/csv", rosterNow)
	if err != nil || !slices.Equal(got, sampleChecked) {
		t.Errorf("CSV: %+v, %v", got, err)
	}
	body := `{"members":[{"name":"张三","idType":"","idNumber":"` + idZhang + `","phone":"13800138000"},{"name":"李四","idType":"","idNumber":"` + idZhang + `","phone":""}]}`
	_, err = ReadRoster(strings.NewReader(body), "application/json", rosterNow)
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows[1].idNumber", Reason: ProblemDuplicate})
	// The CSV line, not the index, names a bad CSV row.
	_, err = ReadRoster(strings.NewReader("姓名,证件号码\n\n张三,123\n"), "text/csv", rosterNow)
	wantProblems(t, err, CodeInvalidRoster, fields.Problem{Field: "rows[3].idNumber", Reason: idcard.ReasonFormat})
	if _, err := ReadRoster(strings.NewReader(sampleCSV), "text/plain", rosterNow); !errors.Is(err, ErrRosterMediaType) {
		t.Errorf("text/plain: err = %v", err)
	}
}

func FuzzParseRosterCSV(f *testing.F) {
	f.Add([]byte(sampleCSV))
	f.Add([]byte("\uFEFF" + sampleCSV))
	if gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(sampleCSV)); err == nil {
		f.Add(gb)
	}
	f.Add([]byte("name,idNumber,phone\n\"a\"\"b\",x,\n"))
	f.Add([]byte("姓名\t身份证号\n张三\t" + idZhang + "\n"))
	f.Add([]byte("姓名,证件号码\n\"张三\n"))
	f.Add([]byte{0xFF, 0xFE, 0x81, 0x30})
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseRosterCSV(bytes.NewReader(data))
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) && !errors.Is(err, ErrRosterTooLarge) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if fe != nil && (fe.Code != CodeInvalidRoster || len(fe.Problems) == 0) {
				t.Fatalf("bad fields.Error %+v", fe)
			}
			return
		}
		if len(rows) > MaxRoster {
			t.Fatalf("%d rows", len(rows))
		}
		last := 1
		for _, r := range rows {
			if r.Line <= last {
				t.Fatalf("line %d after %d", r.Line, last)
			}
			last = r.Line
			for _, s := range []string{r.Name, r.IDType, r.IDNumber, r.Phone} {
				if s != strings.TrimSpace(s) {
					t.Fatalf("untrimmed cell %q", s)
				}
			}
		}
		checked, err := CheckRoster(rows, rosterNow, CSVLines(rows))
		if err != nil {
			if len(problems(t, err, CodeInvalidRoster)) == 0 {
				t.Fatal("fields.Error without problems")
			}
			return
		}
		if len(checked) != len(rows) {
			t.Fatalf("%d checked rows for %d", len(checked), len(rows))
		}
		for _, c := range checked {
			if c.Name == "" || c.IDNumber == "" || c.IDType == "" || (c.Phone != "" && len(c.Phone) != 11) {
				t.Fatalf("accepted bad row %+v", c)
			}
		}
	})
}
