// Package textnorm normalises what people type on phones with Chinese input
// methods, so the same value typed twice compares equal.
package textnorm

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Narrow maps the full-width forms block (U+FF01–U+FF5E), which Chinese
// input methods produce for digits, letters and brackets, onto printable
// ASCII, and the ideographic space onto a space.
func Narrow(r rune) rune {
	switch {
	case r >= '！' && r <= '～':
		return r - '！' + '!'
	case r == '\u3000':
		return ' '
	}
	return r
}

// Clean trims, folds runs of white space (including the ideographic space)
// into one space and normalises to NFC.
func Clean(s string) string {
	return norm.NFC.String(strings.Join(strings.Fields(s), " "))
}

// Printable refuses control and format characters (a NUL, a right-to-left
// override); characters outside the BMP such as 𠮷 are letters and pass.
func Printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// Required cleans a required free-text field (a name, an address) and
// says what is wrong with it: "required", "too_long" past limit
// characters, "invalid_characters", or "" when it is fine.
func Required(raw string, limit int) (clean, reason string) {
	clean = Clean(raw)
	switch n := utf8.RuneCountInString(clean); {
	case n == 0:
		reason = "required"
	case n > limit:
		reason = "too_long"
	case !Printable(clean):
		reason = "invalid_characters"
	}
	return clean, reason
}
