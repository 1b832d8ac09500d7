// Package idcard normalises, validates and masks the identity document
// numbers residents present at registration: mainland resident ID cards,
// passports, and the mainland travel permits of Hong Kong, Macao and Taiwan
// residents.
//
// Validation is deliberately structural only (format, checksum, plausible
// birth date, known province). It cannot tell whether a document exists, and
// it must never reject a real card, so county codes are not checked: they
// are abolished and renamed over time while people keep their old numbers.
package idcard

import (
	"strings"
	"time"
	"unicode"

	"gridcode/shared/area"
	"gridcode/shared/textnorm"
)

// Kind is the type of identity document. Its values are stored, so they must
// not change.
type Kind string

const (
	ResidentID    Kind = "resident_id"     // 居民身份证 (GB 11643), also 港澳台居民居住证
	Passport      Kind = "passport"        // any country's passport
	HKMacaoPermit Kind = "hk_macao_permit" // 港澳居民来往内地通行证 (回乡证)
	TaiwanPermit  Kind = "taiwan_permit"   // 台湾居民来往大陆通行证 (台胞证)
)

// Reason codes returned by Check. They are stable identifiers meant for
// clients to translate into messages; do not change their values.
const (
	ReasonRequired        = "required"         // nothing left after normalisation
	ReasonFormat          = "format"           // wrong length or characters for the kind
	ReasonChecksum        = "checksum"         // resident ID check digit does not match
	ReasonBirthDate       = "birth_date"       // resident ID birth date impossible, future or before 1900
	ReasonRegion          = "region"           // resident ID province prefix unknown
	ReasonFirstGeneration = "first_generation" // 15-digit resident ID, invalid since 2013
)

// ParseKind maps a stored or submitted kind to a Kind. The empty string means
// a resident ID because that is what almost everyone presents and what older
// records without a kind hold.
func ParseKind(s string) (Kind, bool) {
	switch k := Kind(s); k {
	case "":
		return ResidentID, true
	case ResidentID, Passport, HKMacaoPermit, TaiwanPermit:
		return k, true
	}
	return "", false
}

// Check normalises raw and validates it as a document of the given kind.
//
// Normalisation trims and drops all white space, maps full-width characters
// typed with Chinese input methods (１２３Ｘ) to ASCII, and upper-cases. For
// Taiwan permits, parentheses are also dropped (see checkTaiwanPermit).
//
// today is the caller's current date, in the caller's location (Asia/Shanghai
// for us); resident ID birth dates are compared against its calendar date.
// reason is "" when the number is valid, otherwise one of the Reason
// constants. An unknown kind yields ReasonFormat; use ParseKind first.
func Check(kind Kind, raw string, today time.Time) (normalized string, reason string) {
	normalized = normalize(raw, kind == TaiwanPermit)
	if normalized == "" {
		return "", ReasonRequired
	}
	switch kind {
	case ResidentID:
		reason = checkResidentID(normalized, today)
	case Passport:
		reason = checkPassport(normalized)
	case HKMacaoPermit:
		reason = checkHKMacaoPermit(normalized)
	case TaiwanPermit:
		reason = checkTaiwanPermit(normalized)
	default:
		reason = ReasonFormat
	}
	return normalized, reason
}

