package group

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/csvin"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/textnorm"
)

// Roster input: the body of PUT /v1/groups/{groupId}/members, either a CSV
// file exported from Excel or JSON {"members":[...]}. Parsing only reads
// the rows; CheckRoster validates them all at once, so the administrator
// sees every bad cell of a 3000-line file in one answer.

// RosterRow is one member as the administrator's file or form gives it,
// before any check.
type RosterRow struct {
	Name string `json:"name"`
	// IDType is an idcard.Kind ("resident_id", "passport", …) or its
	// Chinese name (居民身份证, 护照, 回乡证, 台胞证…); empty means a
	// resident ID.
	IDType   string `json:"idType"`
	IDNumber string `json:"idNumber"`
	Phone    string `json:"phone"` // optional, a mainland mobile when given
	// Line is the row's line in a CSV file (the header is line 1), for
	// pointing at bad cells; 0 for rows from JSON.
	Line int `json:"-"`
}

// CheckedRow is a roster row that passed CheckRoster, normalised: the name
// trimmed and NFC, the document number as idcard.Check normalises it, the
// phone as 11 national digits or "".
type CheckedRow struct {
	Name     string
	IDType   idcard.Kind
	IDNumber string
	Phone    string
}

// Error codes of roster input. Both come as *fields.Error.
const (
	// CodeInvalidRoster refuses a roster whose header, file or rows are
	// bad; Problems name the header ("header"), the file ("file"), the
	// roster as a whole ("rows") or a cell ("rows[7].idNumber").
	CodeInvalidRoster = "invalid_roster"
	// CodeInvalidJSON refuses a JSON body that does not decode, as
	// httpapi does: Problem{field, "unknown_field"|"wrong_type"} or none.
	CodeInvalidJSON = "invalid_json"
	// CodeInvalidJoin refuses a self-join request (CheckJoin).
	CodeInvalidJoin = "invalid_join"
)

// Reasons of roster problems (fields.Problem.Reason), besides the idcard.Reason codes given
// for idNumber and the name reasons of the report form (required,
// too_long, invalid_characters).
const (
	ProblemEmpty     = "empty"     // rows: no member at all
	ProblemTooMany   = "too_many"  // rows: more than MaxRoster members
	ProblemDuplicate = "duplicate" // rows[n].idNumber: same document as an earlier row
	// ProblemExcelNumber means Excel turned the document number into a
	// number (4.40106E+17), losing digits: the column must be text.
	ProblemExcelNumber   = "excel_number"
	ProblemUnknownIDType = "unknown"   // rows[n].idType: not a known document type
	ProblemInvalidPhone  = "invalid"   // rows[n].phone: not a mainland mobile number
	ProblemMalformed     = "malformed" // header or rows[n]: broken CSV quoting
	ProblemEncoding      = "encoding"  // file: neither UTF-8 nor GB18030 (e.g. UTF-16)
	// Header reasons are "required" (no header line) and "missing_<col>"
	// or "duplicate_<col>" with col one of name, idType, idNumber, phone.
)

// MaxMemberNameRunes is the longest name, the same limit as the report form.
const MaxMemberNameRunes = 30

// MaxRosterBytes bounds a roster body: MaxRoster lines of a wide Excel
// export fit with room to spare.
const MaxRosterBytes = 1 << 20

// ErrRosterTooLarge means the body exceeds MaxRosterBytes (HTTP 413).
var ErrRosterTooLarge = errors.New("group: roster larger than MaxRosterBytes")

// ErrRosterMediaType means ReadRoster got neither CSV nor JSON (HTTP 415).
var ErrRosterMediaType = errors.New("group: roster must be text/csv or application/json")

// rosterColumns maps header cells, after csvin.HeaderKey, to RosterRow fields.
var rosterColumns = map[string]string{
	"姓名": "name", "name": "name",
	"证件类型": "idType", "idtype": "idType",
	"证件号码": "idNumber", "证件号": "idNumber", "身份证号": "idNumber", "身份证号码": "idNumber", "idnumber": "idNumber",
	"手机号": "phone", "手机号码": "phone", "手机": "phone", "电话": "phone", "联系电话": "phone", "phone": "phone",
}

