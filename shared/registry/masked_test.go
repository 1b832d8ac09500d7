package registry_test

import (
	"testing"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
)

func TestPersonalMasked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   registry.Personal
		kind idcard.Kind
		want registry.Personal
	}{
		{"resident ID and both phones",
			registry.Personal{Name: "张三", IDNumber: "11010519491231002X", Phone: "13800138000", Address: "新塘里96号", LandlordPhone: "13900139001"},
			idcard.ResidentID,
			registry.Personal{Name: "张三", IDNumber: "1101**********002X", Phone: "138****8000", Address: "新塘里96号", LandlordPhone: "139****9001"}},
		{"no phones stay empty",
			registry.Personal{Name: "李四", IDNumber: "11010519491231002X", Address: "长庚里5号"},
			idcard.ResidentID,
			registry.Personal{Name: "李四", IDNumber: "1101**********002X", Address: "长庚里5号"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := c.in.Masked(c.kind)
			if got != c.want {
				t.Errorf("Masked = %+v, want %+v", got, c.want)
			}
			if got.IDNumber == c.in.IDNumber {
				t.Errorf("the ID number %q was not masked", got.IDNumber)
			}
		})
	}
}
