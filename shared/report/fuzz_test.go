package report_test

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/report"
	"gridcode/shared/textnorm"
)

// fuzzNow is 2022-12-05 09:00 in the district.
var fuzzNow = time.Date(2022, 12, 5, 1, 0, 0, 0, time.UTC)

var (
	stopField     = regexp.MustCompile(`^itinerary\[(\d+)\]\.(areaCode|date)$`)
	reportReasons = map[string][]string{
		"name":                  {"required", "too_long", "invalid_characters"},
		"idType":                {"unknown"},
		"idNumber":              {"required", "format", "checksum", "birth_date", "region", "first_generation"},
		"phone":                 {"required", "invalid"},
		"arrivalDate":           {"required", "invalid_date", "in_future", "too_old", "in_past", "too_far_ahead"},
		"arrivalStatus":         {"required", "unknown"},
		"fromAreaCode":          {"required", "unknown_area"},
		"itinerary":             {"too_many"},
		"areaCode":              {"unknown_area"},
		"date":                  {"invalid_date", "outside_7_days"},
		"destination.community": {"too_long"},
		"destination.address":   {"required", "too_long", "invalid_characters"},
		"transport":             {"unknown"},
	}
)

// stops reads an itinerary written "code@date;code@date".
func stops(s string) []report.Stop {
	if s == "" {
		return nil
	}
	var out []report.Stop
	for _, part := range strings.Split(s, ";") {
		code, date, _ := strings.Cut(part, "@")
		out = append(out, report.Stop{AreaCode: code, Date: date})
	}
	return out
}

// FuzzCheck checks the public report form's rules on any submission: a
// refused one is a *fields.Error invalid_report whose problems each name a
// field of the form (an itinerary stop by its index) with a stable reason,
// each field once; an accepted one is a fixed point (submitted again as it
// was normalised, it comes back the same), with a valid document, an
// 11-digit mobile, known areas, an arrival date in the window of its
// status and an itinerary of the 7 days up to it.
func FuzzCheck(f *testing.F) {
	areas, err := area.Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("张三", "resident_id", "11010519491231002X", "+86 138-0013-8000", "arrived", "2022-12-05", "110105",
		"110105@2022-12-03;440106@2022-12-04", "石冲社区", "新塘里96号", "train")
	f.Add("  𠮷田\u3000 花子 ", "", "１１０１０５１９４９１２３１００２ｘ", "８６ １３８００１３８０００", "planned", "2022-12-20", " 440703 ",
		"", "", "白沙路1号", "")
	f.Add("John", "passport", "E12345678", "13800138000", "arrived", "2022-11-21", "810000", "820000@2022-11-15", "", "x", "car")
	f.Add("", "driving_licence", "440703900307123", "0750-3123456", "soon", "2022-02-30", "440799",
		strings.Repeat("440703@2022-12-05;", 31), strings.Repeat("社", 31), "a\u202eb", "rocket")
	f.Add("王五", "hk_macao_permit", "H1234567801", "008613800138000", "planned", "2022-12-04", "710000", "710000@2022-12-04", "", "台北", "plane")
	f.Fuzz(func(t *testing.T, name, idType, idNumber, phoneNumber, status, arrival, from, itinerary, community, address, transport string) {
		s := report.Submission{
			Name: name, IDType: idType, IDNumber: idNumber, Phone: phoneNumber, ArrivalStatus: status, ArrivalDate: arrival,
			FromAreaCode: from, Itinerary: stops(itinerary), Destination: report.Destination{Community: community, Address: address},
			Transport: transport,
		}
		c, err := report.Check(s, fuzzNow, areas)
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != "invalid_report" || len(fe.Problems) == 0 {
				t.Fatalf("Check(%+v) = %v", s, err)
			}
			seen := map[string]bool{}
			for _, p := range fe.Problems {
				key := p.Field
				if m := stopField.FindStringSubmatch(p.Field); m != nil {
					if i, _ := strconv.Atoi(m[1]); i >= len(s.Itinerary) {
						t.Fatalf("Check: problem %+v for %d stops", p, len(s.Itinerary))
					}
					key = m[2]
				}
				if !slices.Contains(reportReasons[key], p.Reason) || seen[p.Field] {
					t.Fatalf("Check(%+v): problem %+v (of %+v)", s, p, fe.Problems)
				}
				seen[p.Field] = true
			}
			return
		}

		again := report.Submission{
			Name: c.Name, IDType: string(c.IDType), IDNumber: c.IDNumber, Phone: c.Phone, ArrivalStatus: c.ArrivalStatus,
			ArrivalDate: c.ArrivalDate, FromAreaCode: c.FromAreaCode, Itinerary: c.Itinerary,
			Destination: report.Destination{Community: c.Community, Address: c.Address}, Transport: c.Transport,
		}
		if c2, err := report.Check(again, fuzzNow, areas); err != nil || !reflect.DeepEqual(c2, c) {
			t.Fatalf("Check(%+v) = %+v; checked again %+v, %v", s, c, c2, err)
		}
		if _, reason := idcard.Check(c.IDType, c.IDNumber, fuzzNow.In(dates.District)); reason != "" {
			t.Fatalf("accepted document %q: %s", c.IDNumber, reason)
		}
		if p, ok := phone.Normalize(c.Phone); !ok || p != c.Phone {
			t.Fatalf("accepted phone %q", c.Phone)
		}
		if n := utf8.RuneCountInString(c.Name); n == 0 || n > report.MaxNameRunes || c.Name != textnorm.Clean(name) {
			t.Fatalf("accepted name %q", c.Name)
		}
		today := dates.Today(fuzzNow)
		if c.ArrivalStatus == report.Arrived && (c.ArrivalDate > today || c.ArrivalDate < dates.AddDays(today, -report.ArrivedDaysBack)) ||
			c.ArrivalStatus == report.Planned && (c.ArrivalDate < today || c.ArrivalDate > dates.AddDays(today, report.PlannedDaysAhead)) {
			t.Fatalf("accepted %s on %s", c.ArrivalStatus, c.ArrivalDate)
		}
		first := dates.AddDays(c.ArrivalDate, 1-report.ItineraryDays)
		for _, v := range c.Visits() {
			if _, ok := areas.County(v.AreaCode); !ok || v.Date < first || v.Date > c.ArrivalDate {
				t.Fatalf("accepted visit %+v for arrival on %s", v, c.ArrivalDate)
			}
		}
		if len(c.Itinerary) > report.MaxStops {
			t.Fatalf("accepted %d stops", len(c.Itinerary))
		}
	})
}

