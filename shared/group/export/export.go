// Package export writes a group's daily list as files that open correctly
// in Chinese Excel: CSV in UTF-8 with a BOM (without it Excel reads CSV as
// GBK and garbles every name) and XLSX.
//
// Both show the same columns, in Chinese, with entries in the order given
// and times in Asia/Shanghai. Entries are masked already (group.Entry), so
// nothing here adds or hides personal data.
package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"gridcode/shared/dates"
	"gridcode/shared/group"
	"gridcode/shared/health"
)

// Header is the column row of both formats.
var Header = []string{"姓名", "证件类型", "证件号码", "健康码", "最近核酸时间", "距今小时", "核酸结果", "疫苗剂次", "是否异常", "异常原因"}

// TimeLayout is how NAT times are shown, in the district's zone.
const TimeLayout = "2006-01-02 15:04"

// reasonNames translate the daily list's reason codes.
var reasonNames = map[string]string{
	group.ReasonRed:         "红码",
	group.ReasonYellow:      "黄码",
	group.ReasonNATPositive: "核酸阳性",
	group.ReasonNATStale:    "核酸超时",
	group.ReasonNoData:      "无健康数据",
}

var natNames = map[health.NATResult]string{health.Negative: "阴性", health.Positive: "阳性"}

// ReasonName is a reason code's Chinese name; an unknown code is shown as
// it is, so a new reason is never hidden.
func ReasonName(code string) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return code
}

// cell is one value of a row: text, or an integer Excel may sum.
type cell struct {
	text  string
	num   int
	isNum bool
}

// row lays out one entry in Header's order; absent values are empty text.
func row(e group.Entry) []cell {
	text := func(s string) cell { return cell{text: s} }
	optInt := func(p *int) cell {
		if p == nil {
			return cell{}
		}
		return cell{num: *p, isNum: true}
	}
	natAt := ""
	if e.NATAt != nil {
		natAt = e.NATAt.In(dates.District).Format(TimeLayout)
	}
	color := e.CodeColor.Name()
	nat := string(e.NATResult)
	if n, ok := natNames[e.NATResult]; ok {
		nat = n
	}
	abnormal := "否"
	if e.Abnormal {
		abnormal = "是"
	}
	reasons := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		reasons[i] = ReasonName(r)
	}
	return []cell{
		text(e.Name), text(group.IDTypeName(e.IDType)), text(e.IDNumber), text(color),
		text(natAt), optInt(e.HoursSinceNAT), text(nat), optInt(e.VaccineDoses),
		text(abnormal), text(strings.Join(reasons, "、")),
	}
}

