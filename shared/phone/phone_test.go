package phone

import "testing"

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string
		want   string
		wantOK bool
	}{
		{"plain", "13800138000", "13800138000", true},
		{"+86 with dashes", "+86 138-0013-8000", "13800138000", true},
		{"86 with space", "86 13800138000", "13800138000", true},
		{"86 without space", "8613800138000", "13800138000", true},
		{"+86 without space", "+8613800138000", "13800138000", true},
		{"0086", "0086 138 0013 8000", "13800138000", true},
		{"full-width digits", "１３８００１３８０００", "13800138000", true},
		{"full-width plus and space", "＋８６\u3000１３８００１３８０００", "13800138000", true},
		{"full-width dashes", "１３８－００１３－８０００", "13800138000", true},
		{"dots", "138.0013.8000", "13800138000", true},
		{"parentheses around country code", "(+86) 13800138000", "13800138000", true},
		{"surrounding spaces", "  13800138000 ", "13800138000", true},
		{"19x prefix", "19912345678", "19912345678", true},
		{"12x prefix not mobile", "12345678901", "", false},
		{"landline with area code", "0750-3123456", "", false},
		{"landline with +86", "+86 750 312 3456", "", false},
		{"10 digits", "1380013800", "", false},
		{"12 digits", "138001380001", "", false},
		{"letters", "1380013800O", "", false},
		{"plus in the middle", "138+00138000", "", false},
		{"other country code", "+1 13800138000", "", false},
		{"86 with wrong length", "86138001380", "", false},
		{"empty", "", "", false},
		{"only separators", " - . ", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Normalize(tt.raw)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"13800138000", "138****8000"},
		{"19912345678", "199****5678"},
		{"1380013800", "**********"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestE164(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{
		{"13800138000", "+8613800138000"},
		{"+8613800138000", ""},
		{"12345678901", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := E164(tt.in); got != tt.want {
				t.Errorf("E164(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
