// Package risk holds the district's risk-area list and the guidance given
// for each risk level, and scores an itinerary against them.
package risk

import (
	"slices"
	"sort"
	"strconv"

	"gridcode/shared/dates"
	"gridcode/shared/fields"
)

// Level of an area on the risk list. By December 2022 the national rules
// used high and low only; medium stays because lists of other periods use it.
type Level string

const (
	None   Level = "none"
	Low    Level = "low"
	Medium Level = "medium"
	High   Level = "high"
)

// Levels in ascending order.
var Levels = []Level{None, Low, Medium, High}

func (l Level) rank() int { return slices.Index(Levels, l) }

// Valid says whether l is a known level.
func (l Level) Valid() bool { return l.rank() >= 0 }

// Higher returns the higher of two levels.
func Higher(a, b Level) Level {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Area is one entry of the list: the area is at level from..to (district
// dates, inclusive). An empty To means it is still in force.
type Area struct {
	AreaCode string `json:"areaCode"`
	Level    Level  `json:"level"`
	From     string `json:"from"`
	To       string `json:"to,omitempty"`
}

func (a Area) covers(date string) bool {
	return a.From <= date && (a.To == "" || date <= a.To)
}

// Visit is one place someone was on one day.
type Visit struct {
	AreaCode string `json:"areaCode"`
	Date     string `json:"date"`
}

// Match is a visit that hit the list.
type Match struct {
	AreaCode string `json:"areaCode"`
	Date     string `json:"date"`
	Level    Level  `json:"level"`
}

// List is an indexed risk-area list.
type List struct {
	areas  []Area
	byCode map[string][]Area
}

// NewList indexes areas by code.
func NewList(areas []Area) List {
	l := List{areas: slices.Clone(areas), byCode: make(map[string][]Area, len(areas))}
	for _, a := range l.areas {
		l.byCode[a.AreaCode] = append(l.byCode[a.AreaCode], a)
	}
	return l
}

// Areas returns the entries sorted by code then start date.
func (l List) Areas() []Area {
	out := slices.Clone(l.areas)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].AreaCode != out[j].AreaCode {
			return out[i].AreaCode < out[j].AreaCode
		}
		return out[i].From < out[j].From
	})
	if out == nil {
		out = []Area{}
	}
	return out
}

// Assess returns the highest level any visit hit and the visits that hit.
func (l List) Assess(visits []Visit) (Level, []Match) {
	level := None
	var matches []Match
	for _, v := range visits {
		hit := None
		for _, a := range l.byCode[v.AreaCode] {
			if a.covers(v.Date) {
				hit = Higher(hit, a.Level)
			}
		}
		if hit != None {
			matches = append(matches, Match{AreaCode: v.AreaCode, Date: v.Date, Level: hit})
			level = Higher(level, hit)
		}
	}
	return level, matches
}

// Validate checks a list before it replaces the stored one. known says
// whether an area code is a real county-level code.
// It returns a *fields.Error listing every bad entry, or nil.
func Validate(areas []Area, known func(string) bool) error {
	var c fields.Collector
	add := func(i int, field, reason string) { c.Add("["+strconv.Itoa(i)+"]."+field, reason) }
	for i, a := range areas {
		if !known(a.AreaCode) {
			add(i, "areaCode", "unknown_area")
		}
		if a.Level == None || !a.Level.Valid() {
			add(i, "level", "invalid")
		}
		if _, ok := dates.Parse(a.From); !ok {
			add(i, "from", "invalid_date")
		}
		if a.To != "" {
			if _, ok := dates.Parse(a.To); !ok {
				add(i, "to", "invalid_date")
			} else if a.To < a.From {
				add(i, "to", "before_from")
			}
		}
	}
	return c.Err("invalid_risk_areas")
}
