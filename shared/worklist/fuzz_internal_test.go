package worklist

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/textnorm"
)

// FuzzEvidenceText checks how an uploaded list's cells are cleaned for
// showing: the result is clean text (what isCleanText passes) of at most
// limit characters, a fixed point, the start of what the cell cleans to
// without a limit, and a cell already clean and short enough is kept as
// it is.
func FuzzEvidenceText(f *testing.F) {
	for _, s := range []string{
		"", "张三", " 某街\u202e  1号 ", "a\tb\r\nc", "\u3000石冲\u3000社区\u3000", "\x00\x7f\u0085", "\xff\xfe", "\ufffd",
		"a \u00a0b", strings.Repeat("长", 31), "ab" + strings.Repeat(" ", 40) + "c", "2026-11-29 08:00", "\u200b",
	} {
		f.Add(s, uint8(30))
	}
	f.Fuzz(func(t *testing.T, s string, limit uint8) {
		out := evidenceText(s, int(limit))
		if !isCleanText(out) || !utf8.ValidString(out) || utf8.RuneCountInString(out) > int(limit) {
			t.Fatalf("evidenceText(%q, %d) = %q", s, limit, out)
		}
		if again := evidenceText(out, int(limit)); again != out {
			t.Fatalf("evidenceText(%q) = %q, then %q", s, out, again)
		}
		full := evidenceText(s, 1<<30)
		if !strings.HasPrefix(full, out) || out != full && utf8.RuneCountInString(out) < int(limit)-1 {
			t.Fatalf("evidenceText(%q, %d) = %q, without a limit %q", s, limit, out, full)
		}
		if isCleanText(s) && utf8.RuneCountInString(s) <= int(limit) && out != s {
			t.Fatalf("evidenceText changed the clean %q to %q", s, out)
		}
	})
}

var visitReasons = map[string][]string{
	"outcome":   {"required", ReasonUnknown},
	"corrected": {ReasonUnexpected},
	"newPerson": {ReasonUnexpected, "required"},
	"notePhone": {ReasonUnexpected, "required", ReasonInvalid},
	"revisitOn": {ReasonUnexpected, ReasonInvalid, ReasonPast},
	"remark":    {ReasonTooLong, ReasonCharacters},
	// corrected.* and newPerson.*
	"name":          {"required", "too_long", "invalid_characters"},
	"idType":        {registry.ReasonUnknown},
	"idNumber":      {"required", "format", "checksum", "birth_date", "region", "first_generation", registry.ReasonExcelNumber, ReasonOther},
	"phone":         {registry.ReasonInvalid},
	"landlordPhone": {registry.ReasonInvalid},
	"town":          {"too_long", "invalid_characters"},
	"community":     {"required", "too_long", "invalid_characters", ReasonOutsideTask},
	"address":       {"required", "too_long", "invalid_characters"},
	"residentType":  {"required", registry.ReasonUnknown},
}

