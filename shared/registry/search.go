package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"gridcode/shared/fields"
	"gridcode/shared/pii"
	"gridcode/shared/textnorm"
)

// Query is a search of the registry: a grid worker at a door looking for
// the person in front of them, by name (in characters or pinyin), where
// they say they live, and the last digits of their phone or ID.
type Query struct {
	// Name in Chinese characters (张三) or latin letters: pinyin with or
	// without spaces (zhangsan, zhang san), its initials (zs), or a foreign
	// name as written.
	Name string
	// Community is the community searched, as the grid directory names it
	// (grid.Grid.Community); it must be within Communities, which the
	// caller checks. People of other communities in scope are found too,
	// ranked lower. Address needs it.
	Community string
	Address   string
	// PhoneLast4 and IDLast4 are the last four characters of the phone and
	// the ID number.
	PhoneLast4, IDLast4 string
	// Communities is the caller's scope; nil is the whole district.
	Communities []string
	// Limit is the most results: DefaultLimit when 0, at most MaxLimit.
	Limit int
}

// Result is one person found, with what matched and how well.
type Result struct {
	Person   Person
	Personal Personal
	Score    int
	// Matched names what matched: name, pinyin, initials, community,
	// street, houseNumber, phoneLast4, idLast4.
	Matched []string
}

// Search limits.
const (
	DefaultLimit = 20
	MaxLimit     = 50
	// MaxLetterRunes bounds a name typed in letters (pinyin is longer
	// than the characters it spells).
	MaxLetterRunes = 60
)

// CodeInvalidQuery is the fields.Error code of a refused search.
const CodeInvalidQuery = "invalid_query"

// How much each match weighs. A name as written beats the same sound
// (a homophone the worker typed by ear), which beats the same initials; an
// address that matches street and house number beats the same house
// number in another street of the community (the near miss: 长庚里96号
// asked, 新塘里96号 registered), which beats the same street; the last
// digits of phone and ID are strong evidence each.
const (
	scoreName        = 100
	scorePinyin      = 60
	scoreInitials    = 25
	scoreCommunity   = 15
	scoreStreetHouse = 60
	scoreHouse       = 30
	scoreStreet      = 10
	scorePhone4      = 40
	scoreID4         = 40
)

// findLimit bounds the keys read per token, and so the candidates: the
// commonest names (张伟) have a few thousand bearers in a district of
// 800,000, spread over its communities.
const findLimit = 500

// poolFactor: the best Limit*poolFactor candidates by token score are read
// from the store (no decryption) to rank moved-out people last.
const poolFactor = 3

// Searcher finds people in the registry.
type Searcher struct {
	Store Store
	Vault *pii.Vault
}

// Search checks q, finds candidates through the search tokens, ranks them
// by what matched (moved-out people after active ones, then by score,
// then by key, so equal queries give equal answers) and opens the best
// Limit. A bad query is a *fields.Error with CodeInvalidQuery: "query"
// required when there is neither name nor phone nor ID digits, "name"
// too_long or invalid, "phoneLast4" and "idLast4" invalid, "community"
// required with an address, "limit" out_of_range.
func (s *Searcher) Search(ctx context.Context, q Query) ([]Result, error) {
	tokens, err := q.Tokens(s.Vault)
	if err != nil {
		return nil, err
	}
	m := newMatcher(tokens)
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}

	found, err := s.Store.Find(ctx, m.scoped(), q.Communities, findLimit)
	if err != nil {
		return nil, fmt.Errorf("registry search: %w", err)
	}
	var local map[string][]string
	if q.Community != "" {
		if local, err = s.Store.Find(ctx, m.local(), []string{q.Community}, findLimit); err != nil {
			return nil, fmt.Errorf("registry search: %w", err)
		}
	}
	cands := m.score(found, local)
	if len(cands) == 0 {
		return nil, nil
	}
	slices.SortFunc(cands, func(a, b *candidate) int {
		if a.score != b.score {
			return b.score - a.score
		}
		return strings.Compare(a.key, b.key)
	})
	if pool := limit * poolFactor; len(cands) > pool {
		cands = cands[:pool]
	}
	keys := make([]string, len(cands))
	for i, c := range cands {
		keys[i] = c.key
	}
	people, err := s.Store.GetPeople(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("registry search: %w", err)
	}
	var results []Result
	for _, c := range cands {
		p, ok := people[c.key]
		if !ok || len(q.Communities) > 0 && !slices.Contains(q.Communities, p.Community) {
			continue // an index entry the store has not dropped yet, or out of scope
		}
		results = append(results, Result{Person: p, Score: c.score, Matched: c.matched()})
	}
	slices.SortStableFunc(results, func(a, b Result) int {
		return activeRank(a.Person) - activeRank(b.Person)
	})
	if len(results) > limit {
		results = results[:limit]
	}
	for i := range results {
		if results[i].Personal, err = Open(s.Vault, results[i].Person); err != nil {
			return nil, fmt.Errorf("registry search: %w", err)
		}
	}
	return results, nil
}

