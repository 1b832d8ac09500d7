// Package phone normalises and masks mainland China mobile numbers, the only
// kind of number we can send SMS notices to.
package phone

import (
	"strings"

	"gridcode/shared/textnorm"
)

// countryCode is China's ITU calling code.
const countryCode = "86"

// Normalize extracts the 11-digit national mobile number from what a person
// typed. It accepts the separators people use when copying numbers (spaces,
// dashes, dots, parentheses), the international prefixes +86, 0086 and 86,
// and the full-width digits, plus sign and spaces Chinese input methods
// produce (＋８６ １３８…). It reports false for anything else, including
// landlines, which cannot receive SMS.
func Normalize(raw string) (string, bool) {
	var b strings.Builder
	b.Grow(len(raw))
	for _, r := range raw {
		r = textnorm.Narrow(r)
		switch {
		case isSeparator(r):
			continue
		case r == '+' || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	s := b.String()

	// Strip the international prefix only when what follows has exactly the
	// national length, so a stray leading 86 is not silently removed.
	const national = 11
	switch {
	case strings.HasPrefix(s, "+"+countryCode) && len(s) == 3+national:
		s = s[3:]
	case strings.HasPrefix(s, "00"+countryCode) && len(s) == 4+national:
		s = s[4:]
	case strings.HasPrefix(s, countryCode) && len(s) == 2+national:
		s = s[2:]
	}
	if !isMobile(s) {
		return "", false
	}
	return s, true
}

// Mask hides the middle four digits of a national number (138****8000), the
// form customarily shown on Chinese receipts and screens. Anything that is
// not a valid national number is starred entirely so it never shows in full.
func Mask(n string) string {
	if !isMobile(n) {
		return strings.Repeat("*", len([]rune(n)))
	}
	return n[:3] + "****" + n[7:]
}

// E164 formats a national number for SMS gateways (+8613800138000). It
// returns "" if n is not a valid national number, so a bad value cannot reach
// a gateway.
func E164(n string) string {
	if !isMobile(n) {
		return ""
	}
	return "+" + countryCode + n
}

// isMobile matches ^1[3-9]\d{9}$: mobile numbers start 13–19; 10–12 are not
// allocated to mobile networks.
func isMobile(s string) bool {
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isSeparator reports characters people put between digit groups.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '-', '.', '(', ')',
		'\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', // dash variants from word processors
		'\u00a0': // no-break space from web pages
		return true
	}
	return false
}
