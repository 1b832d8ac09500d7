package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/fields"
	"gridcode/shared/gridwork"
	"gridcode/shared/group"
	"gridcode/shared/healthfeed"
	"gridcode/shared/report"
	"gridcode/shared/risk"
)

// fuzzNow is 2022-12-05 09:00 in the district.
var fuzzNow = time.Date(2022, 12, 5, 1, 0, 0, 0, time.UTC)

// contentTypes are what clients send; only the JSON ones are decoded.
var contentTypes = []string{
	"application/json", "application/json; charset=utf-8", "Application/JSON", "text/plain", "",
	"application/json; charset", "multipart/form-data; boundary=x", "text/csv",
}

// decodeBody runs decodeJSON on body into a new T, with the limit cut to
// cut bytes when cut is smaller (so bodies over the limit stay small), and
// checks what every JSON body's decoding promises: a body over the limit
// is never accepted, and is refused 413 when the value itself does not
// fit; another media type is refused 415; anything else refused is 400
// invalid_json with at most one problem, an unknown field or a wrong type;
// the answer of a refusal is a JSON error body with a stable code; and an
// accepted value is a fixed point (encoded and decoded again, it encodes
// the same). It reports the value and whether it was accepted.
func decodeBody[T any](t *testing.T, ct uint8, limit int64, cut uint16, body []byte) (T, bool) {
	var dst T
	if c := int64(cut); c < limit {
		limit = c
	}
	contentType := contentTypes[int(ct)%len(contentTypes)]
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	err := decodeJSON(w, r, limit, &dst)
	isJSON := slices.Contains(contentTypes[:3], contentType)
	if err == nil {
		if w.Body.Len() != 0 || !isJSON || int64(len(body)) > limit {
			t.Fatalf("decodeJSON accepted %d bytes of %q at limit %d (answer %q)", len(body), contentType, limit, w.Body.String())
		}
		again, _ := json.Marshal(dst)
		var back T
		if err := json.Unmarshal(again, &back); err != nil {
			t.Fatalf("decoded %T does not decode again: %v", dst, err)
		}
		if twice, _ := json.Marshal(back); !bytes.Equal(twice, again) {
			t.Fatalf("decoded %T is no fixed point: %s, then %s", dst, again, twice)
		}
		return dst, true
	}
	if !errors.Is(err, errBodyRefused) {
		t.Fatalf("decodeJSON = %v", err)
	}
	var answer errorBody
	if json.Unmarshal(w.Body.Bytes(), &answer) != nil {
		t.Fatalf("refusal %q is not JSON", w.Body.String())
	}
	switch w.Code {
	case http.StatusUnsupportedMediaType:
		if isJSON || answer.Error != "unsupported_media_type" {
			t.Fatalf("%q refused %d %+v", contentType, w.Code, answer)
		}
	case http.StatusRequestEntityTooLarge:
		if int64(len(body)) <= limit || answer.Error != "body_too_large" {
			t.Fatalf("%d bytes at limit %d refused %d %+v", len(body), limit, w.Code, answer)
		}
	case http.StatusBadRequest:
		if answer.Error != "invalid_json" || len(answer.Fields) > 1 ||
			len(answer.Fields) == 1 && answer.Fields[0].Reason != "wrong_type" && answer.Fields[0].Reason != "unknown_field" {
			t.Fatalf("refused 400 %+v", answer)
		}
		if !isJSON {
			t.Fatalf("%q decoded", contentType)
		}
		// Over the limit, only what follows a whole value may be 400.
		if int64(len(body)) > limit && !json.Valid(body[:limit]) && validPrefix(body[:limit]) {
			t.Fatalf("%d bytes at limit %d refused 400, not 413: %+v", len(body), limit, answer)
		}
	default:
		t.Fatalf("refused %d %+v", w.Code, answer)
	}
	return dst, false
}

// validPrefix says b could begin a JSON value: a decoder reading it would
// want more rather than fail.
func validPrefix(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	err := dec.Decode(&v)
	return errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF
}

