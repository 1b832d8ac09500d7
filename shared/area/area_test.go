package area

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Len() <= 2800 {
		t.Errorf("Len = %d, want > 2800", c.Len())
	}
	if got := c.Edition(); got != "2023-06-30" {
		t.Errorf("Edition = %q, want 2023-06-30", got)
	}
}

func TestCounty(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name   string
		code   string
		want   Area
		wantOK bool
	}{
		{"Pengjiang", "440703", Area{"440703", "蓬江区", "江门市", "广东省"}, true},
		{"Beijing district uses municipality as city", "110105", Area{"110105", "朝阳区", "北京市", "北京市"}, true},
		{"province-administered county is its own city", "429004", Area{"429004", "仙桃市", "仙桃市", "湖北省"}, true},
		{"Hong Kong", "810000", Area{"810000", "香港特别行政区", "香港特别行政区", "香港特别行政区"}, true},
		{"Macao", "820000", Area{"820000", "澳门特别行政区", "澳门特别行政区", "澳门特别行政区"}, true},
		{"Taiwan", "710000", Area{"710000", "台湾省", "台湾省", "台湾省"}, true},
		{"unused code in Jiangmen", "440799", Area{}, false},
		{"nonexistent", "999999", Area{}, false},
		{"empty", "", Area{}, false},
		{"province prefix only", "44", Area{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.County(tt.code)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("County(%q) = %+v, %v; want %+v, %v", tt.code, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestProvinceKnown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		want   bool
	}{
		{"44", true},
		{"11", true},
		{"65", true},
		{"71", true},
		{"81", true},
		{"82", true},
		{"83", true},
		{"99", false},
		{"10", false},
		{"00", false},
		{"4", false},
		{"440", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			t.Parallel()
			if got := ProvinceKnown(tt.prefix); got != tt.want {
				t.Errorf("ProvinceKnown(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}

// Every province in the embedded table must be in the fixed prefix list,
// otherwise ID numbers from that province would be rejected.
func TestProvincePrefixesCoverTable(t *testing.T) {
	t.Parallel()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for code := range c.byCode {
		if !ProvinceKnown(code[:2]) {
			t.Errorf("code %s: province prefix %s not in ProvinceKnown", code, code[:2])
		}
	}
}

func TestParseRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		csv  string
	}{
		{"empty", ""},
		{"wrong header", "a,b,c,d\n"},
		{"header only", "code,name,city,province\n"},
		{"short row", "code,name,city,province\n440703,蓬江区\n"},
		{"bad code", "code,name,city,province\n44070X,蓬江区,江门市,广东省\n"},
		{"duplicate", "code,name,city,province\n440703,蓬江区,江门市,广东省\n440703,蓬江区,江门市,广东省\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := parse(strings.NewReader(tt.csv)); err == nil {
				t.Errorf("parse(%q) succeeded, want error", tt.csv)
			}
		})
	}
}

// The tree holds every division once, under its own province and city,
// in code order.
func TestProvinces(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	n, last := 0, ""
	for _, p := range c.Provinces() {
		for _, city := range p.Cities {
			for _, k := range city.Counties {
				a, ok := c.County(k.Code)
				if !ok || a.Name != k.Name || a.City != city.Name || a.Province != p.Name || k.Code <= last {
					t.Fatalf("%+v under %s › %s (after %s): the table says %+v, %v", k, p.Name, city.Name, last, a, ok)
				}
				last = k.Code
				n++
			}
		}
	}
	if n != c.Len() {
		t.Errorf("the tree holds %d divisions, the table %d", n, c.Len())
	}
}
