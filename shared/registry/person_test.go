package registry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	v := testVault(t)
	grids := testGrids()
	e := entry("张三", 1, "石冲", "新塘里96号")
	e.Phone, e.Town = "13800138000", "环市"

	p, err := registry.Build(v, grids, e, "imp1", now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Key != report.PersonLookup(v, e.IDType, e.IDNumber) {
		t.Error("key is not the person's report lookup")
	}
	if p.Community != "石冲社区" || p.Town != "环市街道" || !strings.HasPrefix(p.GridCode, "440703006107-0") ||
		p.Status != registry.StatusActive || p.Source != "imp1" || !p.UpdatedAt.Equal(now) || p.ResidentType != registry.Permanent {
		t.Errorf("Build = %+v", p)
	}
	personal, err := registry.Open(v, p)
	if err != nil || personal != e.Personal {
		t.Errorf("Open = %+v, %v; want %+v", personal, err, e.Personal)
	}
	other := p
	other.Key = "someone else"
	if _, err := registry.Open(v, other); !errors.Is(err, pii.ErrSealed) {
		t.Errorf("sealed data opened under another key: %v", err)
	}

	// The same entry builds the same hash and tokens, whatever the source
	// and time; any field an import sets changes the hash.
	again, err := registry.Build(v, grids, e, "imp2", now.Add(1))
	if err != nil {
		t.Fatal(err)
	}
	if again.ContentHash != p.ContentHash || !slices.Equal(again.Tokens, p.Tokens) || again.GridCode != p.GridCode {
		t.Error("a rebuild of the same entry differs")
	}
	for name, edit := range map[string]func(*registry.Entry){
		"name":          func(e *registry.Entry) { e.Name = "张叁" },
		"phone":         func(e *registry.Entry) { e.Phone = "13800138001" },
		"address":       func(e *registry.Entry) { e.Address = "新塘里97号" },
		"landlordPhone": func(e *registry.Entry) { e.LandlordPhone = "13900139001" },
		"residentType":  func(e *registry.Entry) { e.ResidentType = registry.Floating },
		"community":     func(e *registry.Entry) { e.Community, e.Town = "子绵村", "" },
	} {
		changed := e
		edit(&changed)
		q, err := registry.Build(v, grids, changed, "imp1", now)
		if err != nil {
			t.Fatal(err)
		}
		if q.ContentHash == p.ContentHash {
			t.Errorf("changing %s kept the content hash", name)
		}
	}

	// No directory, or a community it does not know: the district pool.
	for _, d := range []bool{false, true} {
		dir := grids
		if !d {
			dir = nil
		}
		u, err := registry.Build(v, dir, entry("李四", 2, "长庚社区", "某街1号"), "imp1", now)
		if err != nil || u.GridCode != "unassigned" || u.Community != "长庚社区" {
			t.Errorf("Build of an unknown community = %+v, %v", u, err)
		}
	}
}

func TestTokensKeepKindsApart(t *testing.T) {
	t.Parallel()
	v := testVault(t)
	// A name that is also the street, digits that are both phone and ID
	// and house number: every token still differs.
	e := entry("新塘里", 1, "石冲社区", "新塘里1234号")
	e.Phone = "1380013" + e.IDNumber[14:]
	tokens := registry.Tokens(v, e)
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			t.Errorf("token %s twice", tok)
		}
		seen[tok] = true
		if len(tok) != 20 {
			t.Errorf("token %q is not 20 characters", tok)
		}
	}
	// name, pinyin, initials, house, street, phone, ID
	if len(tokens) != 7 {
		t.Errorf("%d tokens, want 7", len(tokens))
	}
}
