package risk

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
)

var areaField = regexp.MustCompile(`^\[(\d+)\]\.(areaCode|level|from|to)$`)

// FuzzValidate checks the risk-area list of PUT /v1/risk-areas from its
// JSON body on: a refused list is a *fields.Error invalid_risk_areas
// naming each bad entry's field by index with a stable reason; in an
// accepted list every entry is a known county at a real level for a valid
// span of days, and the indexed list scores a visit to it on any day of
// the span at least at its level, and a visit the day before not because
// of it.
func FuzzValidate(f *testing.F) {
	areas, err := area.Load()
	if err != nil {
		f.Fatal(err)
	}
	known := func(code string) bool { _, ok := areas.County(code); return ok }
	for _, s := range []string{
		`[{"areaCode":"440106","level":"high","from":"2022-12-01"}]`,
		`[{"areaCode":"110105","level":"low","from":"2022-11-20","to":"2022-11-30"},{"areaCode":"110105","level":"medium","from":"2022-11-25"}]`,
		`[{"areaCode":"440799","level":"none","from":"2022-02-30","to":"2022-01-01"}]`,
		`[{"areaCode":" 440106","level":"HIGH","from":"2022-12-01","to":"2022-11-30"}]`,
		`[]`, `null`, `[{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var list []Area
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&list) != nil {
			return
		}
		if err := Validate(list, known); err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != "invalid_risk_areas" || len(fe.Problems) == 0 {
				t.Fatalf("Validate = %v", err)
			}
			for _, p := range fe.Problems {
				m := areaField.FindStringSubmatch(p.Field)
				if m == nil {
					t.Fatalf("problem %+v", p)
				}
				i, _ := strconv.Atoi(m[1])
				reasons := map[string][]string{"areaCode": {"unknown_area"}, "level": {"invalid"}, "from": {"invalid_date"}, "to": {"invalid_date", "before_from"}}
				if i >= len(list) || !slices.Contains(reasons[m[2]], p.Reason) {
					t.Fatalf("problem %+v of %d entries", p, len(list))
				}
			}
			return
		}
		l := NewList(list)
		if got := l.Areas(); len(got) != len(list) {
			t.Fatalf("Areas() has %d of %d entries", len(got), len(list))
		}
		for _, a := range list {
			_, fromOK := dates.Parse(a.From)
			_, toOK := dates.Parse(a.To)
			if !known(a.AreaCode) || a.Level == None || !a.Level.Valid() || !fromOK || a.To != "" && (!toOK || a.To < a.From) {
				t.Fatalf("Validate accepted %+v", a)
			}
			last := a.To
			if last == "" {
				last = dates.AddDays(a.From, 30)
			}
			for _, day := range []string{a.From, last} {
				level, matches := l.Assess([]Visit{{AreaCode: a.AreaCode, Date: day}})
				if Higher(level, a.Level) != level || len(matches) != 1 || matches[0].Level != level {
					t.Fatalf("visit to %+v on %s: %s, %+v", a, day, level, matches)
				}
			}
			before := dates.AddDays(a.From, -1)
			level, _ := l.Assess([]Visit{{AreaCode: a.AreaCode, Date: before}})
			for _, b := range list {
				if b.AreaCode == a.AreaCode && b.covers(before) {
					level = None // another entry covers the day before
				}
			}
			if level != None {
				t.Fatalf("visit to %+v on %s, the day before: %s", a, before, level)
			}
		}
	})
}