func activeRank(p Person) int {
	if p.Status == StatusMovedOut {
		return 1
	}
	return 0
}

// QueryTokens are the search tokens of a query, by what a match means.
type QueryTokens struct {
	Name, Pinyin, Initials []string // the name as written, its spellings, their initials
	House, Street          string   // of the address, in the searched community
	PhoneLast4, IDLast4    string
}

// matcher scores what Find answers for a query's tokens.
type matcher struct {
	QueryTokens
	exact, pinyin, initials map[string]bool
}

func newMatcher(qt QueryTokens) *matcher {
	return &matcher{QueryTokens: qt, exact: set(qt.Name), pinyin: set(qt.Pinyin), initials: set(qt.Initials)}
}

// scoped are the tokens looked up in the caller's scope.
func (m *matcher) scoped() []string {
	return nonEmpty(m.names(), m.PhoneLast4, m.IDLast4)
}

// local are the tokens looked up in the searched community.
func (m *matcher) local() []string {
	return nonEmpty(m.names(), m.PhoneLast4, m.IDLast4, m.House, m.Street)
}

func (m *matcher) names() []string {
	return slices.Concat(m.Name, m.Pinyin, m.Initials)
}

func nonEmpty(list []string, more ...string) []string {
	for _, s := range more {
		if s != "" {
			list = append(list, s)
		}
	}
	return list
}

// candidate is a person some token found, with what matched.
type candidate struct {
	key                      string
	name                     int // 3 exact, 2 pinyin, 1 initials, 0 none
	community, street, house bool
	phone4, id4              bool
	score                    int
}

func (c *candidate) matched() []string {
	var m []string
	switch c.name {
	case 3:
		m = append(m, "name")
	case 2:
		m = append(m, "pinyin")
	case 1:
		m = append(m, "initials")
	}
	for _, f := range []struct {
		ok   bool
		name string
	}{{c.community, "community"}, {c.street, "street"}, {c.house, "houseNumber"}, {c.phone4, "phoneLast4"}, {c.id4, "idLast4"}} {
		if f.ok {
			m = append(m, f.name)
		}
	}
	return m
}

// score turns Find's answers into candidates: everyone a name, phone or
// ID token found, with the address matches of the searched community.
func (m *matcher) score(found, local map[string][]string) []*candidate {
	byKey := map[string]*candidate{}
	get := func(key string) *candidate {
		c := byKey[key]
		if c == nil {
			c = &candidate{key: key}
			byKey[key] = c
		}
		return c
	}
	nameKind := func(t string) int {
		switch {
		case m.exact[t]:
			return 3
		case m.pinyin[t]:
			return 2
		case m.initials[t]:
			return 1
		}
		return 0
	}
	for t, keys := range found {
		kind := nameKind(t)
		for _, k := range keys {
			c := get(k)
			c.name = max(c.name, kind)
			c.phone4 = c.phone4 || t == m.PhoneLast4
			c.id4 = c.id4 || t == m.IDLast4
		}
	}
	for t, keys := range local {
		kind := nameKind(t)
		if kind == 0 && (t == m.House || t == m.Street) {
			continue
		}
		for _, k := range keys {
			c := get(k)
			c.name = max(c.name, kind)
			c.phone4 = c.phone4 || t == m.PhoneLast4
			c.id4 = c.id4 || t == m.IDLast4
			c.community = true
		}
	}
	// Address tokens only add to candidates found by who they are.
	for t, keys := range local {
		if t != m.House && t != m.Street {
			continue
		}
		for _, k := range keys {
			c := byKey[k]
			if c == nil {
				continue
			}
			c.community = true
			c.house = c.house || t == m.House
			c.street = c.street || t == m.Street
		}
	}
	out := make([]*candidate, 0, len(byKey))
	for _, c := range byKey {
		c.score = [...]int{0, scoreInitials, scorePinyin, scoreName}[c.name]
		if c.community {
			c.score += scoreCommunity
		}
		switch {
		case c.street && c.house:
			c.score += scoreStreetHouse
		case c.house:
			c.score += scoreHouse
		case c.street:
			c.score += scoreStreet
		}
		if c.phone4 {
			c.score += scorePhone4
		}
		if c.id4 {
			c.score += scoreID4
		}
		out = append(out, c)
	}
	return out
}