// ParseRosterCSV reads a roster CSV as Excel writes it: UTF-8 with or
// without BOM, or GB18030/GBK ("CSV (逗号分隔)" from Chinese Excel). Bytes
// that are valid UTF-8 are read as UTF-8, anything else as GB18030. A tab
// separates fields instead of a comma when the header line has more tabs
// than commas.
//
// The first non-blank line is the header; it names the columns in Chinese
// or English, in any order: 姓名|name and 证件号码|证件号|身份证号|身份证号码|
// idNumber are required, 证件类型|idType and 手机号|手机号码|手机|电话|联系电话|
// phone optional; other columns are ignored. Lines whose cells are all
// blank are skipped, cells are trimmed, and each row's Line is its line in
// the file.
//
// Errors: *fields.Error with CodeInvalidRoster for a bad header, encoding
// or CSV quoting, or more than MaxRoster rows; ErrRosterTooLarge; or the
// reader's error, wrapped. Rows are not checked: call CheckRoster.
func ParseRosterCSV(r io.Reader) ([]RosterRow, error) {
	data, err := readRoster(r)
	if err != nil {
		return nil, err
	}
	text, ok := decodeRosterText(data)
	if !ok {
		return nil, rosterProblem("file", ProblemEncoding)
	}

	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1 // rows may be shorter or longer than the header
	cr.Comma = sniffComma(text)

	var header []string
	for header == nil {
		rec, err := cr.Read()
		switch {
		case err == io.EOF:
			return nil, rosterProblem("header", "required")
		case err != nil:
			return nil, rosterProblem("header", ProblemMalformed)
		case !blankRecord(rec):
			header = rec
		}
	}
	col := map[string]int{"name": -1, "idType": -1, "idNumber": -1, "phone": -1}
	var c fields.Collector
	for i, cell := range header {
		name, ok := rosterColumns[csvin.HeaderKey(cell)]
		if !ok {
			continue
		}
		if col[name] >= 0 {
			c.Add("header", "duplicate_"+name)
			continue
		}
		col[name] = i
	}
	for _, name := range []string{"name", "idNumber"} {
		if col[name] < 0 {
			c.Add("header", "missing_"+name)
		}
	}
	if err := c.Err(CodeInvalidRoster); err != nil {
		return nil, err
	}

	var rows []RosterRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			line := 0
			if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, rosterProblem(rowField(line), ProblemMalformed)
		}
		if blankRecord(rec) {
			continue
		}
		if len(rows) == MaxRoster {
			return nil, rosterProblem("rows", ProblemTooMany)
		}
		line, _ := cr.FieldPos(0)
		cell := func(name string) string {
			if i := col[name]; i >= 0 && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rows = append(rows, RosterRow{
			Name:     cell("name"),
			IDType:   cell("idType"),
			IDNumber: cell("idNumber"),
			Phone:    cell("phone"),
			Line:     line,
		})
	}
}

// readRoster reads at most MaxRosterBytes.
func readRoster(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRosterBytes+1))
	if err != nil {
		return nil, fmt.Errorf("group: reading roster: %w", err)
	}
	if len(data) > MaxRosterBytes {
		return nil, ErrRosterTooLarge
	}
	return data, nil
}

// decodeRosterText turns the file's bytes into text without a BOM. UTF-16
// (Excel's "Unicode text") has NUL bytes in any Chinese or ASCII text and
// is refused rather than misread as GB18030.
func decodeRosterText(data []byte) (string, bool) {
	if bytes.IndexByte(data, 0) >= 0 {
		return "", false
	}
	if !utf8.Valid(data) {
		dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil {
			return "", false
		}
		data = dec
	}
	// A UTF-8 BOM, or the GB18030 one (84 31 95 33) decoded.
	return strings.TrimPrefix(string(data), "\uFEFF"), true
}

