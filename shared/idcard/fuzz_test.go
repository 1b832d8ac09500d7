package idcard

import (
	"strings"
	"testing"
	"time"
)

// FuzzMask checks what staff screens show of a document number: Mask keeps
// the length, shows only the first and last characters (4 and 4 of an
// 18-character resident ID, so never its birth date; 1 and 2 of anything
// else), each where it was, and stars the rest; a number too short to
// hide anything is starred entirely. It holds for numbers as Check left
// them, valid or not, and for raw input.
func FuzzMask(f *testing.F) {
	kinds := []Kind{ResidentID, Passport, HKMacaoPermit, TaiwanPermit, Kind("other")}
	for _, s := range []string{
		"11010519491231002X", "１１０１０５１９４９１２３１００２ｘ", "440703900307123", "E12345678", "H1234567801",
		"1234567801(B)", "", "*", "ab", "abc", "abcd", "4407", "𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷𠮷", "4.40703E+17", "\xff\xfe\xfd\xfc",
	} {
		for i := range kinds {
			f.Add(uint8(i), s)
		}
	}
	now := time.Date(2024, 5, 20, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))
	f.Fuzz(func(t *testing.T, k uint8, raw string) {
		kind := kinds[int(k)%len(kinds)]
		normalized, reason := Check(kind, raw, now)
		for _, in := range []string{normalized, raw} {
			masked := Mask(kind, in)
			orig, shown := []rune(in), []rune(masked)
			if len(shown) != len(orig) {
				t.Fatalf("Mask(%s, %q) = %q: length changed", kind, in, masked)
			}
			head, tail := 1, 2
			if kind == ResidentID && len(orig) == 18 {
				head, tail = 4, 4
			}
			if len(orig) <= head+tail {
				head, tail = 0, 0
			}
			for i, r := range shown {
				kept := i < head || i >= len(orig)-tail
				if kept && r != orig[i] || !kept && r != '*' {
					t.Fatalf("Mask(%s, %q) = %q: position %d", kind, in, masked, i)
				}
			}
			if kind == ResidentID && reason == "" && in == normalized && strings.Trim(masked[6:14], "*") != "" {
				t.Fatalf("Mask(%q) = %q shows the birth date", in, masked)
			}
		}
	})
}
