package textnorm

import "testing"

func TestNarrow(t *testing.T) {
	t.Parallel()
	for in, want := range map[rune]rune{'１': '1', 'Ｘ': 'X', '（': '(', '\u3000': ' ', '张': '张', '9': '9'} {
		if got := Narrow(in); got != want {
			t.Errorf("Narrow(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"  张\u3000\u3000三 ": "张 三",
		"e\u0301":           "\u00e9", // decomposed é composes
		"𠮷":                 "𠮷",
		"":                  "",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"张三": true, "𠮷田": true, "a b": true, "a\u0000b": false, "a\u202eb": false, "\xff": false} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRequired(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ raw, clean, reason string }{
		{"  张  三 ", "张 三", ""},
		{" \u3000 ", "", "required"},
		{"𠮷田𠮷田", "𠮷田𠮷田", "too_long"},
		{"张\u202e三", "张\u202e三", "invalid_characters"},
	} {
		if clean, reason := Required(c.raw, 3); clean != c.clean || reason != c.reason {
			t.Errorf("Required(%q) = %q, %q; want %q, %q", c.raw, clean, reason, c.clean, c.reason)
		}
	}
}
