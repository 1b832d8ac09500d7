package idcard

import (
	"strings"
	"testing"
	"time"
)

// shanghai is the location callers pass today in. Tests fall back to a fixed
// offset so they do not depend on the host's tzdata.
var shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}()

// today is a fixed "now" so tests do not change meaning over time.
var today = time.Date(2024, 5, 20, 9, 30, 0, 0, shanghai)

// validID completes 17 digits with their check digit, independently of
// CheckDigit so the two implementations cross-check each other.
func validID(t testing.TB, first17 string) string {
	t.Helper()
	if len(first17) != 17 {
		t.Fatalf("validID: %q is not 17 characters", first17)
	}
	sum := 0
	for i, c := range first17 {
		weight := 1 << (17 - i) % 11 // GB 11643: W_i = 2^(i-1) mod 11, counted from the right
		sum += int(c-'0') * weight
	}
	return first17 + string("10X98765432"[sum%11])
}

// withWrongCheckDigit replaces the last character with a different valid-looking one.
func withWrongCheckDigit(id string) string {
	last := id[17]
	wrong := byte('0')
	if last == '0' {
		wrong = '1'
	}
	return id[:17] + string(wrong)
}

func TestCheckDigit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		first17 string
		want    byte
	}{
		{"well-known example with X", "11010519491231002", 'X'},
		{"Pengjiang", "44070319900307123", validID(t, "44070319900307123")[17]},
		{"all zeros", "00000000000000000", '1'},
		{"too short", "1101051949123100", 0},
		{"too long", "110105194912310021", 0},
		{"non-digit", "1101051949123100A", 0},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CheckDigit(tt.first17); got != tt.want {
				t.Errorf("CheckDigit(%q) = %q, want %q", tt.first17, got, tt.want)
			}
		})
	}
}

func TestCheckResidentID(t *testing.T) {
	t.Parallel()
	pengjiang := validID(t, "44070319900307123")
	bornToday := validID(t, "44070320240520123")
	tests := []struct {
		name       string
		raw        string
		wantNorm   string
		wantReason string
	}{
		{"well-known valid example", "11010519491231002X", "11010519491231002X", ""},
		{"lower-case x", "11010519491231002x", "11010519491231002X", ""},
		{"full-width digits and x", "１１０１０５１９４９１２３１００２ｘ", "11010519491231002X", ""},
		{"surrounding and inner spaces", "  110105 19491231 002X\t", "11010519491231002X", ""},
		{"ideographic space", "110105\u300019491231002X", "11010519491231002X", ""},
		{"Pengjiang", pengjiang, pengjiang, ""},
		{"born today", bornToday, bornToday, ""},
		{"born 1900-01-01", validID(t, "44070319000101123"), validID(t, "44070319000101123"), ""},
		{"leap day", validID(t, "44070320000229123"), validID(t, "44070320000229123"), ""},
		{"unknown county in known province", validID(t, "44079919900307123"), validID(t, "44079919900307123"), ""},
		{"abolished county code", validID(t, "44072219800101123"), validID(t, "44072219800101123"), ""},
		{"Hong Kong residence permit", validID(t, "81000019900307123"), validID(t, "81000019900307123"), ""},
		{"Taiwan residence permit", validID(t, "83000019900307123"), validID(t, "83000019900307123"), ""},
		{"empty", "", "", ReasonRequired},
		{"only spaces", " \u3000 ", "", ReasonRequired},
		{"wrong checksum", withWrongCheckDigit(pengjiang), withWrongCheckDigit(pengjiang), ReasonChecksum},
		{"unknown province", validID(t, "99070319900307123"), validID(t, "99070319900307123"), ReasonRegion},
		{"February 30", validID(t, "44070319900230123"), validID(t, "44070319900230123"), ReasonBirthDate},
		{"February 29 in common year", validID(t, "44070319010229123"), validID(t, "44070319010229123"), ReasonBirthDate},
		{"month 13", validID(t, "44070319901301123"), validID(t, "44070319901301123"), ReasonBirthDate},
		{"day 00", validID(t, "44070319900300123"), validID(t, "44070319900300123"), ReasonBirthDate},
		{"born tomorrow", validID(t, "44070320240521123"), validID(t, "44070320240521123"), ReasonBirthDate},
		{"future year", validID(t, "44070320990101123"), validID(t, "44070320990101123"), ReasonBirthDate},
		{"before 1900", validID(t, "44070318991231123"), validID(t, "44070318991231123"), ReasonBirthDate},
		{"first generation 15 digits", "440703900307123", "440703900307123", ReasonFirstGeneration},
		{"17 digits", "11010519491231002", "11010519491231002", ReasonFormat},
		{"19 characters", "11010519491231002X1", "11010519491231002X1", ReasonFormat},
		{"X not last", "1101051949123100X2", "1101051949123100X2", ReasonFormat},
		{"letter inside", "11010519491231A02X", "11010519491231A02X", ReasonFormat},
		{"dashes are not dropped", "110105-19491231-002X", "110105-19491231-002X", ReasonFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gotNorm, gotReason := Check(ResidentID, tt.raw, today)
			if gotNorm != tt.wantNorm || gotReason != tt.wantReason {
				t.Errorf("Check(ResidentID, %q) = %q, %q; want %q, %q", tt.raw, gotNorm, gotReason, tt.wantNorm, tt.wantReason)
			}
		})
	}
}