// FuzzReportBody checks the public report endpoint's body, from the bytes
// on: decodeBody's promises, and a decoded submission either passes the
// form's rules or is refused with a *fields.Error invalid_report.
func FuzzReportBody(f *testing.F) {
	areas, err := area.Load()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"name":"张三","idType":"resident_id","idNumber":"11010519491231002X","phone":"+86 138-0013-8000","arrivalStatus":"arrived",` +
			`"arrivalDate":"2022-12-05","fromAreaCode":"110105","itinerary":[{"areaCode":"110105","date":"2022-12-03"}],` +
			`"destination":{"community":"石冲社区","address":"新塘里96号"},"transport":"train"}`,
		`{"name":"\u0000","idNumber":1,"itinerary":{}}`, `{"name":"张三","age":30}`, `{} {}`, `{}   `, `[]`, `null`, ``, `{"name":"\xff"}`,
		`{"idNumber":"１１０１０５１９４９１２３１００２ｘ","phone":"８６ １３８００１３８０００"}`,
	} {
		f.Add(uint8(0), uint16(65535), []byte(s))
	}
	f.Add(uint8(3), uint16(65535), []byte(`{}`))
	f.Add(uint8(0), uint16(10), []byte(`{"name":"张三三三"}`))
	f.Add(uint8(0), uint16(2), []byte(`{}              `))
	f.Fuzz(func(t *testing.T, ct uint8, cut uint16, body []byte) {
		s, ok := decodeBody[report.Submission](t, ct, MaxReportBody, cut, body)
		if !ok {
			return
		}
		if _, err := report.Check(s, fuzzNow, areas); err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != "invalid_report" || len(fe.Problems) == 0 {
				t.Fatalf("Check = %v", err)
			}
		}
	})
}

// FuzzJoinBody checks the public self-join endpoint's body: decodeBody's
// promises, and a decoded row is refused with a *fields.Error invalid_join
// naming its own fields, or accepted as a fixed point of the roster rules.
func FuzzJoinBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"张三","idType":"居民身份证","idNumber":"11010519491231002x","phone":"＋８６ １３８ ００１３ ８０００"}`,
		`{"name":"李四","idType":"护照","idNumber":"e1234567"}`, `{"name":"王五","idNumber":"4.40703E+17","phone":"0750-3123456"}`,
		`{"name":"","idType":"驾驶证","idNumber":"","phone":""}`, `{"name":["x"]}`, `{"Line":3}`, `{"line":3}`,
	} {
		f.Add(uint8(0), uint16(65535), []byte(s))
	}
	f.Fuzz(func(t *testing.T, ct uint8, cut uint16, body []byte) {
		row, ok := decodeBody[group.RosterRow](t, ct, MaxGroupBody, cut, body)
		if !ok {
			return
		}
		c, err := group.CheckJoin(row, fuzzNow)
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != group.CodeInvalidJoin || len(fe.Problems) == 0 {
				t.Fatalf("CheckJoin = %v", err)
			}
			for _, p := range fe.Problems {
				if !slices.Contains([]string{"name", "idType", "idNumber", "phone"}, p.Field) {
					t.Fatalf("CheckJoin: problem %+v", p)
				}
			}
			return
		}
		again, err := group.CheckJoin(group.RosterRow{Name: c.Name, IDType: string(c.IDType), IDNumber: c.IDNumber, Phone: c.Phone}, fuzzNow)
		if err != nil || again != c {
			t.Fatalf("CheckJoin(%+v) = %+v; again %+v, %v", row, c, again, err)
		}
	})
}

// FuzzStaffBodies checks the JSON bodies staff send, each body decoded as
// every one of them (a group's registration, a health batch, the
// risk-area and guidance tables, a follow-up, a visit, a reconciliation):
// decodeBody's promises for each, and where the rules need no store, that
// they refuse with their *fields.Error: the risk-area list, the follow-up.
func FuzzStaffBodies(f *testing.F) {
	areas, err := area.Load()
	if err != nil {
		f.Fatal(err)
	}
	known := func(code string) bool { _, ok := areas.County(code); return ok }
	for _, s := range []string{
		`{"name":"好又多超市","kind":"supermarket","address":"白沙路1号","gridCode":"440703001001-01","admin":{"name":"店长","phone":"13800138000"}}`,
		`{"updates":[{"idNumber":"11010519491231002X","codeColor":"red","natAt":"2022-12-04T08:00:00+08:00","natResult":"negative","vaccineDoses":3,"updatedAt":"2022-12-05T08:00:00+08:00"}]}`,
		`[{"areaCode":"440106","level":"high","from":"2022-12-01","to":"2022-12-10"}]`,
		`[{"level":"none","text":"请做核酸","smsAction":"做核酸"}]`,
		`{"outcome":"wrong_grid","note":"住在石冲","toGrid":"440703006107-01"}`,
		`{"outcome":"verified","corrected":{"name":"张三","idType":"resident_id","idNumber":"11010519491231002X","address":"1号"}}`,
		`{"listA":"l1","listB":"registry","direction":"b_not_in_a"}`,
		`{"updates":[{"vaccineDoses":1e400}]}`, `{"updates":[{"natAt":"yesterday"}]}`, `[{"level":7}]`, `{"outcome":null}`, `null`,
	} {
		f.Add(uint8(0), uint16(65535), []byte(s))
	}
	var desk report.FollowUps
	f.Fuzz(func(t *testing.T, ct uint8, cut uint16, body []byte) {
		decodeBody[group.Registration](t, ct, MaxGroupBody, cut, body)
		decodeBody[healthfeed.Batch](t, ct, MaxHealthBody, cut, body)
		decodeBody[gridwork.VisitRequest](t, ct, MaxVisitBody, cut, body)
		decodeBody[reconcileRequest](t, ct, MaxReconcile, cut, body)
		decodeBody[[]risk.Guidance](t, ct, MaxRuleSetBody, cut, body)
		if list, ok := decodeBody[[]risk.Area](t, ct, MaxRuleSetBody, cut, body); ok {
			var fe *fields.Error
			if err := risk.Validate(list, known); err != nil && (!errors.As(err, &fe) || fe.Code != "invalid_risk_areas") {
				t.Fatalf("Validate = %v", err)
			}
		}
		if in, ok := decodeBody[report.FollowUpInput](t, ct, MaxFollowUpBody, cut, body); ok {
			// No staff member named: input past the rules stops there.
			_, err := desk.Record(t.Context(), "", "r1", in, nil)
			var fe *fields.Error
			if err == nil || errors.As(err, &fe) && fe.Code != "invalid_follow_up" {
				t.Fatalf("Record(%+v) = %v", in, err)
			}
		}
	})
}
