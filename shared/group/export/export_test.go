package export

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
)

func ptr[T any](v T) *T { return &v }

var (
	testGroup = group.Group{ID: "GABCD2345", Name: "幸福超市（东门店）"}
	testDate  = "2024-05-01"
	testSum   = group.Summary{Members: 4, Abnormal: 3, Red: 1, Yellow: 0, NATPositive: 0, NATStale: 1, NoData: 1}
	// 2024-04-30 23:30 UTC is 2024-05-01 07:30 in Shanghai.
	natAt = time.Date(2024, 4, 30, 23, 30, 0, 0, time.UTC)
)

var testEntries = []group.Entry{
	{
		Name: "𠮷田", IDType: idcard.ResidentID, IDNumber: "1101**********1234",
		CodeColor: health.Red, NATAt: &natAt, HoursSinceNAT: ptr(2), NATResult: health.Negative,
		VaccineDoses: ptr(3), Abnormal: true, Reasons: []string{group.ReasonRed},
	},
	{
		Name: "=HYPERLINK(\"http://x\")", IDType: idcard.Passport, IDNumber: "E******78",
		CodeColor: health.Green, NATAt: &natAt, HoursSinceNAT: ptr(0), NATResult: health.Negative,
		VaccineDoses: ptr(0),
	},
	{
		Name: "张三", IDType: idcard.HKMacaoPermit, IDNumber: "H******01",
		CodeColor: health.Yellow, Abnormal: true, Reasons: []string{group.ReasonNATStale, "future_reason"},
	},
	{
		Name: "@李四", IDType: idcard.TaiwanPermit, IDNumber: "1*****78",
		Abnormal: true, Reasons: []string{group.ReasonNoData},
	},
}

// wantRows are testEntries as both formats show them (CSV adds the
// apostrophes).
var wantRows = [][]string{
	{"𠮷田", "居民身份证", "1101**********1234", "红码", "2024-05-01 07:30", "2", "阴性", "3", "是", "红码"},
	{"=HYPERLINK(\"http://x\")", "护照", "E******78", "绿码", "2024-05-01 07:30", "0", "阴性", "0", "否", ""},
	{"张三", "港澳居民来往内地通行证", "H******01", "黄码", "", "", "", "", "是", "核酸超时、future_reason"},
	{"@李四", "台湾居民来往大陆通行证", "1*****78", "", "", "", "", "", "是", "无健康数据"},
}

func TestCSV(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := CSV(&buf, testGroup, testDate, testSum, testEntries); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if !bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}) {
		t.Fatal("no UTF-8 BOM")
	}
	body := raw[3:]
	if n, crlf := bytes.Count(body, []byte("\n")), bytes.Count(body, []byte("\r\n")); n != crlf || n != 1+len(testEntries) {
		t.Errorf("%d line feeds, %d CRLF; want %d CRLF only", n, crlf, 1+len(testEntries))
	}
	if !strings.HasPrefix(string(body), "姓名,证件类型,证件号码,健康码,最近核酸时间,距今小时,核酸结果,疫苗剂次,是否异常,异常原因\r\n") {
		t.Errorf("header line: %q", strings.SplitN(string(body), "\n", 2)[0])
	}

	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], Header) {
		t.Errorf("header = %q", recs[0])
	}
	want := make([][]string, len(wantRows))
	for i, r := range wantRows {
		want[i] = slices.Clone(r)
	}
	want[1][0] = "'" + want[1][0] // formula defused
	want[3][0] = "'" + want[3][0]
	if got := recs[1:]; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
}

