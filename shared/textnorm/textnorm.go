// Package textnorm normalises what people type on phones with Chinese input
// methods, so the same value typed twice compares equal.
package textnorm

import (
	"strings"

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
