package csvin

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/fields"
)

// fuzzRecord is what Next gave, with a line error as its reason.
type fuzzRecord struct {
	Line, LastLine int
	End            int64
	Fields         []string
	Reason         string
}

// fuzzReadAll reads r to the end, failing t on anything but a record, a
// *LineError or io.EOF, and on a reader that does not move on.
func fuzzReadAll(t *testing.T, r *Reader, size int) []fuzzRecord {
	var out []fuzzRecord
	for i := 0; ; i++ {
		if i > size+1 {
			t.Fatalf("more than %d records from %d bytes: the reader does not move on", i, size)
		}
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		got := fuzzRecord{Line: rec.Line, LastLine: rec.LastLine, End: rec.End, Fields: rec.Fields}
		var le *LineError
		switch {
		case errors.As(err, &le):
			got.Reason = le.Reason()
			if le.Line != rec.Line || rec.Fields != nil {
				t.Fatalf("line error %v with record %+v", le, rec)
			}
		case err != nil:
			t.Fatalf("Next: %v", err)
		}
		out = append(out, got)
	}
}

// FuzzReader checks the streaming CSV reader every upload and import goes
// through, on any bytes: Sniff refuses UTF-16 and takes everything else;
// the reader always ends, each record starts after the last one and ends
// further on, within the file; a line it cannot read is a *LineError with
// a stable reason and the next line is read afresh; a reader resumed at
// any record's End reads exactly what the first reader read after it; and
// where encoding/csv reads a UTF-8 file without an error, the reader gives
// the same records on the same lines.
func FuzzReader(f *testing.F) {
	seeds := []string{
		"姓名,证件号码\r\n张三,11010519491231002X\r\n",
		"\ufeff姓名,证件号码\n张三,\"4407\n03\"\n\n李四,x\n",
		"name\tidNumber\tphone\nZhang\t440703900307123\t+86 138 0013 8000\n",
		"a,\"b\"\"c\",d\n\"unterminated\n",
		"a,b\"c\n\"x\"y,z\n ,\t, \n",
		"姓名,证件号码\n王五,4.40703E+17\n",
		"\xff\xfe\x41\x00",
		"a,b\r\nc,d",
		"\n\n\"\"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(1))
	}
	if gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(seeds[0])); err == nil {
		f.Add(gb, uint8(0))
		f.Add(append([]byte{0x84, 0x31, 0x95, 0x33}, gb...), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, resumeAt uint8) {
		head := data[:min(len(data), 4096)]
		enc, err := Sniff(head)
		if err != nil {
			if !errors.Is(err, ErrEncoding) {
				t.Fatalf("Sniff: %v", err)
			}
			if bytes.IndexByte(head, 0) < 0 && !bytes.HasPrefix(head, []byte{0xFF, 0xFE}) && !bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
				t.Fatalf("Sniff refused %q, which is neither UTF-16 nor has a NUL", head)
			}
			return
		}
		if (enc == UTF8) != utf8.Valid(trimPartialRune(head)) {
			t.Fatalf("Sniff(%q) = %v", head, enc)
		}

		r := NewReader(bytes.NewReader(data), enc, 0, 0)
		recs := fuzzReadAll(t, r, len(data))
		prevLast, prevEnd := 0, int64(0)
		firstRead := -1
		for i, rec := range recs {
			if rec.Line <= prevLast || rec.LastLine < rec.Line || rec.End <= prevEnd || rec.End > int64(len(data)) {
				t.Fatalf("record %d %+v after line %d, byte %d of %d", i, rec, prevLast, prevEnd, len(data))
			}
			if lines := bytes.Count(data[:rec.End], []byte{'\n'}); rec.LastLine > lines+1 || rec.LastLine < lines {
				t.Fatalf("record %d ends on line %d, after %d line breaks", i, rec.LastLine, lines)
			}
			switch rec.Reason {
			case "":
				if blank(rec.Fields) {
					t.Fatalf("record %d is blank: %q", i, rec.Fields)
				}
				for _, s := range rec.Fields {
					if !utf8.ValidString(s) {
						t.Fatalf("record %d has the cell %q", i, s)
					}
				}
				if firstRead < 0 {
					firstRead = i
				}
			case ReasonMalformed, ReasonTooLong, ReasonEncoding:
			default:
				t.Fatalf("record %d: reason %q", i, rec.Reason)
			}
			prevLast, prevEnd = rec.LastLine, rec.End
		}

		// Resume after a record read (so the separator is known), as an
		// import does after its checkpoint.
		if firstRead >= 0 {
			k := firstRead + int(resumeAt)%(len(recs)-firstRead)
			resumed := NewReader(bytes.NewReader(data[recs[k].End:]), enc, recs[k].End, recs[k].LastLine)
			resumed.Comma = r.Comma
			rest := fuzzReadAll(t, resumed, len(data))
			if want := recs[k+1:]; !(len(rest) == 0 && len(want) == 0) && !reflect.DeepEqual(rest, want) {
				t.Fatalf("resumed after record %d (byte %d):\n got %+v\nwant %+v", k, recs[k].End, rest, want)
			}
		}

		// encoding/csv as the reference, where it reads the whole file.
		if enc != UTF8 || !utf8.Valid(data) || len(data) > MaxRecordBytes {
			return
		}
		ref := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
		ref.Comma = r.comma()
		ref.FieldsPerRecord = -1
		var want []fuzzRecord
		for {
			rec, err := ref.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return // the reader reads on past a broken line; encoding/csv does not
			}
			if !blank(rec) {
				line, _ := ref.FieldPos(0)
				want = append(want, fuzzRecord{Line: line, Fields: rec})
			}
		}
		if len(want) != len(recs) {
			t.Fatalf("encoding/csv read %d records, the reader %d:\n%+v\n%+v", len(want), len(recs), want, recs)
		}
		for i := range recs {
			if recs[i].Reason != "" || recs[i].Line != want[i].Line || !reflect.DeepEqual(recs[i].Fields, want[i].Fields) {
				t.Fatalf("record %d: encoding/csv %+v, the reader %+v", i, want[i], recs[i])
			}
		}
	})
}

