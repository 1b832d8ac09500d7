package gen

import (
	"math/rand/v2"
	"strings"
	"unicode"

	"github.com/mozillazg/go-pinyin"

	"gridcode/shared/grid"
	"gridcode/shared/registry"
)

// Search kinds: how a grid worker at a door asks the registry for the
// person in front of them. All but the phone's are by name.
const (
	// SearchName is the name in characters, in the person's community.
	SearchName = "name"
	// SearchPinyin is the name in toneless pinyin with spaces (zhang san),
	// in the community.
	SearchPinyin = "pinyin"
	// SearchInitials is the pinyin's initials (zs), in the community.
	SearchInitials = "initials"
	// SearchNearAddress is the name with the house number on the next
	// street of the community: 长庚里96号 said, 新塘里96号 registered.
	SearchNearAddress = "near_address"
	// SearchPhone4 is the last four digits of the phone, in the community.
	SearchPhone4 = "phone_last4"
)

// SearchKinds are the kinds in the order Searches takes them in turn.
var SearchKinds = []string{SearchName, SearchPinyin, SearchInitials, SearchNearAddress, SearchPhone4}

// Search is a registry search for registry person Person (a row of
// Registry.Row), as Kind asks it.
type Search struct {
	Kind   string
	Person int
	Query  registry.Query
}

// Searches are n searches for people of [0, people), drawn with seed, the
// kinds of SearchKinds taking turns. A name that has a character without a
// pinyin reading (synth.Rare) cannot be typed in letters: its pinyin and
// initials searches look for someone else.
func (r *Registry) Searches(seed uint64, n, people int) []Search {
	rnd := rand.New(rand.NewPCG(seed, uint64(people)))
	out := make([]Search, 0, n)
	for len(out) < n {
		kind := SearchKinds[len(out)%len(SearchKinds)]
		i := rnd.IntN(people)
		row := r.Row(i)
		name, phone, community, address := row[0], row[3], row[5], row[6]
		q := registry.Query{Community: community, Communities: []string{community}}
		switch kind {
		case SearchName:
			q.Name = name
		case SearchPinyin, SearchInitials:
			full, initials, ok := spell(name)
			if !ok {
				continue
			}
			q.Name = full
			if kind == SearchInitials {
				q.Name = initials
			}
		case SearchNearAddress:
			q.Name, q.Address = name, nearMiss(community, address)
		case SearchPhone4:
			q.Community, q.PhoneLast4 = "", phone[len(phone)-4:]
		}
		out = append(out, Search{Kind: kind, Person: i, Query: q})
	}
	return out
}

var pinyinArgs = pinyin.Args{Style: pinyin.Normal, Heteronym: true}

// spell is a name's pinyin with spaces between its syllables, each
// character read in its most common reading (the registry's first
// spelling), and its initials; false when a character has no reading.
func spell(name string) (full, initials string, ok bool) {
	var syllables []string
	var firsts strings.Builder
	for _, c := range name {
		if !unicode.Is(unicode.Han, c) {
			continue
		}
		readings := pinyin.SinglePinyin(c, pinyinArgs)
		if len(readings) == 0 {
			return "", "", false
		}
		syllables = append(syllables, readings[0])
		firsts.WriteByte(readings[0][0])
	}
	return strings.Join(syllables, " "), firsts.String(), len(syllables) > 0
}

// nearMiss is address's house number on another lane of the community.
func nearMiss(community, address string) string {
	street, number := grid.SplitAddress(community, address)
	other := "长庚里"
	if strings.HasPrefix(street, "长庚") {
		other = "新塘里"
	}
	return other + number + "号"
}