// FuzzFollowUpInput checks the rules of a grid worker's follow-up before
// anything is read or stored: a refused one is a *fields.Error
// invalid_follow_up naming note, toGrid or outcome with a stable reason;
// an accepted one has a known outcome, a note of at most NoteLimit
// printable characters, and a target grid exactly when it moves the
// report (with a note saying why).
func FuzzFollowUpInput(f *testing.F) {
	for _, in := range []report.FollowUpInput{
		{Outcome: "contacted"}, {Outcome: "tested", Note: " 已做核酸 "}, {Outcome: "unreachable", ToGrid: "g2"},
		{Outcome: "wrong_grid", Note: "住在石冲", ToGrid: "440703006107-01"}, {Outcome: "wrong_grid"}, {Outcome: "closed", Note: "a\x00b"},
		{Outcome: "", Note: strings.Repeat("长", 201)}, {Outcome: "moved", Note: "\u202e"},
	} {
		f.Add(in.Outcome, in.Note, in.ToGrid)
	}
	var desk report.FollowUps
	outcomes := []string{report.OutcomeContacted, report.OutcomeTested, report.OutcomeUnreachable, report.OutcomeWrongGrid, report.OutcomeClosed}
	f.Fuzz(func(t *testing.T, outcome, note, toGrid string) {
		in := report.FollowUpInput{Outcome: outcome, Note: note, ToGrid: toGrid}
		// No staff member named: an input that passes the checks stops there.
		_, err := desk.Record(context.Background(), "", "r1", in, nil)
		var fe *fields.Error
		if errors.As(err, &fe) {
			if fe.Code != "invalid_follow_up" || len(fe.Problems) == 0 {
				t.Fatalf("Record(%+v): %+v", in, fe)
			}
			for _, p := range fe.Problems {
				ok := p.Field == "note" && slices.Contains([]string{"too_long", "invalid_characters", "required"}, p.Reason) ||
					p.Field == "toGrid" && (p.Reason == "not_allowed" || p.Reason == "required") ||
					p.Field == "outcome" && (p.Reason == "required" || p.Reason == "unknown")
				if !ok {
					t.Fatalf("Record(%+v): problem %+v", in, p)
				}
			}
			return
		}
		if err == nil {
			t.Fatalf("Record(%+v) without a staff member or a store succeeded", in)
		}
		clean := textnorm.Clean(note)
		if !slices.Contains(outcomes, outcome) || utf8.RuneCountInString(clean) > report.NoteLimit || !textnorm.Printable(clean) ||
			(outcome == report.OutcomeWrongGrid) != (toGrid != "") || outcome == report.OutcomeWrongGrid && clean == "" {
			t.Fatalf("Record accepted %+v", in)
		}
	})
}
