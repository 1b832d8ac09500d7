package samtemplate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gridcode/shared/httpapi"
	"gridcode/shared/ratelimit"
)

// publicWrites are the routes anyone may post to, the events that serve
// them, and the limits each function's env sets, with the rule of
// httpapi.DefaultPublicRules each must equal (what make run counts by).
var publicWrites = []struct {
	function string
	events   []string
	env      map[string]ratelimit.Rule
}{
	{"IntakeFunction", []string{"SubmitReport", "SubmitGridReport"}, map[string]ratelimit.Rule{
		"REPORTS_PER_ADDRESS": httpapi.DefaultPublicRules().ReportsPerAddress,
		"REPORTS_PER_PERSON":  httpapi.DefaultPublicRules().ReportsPerPerson,
	}},
	{"GroupsFunction", []string{"JoinGroup"}, map[string]ratelimit.Rule{
		"JOINS_PER_ADDRESS": httpapi.DefaultPublicRules().JoinsPerAddress,
		"JOINS_PER_PERSON":  httpapi.DefaultPublicRules().JoinsPerPerson,
	}},
}

// counterName finds the limits' names in a main.go: the third argument of
// ratelimit.NewCounters, the prefix of every counter item it writes.
var counterName = regexp.MustCompile(`ratelimit\.NewCounters\([^,]+,[^,]+,\s*"([^"]+)"`)

// TestPublicWritesLimited: the public writes are throttled per route below
// the API's default, their functions count in RateLimitsTable with the
// limits make run uses, and each may only add to its own counters (the
// limits fail open, so a grant that did not match the names in main.go
// would switch them off without a sound).
func TestPublicWritesLimited(t *testing.T) {
	tp := loadTemplate(t)
	def := get(get(tp.resourceProps("HttpApi"), "DefaultRouteSettings"), "ThrottlingRateLimit")
	if def == nil {
		t.Fatal("HttpApi has no DefaultRouteSettings.ThrottlingRateLimit")
	}
	defaultRate, err := strconv.Atoi(def.Value)
	if err != nil {
		t.Fatalf("HttpApi's DefaultRouteSettings.ThrottlingRateLimit %q: %v", def.Value, err)
	}
	for _, pw := range publicWrites {
		t.Run(pw.function, func(t *testing.T) {
			props := tp.resourceProps(pw.function)
			for _, ev := range pw.events {
				rs := get(get(get(get(props, "Events"), ev), "Properties"), "RouteSettings")
				rate, burst := get(rs, "ThrottlingRateLimit"), get(rs, "ThrottlingBurstLimit")
				if rate == nil || burst == nil {
					t.Errorf("%s: event %s has no RouteSettings throttling", pw.function, ev)
					continue
				}
				r, err1 := strconv.Atoi(rate.Value)
				b, err2 := strconv.Atoi(burst.Value)
				if err1 != nil || err2 != nil || r < 1 || r >= defaultRate || b < r {
					t.Errorf("%s: event %s throttles at %s/s, burst %s; want 1..%d/s and a burst at least the rate", pw.function, ev, rate.Value, burst.Value, defaultRate-1)
				}
			}

			vars := get(get(props, "Environment"), "Variables")
			if table := get(vars, "RATE_LIMITS_TABLE"); table == nil || table.Tag != "!Ref" || table.Value != "RateLimitsTable" {
				t.Errorf("%s: RATE_LIMITS_TABLE is not !Ref RateLimitsTable", pw.function)
			}
			for name, want := range pw.env {
				v := get(vars, name)
				var got ratelimit.Rule
				if v == nil || got.UnmarshalText([]byte(v.Value)) != nil || got != want {
					t.Errorf("%s: %s = %v, want %s (make run's)", pw.function, name, v, want)
				}
			}

			src, err := os.ReadFile(filepath.Join(repoRoot, functionDir(t, pw.function), "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			var wantKeys []string
			for _, m := range counterName.FindAllStringSubmatch(string(src), -1) {
				// The counters' keys start with the name and "#".
				if id := ratelimit.CounterID(m[1], "k", time.Unix(0, 0)); !strings.HasPrefix(id, m[1]+"#") {
					t.Fatalf("counter id %q does not start with %q", id, m[1]+"#")
				}
				wantKeys = append(wantKeys, m[1]+"#*")
			}
			if len(wantKeys) != len(pw.env) {
				t.Fatalf("%s: main.go makes %d counters (%v), want one per limit (%d)", pw.function, len(wantKeys), wantKeys, len(pw.env))
			}
			slices.Sort(wantKeys)
			var grants int
			for _, st := range policyStatements(t, tp, pw.function) {
				names := map[string]bool{}
				for _, r := range st.resources {
					refs(r, names)
				}
				if !names["RateLimitsTable"] {
					continue
				}
				grants++
				if len(st.actions) != 1 || st.actions[0].Value != "dynamodb:UpdateItem" || len(st.resources) != 1 {
					t.Errorf("%s: statement %q on RateLimitsTable must grant dynamodb:UpdateItem alone, on the table alone", pw.function, st.sid)
				}
				var got []string
				for _, k := range items(get(get(get(st.node, "Condition"), "ForAllValues:StringLike"), "dynamodb:LeadingKeys")) {
					got = append(got, k.Value)
				}
				slices.Sort(got)
				if !slices.Equal(got, wantKeys) {
					t.Errorf("%s: statement %q lets it count under %v, want its own counters %v", pw.function, st.sid, got, wantKeys)
				}
			}
			if grants != 1 {
				t.Errorf("%s: %d statements on RateLimitsTable, want 1", pw.function, grants)
			}
		})
	}
}
