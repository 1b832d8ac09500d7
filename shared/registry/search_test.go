package registry_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gridcode/shared/fields"
	"gridcode/shared/registry"
)

// searchFixture is a small district on the embedded store: people are
// named by what they are for in the test (their Address is unique).
type searchFixture struct {
	s      *registry.Searcher
	byAddr map[string]string // person key -> "name@community/address"
}

func newSearchFixture(t *testing.T) *searchFixture {
	t.Helper()
	v := testVault(t)
	store := openStore(t)
	grids := testGrids()
	type who struct {
		name, community, address, phone string
		movedOut                        bool
	}
	people := []who{
		{"张三", "石冲社区", "新塘里96号", "13800138000", false},  // the near miss of 长庚里96号
		{"张三", "石冲社区", "长庚里12号", "", false},             // same name, same street, another house
		{"张三", "子绵村", "东头巷96号", "", false},              // same name, another community
		{"章三", "石冲社区", "长庚里5号", "", false},              // a homophone
		{"钱四", "石冲社区", "长庚里96号", "", false},             // the very address, another name
		{"朱莎", "石冲社区", "新塘里7号", "", false},              // the same initials
		{"张三", "石冲社区", "长庚里96号之一", "13900139001", true}, // moved out
	}
	f := &searchFixture{s: &registry.Searcher{Store: store, Vault: v}, byAddr: map[string]string{}}
	var stored []registry.Person
	for i, w := range people {
		e := entry(w.name, i+1, w.community, w.address)
		e.Phone = w.phone
		p, err := registry.Build(v, grids, e, "test", now)
		if err != nil {
			t.Fatal(err)
		}
		if w.movedOut {
			p.Status = registry.StatusMovedOut
		}
		stored = append(stored, p)
		f.byAddr[p.Key] = w.name + "@" + w.community + "/" + w.address
	}
	if n, err := store.PutPeople(context.Background(), stored); err != nil || n != len(stored) {
		t.Fatalf("PutPeople = %d, %v", n, err)
	}
	return f
}

// found is a search's answer as "name@community/address score matched".
func (f *searchFixture) found(t *testing.T, q registry.Query) []string {
	t.Helper()
	results, err := f.s.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	var out []string
	for _, r := range results {
		who := f.byAddr[r.Person.Key]
		if got := r.Personal.Name + "@" + r.Person.Community + "/" + r.Personal.Address; got != who {
			t.Errorf("result %s opened as %s", who, got)
		}
		out = append(out, who+" "+strings.Join(r.Matched, ","))
	}
	return out
}

