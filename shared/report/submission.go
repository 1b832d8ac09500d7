// Package report is the report code (报备码): an arrival reports their
// itinerary, the system scores it against the risk-area list, routes it to
// a grid and queues the welcome SMS with what to do.
package report

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/risk"
	"gridcode/shared/textnorm"
)

// Submission is the body of POST /v1/reports as the person typed it.
type Submission struct {
	Name          string      `json:"name"`
	IDType        string      `json:"idType"`
	IDNumber      string      `json:"idNumber"`
	Phone         string      `json:"phone"`
	ArrivalStatus string      `json:"arrivalStatus"`
	ArrivalDate   string      `json:"arrivalDate"`
	FromAreaCode  string      `json:"fromAreaCode"`
	Itinerary     []Stop      `json:"itinerary"`
	Destination   Destination `json:"destination"`
	Transport     string      `json:"transport"`
}

// Stop is one county-level area visited on one day.
type Stop struct {
	AreaCode string `json:"areaCode"`
	Date     string `json:"date"`
}

// Destination is where the person stays in the district.
type Destination struct {
	Community string `json:"community"`
	Address   string `json:"address"`
}

// Arrival statuses: already here, or reporting in advance.
const (
	Arrived = "arrived"
	Planned = "planned"
)

// Limits of the form.
const (
	MaxNameRunes      = 30
	MaxAddressRunes   = 100
	MaxCommunityRunes = 30
	MaxStops          = 30
	ItineraryDays     = 7  // the itinerary covers 7 days: the arrival day and the 6 before it
	ArrivedDaysBack   = 14 // an arrival may report up to 14 days late
	PlannedDaysAhead  = 30 // and up to 30 days ahead
)

// Transports a person can pick on the form.
var Transports = []string{"car", "train", "plane", "bus", "ship", "other"}

// Checked is a submission that passed every check, normalised.
type Checked struct {
	Name          string
	IDType        idcard.Kind
	IDNumber      string
	Phone         string
	ArrivalStatus string
	ArrivalDate   string
	FromAreaCode  string
	Itinerary     []Stop
	Community     string
	Address       string
	Transport     string
}

// Visits are the places the risk list is checked against: every itinerary
// stop, and the origin on the arrival date.
func (c Checked) Visits() []risk.Visit {
	v := make([]risk.Visit, 0, len(c.Itinerary)+1)
	v = append(v, risk.Visit{AreaCode: c.FromAreaCode, Date: c.ArrivalDate})
	for _, s := range c.Itinerary {
		v = append(v, risk.Visit{AreaCode: s.AreaCode, Date: s.Date})
	}
	return v
}

// Check validates and normalises a submission. It returns a *fields.Error
// naming every bad field, so the form can mark them all at once.
func Check(s Submission, now time.Time, areas *area.Catalog) (Checked, error) {
	var c fields.Collector
	var out Checked
	today := dates.Today(now)

	var reason string
	if out.Name, reason = textnorm.Required(s.Name, MaxNameRunes); reason != "" {
		c.Add("name", reason)
	}

	kind, ok := idcard.ParseKind(s.IDType)
	if !ok {
		c.Add("idType", "unknown")
	} else {
		out.IDType = kind
		num, reason := idcard.Check(kind, s.IDNumber, now.In(dates.District))
		if reason != "" {
			c.Add("idNumber", reason)
		}
		out.IDNumber = num
	}

	if strings.TrimSpace(s.Phone) == "" {
		c.Add("phone", "required")
	} else if p, ok := phone.Normalize(s.Phone); ok {
		out.Phone = p
	} else {
		c.Add("phone", "invalid")
	}

	out.ArrivalStatus = s.ArrivalStatus
	out.ArrivalDate = s.ArrivalDate
	arrivalOK := false
	switch _, ok := dates.Parse(s.ArrivalDate); {
	case s.ArrivalDate == "":
		c.Add("arrivalDate", "required")
	case !ok:
		c.Add("arrivalDate", "invalid_date")
	default:
		switch s.ArrivalStatus {
		case Arrived:
			if s.ArrivalDate > today {
				c.Add("arrivalDate", "in_future")
			} else if s.ArrivalDate < dates.AddDays(today, -ArrivedDaysBack) {
				c.Add("arrivalDate", "too_old")
			} else {
				arrivalOK = true
			}
		case Planned:
			if s.ArrivalDate < today {
				c.Add("arrivalDate", "in_past")
			} else if s.ArrivalDate > dates.AddDays(today, PlannedDaysAhead) {
				c.Add("arrivalDate", "too_far_ahead")
			} else {
				arrivalOK = true
			}
		}
	}
	switch s.ArrivalStatus {
	case Arrived, Planned:
	case "":
		c.Add("arrivalStatus", "required")
	default:
		c.Add("arrivalStatus", "unknown")
	}

	out.FromAreaCode = strings.TrimSpace(s.FromAreaCode)
	if out.FromAreaCode == "" {
		c.Add("fromAreaCode", "required")
	} else if _, ok := areas.County(out.FromAreaCode); !ok {
		c.Add("fromAreaCode", "unknown_area")
	}

	if len(s.Itinerary) > MaxStops {
		c.Add("itinerary", "too_many")
	} else {
		out.Itinerary = make([]Stop, 0, len(s.Itinerary))
		first := dates.AddDays(s.ArrivalDate, 1-ItineraryDays)
		for i, st := range s.Itinerary {
			field := "itinerary[" + strconv.Itoa(i) + "]"
			code := strings.TrimSpace(st.AreaCode)
			if _, ok := areas.County(code); !ok {
				c.Add(field+".areaCode", "unknown_area")
			}
			if _, ok := dates.Parse(st.Date); !ok {
				c.Add(field+".date", "invalid_date")
			} else if arrivalOK && (st.Date < first || st.Date > s.ArrivalDate) {
				c.Add(field+".date", "outside_7_days")
			}
			out.Itinerary = append(out.Itinerary, Stop{AreaCode: code, Date: st.Date})
		}
	}

	out.Community = textnorm.Clean(s.Destination.Community)
	if utf8.RuneCountInString(out.Community) > MaxCommunityRunes {
		c.Add("destination.community", "too_long")
	}
	if out.Address, reason = textnorm.Required(s.Destination.Address, MaxAddressRunes); reason != "" {
		c.Add("destination.address", reason)
	}

	out.Transport = s.Transport
	if s.Transport != "" && !slices.Contains(Transports, s.Transport) {
		c.Add("transport", "unknown")
	}
	if err := c.Err("invalid_report"); err != nil {
		return Checked{}, err
	}
	return out, nil
}
