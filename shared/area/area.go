// Package area resolves GB/T 2260 county-level administrative division codes
// (the first six digits of a resident ID number, and the area codes used on
// forms) to names.
//
// The table is the National Bureau of Statistics 统计用区划代码 edition shipped in
// data/counties.csv (see data/SOURCE.md) plus the region-level codes of Hong
// Kong, Macao and Taiwan. It is embedded so the binary needs no files at run
// time.
package area

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// edition is the NBS cut-off date of the embedded table. Keep it in step with
// data/SOURCE.md when regenerating.
const edition = "2023-06-30"

//go:embed data/counties.csv
var countiesCSV []byte

// Area is one county-level division.
type Area struct {
	Code     string // six-digit GB/T 2260 code, e.g. "440703"
	Name     string // e.g. "蓬江区"
	City     string // prefecture-level city, e.g. "江门市"
	Province string // e.g. "广东省"
}

// Catalog is an immutable lookup table of county-level divisions. It is safe
// for concurrent use.
type Catalog struct {
	byCode    map[string]Area
	provinces func() []Province // the divisions as a tree, built once
}

// Load parses the embedded county table. It returns an error rather than
// panicking so that a corrupted build surfaces at start-up as a clean failure.
func Load() (*Catalog, error) {
	return parse(bytes.NewReader(countiesCSV))
}

func parse(r io.Reader) (*Catalog, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("area: reading header: %w", err)
	}
	if header[0] != "code" || header[1] != "name" || header[2] != "city" || header[3] != "province" {
		return nil, fmt.Errorf("area: unexpected header %q", header)
	}
	c := &Catalog{byCode: make(map[string]Area, 3000)}
	c.provinces = sync.OnceValue(c.tree)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("area: %w", err)
		}
		a := Area{Code: rec[0], Name: rec[1], City: rec[2], Province: rec[3]}
		if !isSixDigits(a.Code) {
			return nil, fmt.Errorf("area: malformed code %q", a.Code)
		}
		if _, dup := c.byCode[a.Code]; dup {
			return nil, fmt.Errorf("area: duplicate code %s", a.Code)
		}
		c.byCode[a.Code] = a
	}
	if len(c.byCode) == 0 {
		return nil, fmt.Errorf("area: empty table")
	}
	return c, nil
}

// County looks up an exact six-digit code. Codes abolished before the
// embedded edition are not found; callers validating old ID numbers should
// rely on ProvinceKnown instead.
func (c *Catalog) County(code string) (Area, bool) {
	a, ok := c.byCode[code]
	return a, ok
}

// Province is a province's cities, a city's counties, in code order: how
// a form's pickers walk the table.
type Province struct {
	Name   string `json:"name"`
	Cities []City `json:"cities"`
}

// City is one prefecture-level city and its counties.
type City struct {
	Name     string   `json:"name"`
	Counties []County `json:"counties"`
}

// County is one county-level division in the tree.
type County struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Provinces is every division as a tree, in code order. It is built once
// and shared: do not change it.
func (c *Catalog) Provinces() []Province { return c.provinces() }

func (c *Catalog) tree() []Province {
	all := make([]Area, 0, len(c.byCode))
	for _, a := range c.byCode {
		all = append(all, a)
	}
	slices.SortFunc(all, func(a, b Area) int { return strings.Compare(a.Code, b.Code) })
	var out []Province
	for _, a := range all {
		if n := len(out); n == 0 || out[n-1].Name != a.Province {
			out = append(out, Province{Name: a.Province})
		}
		p := &out[len(out)-1]
		if n := len(p.Cities); n == 0 || p.Cities[n-1].Name != a.City {
			p.Cities = append(p.Cities, City{Name: a.City})
		}
		city := &p.Cities[len(p.Cities)-1]
		city.Counties = append(city.Counties, County{Code: a.Code, Name: a.Name})
	}
	return out
}

// Len reports how many codes the catalog holds.
func (c *Catalog) Len() int { return len(c.byCode) }

// Edition reports the NBS cut-off date (YYYY-MM-DD) of the embedded table, so
// callers can show how current the names are.
func (c *Catalog) Edition() string { return edition }

// provincePrefixes are the two-digit province-level prefixes of GB/T 2260.
// They are fixed in code rather than derived from the table because they
// change far more rarely than county codes (the last addition was 50,
// Chongqing, in 1997), and validating ID numbers must not depend on the table.
// 71, 81 and 82 are Taiwan, Hong Kong and Macao; 83 is not a GB/T 2260 code
// but is the prefix of residence-permit numbers (港澳台居民居住证) issued to
// residents of those regions, which share the resident ID format.
var provincePrefixes = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// ProvinceKnown reports whether prefix2 is a known two-digit province-level
// prefix.
func ProvinceKnown(prefix2 string) bool {
	return provincePrefixes[prefix2]
}

func isSixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