func TestSearch(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	cases := []struct {
		name string
		q    registry.Query
		want []string
	}{
		{
			name: "the near miss: 长庚里96号 asked, 新塘里96号 registered, ranks first",
			q:    registry.Query{Name: "张三", Community: "石冲社区", Address: "长庚里96号"},
			want: []string{
				"张三@石冲社区/新塘里96号 name,community,houseNumber",
				"张三@石冲社区/长庚里12号 name,community,street",
				"张三@子绵村/东头巷96号 name",
				"章三@石冲社区/长庚里5号 pinyin,community,street",
				"朱莎@石冲社区/新塘里7号 initials,community",
				"张三@石冲社区/长庚里96号之一 name,community,street,houseNumber",
			},
		},
		{
			name: "pinyin with a space finds every zhangsan, moved out last",
			q:    registry.Query{Name: "zhang san", Community: "石冲社区", Address: "新塘里96号"},
			want: []string{
				"张三@石冲社区/新塘里96号 pinyin,community,street,houseNumber",
				"张三@石冲社区/长庚里12号 pinyin,community",
				"章三@石冲社区/长庚里5号 pinyin,community",
				"张三@子绵村/东头巷96号 pinyin",
				"张三@石冲社区/长庚里96号之一 pinyin,community,houseNumber",
			},
		},
		{
			name: "initials",
			q:    registry.Query{Name: "ZS", Communities: []string{"石冲社区"}, Limit: 3},
			want: nil, // checked below: three of the five zs in 石冲社区
		},
		{
			name: "scope keeps other communities out",
			q:    registry.Query{Name: "张三", Communities: []string{"子绵村"}},
			want: []string{"张三@子绵村/东头巷96号 name"},
		},
		{
			name: "phone digits alone",
			q:    registry.Query{PhoneLast4: "８０００"},
			want: []string{"张三@石冲社区/新塘里96号 phoneLast4"},
		},
		{
			name: "ID digits make one of the namesakes first",
			q:    registry.Query{Name: "张三", IDLast4: residentID(3)[14:]},
			want: []string{
				"张三@子绵村/东头巷96号 name,idLast4",
				"张三@石冲社区/新塘里96号 name",
				"张三@石冲社区/长庚里12号 name",
				"章三@石冲社区/长庚里5号 pinyin",
				"朱莎@石冲社区/新塘里7号 initials",
				"张三@石冲社区/长庚里96号之一 name",
			},
		},
		{
			name: "nobody",
			q:    registry.Query{Name: "李四"},
			want: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := f.found(t, tc.q)
			if tc.name == "initials" {
				if len(got) != 3 {
					t.Fatalf("limit 3 gave %d results: %q", len(got), got)
				}
				for _, g := range got {
					if !strings.HasSuffix(g, " initials") || !strings.Contains(g, "石冲社区") {
						t.Errorf("initials search found %s", g)
					}
				}
				return
			}
			// Equal scores come in key order; compare those groups as sets.
			if !sameRanking(got, tc.want) {
				t.Errorf("Search\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// sameRanking compares results, allowing results with the same matches to
// come in any order among themselves.
func sameRanking(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := 0; i < len(got); {
		j := i + 1
		matches := func(s string) string { return s[strings.Index(s, " "):] }
		for j < len(want) && matches(want[j]) == matches(want[i]) {
			j++
		}
		g, w := slices.Clone(got[i:j]), slices.Clone(want[i:j])
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			return false
		}
		i = j
	}
	return true
}

func TestSearchRefusals(t *testing.T) {
	t.Parallel()
	s := &registry.Searcher{Store: openStore(t), Vault: testVault(t)}
	cases := []struct {
		name string
		q    registry.Query
		want []fields.Problem
	}{
		{"nothing to search by", registry.Query{Community: "石冲社区"}, []fields.Problem{{Field: "query", Reason: "required"}}},
		{"name too long", registry.Query{Name: strings.Repeat("张", registry.MaxNameRunes+1)}, []fields.Problem{{Field: "name", Reason: "too_long"}}},
		{"pinyin too long", registry.Query{Name: strings.Repeat("a", registry.MaxLetterRunes+1)}, []fields.Problem{{Field: "name", Reason: "too_long"}}},
		{"name with digits", registry.Query{Name: "张3"}, []fields.Problem{{Field: "name", Reason: "invalid"}}},
		{"name with a control character", registry.Query{Name: "张\u0000三"}, []fields.Problem{{Field: "name", Reason: "invalid_characters"}}},
		{"last four", registry.Query{PhoneLast4: "800", IDLast4: "X002"}, []fields.Problem{
			{Field: "phoneLast4", Reason: "invalid"}, {Field: "idLast4", Reason: "invalid"},
		}},
		{"address without community", registry.Query{Name: "张三", Address: "新塘里96号"}, []fields.Problem{{Field: "community", Reason: "required"}}},
		{"limit", registry.Query{Name: "张三", Limit: registry.MaxLimit + 1}, []fields.Problem{{Field: "limit", Reason: "out_of_range"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Search(context.Background(), tc.q)
			var fe *fields.Error
			if !errors.As(err, &fe) || fe.Code != registry.CodeInvalidQuery {
				t.Fatalf("Search = %v, want *fields.Error %s", err, registry.CodeInvalidQuery)
			}
			if !reflect.DeepEqual(fe.Problems, tc.want) {
				t.Errorf("problems %+v, want %+v", fe.Problems, tc.want)
			}
		})
	}
	// A valid X at the end of the ID digits.
	if _, err := s.Search(context.Background(), registry.Query{IDLast4: "002x"}); err != nil {
		t.Errorf("IDLast4 002x: %v", err)
	}
}

// TestQueryTokens: a query's tokens are the tokens the person it describes
// is indexed under.
func TestQueryTokens(t *testing.T) {
	t.Parallel()
	v := testVault(t)
	e := entry("张三", 1, "石冲社区", "石冲社区新塘里96号")
	e.Phone = "13800138000"
	indexed := registry.Tokens(v, e)
	qt, err := registry.Query{
		Name: " 张三 ", Community: "石冲社区", Address: "新塘里９６号之一", PhoneLast4: "8000", IDLast4: e.IDNumber[14:],
	}.Tokens(v)
	if err != nil {
		t.Fatal(err)
	}
	all := slices.Concat(qt.Name, qt.Pinyin, qt.Initials, []string{qt.House, qt.Street, qt.PhoneLast4, qt.IDLast4})
	if len(all) != 7 {
		t.Fatalf("%d query tokens, want 7: %+v", len(all), qt)
	}
	for _, tok := range all {
		if !slices.Contains(indexed, tok) {
			t.Errorf("query token %s is not among the person's %q", tok, indexed)
		}
	}
	letters, err := registry.Query{Name: "Zhang San"}.Tokens(v)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(letters.Pinyin, qt.Pinyin) || slices.Equal(letters.Name, qt.Name) {
		t.Errorf("zhang san gave %+v; 张三 %+v", letters, qt)
	}
	if initials, _ := (registry.Query{Name: "zs"}).Tokens(v); !slices.Equal(initials.Initials, qt.Initials) {
		t.Errorf("zs gave initials %q, 张三 %q", initials.Initials, qt.Initials)
	}
}
