package risk

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/fields"
)

func TestAssess(t *testing.T) {
	t.Parallel()
	list := NewList([]Area{
		{AreaCode: "110105", Level: High, From: "2022-12-01", To: "2022-12-05"},
		{AreaCode: "110105", Level: Low, From: "2022-11-20", To: "2022-11-30"},
		{AreaCode: "440106", Level: Medium, From: "2022-11-01"},
		{AreaCode: "310115", Level: Low, From: "2022-12-02"},
	})
	cases := []struct {
		name    string
		visits  []Visit
		want    Level
		matches []Match
	}{
		{"nothing", nil, None, nil},
		{"not listed", []Visit{{"440703", "2022-12-03"}}, None, nil},
		{"before the listing", []Visit{{"310115", "2022-12-01"}}, None, nil},
		{"low", []Visit{{"310115", "2022-12-02"}}, Low, []Match{{"310115", "2022-12-02", Low}}},
		{"open ended", []Visit{{"440106", "2023-01-01"}}, Medium, []Match{{"440106", "2023-01-01", Medium}}},
		{"after the end", []Visit{{"110105", "2022-12-06"}}, None, nil},
		{"same area two periods", []Visit{{"110105", "2022-11-30"}, {"110105", "2022-12-01"}}, High,
			[]Match{{"110105", "2022-11-30", Low}, {"110105", "2022-12-01", High}}},
		{"highest wins", []Visit{{"310115", "2022-12-03"}, {"440106", "2022-12-03"}}, Medium,
			[]Match{{"310115", "2022-12-03", Low}, {"440106", "2022-12-03", Medium}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, matches := list.Assess(c.visits)
			if got != c.want {
				t.Errorf("level = %s, want %s", got, c.want)
			}
			if diff := cmp.Diff(c.matches, matches); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	known := func(c string) bool { return c == "110105" }
	err := Validate([]Area{
		{AreaCode: "110105", Level: High, From: "2022-12-01"},
		{AreaCode: "999999", Level: "severe", From: "2022-13-01", To: "x"},
		{AreaCode: "110105", Level: None, From: "2022-12-05", To: "2022-12-01"},
	}, known)
	want := []fields.Problem{
		{Field: "[1].areaCode", Reason: "unknown_area"}, {Field: "[1].level", Reason: "invalid"}, {Field: "[1].from", Reason: "invalid_date"}, {Field: "[1].to", Reason: "invalid_date"},
		{Field: "[2].level", Reason: "invalid"}, {Field: "[2].to", Reason: "before_from"},
	}
	var fe *fields.Error
	if !errors.As(err, &fe) || fe.Code != "invalid_risk_areas" {
		t.Fatalf("err = %v, want *fields.Error", err)
	}
	if diff := cmp.Diff(want, fe.Problems); diff != "" {
		t.Fatalf("errors (-want +got):\n%s", diff)
	}
}

func TestRulesFallBackToDefaults(t *testing.T) {
	t.Parallel()
	r := NewRules([]Guidance{{Level: High, Text: "t", Action: "a"}})
	if r.For(High).Text != "t" {
		t.Fatal("edited rule not used")
	}
	if r.For(Low).Text == "" {
		t.Fatal("missing rule did not fall back to default")
	}
	if len(r.Table()) != len(Levels) {
		t.Fatal("table incomplete")
	}
}