// normalize applies the input clean-up shared by all kinds.
func normalize(raw string, dropParens bool) string {
	var b strings.Builder
	b.Grow(len(raw))
	for _, r := range raw {
		r = textnorm.Narrow(r)
		if unicode.IsSpace(r) {
			continue
		}
		if dropParens && (r == '(' || r == ')') {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// residentIDWeights are the GB 11643 weights 2^(17-i) mod 11 for positions 1–17.
var residentIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkDigits maps the weighted sum mod 11 to the 18th character.
const checkDigits = "10X98765432"

// CheckDigit returns the GB 11643 check character ('0'–'9' or 'X') for the
// first 17 digits of a resident ID. It returns 0 if first17 is not exactly 17
// ASCII digits.
func CheckDigit(first17 string) byte {
	if len(first17) != 17 || !allDigits(first17) {
		return 0
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * residentIDWeights[i]
	}
	return checkDigits[sum%11]
}

func checkResidentID(n string, today time.Time) string {
	if len(n) == 15 && allDigits(n) {
		return ReasonFirstGeneration
	}
	if len(n) != 18 || !allDigits(n[:17]) || !(isDigit(n[17]) || n[17] == 'X') {
		return ReasonFormat
	}
	if CheckDigit(n[:17]) != n[17] {
		return ReasonChecksum
	}
	// Only the province is strict: the county part names where the card was
	// first issued, and abolished county codes stay valid on existing cards.
	if !area.ProvinceKnown(n[:2]) {
		return ReasonRegion
	}
	if !plausibleBirthDate(n[6:14], today) {
		return ReasonBirthDate
	}
	return ""
}

// plausibleBirthDate reports whether yyyymmdd is a real calendar date from
// 1900-01-01 up to and including today's date in today's location.
func plausibleBirthDate(yyyymmdd string, today time.Time) bool {
	y := atoi(yyyymmdd[0:4])
	m := atoi(yyyymmdd[4:6])
	d := atoi(yyyymmdd[6:8])
	if y < 1900 || m < 1 || m > 12 || d < 1 {
		return false
	}
	// time.Date normalises 30 Feb to 1 or 2 Mar; a changed day means the
	// date does not exist.
	if time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return false
	}
	ty, tm, td := today.Date()
	return y*10000+m*100+d <= ty*10000+int(tm)*100+td
}

func checkPassport(n string) string {
	if len(n) < 5 || len(n) > 17 || !allAlnum(n) {
		return ReasonFormat
	}
	return ""
}

// checkHKMacaoPermit accepts H (Hong Kong) or M (Macao) followed by 8 digits
// (card issued since 2013) or 10 digits (older booklet, 8-digit lifelong
// number plus a 2-digit issue count).
func checkHKMacaoPermit(n string) string {
	if (len(n) != 9 && len(n) != 11) || (n[0] != 'H' && n[0] != 'M') || !allDigits(n[1:]) {
		return ReasonFormat
	}
	return ""
}

// checkTaiwanPermit accepts the three forms of 台胞证 numbers in circulation:
//   - 8 digits: the lifelong number, the only form issued since 2008-09-25
//     and on the 2015 card;
//   - 10 digits: lifelong number plus a 2-digit issue count (issued without
//     the authority code by Fujian, Jiangsu and Shanghai from 2006);
//   - 10 digits plus one letter or digit: as above with the issuing
//     authority code, printed in parentheses, e.g. 1234567801(B); the
//     parentheses are removed by normalisation, giving 1234567801B.
func checkTaiwanPermit(n string) string {
	switch {
	case len(n) == 8 && allDigits(n):
	case len(n) == 10 && allDigits(n):
	case len(n) == 11 && allDigits(n[:10]) && isAlnum(n[10]):
	default:
		return ReasonFormat
	}
	return ""
}

// Mask hides most of a normalised number for display, keeping enough for a
// person to recognise their own document. Resident IDs keep the first 4 and
// last 4 characters (4407**********123X); other kinds keep the first 1 and
// last 2. The result has the same length as the input.
func Mask(kind Kind, normalized string) string {
	runes := []rune(normalized)
	if kind == ResidentID && len(runes) == 18 {
		return maskRunes(runes, 4, 4)
	}
	return maskRunes(runes, 1, 2)
}

// maskRunes keeps head and tail runes and stars the rest. Input too short to
// hide anything is starred entirely, so malformed input never shows in full.
func maskRunes(runes []rune, head, tail int) string {
	if len(runes) <= head+tail {
		return strings.Repeat("*", len(runes))
	}
	return string(runes[:head]) + strings.Repeat("*", len(runes)-head-tail) + string(runes[len(runes)-tail:])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || (c >= 'A' && c <= 'Z') }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func allAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// atoi converts a string of ASCII digits already checked by allDigits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
