package registry

import (
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/mozillazg/go-pinyin"
	"golang.org/x/text/unicode/norm"

	"gridcode/shared/grid"
	"gridcode/shared/pii"
)

// Search token purposes: each kind of token is a keyed hash under its own
// purpose, so a name can never match a street, nor a phone's last four
// digits an ID's.
const (
	purposeName     = "rs-name"     // the name as written, spaces removed
	purposePinyin   = "rs-pinyin"   // its pinyin without tones: zhangsan
	purposeInitials = "rs-initials" // the pinyin's initials: zs
	purposeHouse    = "rs-house"    // community + house number: 石冲社区 96
	purposeStreet   = "rs-street"   // community + street: 石冲社区 新塘里
	purposePhone4   = "rs-phone4"   // the phone's last four digits
	purposeID4      = "rs-id4"      // the ID number's last four characters
)

// tokenLen shortens tokens to 100 bits: unique enough among a district's
// few million tokens, and a third less index than the full lookup.
const tokenLen = 20

// maxSpellings bounds the pinyin spellings a name is indexed under: the
// common reading of every character, then the other readings of the
// surname (单 shan/dan, 曾 zeng/ceng), then of the given name, one
// character at a time.
const maxSpellings = 4

func token(v *pii.Vault, purpose string, parts ...string) string {
	return v.Lookup(purpose, parts...)[:tokenLen]
}

// Tokens are the search tokens of an entry: its name as written, its
// pinyin spellings and their initials, the house number and the street of
// its address within its community, and the last four characters of its
// phone and ID number. e.Community is the community as stored (the grid
// directory's name, as Build sets it).
func Tokens(v *pii.Vault, e Entry) []string {
	ts := make([]string, 0, 12)
	add := func(t string) {
		for _, have := range ts {
			if have == t {
				return
			}
		}
		ts = append(ts, t)
	}
	exact, pinyin, initials := nameTokens(v, e.Name)
	for _, t := range slices.Concat(exact, pinyin, initials) {
		add(t)
	}
	house, street := addressTokens(v, e.Community, e.Address)
	if house != "" {
		add(house)
	}
	if street != "" {
		add(street)
	}
	if s := last4(e.Phone); s != "" {
		add(token(v, purposePhone4, s))
	}
	if s := last4(e.IDNumber); s != "" {
		add(token(v, purposeID4, s))
	}
	return ts
}

// nameTokens are the tokens of a name written in Chinese characters (or
// in letters, a foreign name: its letters are its "pinyin").
func nameTokens(v *pii.Vault, name string) (exact, pinyin, initials []string) {
	key := nameKey(name)
	if key == "" {
		return nil, nil, nil
	}
	full, firsts := spellings(syllables(name))
	for _, s := range full {
		pinyin = append(pinyin, token(v, purposePinyin, s))
	}
	for _, s := range firsts {
		initials = append(initials, token(v, purposeInitials, s))
	}
	return []string{token(v, purposeName, key)}, pinyin, initials
}

// letterTokens are the tokens of a name typed in latin letters: its
// letters as a pinyin spelling (zhangsan, zhang san), as initials (zs) and
// as a foreign name written in letters (John Smith).
func letterTokens(v *pii.Vault, letters string) (exact, pinyin, initials []string) {
	return []string{token(v, purposeName, letters)}, []string{token(v, purposePinyin, letters)}, []string{token(v, purposeInitials, letters)}
}

// addressTokens are the house-number and street tokens of an address in
// community ("" when the address has none).
func addressTokens(v *pii.Vault, community, address string) (house, street string) {
	c := communityKey(community)
	if c == "" {
		return "", ""
	}
	s, num := grid.SplitAddress(community, address)
	if num != "" {
		house = token(v, purposeHouse, c, num)
	}
	if s != "" {
		street = token(v, purposeStreet, c, s)
	}
	return house, street
}

// communityKey is a community's name as tokens carry it.
func communityKey(s string) string {
	return strings.Join(strings.Fields(norm.NFKC.String(s)), "")
}

// nameKey is a name as the exact-name token holds it: NFKC, lower case,
// without spaces and the middle dots of transliterated names (买买提·艾力).
func nameKey(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || isNameDot(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, norm.NFKC.String(s))
}

func isNameDot(r rune) bool {
	switch r {
	case '·', '•', '.', '・', '‧', '-':
		return true
	}
	return false
}

// syllables splits a name into its syllables, each with its readings:
// a Chinese character's pinyin readings (most common first), a run of
// latin letters as one lower-case syllable, and a character without a
// known reading as itself. Spaces, dots and other marks separate.
func syllables(name string) [][]string {
	var out [][]string
	var word []rune
	flush := func() {
		if len(word) > 0 {
			out = append(out, []string{string(word)})
			word = word[:0]
		}
	}
	for _, r := range norm.NFKC.String(name) {
		switch {
		case 'a' <= r && r <= 'z':
			word = append(word, r)
		case 'A' <= r && r <= 'Z':
			word = append(word, r+'a'-'A')
		case unicode.Is(unicode.Han, r):
			flush()
			if rs := readings(r); len(rs) > 0 {
				out = append(out, rs)
			} else {
				out = append(out, []string{string(r)})
			}
		default:
			flush()
		}
	}
	flush()
	return out
}

// spellings are the whole-name spellings of syllables, at most
// maxSpellings, and their initials (first letters), deduplicated.
func spellings(syls [][]string) (full, initials []string) {
	if len(syls) == 0 {
		return nil, nil
	}
	choice := make([]int, len(syls))
	add := func() {
		var b, in strings.Builder
		for i, s := range syls {
			reading := s[choice[i]]
			b.WriteString(reading)
			r := []rune(reading)
			in.WriteRune(r[0])
		}
		full = appendNew(full, b.String())
		initials = appendNew(initials, in.String())
	}
	add()
	for i := 0; i < len(syls) && len(full) < maxSpellings; i++ {
		for alt := 1; alt < len(syls[i]) && len(full) < maxSpellings; alt++ {
			choice[i] = alt
			add()
		}
		choice[i] = 0
	}
	return full, initials
}

func appendNew(list []string, s string) []string {
	for _, have := range list {
		if have == s {
			return list
		}
	}
	return append(list, s)
}

// readingCache holds each character's toneless readings: go-pinyin works
// through regular expressions, too slow to run for every name of an import.
var readingCache sync.Map // rune -> []string

var pinyinArgs = pinyin.Args{Style: pinyin.Normal, Heteronym: true}

// readings are a Chinese character's pinyin readings without tones, the
// most common first (ü as v: 吕 lv).
func readings(r rune) []string {
	if rs, ok := readingCache.Load(r); ok {
		return rs.([]string)
	}
	rs := pinyin.SinglePinyin(r, pinyinArgs)
	readingCache.Store(r, rs)
	return rs
}