func TestCSVEmpty(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := CSV(&buf, testGroup, testDate, group.Summary{}, nil); err != nil {
		t.Fatal(err)
	}
	if want := "\uFEFF" + strings.Join(Header, ",") + "\r\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestDefuse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+86": "'+86", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\t=1": "'\t=1", "\r=1": "'\r=1",
		"张=三": "张=三", "": "", "'x": "'x",
	} {
		if got := defuse(in); got != want {
			t.Errorf("defuse(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReasonName(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		"code_red": "红码", "code_yellow": "黄码", "nat_positive": "核酸阳性", "nat_stale": "核酸超时", "no_data": "无健康数据",
		"brand_new": "brand_new",
	} {
		if got := ReasonName(code); got != want {
			t.Errorf("ReasonName(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestXLSX(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := XLSX(&buf, testGroup, testDate, testSum, testEntries); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if got := f.GetSheetList(); !slices.Equal(got, []string{testDate}) {
		t.Fatalf("sheets = %q", got)
	}
	sheet := testDate
	value := func(cell string) string {
		t.Helper()
		v, err := f.GetCellValue(sheet, cell)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	title := value("A1")
	for _, part := range []string{"幸福超市（东门店）", testDate, "成员 4 人", "异常 3 人", "红码 1", "核酸超时 1", "无健康数据 1"} {
		if !strings.Contains(title, part) {
			t.Errorf("title %q lacks %q", title, part)
		}
	}
	merged, err := f.GetMergeCells(sheet)
	if err != nil || len(merged) != 1 || merged[0].GetStartAxis() != "A1" || merged[0].GetEndAxis() != "J1" {
		t.Errorf("merged cells = %v, %v", merged, err)
	}

	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2+len(testEntries) {
		t.Fatalf("%d rows", len(rows))
	}
	if !slices.Equal(rows[1], Header) {
		t.Errorf("header = %q", rows[1])
	}
	for i, want := range wantRows {
		got := rows[2+i]
		// GetRows drops trailing empty cells.
		want = want[:len(got)]
		if !slices.Equal(got, want) {
			t.Errorf("row %d:\n got %q\nwant %q", 3+i, got, want)
		}
	}
	// The formula-like name is text, not a formula.
	if formula, err := f.GetCellFormula(sheet, "A4"); err != nil || formula != "" {
		t.Errorf("A4 formula = %q, %v", formula, err)
	}
	// ID numbers are text; counts are numbers.
	for cell, want := range map[string]excelize.CellType{"C3": excelize.CellTypeSharedString, "F3": excelize.CellTypeUnset, "H3": excelize.CellTypeUnset} {
		if got, err := f.GetCellType(sheet, cell); err != nil || got != want {
			t.Errorf("%s type = %v, %v; want %v", cell, got, err, want)
		}
	}

	// Header bold; abnormal rows (3, 5, 6) filled light red, row 4 not.
	style := func(cell string) *excelize.Style {
		t.Helper()
		id, err := f.GetCellStyle(sheet, cell)
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := style("B2"); s.Font == nil || !s.Font.Bold {
		t.Errorf("header style %+v not bold", s)
	}
	for _, cell := range []string{"A3", "J3", "E5", "A6"} {
		if s := style(cell); !slices.Equal(s.Fill.Color, []string{abnormalRGB}) || s.Fill.Pattern != 1 {
			t.Errorf("%s fill = %+v, want %s", cell, s.Fill, abnormalRGB)
		}
	}
	if s := style("A4"); len(s.Fill.Color) != 0 {
		t.Errorf("normal row fill = %+v", s.Fill)
	}

	panes, err := f.GetPanes(sheet)
	if err != nil || !panes.Freeze || panes.YSplit != 2 || panes.TopLeftCell != "A3" {
		t.Errorf("panes = %+v, %v", panes, err)
	}
	if w, err := f.GetColWidth(sheet, "B"); err != nil || w < 20 {
		t.Errorf("column B width = %v, %v", w, err)
	}
}

func TestXLSXEmptyAndBadDate(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := XLSX(&buf, testGroup, testDate, group.Summary{}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rows, err := f.GetRows(testDate); err != nil || len(rows) != 2 || !slices.Equal(rows[1], Header) {
		t.Errorf("rows = %q, %v", rows, err)
	}
	for _, bad := range []string{"", "2024/05/01", "2024-13-01"} {
		if err := XLSX(&bytes.Buffer{}, testGroup, bad, group.Summary{}, nil); err == nil {
			t.Errorf("date %q accepted", bad)
		}
	}
}
