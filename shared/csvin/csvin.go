// Package csvin reads the CSV files Chinese Excel writes, as a stream:
// UTF-8 with or without BOM, or GB18030 ("CSV (逗号分隔)"), comma or tab
// separated, with quoted cells that may hold line breaks. Every record
// carries the byte offset just after it, so a reader can stop anywhere and a
// new one can resume there (an S3 ranged GET, a seeked file) with the same
// line numbers.
package csvin

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/fields"
	"gridcode/shared/textnorm"
)

// Encoding is a file's character encoding.
type Encoding int

const (
	UTF8    Encoding = iota + 1 // with or without BOM
	GB18030                     // also GBK and GB2312, its subsets
)

func (e Encoding) String() string {
	switch e {
	case UTF8:
		return "utf-8"
	case GB18030:
		return "gb18030"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Reasons, as stable codes for fields.Problem and RowError reasons.
const (
	ReasonEncoding  = "encoding"  // the file or a line is in no encoding we read
	ReasonMalformed = "malformed" // broken CSV quoting
	ReasonTooLong   = "too_long"  // a record longer than MaxRecordBytes
)

// ErrEncoding means the bytes are neither UTF-8 nor GB18030: UTF-16 (Excel's
// "Unicode text", whose ASCII and Chinese alike carry NUL bytes), or a line
// that is not UTF-8 in a file sniffed as UTF-8.
var ErrEncoding = errors.New("csvin: neither UTF-8 nor GB18030")

// ErrMalformed means a record's CSV quoting is broken.
var ErrMalformed = errors.New("csvin: malformed CSV record")

// ErrTooLong means a record is longer than MaxRecordBytes; the reader skips
// to the end of its physical line and goes on.
var ErrTooLong = errors.New("csvin: record too long")

// MaxRecordBytes bounds one record, so an unterminated quote cannot make
// the reader swallow a whole file. A registry row is a few hundred bytes.
const MaxRecordBytes = 64 << 10

// Sniff tells a file's encoding from its first bytes (a few KiB are
// enough; more is safer for files whose first lines are ASCII). A head cut
// in the middle of a UTF-8 character is still UTF-8: the incomplete
// character at the end is ignored. UTF-16 (its BOM, or NUL bytes, which
// its commas and line breaks have) is refused with ErrEncoding rather than
// misread as GB18030.
func Sniff(head []byte) (Encoding, error) {
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) || bytes.IndexByte(head, 0) >= 0 {
		return 0, ErrEncoding
	}
	if utf8.Valid(trimPartialRune(head)) {
		return UTF8, nil
	}
	return GB18030, nil
}

// trimPartialRune drops the start of a UTF-8 character cut off at the end
// of b (at most 3 bytes: a lead byte and the continuation bytes after it).
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// Record is one CSV record.
type Record struct {
	// Line is the file line the record starts on (1-based); LastLine the
	// line it ends on, more than Line when a quoted cell holds line breaks.
	Line, LastLine int
	Fields         []string
	// End is the byte offset just after the record: resume with
	// NewReader(readerAtEnd, enc, rec.End, rec.LastLine).
	End int64
}

// LineError is a record that could not be read: broken quoting
// (ErrMalformed), too long (ErrTooLong) or not in the file's encoding
// (ErrEncoding). The reader goes on with the next record.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("csvin: line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reason is the error's stable reason code (ReasonMalformed, …).
func (e *LineError) Reason() string {
	switch {
	case errors.Is(e.Err, ErrTooLong):
		return ReasonTooLong
	case errors.Is(e.Err, ErrEncoding):
		return ReasonEncoding
	}
	return ReasonMalformed
}

// Reader reads records from a byte offset of a file. It is not safe for
// concurrent use.
type Reader struct {
	// Comma separates fields. Zero means: a reader that starts at offset 0
	// picks tab when the first non-blank line has more tabs than commas,
	// else comma (a sheet copied as text gives tabs); a reader that starts
	// inside a file uses comma, so a resuming caller sets it to the first
	// reader's Comma.
	Comma rune

	in     *bufio.Reader
	dec    *encoding.Decoder // nil for UTF-8
	sniff  bool              // may pick Comma from the first line
	offset int64             // bytes of the file consumed
	line   int               // lines of the file consumed
	raw    []byte            // the current record's bytes
	feed   recordFeed
	csv    *csv.Reader
	csvAt  int64 // csv.InputOffset before the current record
}

// NewReader reads r as the part of a file of encoding enc that starts at
// byte offset, after line lines.
func NewReader(r io.Reader, enc Encoding, offset int64, line int) *Reader {
	cr := &Reader{in: bufio.NewReaderSize(r, MaxRecordBytes), sniff: offset == 0, offset: offset, line: line}
	if enc == GB18030 {
		cr.dec = simplifiedchinese.GB18030.NewDecoder()
	}
	return cr
}

// Next returns the next record that has a non-blank cell. At the end of
// the file it returns io.EOF. A record it cannot read comes back with its
// Line, LastLine and End (Fields nil) and a *LineError, and reading can go
// on. Any other error is the underlying reader's, wrapped.
func (r *Reader) Next() (Record, error) {
	for {
		rec, err := r.next()
		if err != nil || !blank(rec.Fields) {
			return rec, err
		}
	}
}

// next reads one record, blank or not: physical lines are joined while a
// quoted cell is open.
func (r *Reader) next() (Record, error) {
	start := r.offset
	rec := Record{Line: r.line + 1}
	r.raw = r.raw[:0]
	var q quoteState
	tooLong := false
	for {
		chunk, err := r.in.ReadSlice('\n')
		if len(chunk) > 0 {
			r.offset += int64(len(chunk))
			if chunk[len(chunk)-1] == '\n' || err == io.EOF {
				r.line++ // a whole line, or the file's last without a break
			}
			r.pickComma(chunk)
			if !tooLong && len(r.raw)+len(chunk) > MaxRecordBytes {
				// Give up on this record and skip to the end of its
				// physical line; the next line starts afresh.
				tooLong = true
				r.raw = r.raw[:0]
			}
			if !tooLong {
				scan := chunk
				if start == 0 && len(r.raw) == 0 {
					// A BOM is no cell's text: a quote after it opens the
					// first cell, which may then hold a line break.
					scan = bytes.TrimPrefix(chunk, r.bom())
				}
				r.raw = append(r.raw, chunk...)
				q.scan(scan, byte(r.comma()))
			}
		}
		if err == io.EOF && r.offset == start {
			return Record{}, io.EOF
		}
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return Record{}, fmt.Errorf("csvin: read at offset %d: %w", r.offset, err)
		}
		if err == bufio.ErrBufferFull || err == nil && !tooLong && q.inQuotes {
			continue // the physical line goes on, or a quoted cell does
		}
		break
	}
	rec.LastLine, rec.End = r.line, r.offset
	if tooLong {
		return rec, &LineError{Line: rec.Line, Err: ErrTooLong}
	}
	text, err := r.decode(start)
	if err != nil {
		return rec, &LineError{Line: rec.Line, Err: err}
	}
	if rec.Fields, err = r.parse(text); err != nil {
		return rec, &LineError{Line: rec.Line, Err: ErrMalformed}
	}
	return rec, nil
}

