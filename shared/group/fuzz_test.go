package group_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/group"
	"gridcode/shared/group/grouptest"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/store/embedded"
	"gridcode/shared/textnorm"
)

// fuzzNow is 2024-05-01 09:00 in the district.
var fuzzNow = time.Date(2024, 5, 1, 1, 0, 0, 0, time.UTC)

var (
	rowField       = regexp.MustCompile(`^rows\[(\d+)\]\.(name|idType|idNumber|phone)$`)
	idNumberReason = []string{
		idcard.ReasonRequired, idcard.ReasonFormat, idcard.ReasonChecksum, idcard.ReasonBirthDate, idcard.ReasonRegion,
		idcard.ReasonFirstGeneration, group.ProblemExcelNumber, group.ProblemDuplicate,
	}
	nameReasons = []string{"required", "too_long", "invalid_characters"}
)

// rosterProblemOK says whether p is a problem ReadRoster may name, for a
// roster of rows rows read from CSV (csv) or JSON.
func rosterProblemOK(p fields.Problem, csv bool, rows int) bool {
	if m := rowField.FindStringSubmatch(p.Field); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || (csv && n < 2) || (!csv && n >= rows && rows > 0) {
			return false
		}
		switch m[2] {
		case "name":
			return slices.Contains(nameReasons, p.Reason)
		case "idType":
			return p.Reason == group.ProblemUnknownIDType
		case "idNumber":
			return slices.Contains(idNumberReason, p.Reason)
		case "phone":
			return p.Reason == group.ProblemInvalidPhone
		}
	}
	switch p.Field {
	case "header":
		return p.Reason == "required" || p.Reason == group.ProblemMalformed ||
			slices.Contains([]string{"missing_name", "missing_idNumber", "duplicate_name", "duplicate_idType", "duplicate_idNumber", "duplicate_phone"}, p.Reason)
	case "file":
		return p.Reason == group.ProblemEncoding
	case "rows":
		return p.Reason == group.ProblemEmpty || p.Reason == group.ProblemTooMany
	}
	return strings.HasPrefix(p.Field, "rows[") && p.Reason == group.ProblemMalformed
}

// FuzzReadRoster checks PUT /v1/groups/{groupId}/members on any body, as
// CSV or JSON: a body over MaxRosterBytes is ErrRosterTooLarge whatever it
// holds, another media type ErrRosterMediaType; a refused roster is a
// *fields.Error naming the header, the file or a row's cell with a stable
// reason; an accepted one has 1 to MaxRoster members, no document twice,
// and every member a fixed point of the rules (checked again, it comes
// back unchanged).
func FuzzReadRoster(f *testing.F) {
	const csvText = "姓名,证件类型,证件号码,手机号\n张三,居民身份证,11010519491231002X,+86 138-0013-8000\n" +
		"李四,护照,E12345678,\n王五,,4.40703E+17,\n赵六,台胞证,1234567801(B),１３９００１３９０００\n"
	for _, s := range []string{
		csvText, "\ufeff" + csvText, "姓名\t身份证号\n张三\t'11010519491231002x\n", "name,idNumber\n\"a\n",
		`{"members":[{"name":"张三","idType":"resident_id","idNumber":"11010519491231002X","phone":"13800138000"}]}`,
		`{"members":[{"name":"张三","idNumber":"11010519491231002X"},{"name":"张三","idNumber":"11010519491231002x"}]}`,
		`{"members":[{"name":1}]}`, `{"members":[],"x":1}`, `{"members":null} {}`, `[]`, "",
	} {
		f.Add(uint8(0), []byte(s))
		f.Add(uint8(1), []byte(s))
	}
	if gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(csvText)); err == nil {
		f.Add(uint8(0), gb)
	}
	f.Add(uint8(2), []byte("姓名,证件号码\n"))
	f.Add(uint8(4), []byte("姓名,证件号码\n张三,11010519491231002X\n"))
	f.Fuzz(func(t *testing.T, how uint8, body []byte) {
		mediaType := []string{"text/csv", "application/json", "text/plain", "application/vnd.ms-excel"}[how%4]
		var r io.Reader = bytes.NewReader(body)
		tooBig := how&4 != 0 // the body goes on past the limit
		if tooBig {
			r = io.MultiReader(r, bytes.NewReader(make([]byte, group.MaxRosterBytes+1-len(body)%group.MaxRosterBytes)))
		}
		rows, err := group.ReadRoster(r, mediaType, fuzzNow)
		csv := mediaType == "text/csv"
		switch {
		case mediaType != "text/csv" && mediaType != "application/json":
			if !errors.Is(err, group.ErrRosterMediaType) {
				t.Fatalf("ReadRoster(%s) = %v", mediaType, err)
			}
			return
		case tooBig:
			if !errors.Is(err, group.ErrRosterTooLarge) {
				t.Fatalf("ReadRoster of a body over %d bytes = %d rows, %v", group.MaxRosterBytes, len(rows), err)
			}
			return
		case err != nil:
			var fe *fields.Error
			if !errors.As(err, &fe) || rows != nil {
				t.Fatalf("ReadRoster(%s) = %v (%T)", mediaType, err, err)
			}
			switch fe.Code {
			case group.CodeInvalidJSON:
				if csv || len(fe.Problems) > 1 || len(fe.Problems) == 1 && fe.Problems[0].Reason != "unknown_field" && fe.Problems[0].Reason != "wrong_type" {
					t.Fatalf("ReadRoster(%s): %+v", mediaType, fe)
				}
			case group.CodeInvalidRoster:
				if len(fe.Problems) == 0 {
					t.Fatal("invalid_roster without problems")
				}
				for _, p := range fe.Problems {
					if !rosterProblemOK(p, csv, -1) {
						t.Fatalf("ReadRoster(%s): problem %+v", mediaType, p)
					}
				}
			default:
				t.Fatalf("ReadRoster(%s): code %q", mediaType, fe.Code)
			}
			return
		}
		if len(rows) == 0 || len(rows) > group.MaxRoster {
			t.Fatalf("ReadRoster accepted %d rows", len(rows))
		}
		type document struct {
			kind   idcard.Kind
			number string
		}
		seen := map[document]bool{}
		for i, row := range rows {
			d := document{row.IDType, row.IDNumber}
			if seen[d] {
				t.Fatalf("row %d: document %v twice", i, d)
			}
			seen[d] = true
			again, err := group.CheckJoin(group.RosterRow{Name: row.Name, IDType: string(row.IDType), IDNumber: row.IDNumber, Phone: row.Phone}, fuzzNow)
			if err != nil || again != row {
				t.Fatalf("row %d %+v checked again: %+v, %v", i, row, again, err)
			}
		}
	})
}