// sniffComma picks tab when the first line has more tabs than commas.
func sniffComma(text string) rune {
	first, _, _ := strings.Cut(text, "\n")
	if strings.Count(first, "\t") > strings.Count(first, ",") {
		return '\t'
	}
	return ','
}

func blankRecord(rec []string) bool {
	for _, s := range rec {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// ParseRosterJSON reads {"members":[{"name":…,"idType":…,"idNumber":…,
// "phone":…}, …]}, refusing unknown fields and trailing data with a
// *fields.Error of CodeInvalidJSON. Rows are not checked: call CheckRoster.
func ParseRosterJSON(r io.Reader) ([]RosterRow, error) {
	data, err := readRoster(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Members []RosterRow `json:"members"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(&body)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return body.Members, nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return nil, &fields.Error{Code: CodeInvalidJSON, Problems: []fields.Problem{{Field: typeErr.Field, Reason: "wrong_type"}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return nil, &fields.Error{Code: CodeInvalidJSON, Problems: []fields.Problem{{Field: name, Reason: "unknown_field"}}}
	}
	return nil, &fields.Error{Code: CodeInvalidJSON}
}

// ReadRoster parses and checks a roster body of the given media type,
// "text/csv" (ParseRosterCSV, problems numbered by file line) or
// "application/json" (ParseRosterJSON, numbered by array index). Errors
// are those of the parser and CheckRoster; a reader error such as
// *http.MaxBytesError is wrapped, and any other media type is refused
// with ErrRosterMediaType.
func ReadRoster(r io.Reader, mediaType string, now time.Time) ([]CheckedRow, error) {
	switch mediaType {
	case "text/csv":
		rows, err := ParseRosterCSV(r)
		if err != nil {
			return nil, err
		}
		return CheckRoster(rows, now, CSVLines(rows))
	case "application/json":
		rows, err := ParseRosterJSON(r)
		if err != nil {
			return nil, err
		}
		return CheckRoster(rows, now, nil)
	}
	return nil, ErrRosterMediaType
}

// CSVLines numbers rows by their line in the CSV file; pass it to
// CheckRoster for rows from ParseRosterCSV.
func CSVLines(rows []RosterRow) func(i int) int {
	return func(i int) int { return rows[i].Line }
}

// CheckRoster validates and normalises a whole roster. It returns one
// *fields.Error with CodeInvalidRoster listing every problem: "rows"
// ProblemEmpty or ProblemTooMany for the roster as a whole, else per cell
// "rows[n].name|idType|idNumber|phone" with n = rowNumber(i), where i is
// the index in rows. Pass CSVLines(rows) to get CSV line numbers, or nil
// to number by index (JSON arrays).
//
// Each row must have a name (at most MaxMemberNameRunes, printable), a
// known idType (empty means resident ID) and a valid document number
// (idcard.Check reasons, ProblemExcelNumber); the phone may be empty but
// otherwise must be a mainland mobile. The same document on a later row
// is ProblemDuplicate. now is the current instant; resident ID birth dates
// are checked against the district's calendar day.
func CheckRoster(rows []RosterRow, now time.Time, rowNumber func(i int) int) ([]CheckedRow, error) {
	switch {
	case len(rows) == 0:
		return nil, rosterProblem("rows", ProblemEmpty)
	case len(rows) > MaxRoster:
		return nil, rosterProblem("rows", ProblemTooMany)
	}
	if rowNumber == nil {
		rowNumber = func(i int) int { return i }
	}
	type document struct {
		kind   idcard.Kind
		number string
	}
	seen := make(map[document]bool, len(rows))
	out := make([]CheckedRow, len(rows))
	var c fields.Collector
	for i, row := range rows {
		prefix := rowField(rowNumber(i)) + "."
		add := func(field, reason string) { c.Add(prefix+field, reason) }
		cr, idValid := checkRow(row, now, add)
		if idValid {
			d := document{cr.IDType, cr.IDNumber}
			if seen[d] {
				add("idNumber", ProblemDuplicate)
			}
			seen[d] = true
		}
		out[i] = cr
	}
	if err := c.Err(CodeInvalidRoster); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckJoin validates one person asking to join through the group's QR
// link, with the rules of a roster row. Problems name the fields plainly
// ("name", "idType", "idNumber", "phone") in a *fields.Error with
// CodeInvalidJoin.
func CheckJoin(row RosterRow, now time.Time) (CheckedRow, error) {
	var c fields.Collector
	cr, _ := checkRow(row, now, c.Add)
	if err := c.Err(CodeInvalidJoin); err != nil {
		return CheckedRow{}, err
	}
	return cr, nil
}

// excelNumber matches a number Excel wrote in scientific notation.
var excelNumber = regexp.MustCompile(`^[0-9](\.[0-9]+)?[eE]\+[0-9]+$`)

// checkRow checks one row, reporting problems through add; idValid says
// the document type and number are valid, so duplicates can be looked for.
func checkRow(row RosterRow, now time.Time, add func(field, reason string)) (out CheckedRow, idValid bool) {
	var reason string
	if out.Name, reason = textnorm.Required(row.Name, MaxMemberNameRunes); reason != "" {
		add("name", reason)
	}

	kind, ok := ParseIDType(row.IDType)
	if !ok {
		add("idType", ProblemUnknownIDType)
	} else {
		out.IDType = kind
		// An apostrophe is how people force Excel to keep a number as text.
		raw := strings.TrimPrefix(strings.TrimSpace(row.IDNumber), "'")
		num, reason := idcard.Check(kind, raw, now.In(dates.District))
		if reason != "" && excelNumber.MatchString(raw) {
			reason = ProblemExcelNumber
		}
		if reason != "" {
			add("idNumber", reason)
		}
		out.IDNumber = num
		idValid = reason == ""
	}

	if raw := strings.TrimPrefix(strings.TrimSpace(row.Phone), "'"); raw != "" {
		if p, ok := phone.Normalize(raw); ok {
			out.Phone = p
		} else {
			add("phone", ProblemInvalidPhone)
		}
	}
	return out, idValid
}

func rowField(n int) string { return "rows[" + strconv.Itoa(n) + "]" }

func rosterProblem(field, reason string) error {
	return &fields.Error{Code: CodeInvalidRoster, Problems: []fields.Problem{{Field: field, Reason: reason}}}
}

// idTypeNames are the documents' names on Chinese forms, as the daily list
// export shows them.
var idTypeNames = map[idcard.Kind]string{
	idcard.ResidentID:    "居民身份证",
	idcard.Passport:      "护照",
	idcard.HKMacaoPermit: "港澳居民来往内地通行证",
	idcard.TaiwanPermit:  "台湾居民来往大陆通行证",
}

// idTypeAliases are further names people type in a roster's 证件类型.
var idTypeAliases = map[string]idcard.Kind{
	"身份证":      idcard.ResidentID,
	"港澳台居民居住证": idcard.ResidentID,
	"回乡证":      idcard.HKMacaoPermit,
	"台胞证":      idcard.TaiwanPermit,
}

// IDTypeName is a document type's Chinese name (居民身份证 for
// resident_id); an unknown kind is returned as it is.
func IDTypeName(k idcard.Kind) string {
	if n, ok := idTypeNames[k]; ok {
		return n
	}
	return string(k)
}

// ParseIDType reads a roster's document type: a kind code in any case
// ("resident_id", "Passport"), its Chinese name (IDTypeName) or a common
// short name (身份证, 回乡证, 台胞证). Blank means a resident ID, as in
// idcard.ParseKind.
func ParseIDType(s string) (idcard.Kind, bool) {
	s = textnorm.Clean(s)
	if k, ok := idcard.ParseKind(strings.ToLower(s)); ok {
		return k, true
	}
	for k, name := range idTypeNames {
		if s == name {
			return k, true
		}
	}
	k, ok := idTypeAliases[s]
	return k, ok
}