// CSV writes the list as UTF-8 with BOM and CRLF line endings: the header
// line, then one line per entry. The group, date and summary are not
// repeated in the file, so it sorts and filters as a plain table; the
// XLSX carries them in its title.
//
// Text cells that Excel would run as a formula (starting with = + - @, tab
// or carriage return) get a leading apostrophe.
func CSV(w io.Writer, g group.Group, date string, s group.Summary, entries []group.Entry) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(Header); err != nil {
		return err
	}
	rec := make([]string, len(Header))
	for _, e := range entries {
		for i, c := range row(e) {
			switch {
			case c.isNum:
				rec[i] = strconv.Itoa(c.num)
			default:
				rec[i] = defuse(c.text)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// defuse keeps a text cell from being read as a formula (CSV injection).
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// XLSX styling.
const (
	headerRow   = 2 // row 1 is the title
	abnormalRGB = "FFC7CE"
	abnormalInk = "9C0006" // Excel's "light red fill with dark red text"
)

// colWidths fit the longest usual value of each column in Chinese
// characters, which are two width units each.
var colWidths = []float64{12, 24, 22, 8, 18, 10, 10, 10, 10, 30}

// XLSX writes the list as a workbook with one sheet named by the date:
// row 1 the group's name, the date and the summary counts; row 2 the
// header, bold and frozen with a filter; then one row per entry, abnormal
// rows filled light red. Every value is stored as text except the hour
// and dose counts, so ID numbers never turn into numbers.
func XLSX(w io.Writer, g group.Group, date string, s group.Summary, entries []group.Entry) error {
	if _, ok := dates.Parse(date); !ok {
		return fmt.Errorf("export: bad date %q", date)
	}
	f := excelize.NewFile()
	defer f.Close()
	sheet := date
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		return err
	}
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	lastCol, err := excelize.ColumnNumberToName(len(Header))
	if err != nil {
		return err
	}
	ref := func(col, row int) string {
		name, _ := excelize.CoordinatesToCellName(col, row) // col, row ≥ 1
		return name
	}
	steps := []func() error{
		func() error { return f.SetCellStr(sheet, "A1", title(g, date, s)) },
		func() error { return f.MergeCell(sheet, "A1", ref(len(Header), 1)) },
		func() error { return f.SetCellStyle(sheet, "A1", ref(len(Header), 1), st.title) },
		func() error { return f.SetRowHeight(sheet, 1, 36) },
		func() error { return f.SetSheetRow(sheet, ref(1, headerRow), &Header) },
		func() error { return f.SetCellStyle(sheet, ref(1, headerRow), ref(len(Header), headerRow), st.header) },
		func() error {
			return f.SetPanes(sheet, &excelize.Panes{
				Freeze: true, YSplit: headerRow, TopLeftCell: ref(1, headerRow+1), ActivePane: "bottomLeft",
				Selection: []excelize.Selection{{SQRef: ref(1, headerRow+1), ActiveCell: ref(1, headerRow+1), Pane: "bottomLeft"}},
			})
		},
	}
	for i, width := range colWidths {
		col, _ := excelize.ColumnNumberToName(i + 1)
		steps = append(steps, func() error { return f.SetColWidth(sheet, col, col, width) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}

	for i, e := range entries {
		r := headerRow + 1 + i
		for j, c := range row(e) {
			var err error
			switch {
			case c.isNum:
				err = f.SetCellInt(sheet, ref(j+1, r), int64(c.num))
			case c.text != "":
				err = f.SetCellStr(sheet, ref(j+1, r), c.text)
			}
			if err != nil {
				return err
			}
		}
		style := st.normal
		if e.Abnormal {
			style = st.abnormal
		}
		if err := f.SetCellStyle(sheet, ref(1, r), ref(len(Header), r), style); err != nil {
			return err
		}
	}
	last := headerRow + max(len(entries), 1)
	if err := f.AutoFilter(sheet, ref(1, headerRow)+":"+lastCol+strconv.Itoa(last), nil); err != nil {
		return err
	}
	return f.Write(w)
}

// title is row 1: 某超市 2024-05-01 健康日报：成员 120 人，异常 5 人（红码 1，…）.
func title(g group.Group, date string, s group.Summary) string {
	return fmt.Sprintf("%s %s 健康日报：成员 %d 人，异常 %d 人（红码 %d，黄码 %d，核酸阳性 %d，核酸超时 %d，无健康数据 %d）",
		g.Name, date, s.Members, s.Abnormal, s.Red, s.Yellow, s.NATPositive, s.NATStale, s.NoData)
}

type styles struct{ title, header, normal, abnormal int }

func newStyles(f *excelize.File) (styles, error) {
	thin := []excelize.Border{
		{Type: "left", Color: "BFBFBF", Style: 1}, {Type: "right", Color: "BFBFBF", Style: 1},
		{Type: "top", Color: "BFBFBF", Style: 1}, {Type: "bottom", Color: "BFBFBF", Style: 1},
	}
	middle := &excelize.Alignment{Vertical: "center"}
	var st styles
	var err error
	for _, s := range []struct {
		id    *int
		style excelize.Style
	}{
		{&st.title, excelize.Style{
			Font:      &excelize.Font{Bold: true, Size: 14},
			Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
		}},
		{&st.header, excelize.Style{
			Font:      &excelize.Font{Bold: true},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9D9D9"}},
			Border:    thin,
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"},
		}},
		{&st.normal, excelize.Style{Border: thin, Alignment: middle}},
		{&st.abnormal, excelize.Style{
			Font:      &excelize.Font{Color: abnormalInk},
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{abnormalRGB}},
			Border:    thin,
			Alignment: middle,
		}},
	} {
		if *s.id, err = f.NewStyle(&s.style); err != nil {
			return styles{}, err
		}
	}
	return st, nil
}
