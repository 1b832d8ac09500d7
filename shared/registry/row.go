package registry

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gridcode/shared/dates"
	"gridcode/shared/group"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/textnorm"
)

// Row is one person as a registry file or form gives it, before any check.
type Row struct {
	Name string
	// IDType is an idcard.Kind or its Chinese name (居民身份证, 护照,
	// 回乡证…, as group.ParseIDType reads them); empty means a resident ID.
	IDType        string
	IDNumber      string
	Phone         string // optional mainland mobile
	Town          string // optional: 镇街, settles a community name two towns share
	Community     string
	Address       string
	ResidentType  string // 常住, 流动, 外来 or permanent, floating, outsider
	LandlordPhone string // optional mainland mobile
}

// Row gives an entry back as a row, to check a corrected or new entry
// from a form with CheckRow.
func (e Entry) Row() Row {
	return Row{
		Name: e.Name, IDType: string(e.IDType), IDNumber: e.IDNumber, Phone: e.Phone,
		Town: e.Town, Community: e.Community, Address: e.Address,
		ResidentType: string(e.ResidentType), LandlordPhone: e.LandlordPhone,
	}
}

// Limits of a row's text, those of the report form.
const (
	MaxNameRunes      = 30
	MaxAddressRunes   = 100
	MaxCommunityRunes = 30 // also the town
)

// Reasons of row problems (RowError.Reason), besides textnorm.Required's
// (required, too_long, invalid_characters) and idcard.Check's (format,
// checksum, birth_date, region, first_generation) and the csvin line
// reasons (malformed, too_long, encoding, for Field "row").
const (
	ReasonUnknown = "unknown" // idType, residentType: not a known value
	ReasonInvalid = "invalid" // phone, landlordPhone: not a mainland mobile
	// ReasonExcelNumber means Excel turned the ID number into a number
	// (4.40106E+17), losing digits: the column must be formatted as text.
	ReasonExcelNumber = group.ProblemExcelNumber
)

// FieldRow is RowError.Field for a line that is not a readable CSV record.
const FieldRow = "row"

// columnNames maps the header cells of a registry file, compared after
// csvin.HeaderKey, to Row fields.
var columnNames = map[string]string{
	"姓名": "name", "name": "name",
	"证件类型": "idType", "证件种类": "idType", "idtype": "idType",
	"证件号码": "idNumber", "证件号": "idNumber", "身份证号": "idNumber", "身份证号码": "idNumber", "公民身份号码": "idNumber", "idnumber": "idNumber",
	"手机号": "phone", "手机号码": "phone", "手机": "phone", "联系电话": "phone", "电话": "phone", "phone": "phone",
	// 镇(街道) and 村(社区) arrive as 镇 and 村: HeaderKey drops the note in brackets.
	"镇街": "town", "街道": "town", "镇": "town", "所属镇街": "town", "town": "town",
	"社区": "community", "村居": "community", "村": "community", "所属社区": "community", "社区名称": "community", "community": "community",
	"地址": "address", "详细地址": "address", "居住地址": "address", "现住址": "address", "住址": "address", "address": "address",
	"人员类型": "residentType", "居住类型": "residentType", "人口类型": "residentType", "residenttype": "residentType",
	"房东电话": "landlordPhone", "房东手机": "landlordPhone", "房东手机号": "landlordPhone", "房东联系电话": "landlordPhone", "landlordphone": "landlordPhone",
}

// requiredColumns must be in a registry file's header.
var requiredColumns = []string{"name", "idNumber", "community", "address", "residentType"}

// rowOf picks a row's cells by the header's columns; a short record leaves
// the missing cells empty.
func rowOf(rec []string, cols map[string]int) Row {
	cell := func(name string) string {
		if i, ok := cols[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	return Row{
		Name: cell("name"), IDType: cell("idType"), IDNumber: cell("idNumber"), Phone: cell("phone"),
		Town: cell("town"), Community: cell("community"), Address: cell("address"),
		ResidentType: cell("residentType"), LandlordPhone: cell("landlordPhone"),
	}
}

// residentTypes maps what registry files write to ResidentType.
var residentTypes = map[string]ResidentType{
	"常住": Permanent, "常住人口": Permanent, "户籍": Permanent, "户籍人口": Permanent, "permanent": Permanent,
	"流动": Floating, "流动人口": Floating, "floating": Floating,
	"外来": Outsider, "外来人口": Outsider, "外来人员": Outsider, "outsider": Outsider,
}

// ParseResidentType reads 常住, 流动, 外来 (also with 人口) or the English
// value in any case.
func ParseResidentType(s string) (ResidentType, bool) {
	t, ok := residentTypes[strings.ToLower(textnorm.Clean(s))]
	return t, ok
}

// excelNumber matches a number Excel wrote in scientific notation.
var excelNumber = regexp.MustCompile(`^[0-9](\.[0-9]+)?[eE]\+[0-9]+$`)

// CheckRow checks and normalises one row of line, reporting every problem
// at once, field by field and never with the value. now is the current
// instant; birth dates are checked against the district's day. Entry is
// meaningful only when there are no problems.
func CheckRow(row Row, line int, now time.Time) (Entry, []RowError) {
	var e Entry
	var errs []RowError
	add := func(field, reason string) { errs = append(errs, RowError{Line: line, Field: field, Reason: reason}) }
	var reason string

	if e.Name, reason = textnorm.Required(row.Name, MaxNameRunes); reason != "" {
		add("name", reason)
	}
	if kind, ok := group.ParseIDType(row.IDType); !ok {
		add("idType", ReasonUnknown)
	} else {
		e.IDType = kind
		// An apostrophe is how people make Excel keep a number as text.
		raw := strings.TrimPrefix(strings.TrimSpace(row.IDNumber), "'")
		e.IDNumber, reason = idcard.Check(kind, raw, now.In(dates.District))
		if reason != "" && excelNumber.MatchString(raw) {
			reason = ReasonExcelNumber
		}
		if reason != "" {
			add("idNumber", reason)
		}
	}
	e.Phone = optionalPhone(row.Phone, "phone", add)
	e.LandlordPhone = optionalPhone(row.LandlordPhone, "landlordPhone", add)
	if e.Town = textnorm.Clean(row.Town); e.Town != "" {
		if _, reason = textnorm.Required(e.Town, MaxCommunityRunes); reason != "" {
			add("town", reason)
		}
	}
	if e.Community, reason = textnorm.Required(row.Community, MaxCommunityRunes); reason != "" {
		add("community", reason)
	}
	if e.Address, reason = textnorm.Required(row.Address, MaxAddressRunes); reason != "" {
		add("address", reason)
	}
	if t, ok := ParseResidentType(row.ResidentType); ok {
		e.ResidentType = t
	} else if strings.TrimSpace(row.ResidentType) == "" {
		add("residentType", "required")
	} else {
		add("residentType", ReasonUnknown)
	}
	return e, errs
}

func optionalPhone(raw, field string, add func(field, reason string)) string {
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "'")
	if raw == "" {
		return ""
	}
	p, ok := phone.Normalize(raw)
	if !ok {
		add(field, ReasonInvalid)
	}
	return p
}

// last4 is the last four characters of s, or "" when it is shorter.
func last4(s string) string {
	if utf8.RuneCountInString(s) < 4 {
		return ""
	}
	r := []rune(s)
	return string(r[len(r)-4:])
}
