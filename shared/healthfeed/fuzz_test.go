package healthfeed

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/report"
)

var (
	updateField   = regexp.MustCompile(`^updates\[(\d+)\]\.(\w+)$`)
	updateReasons = map[string][]string{
		"idType":       {"unknown"},
		"idNumber":     {"required", "format", "checksum", "birth_date", "region", "first_generation"},
		"codeColor":    {"required", "unknown"},
		"natAt":        {"required", "in_future"},
		"natResult":    {"required", "unknown"},
		"vaccineDoses": {"out_of_range"},
		"updatedAt":    {"required", "in_future"},
	}
)

// FuzzCheck checks a batch of POST /v1/health/updates as the provincial
// feed sends it, from the JSON body on: a refused batch is a
// *fields.Error invalid_updates naming the batch or an update's field by
// its index with a stable reason; an accepted one keeps one update per
// person, the newest, with a known colour, times in UTC and not in the
// future, and the number's last four for the SMS, nothing more of it.
func FuzzCheck(f *testing.F) {
	v, err := pii.NewVault(bytes.Repeat([]byte{7}, pii.KeySize), bytes.Repeat([]byte{8}, pii.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	feed := &Feed{Vault: v}
	now := time.Date(2022, 12, 5, 1, 0, 0, 0, time.UTC)
	for _, s := range []string{
		`{"updates":[{"idType":"","idNumber":"11010519491231002X","codeColor":"yellow","natAt":"2022-12-04T08:00:00+08:00","natResult":"negative","vaccineDoses":3,"updatedAt":"2022-12-05T08:00:00+08:00"}]}`,
		`{"updates":[{"idNumber":"11010519491231002x","codeColor":"green","updatedAt":"2022-12-05T00:00:00Z"},{"idNumber":"１１０１０５１９４９１２３１００２Ｘ","codeColor":"red","updatedAt":"2022-12-05T00:30:00Z"}]}`,
		`{"updates":[{"idType":"passport","idNumber":"E12345678","codeColor":"blue","natResult":"positive","vaccineDoses":10,"updatedAt":"2030-01-01T00:00:00Z"}]}`,
		`{"updates":[{"idType":"hk_macao_permit","idNumber":"H12345678","codeColor":"red","natAt":"2022-12-05T01:06:00Z","natResult":"unknown","updatedAt":null}]}`,
		`{"updates":[]}`, `{"updates":null}`, `{}`, `{"updates":[{"vaccineDoses":-1}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b Batch
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&b) != nil {
			return
		}
		out, err := feed.check(b, now)
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != "invalid_updates" || len(fe.Problems) == 0 || out != nil {
				t.Fatalf("check = %v", err)
			}
			for _, p := range fe.Problems {
				if p.Field == "updates" {
					if p.Reason != "empty" && p.Reason != "too_many" || len(fe.Problems) != 1 {
						t.Fatalf("problem %+v of %+v", p, fe.Problems)
					}
					continue
				}
				m := updateField.FindStringSubmatch(p.Field)
				if m == nil || !slices.Contains(updateReasons[m[2]], p.Reason) {
					t.Fatalf("problem %+v", p)
				}
				if i, _ := strconv.Atoi(m[1]); i >= len(b.Updates) {
					t.Fatalf("problem %+v of %d updates", p, len(b.Updates))
				}
			}
			return
		}
		if len(b.Updates) == 0 || len(b.Updates) > MaxBatch || len(out) == 0 || len(out) > len(b.Updates) {
			t.Fatalf("%d updates accepted as %d", len(b.Updates), len(out))
		}
		// The newest update of each person, by the same key.
		newest := map[string]time.Time{}
		numbers := map[string]string{}
		for _, u := range b.Updates {
			kind, _ := idcard.ParseKind(u.IDType)
			number, _ := idcard.Check(kind, u.IDNumber, now.In(dates.District))
			key := report.PersonLookup(v, kind, number)
			if at, seen := newest[key]; !seen || u.UpdatedAt.After(at) {
				newest[key] = *u.UpdatedAt
			}
			numbers[key] = number
		}
		if len(out) != len(newest) {
			t.Fatalf("%d people, %d kept", len(newest), len(out))
		}
		skew := now.Add(clockSkew)
		for _, p := range out {
			s := p.status
			switch {
			case !newest[p.key].Equal(s.UpdatedAt) || s.UpdatedAt.Location() != time.UTC || s.UpdatedAt.After(skew):
				t.Fatalf("kept %+v, newest %v", s, newest[p.key])
			case s.CodeColor != health.Green && s.CodeColor != health.Yellow && s.CodeColor != health.Red:
				t.Fatalf("kept colour %q", s.CodeColor)
			case s.NATAt != nil && (s.NATAt.Location() != time.UTC || s.NATAt.After(skew) || s.NATResult != health.Negative && s.NATResult != health.Positive):
				t.Fatalf("kept test %v %q", s.NATAt, s.NATResult)
			case s.NATAt == nil && s.NATResult != "", s.VaccineDoses < 0 || s.VaccineDoses > 9:
				t.Fatalf("kept %+v", s)
			}
			n := numbers[p.key]
			if len(p.last4) != min(4, len(n)) || n[len(n)-len(p.last4):] != p.last4 {
				t.Fatalf("last4 %q of %q", p.last4, n)
			}
		}
	})
}
