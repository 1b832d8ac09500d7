package grid

import (
	"sort"
	"testing"
)

func TestRouting(t *testing.T) {
	t.Parallel()
	d := NewDirectory([]Grid{
		{Code: "440703006107-02", Community: "石冲社区"},
		{Code: "440703006107-01", Community: "石冲社区"},
		{Code: "440703103206-01", Community: "子绵村"},
		{Code: "440703006104-01", Community: "龙溪社区"},
		{Code: "440703103210-01", Community: "龙溪村"},
	})
	cases := map[string]string{
		"石冲社区":    "440703006107-01",
		" 石冲 ":    "440703006107-01",
		"石冲社区居委会": "440703006107-01",
		"子绵":      "440703103206-01",
		"子绵村委会":   "440703103206-01",
		"龙溪村":     "440703103210-01",
		"龙溪社区":    "440703006104-01",
	}
	for in, want := range cases {
		if got, ok := d.ForCommunity(in); !ok || got != want {
			t.Errorf("ForCommunity(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "长庚里", "社区", "龙溪"} {
		if got, ok := d.ForCommunity(in); ok {
			t.Errorf("ForCommunity(%q) = %q, want no grid", in, got)
		}
	}
	if _, ok := d.Lookup("440703103206-01"); !ok {
		t.Error("Lookup of a known grid failed")
	}
	if gs := d.Grids(); !sort.SliceIsSorted(gs, func(i, j int) bool { return gs[i].Code < gs[j].Code }) {
		t.Error("grids not sorted by code")
	}
}
