package registry_test

import (
	"reflect"
	"strings"
	"testing"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
)

func goodRow() registry.Row {
	return registry.Row{
		Name: " 张三 ", IDType: "居民身份证", IDNumber: "11010519491231002x", Phone: "+86 138-0013-8000",
		Town: "环市街道", Community: "石冲社区", Address: "新塘里96号", ResidentType: "常住", LandlordPhone: "",
	}
}

func TestCheckRowGood(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*registry.Row)
		want func(*registry.Entry)
	}{
		{"resident", func(*registry.Row) {}, func(*registry.Entry) {}},
		{"blank id type, english resident type, landlord", func(r *registry.Row) {
			r.IDType, r.ResidentType, r.LandlordPhone = "", "Floating", "１３９００１３９００１"
		}, func(e *registry.Entry) { e.ResidentType, e.LandlordPhone = registry.Floating, "13900139001" }},
		{"passport, outsider, no phone, no town", func(r *registry.Row) {
			r.IDType, r.IDNumber, r.ResidentType, r.Phone, r.Town = "护照", "e1234567", "外来人口", "", ""
		}, func(e *registry.Entry) {
			e.IDType, e.IDNumber, e.ResidentType, e.Phone, e.Town = idcard.Passport, "E1234567", registry.Outsider, "", ""
		}},
		{"an apostrophe keeps Excel's hands off the ID", func(r *registry.Row) { r.IDNumber = "'11010519491231002X" }, func(*registry.Entry) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			row := goodRow()
			tc.edit(&row)
			want := registry.Entry{
				Personal:     registry.Personal{Name: "张三", IDNumber: "11010519491231002X", Phone: "13800138000", Address: "新塘里96号"},
				IDType:       idcard.ResidentID,
				Town:         "环市街道",
				Community:    "石冲社区",
				ResidentType: registry.Permanent,
			}
			tc.want(&want)
			got, errs := registry.CheckRow(row, 7, now)
			if len(errs) > 0 {
				t.Fatalf("CheckRow problems %+v", errs)
			}
			if got != want {
				t.Errorf("CheckRow\n got %+v\nwant %+v", got, want)
			}
			// An entry checks again as itself (a corrected entry from a form).
			if again, errs := registry.CheckRow(got.Row(), 1, now); len(errs) > 0 || again != got {
				t.Errorf("entry checked again: %+v, %+v", again, errs)
			}
		})
	}
}

func TestCheckRowProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*registry.Row)
		want []registry.RowError // Line 9
	}{
		{"everything missing", func(r *registry.Row) { *r = registry.Row{} }, []registry.RowError{
			{9, "name", "required"}, {9, "idNumber", "required"}, {9, "community", "required"},
			{9, "address", "required"}, {9, "residentType", "required"},
		}},
		{"name too long", func(r *registry.Row) { r.Name = strings.Repeat("𠮷", registry.MaxNameRunes+1) }, []registry.RowError{{9, "name", "too_long"}}},
		{"name with a control character", func(r *registry.Row) { r.Name = "张\u202e三" }, []registry.RowError{{9, "name", "invalid_characters"}}},
		{"unknown id type", func(r *registry.Row) { r.IDType = "驾驶证" }, []registry.RowError{{9, "idType", "unknown"}}},
		{"check digit", func(r *registry.Row) { r.IDNumber = "110105194912310021" }, []registry.RowError{{9, "idNumber", idcard.ReasonChecksum}}},
		{"excel number", func(r *registry.Row) { r.IDNumber = "1.10105E+17" }, []registry.RowError{{9, "idNumber", "excel_number"}}},
		{"first generation", func(r *registry.Row) { r.IDNumber = "110105491231002" }, []registry.RowError{{9, "idNumber", idcard.ReasonFirstGeneration}}},
		{"birth date", func(r *registry.Row) { r.IDNumber = residentIDBorn("20301231") }, []registry.RowError{{9, "idNumber", idcard.ReasonBirthDate}}},
		{"phone and landlord phone", func(r *registry.Row) { r.Phone, r.LandlordPhone = "0750-1234567", "12345" }, []registry.RowError{
			{9, "phone", "invalid"}, {9, "landlordPhone", "invalid"},
		}},
		{"town too long", func(r *registry.Row) { r.Town = strings.Repeat("镇", registry.MaxCommunityRunes+1) }, []registry.RowError{{9, "town", "too_long"}}},
		{"address too long", func(r *registry.Row) { r.Address = strings.Repeat("号", registry.MaxAddressRunes+1) }, []registry.RowError{{9, "address", "too_long"}}},
		{"unknown resident type", func(r *registry.Row) { r.ResidentType = "暂住" }, []registry.RowError{{9, "residentType", "unknown"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			row := goodRow()
			tc.edit(&row)
			_, errs := registry.CheckRow(row, 9, now)
			if !reflect.DeepEqual(errs, tc.want) {
				t.Errorf("CheckRow problems\n got %+v\nwant %+v", errs, tc.want)
			}
		})
	}
}

// residentIDBorn is a resident ID with a valid check digit born on yyyymmdd.
func residentIDBorn(yyyymmdd string) string {
	first17 := "440703" + yyyymmdd + "123"
	return first17 + string(idcard.CheckDigit(first17))
}