// FuzzVisitCheck checks a door-knocking visit's rules before anything is
// stored: a refused visit is a *fields.Error invalid_visit naming each bad
// field (an entry's as corrected.x or newPerson.x) with a stable reason;
// an accepted one has a known outcome and only the details it takes, a
// corrected entry of the task's own person, a new person in the task's
// community, a mobile note phone and a revisit day not before today, and
// is a fixed point (sent again as checked, it checks the same).
func FuzzVisitCheck(f *testing.F) {
	v, err := pii.NewVault(bytes.Repeat([]byte{7}, pii.KeySize), bytes.Repeat([]byte{8}, pii.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	home := grid.Grid{Code: "440703006107-01", Name: "石冲第一网格", Community: "石冲社区", Town: "环市街道"}
	other := grid.Grid{Code: "440703001001-01", Name: "白沙第一网格", Community: "白沙社区", Town: "白沙街道"}
	now := time.Date(2026, 11, 30, 1, 30, 0, 0, time.UTC)
	d := &Desk{Vault: v, Grids: grid.NewDirectory([]grid.Grid{home, other}), Now: func() time.Time { return now }}
	const person = "11010519491231002X"
	tasks := []Task{
		{ID: "t1", GridCode: home.Code, PersonKey: report.PersonLookup(v, idcard.ResidentID, person)},
		{ID: "t2", GridCode: grid.Unassigned, PersonKey: report.PersonLookup(v, idcard.ResidentID, person)},
		{ID: "t3", GridCode: "440703009999-01", PersonKey: report.PersonLookup(v, idcard.ResidentID, person)},
	}
	f.Add(uint8(0), Verified, uint8(1), "张三", "", "11010519491231002x", "+86 138 0013 8000", "", "", "新塘里96号", "常住", "", "", "", "门口核实")
	f.Add(uint8(0), NewPersonFound, uint8(2), "李四", "身份证", "44070319900101001X", "", "环市街道", "石冲社区", "新塘里96号", "流动", "13800138000", "", "", "")
	f.Add(uint8(1), NewPersonFound, uint8(2), "李四", "", "440703199001010010", "", "", "白沙社区", "白沙路1号", "outsider", "", "", "", "")
	f.Add(uint8(0), NotHomeNoteLeft, uint8(0), "", "", "", "", "", "", "", "", "", "１３９００１３９０００", "2026-12-01", " 留了纸条 ")
	f.Add(uint8(0), NotHomeNoteLeft, uint8(3), "x", "", "", "", "", "", "", "", "", "0750-3123456", "2026-11-29", "a\x00b")
	f.Add(uint8(2), MovedOut, uint8(0), "", "", "", "", "", "", "", "", "", "", "2026-02-30", strings.Repeat("长", 201))
	f.Add(uint8(0), "", uint8(1), "王五", "passport", "E12345678", "", "", "火星社区", "1号", "外来", "", "", "", "")
	f.Fuzz(func(t *testing.T, ti uint8, outcome string, which uint8, name, idType, idNumber, phoneNumber, town, community, address, residentType, landlord, notePhone, revisitOn, remark string) {
		task := tasks[int(ti)%len(tasks)]
		e := &registry.Entry{
			Personal: registry.Personal{Name: name, IDNumber: idNumber, Phone: phoneNumber, Address: address, LandlordPhone: landlord},
			IDType:   idcard.Kind(idType), Town: town, Community: community, ResidentType: registry.ResidentType(residentType),
		}
		in := VisitInput{Outcome: outcome, NotePhone: notePhone, RevisitOn: revisitOn, Remark: remark}
		if which&1 != 0 {
			in.Corrected = e
		}
		if which&2 != 0 {
			in.NewPerson = e
		}
		c, err := d.check(task, in, now)
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != CodeInvalidVisit || len(fe.Problems) == 0 {
				t.Fatalf("check(%+v) = %v", in, err)
			}
			for _, p := range fe.Problems {
				field := p.Field
				if prefix, rest, ok := strings.Cut(p.Field, "."); ok && (prefix == "corrected" || prefix == "newPerson") {
					field = rest
				}
				if !slices.Contains(visitReasons[field], p.Reason) {
					t.Fatalf("check(%+v): problem %+v", in, p)
				}
			}
			return
		}

		today := dates.Today(now)
		switch c.outcome {
		case Verified, MovedOut, NewPersonFound, NotHomeNoteLeft:
		default:
			t.Fatalf("accepted outcome %q", c.outcome)
		}
		det := c.details
		if (det.Corrected != nil) != (c.outcome == Verified && in.Corrected != nil) || (det.NewPerson != nil) != (c.outcome == NewPersonFound) ||
			(det.NotePhone != "") != (c.outcome == NotHomeNoteLeft) || (c.revisitOn != "") != (c.outcome == NotHomeNoteLeft) {
			t.Fatalf("accepted %s with %+v, revisit %q", c.outcome, det, c.revisitOn)
		}
		if c.revisitOn != "" && (c.revisitOn < today || c.revisitOn == today && revisitOn == "") {
			t.Fatalf("revisit on %s, today %s", c.revisitOn, today)
		}
		if p, ok := phone.Normalize(det.NotePhone); det.NotePhone != "" && (!ok || p != det.NotePhone) {
			t.Fatalf("note phone %q", det.NotePhone)
		}
		if det.Remark != textnorm.Clean(det.Remark) || utf8.RuneCountInString(det.Remark) > MaxRemarkRunes {
			t.Fatalf("remark %q", det.Remark)
		}
		for _, got := range []*registry.Entry{det.Corrected, det.NewPerson} {
			if got == nil {
				continue
			}
			again, errs := registry.CheckRow(got.Row(), 0, now)
			if len(errs) > 0 || !reflect.DeepEqual(again, *got) {
				t.Fatalf("accepted entry %+v, checked again %+v, %+v", *got, again, errs)
			}
			if task.GridCode != grid.Unassigned && !d.inCommunityOf(home, *got) {
				t.Fatalf("task of %s: entry in %q", task.GridCode, got.Community)
			}
		}
		if det.Corrected != nil && report.PersonLookup(v, det.Corrected.IDType, det.Corrected.IDNumber) != task.PersonKey {
			t.Fatalf("corrected another person: %+v", *det.Corrected)
		}

		resent := VisitInput{Outcome: c.outcome, Corrected: det.Corrected, NewPerson: det.NewPerson, NotePhone: det.NotePhone,
			RevisitOn: c.revisitOn, Remark: det.Remark}
		if c2, err := d.check(task, resent, now); err != nil || !reflect.DeepEqual(c2, c) {
			t.Fatalf("check(%+v) = %+v; sent again %+v, %v", in, c, c2, err)
		}
	})
}
