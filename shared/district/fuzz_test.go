package district_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/district"
	"gridcode/shared/fields"
	"gridcode/shared/risk"
	"gridcode/shared/store/embedded"
	"gridcode/shared/textnorm"
)

var guidanceField = regexp.MustCompile(`^\[(\d+)\]\.(level|text|smsAction)$`)

// FuzzSetGuidance checks PUT /v1/guidance from its JSON body on: a refused
// table is a *fields.Error invalid_guidance naming an entry's field by
// index, or a level missing, with a stable reason; an accepted table has
// every level once, is stored cleaned (text trimmed and NFC), each SMS
// action fits the welcome template, and the table read back is a fixed
// point (stored again, it reads back the same).
func FuzzSetGuidance(f *testing.F) {
	store, err := embedded.Open(filepath.Join(f.TempDir(), "db"), embedded.WithoutFsync())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	areas, err := area.Load()
	if err != nil {
		f.Fatal(err)
	}
	s := district.NewSettings(store, areas, func() time.Time { return time.Date(2022, 12, 5, 1, 0, 0, 0, time.UTC) }, time.Hour)
	defaults, _ := json.Marshal(risk.DefaultGuidance())
	f.Add(defaults)
	f.Add(bytes.Replace(defaults, []byte(`"none"`), []byte(`"low"`), 1))
	f.Add(bytes.Replace(defaults, []byte(`抵达24小时内做1次核酸`), []byte(` 抵达后请\u3000尽快做1次核酸并居家健康监测不外出直到社区工作人员联系您为止谢谢配合 `), 1))
	f.Add([]byte(`[{"level":"high","text":"","smsAction":""}]`))
	f.Add([]byte(`[{"level":"critical","text":"a\u0000b","smsAction":"\u202e"}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var table []risk.Guidance
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&table) != nil {
			return
		}
		ctx := context.Background()
		err := s.SetGuidance(ctx, table)
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != "invalid_guidance" || len(fe.Problems) == 0 {
				t.Fatalf("SetGuidance = %v", err)
			}
			reasons := map[string][]string{
				"level": {"invalid", "duplicate"}, "text": {"required", "too_long", "invalid_characters"},
				"smsAction": {"required", "too_long", "invalid_characters"},
			}
			for _, p := range fe.Problems {
				if m := guidanceField.FindStringSubmatch(p.Field); m != nil {
					if i, _ := strconv.Atoi(m[1]); i < len(table) && slices.Contains(reasons[m[2]], p.Reason) {
						continue
					}
				} else if l, ok := strings.CutPrefix(p.Field, "level."); ok && risk.Level(l).Valid() && p.Reason == "missing" {
					continue
				}
				t.Fatalf("problem %+v of %d entries", p, len(table))
			}
			return
		}
		rules, err := s.Guidance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stored := rules.Table()
		if len(table) != len(risk.Levels) {
			t.Fatalf("accepted %d entries", len(table))
		}
		for _, g := range table {
			got := rules.For(g.Level)
			if got.Text != textnorm.Clean(g.Text) || got.Action != textnorm.Clean(g.Action) {
				t.Fatalf("stored %+v for %+v", got, g)
			}
			if _, err := alert.ReportWelcome.Render(map[string]string{"action": got.Action}); err != nil {
				t.Fatalf("stored action %q: %v", got.Action, err)
			}
		}
		if err := s.SetGuidance(ctx, stored); err != nil {
			t.Fatalf("SetGuidance(%+v) of the table read back: %v", stored, err)
		}
		if again, _ := s.Guidance(ctx); !slices.Equal(again.Table(), stored) {
			t.Fatalf("stored again %+v, was %+v", again.Table(), stored)
		}
	})
}
