package report_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/report"
)

// now is 2022-12-05 09:00 in the district.
var now = time.Date(2022, 12, 5, 1, 0, 0, 0, time.UTC)

func catalog(t *testing.T) *area.Catalog {
	t.Helper()
	c, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func valid() report.Submission {
	return report.Submission{
		Name: "张三", IDType: "resident_id", IDNumber: "11010519491231002X", Phone: "+86 138-0013-8000",
		ArrivalStatus: "arrived", ArrivalDate: "2022-12-05", FromAreaCode: "110105",
		Itinerary:   []report.Stop{{AreaCode: "110105", Date: "2022-12-03"}, {AreaCode: "440106", Date: "2022-12-04"}},
		Destination: report.Destination{Community: "石冲社区", Address: "新塘里96号"},
		Transport:   "train",
	}
}

func TestCheckAcceptsAndNormalises(t *testing.T) {
	t.Parallel()
	s := valid()
	s.Name = "  𠮷田\u3000 花子 " // ideographic space and a character outside the BMP
	s.IDNumber = "11010519491231002x"
	s.Phone = "８６ １３８００１３８０００"
	got, err := report.Check(s, now, catalog(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "𠮷田 花子" || got.IDNumber != "11010519491231002X" || got.Phone != "13800138000" {
		t.Fatalf("normalised to %q %q %q", got.Name, got.IDNumber, got.Phone)
	}
	if got.Community != "石冲社区" || len(got.Visits()) != 3 {
		t.Fatalf("community %q visits %d", got.Community, len(got.Visits()))
	}
}

func TestCheckNamesEveryBadField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*report.Submission)
		want   []fields.Problem
	}{
		{"checksum", func(s *report.Submission) { s.IDNumber = "110105194912310021" },
			[]fields.Problem{{Field: "idNumber", Reason: "checksum"}}},
		{"first generation id", func(s *report.Submission) { s.IDNumber = "110105491231002" },
			[]fields.Problem{{Field: "idNumber", Reason: "first_generation"}}},
		{"unknown id type", func(s *report.Submission) { s.IDType = "driving_licence" },
			[]fields.Problem{{Field: "idType", Reason: "unknown"}}},
		{"passport", func(s *report.Submission) { s.IDType = "passport"; s.IDNumber = "E12345678" }, nil},
		{"landline", func(s *report.Submission) { s.Phone = "0750-3123456" },
			[]fields.Problem{{Field: "phone", Reason: "invalid"}}},
		{"everything missing", func(s *report.Submission) { *s = report.Submission{} },
			[]fields.Problem{
				{Field: "name", Reason: "required"}, {Field: "idNumber", Reason: "required"}, {Field: "phone", Reason: "required"},
				{Field: "arrivalDate", Reason: "required"}, {Field: "arrivalStatus", Reason: "required"},
				{Field: "fromAreaCode", Reason: "required"}, {Field: "destination.address", Reason: "required"},
			}},
		{"arrived in the future", func(s *report.Submission) { s.ArrivalDate = "2022-12-06"; s.Itinerary = nil },
			[]fields.Problem{{Field: "arrivalDate", Reason: "in_future"}}},
		{"arrived too long ago", func(s *report.Submission) { s.ArrivalDate = "2022-11-20"; s.Itinerary = nil },
			[]fields.Problem{{Field: "arrivalDate", Reason: "too_old"}}},
		{"planned in the past", func(s *report.Submission) {
			s.ArrivalStatus = "planned"
			s.ArrivalDate = "2022-12-04"
			s.Itinerary = nil
		},
			[]fields.Problem{{Field: "arrivalDate", Reason: "in_past"}}},
		{"planned too far ahead", func(s *report.Submission) {
			s.ArrivalStatus = "planned"
			s.ArrivalDate = "2023-01-05"
			s.Itinerary = nil
		},
			[]fields.Problem{{Field: "arrivalDate", Reason: "too_far_ahead"}}},
		{"planned today", func(s *report.Submission) { s.ArrivalStatus = "planned" }, nil},
		{"not a date", func(s *report.Submission) { s.ArrivalDate = "2022-02-30" },
			[]fields.Problem{{Field: "arrivalDate", Reason: "invalid_date"}}},
		{"unknown areas", func(s *report.Submission) {
			s.FromAreaCode = "110100"
			s.Itinerary = []report.Stop{{AreaCode: "999999", Date: "2022-12-03"}, {AreaCode: "110105", Date: "2022-11-28"}}
		}, []fields.Problem{
			{Field: "fromAreaCode", Reason: "unknown_area"},
			{Field: "itinerary[0].areaCode", Reason: "unknown_area"},
			{Field: "itinerary[1].date", Reason: "outside_7_days"},
		}},
		{"stop after arrival", func(s *report.Submission) { s.Itinerary = []report.Stop{{AreaCode: "110105", Date: "2022-12-06"}} },
			[]fields.Problem{{Field: "itinerary[0].date", Reason: "outside_7_days"}}},
		{"first day of the window", func(s *report.Submission) { s.Itinerary = []report.Stop{{AreaCode: "810000", Date: "2022-11-29"}} }, nil},
		{"too many stops", func(s *report.Submission) {
			s.Itinerary = make([]report.Stop, report.MaxStops+1)
		}, []fields.Problem{{Field: "itinerary", Reason: "too_many"}}},
		{"long name and address", func(s *report.Submission) {
			s.Name = strings.Repeat("𠮷", report.MaxNameRunes+1)
			s.Destination.Address = strings.Repeat("号", report.MaxAddressRunes+1)
		}, []fields.Problem{{Field: "name", Reason: "too_long"}, {Field: "destination.address", Reason: "too_long"}}},
		{"thirty rare characters is a valid name", func(s *report.Submission) { s.Name = strings.Repeat("𠮷", report.MaxNameRunes) }, nil},
		{"control characters", func(s *report.Submission) { s.Name = "张\u0000三"; s.Destination.Address = "a\u202eb" },
			[]fields.Problem{{Field: "name", Reason: "invalid_characters"}, {Field: "destination.address", Reason: "invalid_characters"}}},
		{"unknown transport", func(s *report.Submission) { s.Transport = "rocket" },
			[]fields.Problem{{Field: "transport", Reason: "unknown"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := valid()
			c.change(&s)
			_, err := report.Check(s, now, catalog(t))
			var got []fields.Problem
			var fe *fields.Error
			if errors.As(err, &fe) {
				if fe.Code != "invalid_report" {
					t.Errorf("code %q", fe.Code)
				}
				got = fe.Problems
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDistrictDayDecidesToday(t *testing.T) {
	t.Parallel()
	// 23:30 UTC on the 4th is already the 5th in the district.
	late := time.Date(2022, 12, 4, 23, 30, 0, 0, time.UTC)
	if dates.Today(late) != "2022-12-05" {
		t.Fatalf("today = %s", dates.Today(late))
	}
	if _, err := report.Check(valid(), late, catalog(t)); err != nil {
		t.Fatalf("arrival on the district's today refused: %v", err)
	}
}