// fuzzDistrict is a district on the embedded store without fsync, so that
// the fuzzer's accepted registrations cost little.
func fuzzDistrict(f *testing.F) *group.Registry {
	store, err := embedded.Open(filepath.Join(f.TempDir(), "gridcode.db"), embedded.WithoutFsync())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	areas, err := area.Load()
	if err != nil {
		f.Fatal(err)
	}
	clock := func() time.Time { return fuzzNow }
	settings := district.NewSettings(store, areas, clock, time.Hour)
	if err := settings.PutGrids(context.Background(), []grid.Grid{grouptest.Grid1, grouptest.Grid2}); err != nil {
		f.Fatal(err)
	}
	return &group.Registry{Store: store, Lists: store, Grids: settings, Vault: grouptest.Vault(f), Now: clock, JoinURL: "http://127.0.0.1:8080/join/"}
}

// FuzzRegister checks POST /v1/groups: a refused registration is a
// *fields.Error invalid_group naming each bad field with a stable reason;
// an accepted one stores the fields cleaned (trimmed, NFC, within their
// limits), shows the administrator's phone masked, and the same place
// registered again, as it was stored, is the same group (ErrExists).
func FuzzRegister(f *testing.F) {
	reg := fuzzDistrict(f)
	office := auth.Principal{Subject: "office", Role: auth.DistrictAdmin}
	f.Add("好又多超市", "supermarket", " 白沙路1号 ", uint8(0), "店长", "+86 138 0013 8000")
	f.Add("  第一\u3000中学 ", "school", "石冲路２号", uint8(1), "王校长", "１３９００１３９０００")
	f.Add("", "", "", uint8(2), "", "")
	f.Add("网吧\u202e", "internet_cafe", strings.Repeat("长", 101), uint8(3), "x", "0750-3123456")
	f.Add("KTV", "bank", "路", uint8(0), "a\x00b", "13800138000")
	f.Fuzz(func(t *testing.T, name, kind, address string, g uint8, adminName, adminPhone string) {
		gridCode := []string{grouptest.Grid1.Code, grouptest.Grid2.Code, "", "440703001001-99"}[g%4]
		in := group.Registration{Name: name, Kind: kind, Address: address, GridCode: gridCode, Admin: group.Admin{Name: adminName, Phone: adminPhone}}
		v, err := reg.Register(context.Background(), office, in)
		var fe *fields.Error
		if errors.As(err, &fe) {
			if fe.Code != "invalid_group" || len(fe.Problems) == 0 {
				t.Fatalf("Register(%+v): %+v", in, fe)
			}
			for _, p := range fe.Problems {
				ok := false
				switch p.Field {
				case "name", "address", "admin.name":
					ok = slices.Contains(nameReasons, p.Reason)
				case "kind", "gridCode":
					ok = p.Reason == "required" || p.Reason == "unknown"
				case "admin.phone":
					ok = p.Reason == "required" || p.Reason == "invalid"
				}
				if !ok {
					t.Fatalf("Register(%+v): problem %+v", in, p)
				}
			}
			return
		}
		if errors.Is(err, group.ErrExists) {
			// Registered before, under a name or address that cleans the
			// same: the group stored then is the answer.
			if id := group.ID(reg.Vault, textnorm.Clean(name), textnorm.Clean(address)); v.GroupID != id {
				t.Fatalf("Register(%+v) = ErrExists with %s, want %s", in, v.GroupID, id)
			}
			return
		}
		if err != nil {
			t.Fatalf("Register(%+v): %v", in, err)
		}
		clean := func(s string, limit int) bool {
			return s == textnorm.Clean(s) && s != "" && utf8.RuneCountInString(s) <= limit && textnorm.Printable(s)
		}
		if v.Name != textnorm.Clean(name) || v.Address != textnorm.Clean(address) || v.GridCode != gridCode ||
			!clean(v.Name, group.MaxGroupName) || !clean(v.Address, group.MaxAddress) || string(v.Kind) != kind {
			t.Fatalf("Register(%+v) = %+v", in, v)
		}
		p, _ := phone.Normalize(adminPhone)
		if v.Admin.Phone != phone.Mask(p) || v.Admin.Phone == p {
			t.Fatalf("Register(%+v) shows the administrator's phone as %q", in, v.Admin.Phone)
		}
		again := group.Registration{Name: v.Name, Kind: string(v.Kind), Address: v.Address, GridCode: v.GridCode, Admin: group.Admin{Name: v.Admin.Name, Phone: p}}
		if w, err := reg.Register(context.Background(), office, again); !errors.Is(err, group.ErrExists) || w.GroupID != v.GroupID {
			t.Fatalf("Register(%+v) again = %+v, %v; want ErrExists with %s", again, w, err, v.GroupID)
		}
	})
}
