package textnorm

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzClean checks what every free-text field relies on: Clean is a fixed
// point (cleaning twice changes nothing), leaves no white space at the
// ends nor two spaces in a row and is NFC; Required agrees with Clean and
// gives one of its three reasons, and what it accepts is within the limit
// and printable; Narrow maps full-width forms onto ASCII and nothing else
// into ASCII.
func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"", " ", "\u3000", "  张三\u3000 ", "𠮷田\u3000花子", "Ａｂｃ１２３", "e\u0301", "\u00e9",
		"a\u202eb", "\x00", "\xff\xfe", "\ufeff姓名", "新塘里96号\r\n", "\u2000\u2001x\u2003",
		"ﬁ", "Å", "\u0041\u030a", strings.Repeat("长", 31),
	} {
		f.Add(s, uint8(30))
	}
	f.Fuzz(func(t *testing.T, raw string, limit uint8) {
		clean := Clean(raw)
		if again := Clean(clean); again != clean {
			t.Fatalf("Clean(%q) = %q, but Clean of that = %q", raw, clean, again)
		}
		if clean != strings.TrimSpace(clean) || strings.Contains(clean, "  ") {
			t.Fatalf("Clean(%q) = %q: white space at an end or doubled", raw, clean)
		}
		for _, r := range clean {
			if unicode.IsSpace(r) && r != ' ' {
				t.Fatalf("Clean(%q) = %q keeps white space %U", raw, clean, r)
			}
		}
		if utf8.ValidString(clean) && !norm.NFC.IsNormalString(clean) {
			t.Fatalf("Clean(%q) = %q is not NFC", raw, clean)
		}

		got, reason := Required(raw, int(limit))
		if got != clean {
			t.Fatalf("Required(%q) cleaned to %q, Clean to %q", raw, got, clean)
		}
		n := utf8.RuneCountInString(clean)
		switch reason {
		case "":
			if n == 0 || n > int(limit) || !Printable(clean) {
				t.Fatalf("Required(%q, %d) accepted %q (%d runes)", raw, limit, clean, n)
			}
			if again, r2 := Required(clean, int(limit)); again != clean || r2 != "" {
				t.Fatalf("Required of accepted %q = %q, %q", clean, again, r2)
			}
		case "required":
			if n != 0 {
				t.Fatalf("Required(%q) = required for %d runes", raw, n)
			}
		case "too_long":
			if n <= int(limit) {
				t.Fatalf("Required(%q, %d) = too_long for %d runes", raw, limit, n)
			}
		case "invalid_characters":
			if Printable(clean) {
				t.Fatalf("Required(%q) = invalid_characters for printable %q", raw, clean)
			}
		default:
			t.Fatalf("Required(%q) = unknown reason %q", raw, reason)
		}

		for _, r := range raw {
			nr := Narrow(r)
			wide := r >= '\uff01' && r <= '\uff5e'
			switch {
			case wide && (nr < '!' || nr > '~' || nr != r-0xfee0):
				t.Fatalf("Narrow(%U) = %U", r, nr)
			case r == '\u3000' && nr != ' ':
				t.Fatalf("Narrow(ideographic space) = %U", nr)
			case !wide && r != '\u3000' && nr != r:
				t.Fatalf("Narrow(%U) = %U: changed a rune outside the full-width forms", r, nr)
			}
			if Narrow(nr) != nr {
				t.Fatalf("Narrow(Narrow(%U)) changed again", r)
			}
		}
	})
}
