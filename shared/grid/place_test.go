package grid

import (
	"fmt"
	"testing"
)

func TestSplitAddress(t *testing.T) {
	t.Parallel()
	cases := []struct {
		community, address string
		street, number     string
	}{
		{"石冲社区", "新塘里96号", "新塘里", "96"},
		{"石冲社区", "长庚里96号之一", "长庚里", "96"},
		{"石冲社区", "长庚里96-2", "长庚里", "96"},
		{"石冲社区", "长庚里９６号", "长庚里", "96"},
		{"石冲社区", " 长庚里 096 号 ", "长庚里", "96"},
		{"石冲社区", "新塘里96号201房", "新塘里", "96"},
		{"石冲社区", "广东省江门市蓬江区环市街道石冲社区新塘里96号", "新塘里", "96"},
		{"石冲社区", "石冲新塘里96号", "新塘里", "96"},
		{"石冲社区", "蓬江区石冲社区居委会新塘里96号", "新塘里", "96"},
		{"石冲社区", "石冲路5号", "石冲路", "5"},
		{"石冲社区", "新村路5号", "新村路", "5"},
		{"石冲社区", "东华2路12号", "东华2路", "12"},
		{"石冲社区", "华园小区3座501", "华园小区", "3"},
		{"石冲社区", "蓬江区华园小区3座501", "华园小区", "3"},
		{"子绵村", "杜阮镇子绵村东头巷0号", "东头巷", "0"},
		{"石冲社区", "新塘里", "新塘里", ""},
		{"石冲社区", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.address, func(t *testing.T) {
			t.Parallel()
			street, number := SplitAddress(tc.community, tc.address)
			if street != tc.street || number != tc.number {
				t.Errorf("SplitAddress(%q, %q) = %q, %q; want %q, %q", tc.community, tc.address, street, number, tc.street, tc.number)
			}
		})
	}
}

func TestForPlace(t *testing.T) {
	t.Parallel()
	d := NewDirectory([]Grid{
		{Code: "440703006107-03", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703006107-02", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703006107-01", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703103206-01", Community: "子绵村", Town: "杜阮镇"},
		{Code: "440703006104-01", Community: "龙溪社区", Town: "环市街道"},
		{Code: "440703006104-02", Community: "龙溪社区", Town: "环市街道"},
		{Code: "440703103210-01", Community: "龙溪村", Town: "杜阮镇"},
	})
	shichong := map[string]bool{"440703006107-01": true, "440703006107-02": true, "440703006107-03": true}

	t.Run("one grid", func(t *testing.T) {
		t.Parallel()
		for _, town := range []string{"", "杜阮镇", "杜阮"} {
			if code, ok := d.ForPlace(town, "子绵", "东头巷1号"); !ok || code != "440703103206-01" {
				t.Errorf("ForPlace(%q, 子绵) = %q, %v", town, code, ok)
			}
		}
	})
	t.Run("neighbours share a grid, and a rerun agrees", func(t *testing.T) {
		t.Parallel()
		first, ok := d.ForPlace("环市街道", "石冲社区", "新塘里96号")
		if !ok || !shichong[first] {
			t.Fatalf("ForPlace = %q, %v; want a grid of 石冲社区", first, ok)
		}
		for _, addr := range []string{"新塘里1号", "新塘里96号之一", "石冲社区新塘里200号", "新塘里"} {
			if code, _ := d.ForPlace("环市", "石冲", addr); code != first {
				t.Errorf("%s in grid %s, its neighbour at 新塘里96号 in %s", addr, code, first)
			}
		}
	})
	t.Run("streets spread over the community's grids", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for i := range 60 {
			code, ok := d.ForPlace("", "石冲社区", fmt.Sprintf("第%d巷3号", i))
			if !ok || !shichong[code] {
				t.Fatalf("ForPlace = %q, %v; want a grid of 石冲社区", code, ok)
			}
			seen[code] = true
		}
		if len(seen) != 3 {
			t.Errorf("60 streets went to %d of 3 grids", len(seen))
		}
		if code, _ := d.ForPlace("", "石冲社区", ""); code != "440703006107-01" {
			t.Errorf("no address went to %s, want the lead grid", code)
		}
	})
	t.Run("the town settles a shared short name", func(t *testing.T) {
		t.Parallel()
		if code, ok := d.ForPlace("杜阮镇", "龙溪", "x里1号"); !ok || code != "440703103210-01" {
			t.Errorf("龙溪 in 杜阮镇 = %q, %v", code, ok)
		}
		if code, ok := d.ForPlace("环市街", "龙溪", "x里1号"); !ok || (code != "440703006104-01" && code != "440703006104-02") {
			t.Errorf("龙溪 in 环市街 = %q, %v", code, ok)
		}
	})
	for _, tc := range []struct{ name, town, community string }{
		{"unknown community", "", "长庚里"},
		{"empty community", "环市街道", ""},
		{"shared short name, no town", "", "龙溪"},
		{"community in another town", "杜阮镇", "石冲社区"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if code, ok := d.ForPlace(tc.town, tc.community, "新塘里96号"); ok || code != Unassigned {
				t.Errorf("ForPlace(%q, %q) = %q, %v; want %q, false", tc.town, tc.community, code, ok, Unassigned)
			}
		})
	}
	// ForCommunity still routes to the lead grid.
	if code, ok := d.ForCommunity("石冲社区"); !ok || code != "440703006107-01" {
		t.Errorf("ForCommunity = %q, %v", code, ok)
	}
}
