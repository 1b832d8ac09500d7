package worklist_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/store/embedded"
	"gridcode/shared/textnorm"
	"gridcode/shared/worklist"
)

// shownText says s is evidence as a grid worker is shown it: printable,
// without white space but single spaces between words, at most limit
// characters.
func shownText(s string, limit int) bool {
	return textnorm.Printable(s) && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' }) &&
		s == strings.TrimSpace(s) && !strings.Contains(s, "  ") && utf8.RuneCountInString(s) <= limit
}

// FuzzUpload checks POST /v1/lists on any file, as CSV in UTF-8, GB18030 or
// worse: a refused upload is a *fields.Error invalid_list naming the name,
// the kind, the file or the header with a stable reason, and leaves
// nothing behind it can name; an accepted one stores as many people as it
// counts, each once, in chunks of at most ChunkRows, with a valid
// document as checked again and evidence cleaned for showing (a mobile
// phone or none, text printable and within its limits); the refused rows
// are reported in line order, one problem each, at most MaxRowErrors.
func FuzzUpload(f *testing.F) {
	store, err := embedded.Open(filepath.Join(f.TempDir(), "gridcode.db"), embedded.WithoutFsync())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	vault, err := pii.NewVault(bytes.Repeat([]byte{7}, pii.KeySize), bytes.Repeat([]byte{8}, pii.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	grids := grid.NewDirectory([]grid.Grid{shichong1, shichong2, baisha})
	up := &worklist.Uploader{Store: store, Vault: vault, Grids: grids, Now: func() time.Time { return monday }}

	const csv = "\ufeff姓名,证件类型,证件号码,手机号,社区,地址,检测点,检测时间\r\n" +
		"张三,居民身份证,11010519491231002X,+86 138-0013-8000,石冲,新塘里96号,石冲采样点,2026-11-29 08:00\r\n" +
		"李四,,110105194912310021,,石冲社区,,,\r\n" +
		"王五,身份证,4.40703E+17,,,,,\r\n" +
		"赵六,驾驶证,440703199001010010,,,,,\r\n" +
		"\r\n" +
		"钱七,,'11010519491231002x,010-12345678,火星社区,\" 某街\u202e  1号 \",,\r\n" +
		"孙八,护照,e1234567,１３９００１３９０００,白沙社区,\"多行\n地址\",,\r\n"
	f.Add("11月29日 全员核酸", uint8(0), []byte(csv))
	if gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(csv[3:])); err == nil {
		f.Add("粤居码", uint8(1), gb)
	}
	f.Add("x", uint8(2), []byte("证件号码\n11010519491231002X\n11010519491231002x\n"))
	f.Add("", uint8(4), []byte("姓名\n张三\n"))
	f.Add("场所码", uint8(2), []byte("\xff\xfe证\x00件"))
	f.Add("other", uint8(3), []byte("证件号码,证件号码\n"))
	f.Add("nat", uint8(0), []byte("证件号码\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, name string, k uint8, data []byte) {
		kind := []string{worklist.KindNAT, worklist.KindResidenceCode, worklist.KindVenueCode, worklist.KindOther, worklist.KindRegistry, ""}[int(k)%6]
		ctx := context.Background()
		l, rowErrs, err := up.Upload(ctx, name, kind, "office", bytes.NewReader(data))

		last := 0
		for _, e := range rowErrs {
			ok := e.Field == registry.FieldRow && slices.Contains([]string{"malformed", "too_long", "encoding"}, e.Reason) ||
				e.Field == "idType" && e.Reason == "unknown" ||
				e.Field == "idNumber" && slices.Contains([]string{"required", "format", "checksum", "birth_date", "region", "first_generation", worklist.ReasonExcelNumber}, e.Reason)
			if !ok || e.Line <= last {
				t.Fatalf("row error %+v after line %d", e, last)
			}
			last = e.Line
		}
		if len(rowErrs) > worklist.MaxRowErrors {
			t.Fatalf("%d row errors", len(rowErrs))
		}
		if err != nil {
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != worklist.CodeInvalidList || len(fe.Problems) == 0 {
				t.Fatalf("Upload = %v", err)
			}
			for _, p := range fe.Problems {
				var ok bool
				switch p.Field {
				case "name":
					ok = slices.Contains([]string{"required", "too_long", "invalid_characters"}, p.Reason)
				case "kind":
					ok = p.Reason == "required" || p.Reason == "unknown"
				case "file":
					ok = p.Reason == worklist.ReasonEncoding || p.Reason == worklist.ReasonNoRows
				case "header":
					ok = slices.Contains([]string{"required", "malformed", "too_long", "encoding", "missing_idNumber"}, p.Reason) ||
						strings.HasPrefix(p.Reason, "duplicate_")
				}
				if !ok {
					t.Fatalf("Upload: problem %+v", p)
				}
			}
			return
		}

		if l.Rows < 1 || len(rowErrs) != min(l.Bad, worklist.MaxRowErrors) || l.Name != textnorm.Clean(name) || l.Kind != kind {
			t.Fatalf("Upload = %+v with %d row errors", l, len(rowErrs))
		}
		chunks, err := store.Chunks(ctx, l.ID, true)
		if err != nil || len(chunks) != l.Chunks {
			t.Fatalf("list %+v: %d chunks, %v", l, len(chunks), err)
		}
		keys := map[string]bool{}
		for _, c := range chunks {
			ev, err := worklist.OpenChunk(vault, c)
			if err != nil || len(c.Keys) > worklist.ChunkRows || len(c.Grids) != len(c.Keys) {
				t.Fatalf("chunk %d: %d keys, %d grids, %v", c.N, len(c.Keys), len(c.Grids), err)
			}
			for i, key := range c.Keys {
				if keys[key] {
					t.Fatalf("person %s stored twice", key)
				}
				keys[key] = true
				e := ev[i]
				kind, _ := idcard.ParseKind(e.IDType)
				if n, reason := idcard.Check(kind, e.IDNumber, monday); reason != "" || n != e.IDNumber || e.IDType != string(kind) {
					t.Fatalf("stored document %s %q: %s", e.IDType, e.IDNumber, reason)
				}
				if p, ok := phone.Normalize(e.Phone); e.Phone != "" && (!ok || p != e.Phone) {
					t.Fatalf("stored phone %q", e.Phone)
				}
				if !shownText(e.Name, registry.MaxNameRunes) || !shownText(e.Community, registry.MaxCommunityRunes) ||
					!shownText(e.Address, registry.MaxAddressRunes) || !shownText(e.Place, 100) || !shownText(e.Seen, 30) {
					t.Fatalf("stored evidence %+v", e)
				}
				if g := c.Grids[i]; g != "" {
					if _, ok := grids.Lookup(g); !ok {
						t.Fatalf("row routed to grid %q", g)
					}
				}
			}
		}
		if len(keys) != l.Rows {
			t.Fatalf("list of %d rows stores %d people", l.Rows, len(keys))
		}
	})
}