// pickComma sets Comma from the first non-blank line of a reader at the
// file's start, and to a comma for a reader that resumes without one.
func (r *Reader) pickComma(line []byte) {
	switch {
	case r.Comma != 0:
	case !r.sniff:
		r.Comma = ','
	case len(bytes.TrimSpace(line)) == 0:
		// a blank line: look at the next
	case bytes.Count(line, []byte{'\t'}) > bytes.Count(line, []byte{','}):
		r.Comma = '\t'
	default:
		r.Comma = ','
	}
}

func (r *Reader) comma() rune {
	if r.Comma == 0 {
		return ','
	}
	return r.Comma
}

// bom is the byte order mark a file may start with, in its encoding.
func (r *Reader) bom() []byte {
	if r.dec != nil {
		return []byte{0x84, 0x31, 0x95, 0x33}
	}
	return []byte{0xEF, 0xBB, 0xBF}
}

// decode turns the record's bytes into UTF-8 text, without the BOM of the
// file's first record.
func (r *Reader) decode(start int64) (string, error) {
	raw := r.raw
	if r.dec != nil {
		var err error
		if raw, err = r.dec.Bytes(raw); err != nil {
			return "", ErrEncoding
		}
	} else if !utf8.Valid(raw) {
		return "", ErrEncoding
	}
	text := string(raw)
	if start == 0 {
		// The UTF-8 BOM, or GB18030's (84 31 95 33) decoded.
		text = strings.TrimPrefix(text, "\uFEFF")
	}
	return text, nil
}

