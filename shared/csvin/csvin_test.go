package csvin

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/fields"
)

func gb18030(t *testing.T, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniff(t *testing.T) {
	t.Parallel()
	utf8Text := []byte("姓名,证件号码\n张三,11010519491231002X\n")
	gbText := gb18030(t, "姓名,证件号码\n张三,11010519491231002X\n")
	cases := []struct {
		name string
		head []byte
		want Encoding
		err  error
	}{
		{"ascii", []byte("name,idNumber\n"), UTF8, nil},
		{"utf-8", utf8Text, UTF8, nil},
		{"utf-8 with BOM", append([]byte("\uFEFF"), utf8Text...), UTF8, nil},
		{"utf-8 cut after the first byte of 名", utf8Text[:4], UTF8, nil},
		{"utf-8 cut after the second byte of 名", utf8Text[:5], UTF8, nil},
		{"gb18030", gbText, GB18030, nil},
		{"gb18030 cut mid-character", gbText[:3], GB18030, nil},
		{"utf-16le with BOM, chinese only", []byte{0xFF, 0xFE, 0xD3, 0x59, 0x0D, 0x54}, 0, ErrEncoding},
		{"utf-16be with BOM", []byte{0xFE, 0xFF, 0x59, 0xD3, 0x54, 0x0D}, 0, ErrEncoding},
		{"utf-16le without BOM", []byte{0xD3, 0x59, 0x0D, 0x54, 0x2C, 0x00}, 0, ErrEncoding},
		{"utf-16 ascii", []byte("n\x00a\x00"), 0, ErrEncoding},
		{"empty", nil, UTF8, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Sniff(tc.head)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("Sniff = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// readAll reads every record, turning line errors into records with a nil
// Fields and the error's reason in want's terms.
type result struct {
	Line, LastLine int
	Fields         []string
	Reason         string
}

func readAll(t *testing.T, r *Reader) ([]result, []Record) {
	t.Helper()
	var out []result
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, recs
		}
		res := result{Line: rec.Line, LastLine: rec.LastLine, Fields: rec.Fields}
		var le *LineError
		switch {
		case errors.As(err, &le):
			if le.Line != rec.Line {
				t.Errorf("LineError.Line %d, record line %d", le.Line, rec.Line)
			}
			res.Reason = le.Reason()
		case err != nil:
			t.Fatalf("Next: %v", err)
		}
		out = append(out, res)
		recs = append(recs, rec)
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	// An open quote joins "x" lines until the record passes MaxRecordBytes
	// on line cut; the lines after it are records again.
	const xLines = MaxRecordBytes / 2
	cut := 2 + (MaxRecordBytes-len("\"open\n"))/len("x\n") + 1
	unterminated := []result{{1, 1, []string{"a", "b"}, ""}, {2, cut, nil, ReasonTooLong}}
	for l := cut + 1; l <= xLines+2; l++ {
		unterminated = append(unterminated, result{l, l, []string{"x"}, ""})
	}
	unterminated = append(unterminated, result{xLines + 3, xLines + 3, []string{"tail", "1"}, ""}, result{xLines + 4, xLines + 4, []string{"ok", "2"}, ""})
	long := strings.Repeat("长", MaxRecordBytes/3+1)
	cases := []struct {
		name  string
		file  func(t *testing.T) []byte
		enc   Encoding
		want  []result
		comma rune
	}{
		{
			name: "utf-8 with BOM and CRLF",
			file: func(*testing.T) []byte { return []byte("\uFEFF姓名,证件号码\r\n张三,110105\r\n李四,2\r\n") },
			enc:  UTF8,
			want: []result{
				{1, 1, []string{"姓名", "证件号码"}, ""},
				{2, 2, []string{"张三", "110105"}, ""},
				{3, 3, []string{"李四", "2"}, ""},
			},
			comma: ',',
		},
		{
			name: "gb18030 with its BOM, no final line break",
			file: func(t *testing.T) []byte {
				return gb18030(t, "\uFEFF姓名,地址\n王五,新塘里96号\n𠮷田,长庚里1号")
			},
			enc: GB18030,
			want: []result{
				{1, 1, []string{"姓名", "地址"}, ""},
				{2, 2, []string{"王五", "新塘里96号"}, ""},
				{3, 3, []string{"𠮷田", "长庚里1号"}, ""},
			},
			comma: ',',
		},
		{
			name: "tab separated after blank lines, commas in cells",
			file: func(*testing.T) []byte { return []byte("\n \n姓名\t地址\n张三\t新塘里96号,201房\n") },
			enc:  UTF8,
			want: []result{
				{3, 3, []string{"姓名", "地址"}, ""},
				{4, 4, []string{"张三", "新塘里96号,201房"}, ""},
			},
			comma: '\t',
		},
		{
			name: "quoted cell over two lines, escaped quotes, blank rows skipped",
			file: func(t *testing.T) []byte {
				return gb18030(t, "姓名,地址\n\"张三\",\"新塘里\n96号\"\n,,\n\"李\"\"四\",\"a,b\"\n赵六,x\n")
			},
			enc: GB18030,
			want: []result{
				{1, 1, []string{"姓名", "地址"}, ""},
				{2, 3, []string{"张三", "新塘里\n96号"}, ""},
				{5, 5, []string{`李"四`, "a,b"}, ""},
				{6, 6, []string{"赵六", "x"}, ""},
			},
			comma: ',',
		},
		{
			name: "bare and stray quotes are one bad line each",
			file: func(*testing.T) []byte { return []byte("a,b\n张\"三,1\n\"x\"y,2\nok,3\n") },
			enc:  UTF8,
			want: []result{
				{1, 1, []string{"a", "b"}, ""},
				{2, 2, nil, ReasonMalformed},
				{3, 3, nil, ReasonMalformed},
				{4, 4, []string{"ok", "3"}, ""},
			},
			comma: ',',
		},
		{
			name: "an unterminated quote at the end",
			file: func(*testing.T) []byte { return []byte("a,b\n\"open,1\nnext,2\n") },
			enc:  UTF8,
			want: []result{
				{1, 1, []string{"a", "b"}, ""},
				{2, 3, nil, ReasonMalformed},
			},
			comma: ',',
		},
		{
			name: "a record too long is skipped to its line's end",
			file: func(*testing.T) []byte { return []byte("a,b\n" + long + ",1\nok,2\n") },
			enc:  UTF8,
			want: []result{
				{1, 1, []string{"a", "b"}, ""},
				{2, 2, nil, ReasonTooLong},
				{3, 3, []string{"ok", "2"}, ""},
			},
			comma: ',',
		},
		{
			name: "an unterminated quote stops at the size limit",
			file: func(*testing.T) []byte {
				return []byte("a,b\n\"open\n" + strings.Repeat("x\n", xLines) + "tail,1\nok,2\n")
			},
			enc:   UTF8,
			want:  unterminated,
			comma: ',',
		},
		{
			name: "a line that is not UTF-8 in a UTF-8 file",
			file: func(t *testing.T) []byte {
				return append([]byte("a,b\n"), append(gb18030(t, "张三,1\n"), "ok,2\n"...)...)
			},
			enc: UTF8,
			want: []result{
				{1, 1, []string{"a", "b"}, ""},
				{2, 2, nil, ReasonEncoding},
				{3, 3, []string{"ok", "2"}, ""},
			},
			comma: ',',
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := tc.file(t)
			// One byte a read: records must not depend on how the
			// underlying reader splits the file.
			r := NewReader(iotest.OneByteReader(bytes.NewReader(file)), tc.enc, 0, 0)
			got, recs := readAll(t, r)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("records\n got %+v\nwant %+v", got, tc.want)
			}
			if r.Comma != tc.comma {
				t.Errorf("Comma = %q, want %q", r.Comma, tc.comma)
			}
			if n := len(recs); n > 0 && recs[n-1].End != int64(len(file)) {
				t.Errorf("last End = %d, file is %d bytes", recs[n-1].End, len(file))
			}
		})
	}
}

// TestResume reads a file whole, then resumes after each record in turn:
// the rest must be the same records, with the same lines and offsets.
func TestResume(t *testing.T) {
	t.Parallel()
	text := "\uFEFF姓名\t地址\n张三\t\"新塘里\n96号\"\n\n李四\t长庚里1号\r\n坏\"行\t2\n王五\t石冲\n"
	for _, enc := range []Encoding{UTF8, GB18030} {
		t.Run(enc.String(), func(t *testing.T) {
			t.Parallel()
			file := []byte(text)
			if enc == GB18030 {
				file = gb18030(t, text)
			}
			first := NewReader(bytes.NewReader(file), enc, 0, 0)
			all, recs := readAll(t, first)
			if len(all) != 5 {
				t.Fatalf("read %d records, want 5: %+v", len(all), all)
			}
			for i, rec := range recs[:len(recs)-1] {
				r := NewReader(bytes.NewReader(file[rec.End:]), enc, rec.End, rec.LastLine)
				r.Comma = first.Comma
				rest, restRecs := readAll(t, r)
				if !reflect.DeepEqual(rest, all[i+1:]) {
					t.Errorf("resumed after record %d:\n got %+v\nwant %+v", i, rest, all[i+1:])
				}
				for j := range restRecs {
					if restRecs[j].End != recs[i+1+j].End {
						t.Errorf("resumed after record %d: End %d, want %d", i, restRecs[j].End, recs[i+1+j].End)
					}
				}
			}
			if got := recs[1]; got.Line != 2 || got.LastLine != 3 {
				t.Errorf("quoted record lines %d-%d, want 2-3", got.Line, got.LastLine)
			}
		})
	}
}

func TestReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r := NewReader(iotest.TimeoutReader(strings.NewReader("a,b\nc,d")), UTF8, 0, 0)
	var err error
	for err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("a reader failing mid-file gave %v", err)
	}
	r = NewReader(iotest.ErrReader(boom), UTF8, 0, 0)
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("Next = %v, want the reader's error wrapped", err)
	}
}