// FuzzColumns checks how a header row picks its columns, on any header
// line: a column found is at a cell of the header that names it (after
// HeaderKey), the only such cell, and every required column is found;
// otherwise the refusal is a *fields.Error invalid_header whose problems
// say, of the header, which column is missing or named twice. HeaderKey is
// a fixed point (of cells without combining marks).
func FuzzColumns(f *testing.F) {
	names := map[string]string{
		"姓名": "name", "name": "name", "证件号码": "idNumber", "身份证号": "idNumber", "ID Number": "idNumber",
		"手机号": "phone", "phone": "phone",
	}
	for _, s := range []string{
		"姓名,证件号码,手机号", "\ufeff姓名,证件号码", "Name,ID Number,Phone", "name,id_number,id-number", "姓名*,身份证号（必填）,手机号(选填)",
		" 姓 名 ,证件号码", "姓名,姓名,证件号码", "手机号", "", ",,", "ＮＡＭＥ,idnumber", "İD NUMBER,name",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		header := strings.Split(line, ",")
		for _, cell := range header {
			k := HeaderKey(cell)
			// Dropping a space can bring two combining marks together out
			// of canonical order, which a second NFC reorders; no column
			// name has them.
			if strings.ContainsFunc(k, func(r rune) bool { return unicode.Is(unicode.M, r) }) {
				continue
			}
			if again := HeaderKey(k); again != k {
				t.Fatalf("HeaderKey(%q) = %q, HeaderKey of that %q", cell, k, again)
			}
		}
		cols, err := Columns(header, names, "name", "idNumber")
		colOf := func(cell string) string {
			for n, col := range names {
				if HeaderKey(n) == HeaderKey(cell) {
					return col
				}
			}
			return ""
		}
		count := map[string]int{}
		for _, cell := range header {
			if col := colOf(cell); col != "" {
				count[col]++
			}
		}
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != CodeInvalidHeader || len(fe.Problems) == 0 || cols != nil {
				t.Fatalf("Columns(%q) = %v, %v", header, cols, err)
			}
			for _, p := range fe.Problems {
				col, dup := strings.CutPrefix(p.Reason, "duplicate_")
				if !dup {
					col, _ = strings.CutPrefix(p.Reason, "missing_")
				}
				if p.Field != "header" || (dup && count[col] < 2) || (!dup && (count[col] != 0 || col != "name" && col != "idNumber")) {
					t.Fatalf("Columns(%q): problem %+v (columns named %v)", header, p, count)
				}
			}
			return
		}
		if count["name"] != 1 || count["idNumber"] != 1 {
			t.Fatalf("Columns(%q) accepted with columns named %v", header, count)
		}
		for col, i := range cols {
			if i < 0 || i >= len(header) || colOf(header[i]) != col || count[col] != 1 {
				t.Fatalf("Columns(%q) put %s at %d", header, col, i)
			}
		}
		if len(cols) != len(count) {
			t.Fatalf("Columns(%q) = %v, named %v", header, cols, count)
		}
	})
}