// The birth date limit is the caller's calendar date, not UTC's: at 07:00 in
// Shanghai it is still the previous day in UTC.
func TestCheckResidentIDUsesCallersDate(t *testing.T) {
	t.Parallel()
	earlyMorning := time.Date(2024, 5, 20, 7, 0, 0, 0, shanghai)
	id := validID(t, "44070320240520123")
	tests := []struct {
		name       string
		today      time.Time
		wantReason string
	}{
		{"Shanghai date", earlyMorning, ""},
		{"same instant in UTC is the day before", earlyMorning.UTC(), ReasonBirthDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, got := Check(ResidentID, id, tt.today); got != tt.wantReason {
				t.Errorf("Check at %v: reason %q, want %q", tt.today, got, tt.wantReason)
			}
		})
	}
}

func TestCheckOtherKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		kind       Kind
		raw        string
		wantNorm   string
		wantReason string
	}{
		{"passport", Passport, "E12345678", "E12345678", ""},
		{"passport lower case and spaces", Passport, " e1234 5678 ", "E12345678", ""},
		{"passport full-width", Passport, "Ｅ１２３４５６７８", "E12345678", ""},
		{"passport 5 characters", Passport, "AB123", "AB123", ""},
		{"passport 17 characters", Passport, "ABCDEFGH123456789", "ABCDEFGH123456789", ""},
		{"passport too short", Passport, "AB12", "AB12", ReasonFormat},
		{"passport too long", Passport, "ABCDEFGH1234567890", "ABCDEFGH1234567890", ReasonFormat},
		{"passport punctuation", Passport, "E1234-5678", "E1234-5678", ReasonFormat},
		{"passport empty", Passport, "", "", ReasonRequired},
		{"HK permit card", HKMacaoPermit, "H12345678", "H12345678", ""},
		{"Macao permit card", HKMacaoPermit, "m12345678", "M12345678", ""},
		{"HK permit booklet", HKMacaoPermit, "H1234567801", "H1234567801", ""},
		{"HK permit 9 digits", HKMacaoPermit, "H123456789", "H123456789", ReasonFormat},
		{"HK permit wrong letter", HKMacaoPermit, "K12345678", "K12345678", ReasonFormat},
		{"HK permit no letter", HKMacaoPermit, "12345678", "12345678", ReasonFormat},
		{"HK permit letter inside", HKMacaoPermit, "H1234567A", "H1234567A", ReasonFormat},
		{"HK permit empty", HKMacaoPermit, " ", "", ReasonRequired},
		{"Taiwan permit lifelong number", TaiwanPermit, "12345678", "12345678", ""},
		{"Taiwan permit with issue count", TaiwanPermit, "1234567801", "1234567801", ""},
		{"Taiwan permit with authority code", TaiwanPermit, "1234567801(B)", "1234567801B", ""},
		{"Taiwan permit full-width parentheses", TaiwanPermit, "1234567801（b）", "1234567801B", ""},
		{"Taiwan permit numeric authority code", TaiwanPermit, "1234567801(5)", "12345678015", ""},
		{"Taiwan permit 9 digits", TaiwanPermit, "123456789", "123456789", ReasonFormat},
		{"Taiwan permit letter in number", TaiwanPermit, "1234567A", "1234567A", ReasonFormat},
		{"Taiwan permit 12 characters", TaiwanPermit, "1234567801BC", "1234567801BC", ReasonFormat},
		{"unknown kind", Kind("driving_licence"), "12345678", "12345678", ReasonFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gotNorm, gotReason := Check(tt.kind, tt.raw, today)
			if gotNorm != tt.wantNorm || gotReason != tt.wantReason {
				t.Errorf("Check(%q, %q) = %q, %q; want %q, %q", tt.kind, tt.raw, gotNorm, gotReason, tt.wantNorm, tt.wantReason)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   Kind
		wantOK bool
	}{
		{"", ResidentID, true},
		{"resident_id", ResidentID, true},
		{"passport", Passport, true},
		{"hk_macao_permit", HKMacaoPermit, true},
		{"taiwan_permit", TaiwanPermit, true},
		{"Passport", "", false},
		{"id", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseKind(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseKind(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kind Kind
		in   string
		want string
	}{
		{"resident ID", ResidentID, "44070319900307123X", "4407**********123X"},
		{"resident ID wrong length falls back", ResidentID, "440703900307123", "4************23"},
		{"passport", Passport, "E12345678", "E******78"},
		{"passport shortest", Passport, "AB123", "A**23"},
		{"HK permit", HKMacaoPermit, "H1234567801", "H********01"},
		{"Taiwan permit", TaiwanPermit, "12345678", "1*****78"},
		{"too short to keep anything", Passport, "AB1", "***"},
		{"empty", Passport, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Mask(tt.kind, tt.in)
			if got != tt.want {
				t.Errorf("Mask(%q, %q) = %q, want %q", tt.kind, tt.in, got, tt.want)
			}
			if len([]rune(got)) != len([]rune(tt.in)) {
				t.Errorf("Mask(%q, %q) changed length to %d", tt.kind, tt.in, len([]rune(got)))
			}
		})
	}
}

var allKinds = []Kind{ResidentID, Passport, HKMacaoPermit, TaiwanPermit, Kind("other")}

func FuzzCheck(f *testing.F) {
	seeds := []string{
		"11010519491231002X", "11010519491231002x", "１１０１０５１９４９１２３１００２ｘ",
		"440703900307123", "E12345678", "H1234567801", "1234567801(B)", "", " ", "\u3000",
		"99070319900307123X", "\xff\xfe", "（Ｘ）",
	}
	for _, s := range seeds {
		for i := range allKinds {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, kindIndex uint8, raw string) {
		kind := allKinds[int(kindIndex)%len(allKinds)]
		norm, reason := Check(kind, raw, today)
		masked := Mask(kind, norm)
		if len([]rune(masked)) != len([]rune(norm)) {
			t.Errorf("Mask(%q, %q) = %q: length changed", kind, norm, masked)
		}
		if reason != "" {
			return
		}
		if strings.ContainsAny(norm, " ()") {
			t.Errorf("Check(%q, %q): valid result %q contains spaces or parentheses", kind, raw, norm)
		}
		norm2, reason2 := Check(kind, norm, today)
		if norm2 != norm || reason2 != "" {
			t.Errorf("re-Check(%q, %q) = %q, %q; want %q, valid", kind, norm, norm2, reason2, norm)
		}
		if kind == ResidentID && len(norm) != 18 {
			t.Errorf("Check(ResidentID, %q) valid with length %d", raw, len(norm))
		}
	})
}
