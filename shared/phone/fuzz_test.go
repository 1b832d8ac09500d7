package phone

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalize checks the phone rules every form and file uses: an
// accepted number is 11 national mobile digits and a fixed point (it
// normalises to itself, and so does its E.164 form); anything refused
// comes back empty; Mask shows at most the first three and last four
// digits of a number and nothing of anything else.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"13800138000", "+86 138-0013-8000", "＋８６ １３８ ００１３ ８０００", "008613800138000", "8613800138000",
		"86 13800138000", "+8613800138000x", "0750-3123456", "12345678901", "1380013800", "138001380000",
		"(138) 0013\u00a08000", "138\u20140013\u20148000", "1.38E+10", "'13800138000", "\xff", "", "+", "++8613800138000",
		"861380013800", "+86 8613800138000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, ok := Normalize(raw)
		if !ok {
			if n != "" {
				t.Fatalf("Normalize(%q) refused but returned %q", raw, n)
			}
			if m := Mask(raw); m != strings.Repeat("*", utf8.RuneCountInString(raw)) {
				t.Fatalf("Mask(%q) = %q shows part of what is not a number", raw, m)
			}
			if e := E164(raw); e != "" {
				t.Fatalf("E164(%q) = %q formatted what is not a number", raw, e)
			}
			return
		}
		if !isMobile(n) || len(n) != 11 {
			t.Fatalf("Normalize(%q) = %q: not 11 mobile digits", raw, n)
		}
		if again, ok := Normalize(n); !ok || again != n {
			t.Fatalf("Normalize(%q) = %q, %v; want the fixed point %q", n, again, ok, n)
		}
		e := E164(n)
		if e != "+86"+n {
			t.Fatalf("E164(%q) = %q", n, e)
		}
		if back, ok := Normalize(e); !ok || back != n {
			t.Fatalf("Normalize(E164 %q) = %q, %v", e, back, ok)
		}
		m := Mask(n)
		if len(m) != 11 || m[:3] != n[:3] || m[3:7] != "****" || m[7:] != n[7:] {
			t.Fatalf("Mask(%q) = %q; want %s****%s", n, m, n[:3], n[7:])
		}
		// The digits of raw, in order, end with the number: nothing was
		// invented or reordered.
		var digits strings.Builder
		for _, r := range raw {
			if r >= '０' && r <= '９' {
				r = r - '０' + '0'
			}
			if r >= '0' && r <= '9' {
				digits.WriteRune(r)
			}
		}
		if !strings.HasSuffix(digits.String(), n) || digits.Len() > 15 {
			t.Fatalf("Normalize(%q) = %q from the digits %q", raw, n, digits.String())
		}
	})
}