// Tokens checks a query and makes its search tokens; Search explains the
// problems it refuses.
func (q Query) Tokens(v *pii.Vault) (QueryTokens, error) {
	var c fields.Collector
	var qt QueryTokens

	name := textnorm.Clean(q.Name)
	if name != "" {
		switch kind, letters := nameKind(name); {
		case !textnorm.Printable(name):
			c.Add("name", "invalid_characters")
		case kind == nameChinese && utf8.RuneCountInString(name) > MaxNameRunes,
			kind == nameLetters && utf8.RuneCountInString(name) > MaxLetterRunes:
			c.Add("name", "too_long")
		case kind == nameChinese:
			qt.Name, qt.Pinyin, qt.Initials = nameTokens(v, name)
		case kind == nameLetters:
			qt.Name, qt.Pinyin, qt.Initials = letterTokens(v, letters)
		default:
			c.Add("name", ReasonInvalid)
		}
	}
	if q.PhoneLast4 != "" {
		if d, ok := digits4(q.PhoneLast4, false); ok {
			qt.PhoneLast4 = token(v, purposePhone4, d)
		} else {
			c.Add("phoneLast4", ReasonInvalid)
		}
	}
	if q.IDLast4 != "" {
		if d, ok := digits4(q.IDLast4, true); ok {
			qt.IDLast4 = token(v, purposeID4, d)
		} else {
			c.Add("idLast4", ReasonInvalid)
		}
	}
	if name == "" && q.PhoneLast4 == "" && q.IDLast4 == "" {
		c.Add("query", "required")
	}
	community := textnorm.Clean(q.Community)
	if community != "" {
		if _, reason := textnorm.Required(community, MaxCommunityRunes); reason != "" {
			c.Add("community", reason)
		}
	}
	if address := textnorm.Clean(q.Address); address != "" {
		if _, reason := textnorm.Required(address, MaxAddressRunes); reason != "" {
			c.Add("address", reason)
		} else if community == "" {
			c.Add("community", "required")
		} else {
			qt.House, qt.Street = addressTokens(v, community, address)
		}
	}
	if q.Limit < 0 || q.Limit > MaxLimit {
		c.Add("limit", "out_of_range")
	}
	if err := c.Err(CodeInvalidQuery); err != nil {
		return QueryTokens{}, err
	}
	return qt, nil
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

const (
	nameOther = iota
	nameChinese
	nameLetters
)

// nameKind tells a name in Chinese characters (perhaps with middle dots,
// 买买提·艾力, or latin letters) from one in latin letters only, whose
// letters it returns in lower case without spaces and dots; digits or
// other signs make neither.
func nameKind(name string) (kind int, letters string) {
	s := norm.NFKC.String(name)
	han, other := false, false
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			han = true
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsSpace(r), isNameDot(r):
		default:
			other = true
		}
	}
	switch {
	case han && !other:
		return nameChinese, ""
	case !han && !other && b.Len() > 0:
		return nameLetters, b.String()
	}
	return nameOther, ""
}

// digits4 reads the last four digits of a phone, or of an ID number whose
// last may be X; full-width forms are narrowed.
func digits4(s string, id bool) (string, bool) {
	s = strings.ToUpper(strings.Map(textnorm.Narrow, strings.TrimSpace(s)))
	if len(s) != 4 {
		return "", false
	}
	for i := 0; i < 4; i++ {
		if c := s[i]; !('0' <= c && c <= '9' || id && i == 3 && c == 'X') {
			return "", false
		}
	}
	return s, true
}
