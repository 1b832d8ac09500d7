package area

import (
	"testing"
)

// FuzzCounty checks the area-code lookups every form field and ID number
// goes through: only an exact six-digit code of the table is a county,
// found under that very code with its names, in a known province; a
// province prefix is known only as two digits; and nothing else (spaces,
// full-width digits, a longer or shorter code) is looked up.
func FuzzCounty(f *testing.F) {
	c, err := Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"440703", "110105", "810000", "820000", "710000", "440799", "830000", " 440703", "440703 ", "４４０７０３",
		"44070", "4407030", "44", "83", "00", "", "\x00\x00\x00\x00\x00\x00", "44070\u0663",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		a, ok := c.County(code)
		if !ok {
			if a != (Area{}) {
				t.Fatalf("County(%q) not found but returned %+v", code, a)
			}
		} else {
			if !isSixDigits(code) || a.Code != code {
				t.Fatalf("County(%q) found %+v", code, a)
			}
			if a.Name == "" || a.City == "" || a.Province == "" {
				t.Fatalf("County(%q) = %+v: a name is missing", code, a)
			}
			if !ProvinceKnown(code[:2]) {
				t.Fatalf("county %q is in no known province", code)
			}
		}
		if ProvinceKnown(code) && (len(code) != 2 || !isSixDigits(code+"0000")) {
			t.Fatalf("ProvinceKnown(%q) for what is not two digits", code)
		}
		if len(code) >= 2 && !ProvinceKnown(code[:2]) && ok {
			t.Fatalf("County(%q) found outside the known provinces", code)
		}
	})
}