func TestColumns(t *testing.T) {
	t.Parallel()
	names := map[string]string{
		"姓名": "name", "name": "name",
		"证件号码": "idNumber", "身份证号": "idNumber", "ID Number": "idNumber",
		"手机号": "phone",
	}
	cases := []struct {
		name    string
		header  []string
		want    map[string]int
		reasons []string
	}{
		{"chinese", []string{"序号", "*姓名", "身份证号（必填）", "手机号(选填)"}, map[string]int{"name": 1, "idNumber": 2, "phone": 3}, nil},
		{"english any order", []string{" id_number ", "NAME"}, map[string]int{"name": 1, "idNumber": 0}, nil},
		{"full-width star and spaces", []string{"＊姓　名", "证件号码"}, map[string]int{"name": 0, "idNumber": 1}, nil},
		{"missing", []string{"姓名", "电话"}, nil, []string{"missing_idNumber"}},
		{"duplicate and missing", []string{"姓名", "name"}, nil, []string{"duplicate_name", "missing_idNumber"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Columns(tc.header, names, "name", "idNumber")
			if tc.reasons == nil {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Columns = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != CodeInvalidHeader {
				t.Fatalf("Columns error %v, want *fields.Error %s", err, CodeInvalidHeader)
			}
			var reasons []string
			for _, p := range fe.Problems {
				if p.Field != "header" {
					t.Errorf("problem field %q, want header", p.Field)
				}
				reasons = append(reasons, p.Reason)
			}
			if !reflect.DeepEqual(reasons, tc.reasons) {
				t.Errorf("reasons %q, want %q", reasons, tc.reasons)
			}
		})
	}
}
