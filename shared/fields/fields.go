// Package fields reports bad input field by field, so a form can mark every
// wrong field at once instead of one per round trip.
package fields

import "strings"

// Problem is one bad field and a stable reason code.
type Problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is a refused request: a stable error code and every problem found.
type Error struct {
	Code     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p.Field + " " + p.Reason)
	}
	return b.String()
}

// Collector gathers problems while a request is checked.
type Collector struct{ problems []Problem }

// Add records one problem.
func (c *Collector) Add(field, reason string) {
	c.problems = append(c.problems, Problem{field, reason})
}

// Err returns nil when nothing was recorded, else an *Error with code.
func (c *Collector) Err(code string) error {
	if len(c.problems) == 0 {
		return nil
	}
	return &Error{Code: code, Problems: c.problems}
}

// Reason is "required" for a field left empty, else reason.
func Reason(raw, reason string) string {
	if raw == "" {
		return "required"
	}
	return reason
}