// parse splits one record's text into fields with encoding/csv. One
// csv.Reader reads every record from r.feed; it is replaced after an error
// or a record that did not end where the text did, so a broken record
// cannot leave bytes behind for the next.
func (r *Reader) parse(text string) ([]string, error) {
	if r.csv == nil || r.csv.Comma != r.comma() {
		r.feed = recordFeed{}
		r.csv = csv.NewReader(&r.feed)
		r.csv.Comma = r.comma()
		r.csv.FieldsPerRecord = -1
		r.csvAt = 0
	}
	r.feed.text = text
	fields, err := r.csv.Read()
	switch {
	case err == io.EOF: // only blank lines: encoding/csv skips them
		fields, err = nil, nil
	case err == nil && r.csv.InputOffset()-r.csvAt != int64(len(text)):
		err = ErrMalformed
	}
	r.csvAt = r.csv.InputOffset()
	if err != nil {
		r.csv = nil
		return nil, err
	}
	return fields, nil
}

// recordFeed hands encoding/csv one record at a time: it reports io.EOF at
// the end of each, and bufio.Reader reads on once the next is set.
type recordFeed struct{ text string }

func (f *recordFeed) Read(p []byte) (int, error) {
	if f.text == "" {
		return 0, io.EOF
	}
	n := copy(p, f.text)
	f.text = f.text[n:]
	return n, nil
}

// quoteState follows CSV quoting over raw bytes to tell whether a line
// break is inside a quoted cell. Separators, quotes and line breaks are
// ASCII, and no byte of a GB18030 multi-byte character is below 0x30, so
// this works on GB18030 bytes as well as on UTF-8.
type quoteState struct {
	inQuotes bool
	midField bool // a byte other than a separator came since the field began
	closed   bool // the last byte closed a quoted cell: '"' next is an escaped quote
}

func (q *quoteState) scan(b []byte, comma byte) {
	for _, c := range b {
		switch {
		case q.inQuotes:
			if c == '"' {
				q.inQuotes, q.closed = false, true
			}
		case c == '"' && q.closed:
			q.inQuotes, q.closed = true, false
		case c == '"' && !q.midField:
			q.inQuotes, q.midField = true, true
		case c == comma || c == '\n':
			q.midField, q.closed = false, false
		default:
			q.midField, q.closed = true, false
		}
	}
}

func blank(rec []string) bool {
	for _, s := range rec {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// HeaderKey reduces a header cell to the form column names are matched in:
// trimmed, NFC, without the required-marker "*" and a trailing note in
// brackets (手机号（选填）), English lower-cased with spaces, "_" and "-"
// removed (ID Number, id_number → idnumber).
func HeaderKey(cell string) string {
	s := textnorm.Clean(cell)
	if i := strings.IndexAny(s, "(（"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '*', '＊', ' ', '_', '-':
			return -1
		}
		return r
	}, s)
	return strings.ToLower(s)
}

// CodeInvalidHeader is the fields.Error code of a header Columns refuses.
const CodeInvalidHeader = "invalid_header"

// Columns finds the columns of a header row. names maps the header cells
// people write (姓名, name, ID Number…), compared after HeaderKey, to column
// names; cells it does not know are ignored. It returns each column's index;
// a column named twice, or a required column missing, is refused with a
// *fields.Error (CodeInvalidHeader) whose problems are "header" with
// "duplicate_<col>" and "missing_<col>".
func Columns(header []string, names map[string]string, required ...string) (map[string]int, error) {
	keys := make(map[string]string, len(names))
	for cell, col := range names {
		keys[HeaderKey(cell)] = col
	}
	cols := make(map[string]int, len(required))
	var c fields.Collector
	for i, cell := range header {
		col, ok := keys[HeaderKey(cell)]
		if !ok {
			continue
		}
		if _, dup := cols[col]; dup {
			c.Add("header", "duplicate_"+col)
			continue
		}
		cols[col] = i
	}
	for _, col := range required {
		if _, ok := cols[col]; !ok {
			c.Add("header", "missing_"+col)
		}
	}
	if err := c.Err(CodeInvalidHeader); err != nil {
		return nil, err
	}
	return cols, nil
}
