// Package grid holds the district's grids: each grid has a code (printed on
// its own report QR code), belongs to one community and has grid workers.
package grid

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"gridcode/shared/pii"
)

// Unassigned is the district pool: reports that name no grid and no known
// community land here, where the district office sees them.
const Unassigned = "unassigned"

// Grid as stored. Worker contacts are personal data and stay sealed;
// the public listing shows only code and place.
type Grid struct {
	Code          string `json:"gridCode"`
	Name          string `json:"name"`
	Community     string `json:"community"`
	Town          string `json:"town"`
	WorkersSealed []byte `json:"workersSealed,omitempty"`
}

// Worker is a grid worker's contact.
type Worker struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// Directory answers routing questions about a set of grids.
type Directory struct {
	grids       []Grid
	byCode      map[string]int
	byCommunity map[string]string
	places      map[string][]*place // community key -> the communities it answers to
}

// NewDirectory indexes grids. A community with several grids routes to its
// lead grid, the lowest grid code, whose workers pass reports on. A name
// that two communities answer to (龙溪 for 龙溪社区 and 龙溪村, in two towns)
// routes nowhere: the district office sorts it out rather than the wrong
// town's workers.
func NewDirectory(grids []Grid) *Directory {
	d := &Directory{grids: append([]Grid(nil), grids...), byCode: make(map[string]int, len(grids)), byCommunity: map[string]string{}}
	sort.Slice(d.grids, func(i, j int) bool { return d.grids[i].Code < d.grids[j].Code })
	community := map[string]string{} // key -> the community it names
	for i, g := range d.grids {
		d.byCode[g.Code] = i
		for _, key := range communityKeys(g.Community) {
			switch named, seen := community[key]; {
			case !seen:
				community[key] = g.Community
				d.byCommunity[key] = g.Code
			case named != g.Community:
				delete(d.byCommunity, key)
			}
		}
	}
	d.indexPlaces()
	return d
}

// communityKeys are the names people type for a community: 石冲社区 is also
// written 石冲; 子绵村 also 子绵.
func communityKeys(name string) []string {
	n := normalizeCommunity(name)
	if n == "" {
		return nil
	}
	keys := []string{n}
	for _, suffix := range []string{"社区", "村", "居委会", "村委会"} {
		if short, ok := strings.CutSuffix(n, suffix); ok && short != "" {
			keys = append(keys, short)
		}
	}
	return keys
}

func normalizeCommunity(s string) string {
	return strings.Join(strings.Fields(norm.NFKC.String(s)), "")
}

// Grids lists every grid, sorted by code.
func (d *Directory) Grids() []Grid { return d.grids }

// Lookup finds a grid by code.
func (d *Directory) Lookup(code string) (Grid, bool) {
	i, ok := d.byCode[code]
	if !ok {
		return Grid{}, false
	}
	return d.grids[i], true
}

// ForCommunity returns the grid that takes reports naming a community.
func (d *Directory) ForCommunity(name string) (string, bool) {
	keys := communityKeys(name)
	for _, k := range keys {
		if code, ok := d.byCommunity[k]; ok {
			return code, true
		}
	}
	return "", false
}

// SealWorkers stores the grid's worker contacts, sealed to the grid.
func (g *Grid) SealWorkers(v *pii.Vault, workers []Worker) error {
	var err error
	if g.WorkersSealed, err = v.SealJSON(workers, workersContext(g.Code)); err != nil {
		return fmt.Errorf("seal workers of grid %s: %w", g.Code, err)
	}
	return nil
}

func workersContext(code string) string { return "grid:" + code }

// OpenWorkers reads the grid's sealed worker contacts.
func (g Grid) OpenWorkers(v *pii.Vault) ([]Worker, error) {
	if len(g.WorkersSealed) == 0 {
		return nil, nil
	}
	workers, err := pii.OpenJSON[[]Worker](v, g.WorkersSealed, workersContext(g.Code))
	if err != nil {
		return nil, fmt.Errorf("workers of grid %s: %w", g.Code, err)
	}
	return workers, nil
}

// place is a community with its town and grids, for ForPlace.
type place struct {
	community, town string
	codes           []string // sorted: codes[0] is the lead grid
}

// ForPlace returns the home grid of someone living at address in community
// (of town, when given): the community's one grid, or, for a community of
// several grids, one chosen by a stable hash of the address's street
// (SplitAddress), so that neighbours share a grid and a rerun places everyone
// where it did before. An address without a street goes to the lead grid.
// A community the directory does not know, a short name that two
// communities answer to and the town does not settle, or a town that is not
// the community's, give Unassigned and false: the district office places
// them rather than the wrong grid's workers.
func (d *Directory) ForPlace(town, community, address string) (string, bool) {
	p := d.place(town, community)
	if p == nil {
		return Unassigned, false
	}
	if len(p.codes) == 1 {
		return p.codes[0], true
	}
	street, _ := SplitAddress(p.community, address)
	if street == "" {
		return p.codes[0], true
	}
	h := fnv.New32a()
	h.Write([]byte(street))
	return p.codes[h.Sum32()%uint32(len(p.codes))], true
}

// place finds the one community a (town, community) pair names, or nil.
func (d *Directory) place(town, community string) *place {
	var found []*place
	for _, k := range communityKeys(community) {
		if found = d.places[k]; len(found) > 0 {
			break
		}
	}
	if town != "" {
		var inTown []*place
		for _, p := range found {
			if p.town == "" || sameTown(p.town, town) {
				inTown = append(inTown, p)
			}
		}
		found = inTown
	}
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

// indexPlaces groups the grids by community and town, under every name
// people type for the community.
func (d *Directory) indexPlaces() {
	d.places = map[string][]*place{}
	byName := map[[2]string]*place{}
	for _, g := range d.grids { // sorted by code
		id := [2]string{normalizeCommunity(g.Community), normalizeCommunity(g.Town)}
		p := byName[id]
		if p == nil {
			p = &place{community: g.Community, town: g.Town}
			byName[id] = p
			for _, k := range communityKeys(g.Community) {
				d.places[k] = append(d.places[k], p)
			}
		}
		p.codes = append(p.codes, g.Code)
	}
}

// sameTown compares town names with or without 街道, 镇 and the like
// (环市街道, 环市街, 环市).
func sameTown(a, b string) bool {
	short := func(s string) string {
		s = normalizeCommunity(s)
		for _, suffix := range []string{"街道办事处", "办事处", "街道", "镇", "街"} {
			if t, ok := strings.CutSuffix(s, suffix); ok && t != "" {
				return t
			}
		}
		return s
	}
	return short(a) == short(b)
}

// adminSuffixes end the names of the places above a street in a written
// address (广东省江门市蓬江区环市街道石冲社区新塘里96号).
var adminSuffixes = []string{"省", "市", "区", "县", "街道", "镇", "社区", "居委会", "村委会", "村"}

// SplitAddress splits an address into its street and house number:
// 新塘里96号 gives 新塘里 and 96. Full-width digits count as digits; the
// number is the first one followed by 号, else the first number at all
// (长庚里96-2, 华园小区3座501), without leading zeros and without what
// follows it (96号之一 is 96). The street is the text before the number
// after the last place name above it (a province, city, district, town or
// community, also the community given, written short), when at least two
// characters are left: 江门市蓬江区石冲社区新塘里96号 and 石冲新塘里96号 both
// give 新塘里. Both are "" when absent.
func SplitAddress(community, address string) (street, number string) {
	s := normalizeCommunity(address)
	start, end := houseNumber(s)
	if start < 0 {
		start = len(s)
	} else {
		number = strings.TrimLeft(s[start:end], "0")
		if number == "" {
			number = "0"
		}
	}
	street = s[:start]
	for _, k := range communityKeys(community) {
		if i := strings.LastIndex(street, k); i >= 0 && isStreet(street[i+len(k):]) {
			street = street[i+len(k):]
			for _, office := range []string{"居委会", "村委会"} { // 石冲社区居委会
				if rest, ok := strings.CutPrefix(street, office); ok && isStreet(rest) {
					street = rest
				}
			}
			break
		}
	}
	// The text after the last place-name suffix that leaves a street.
	cut := 0
	for _, suffix := range adminSuffixes {
		for i := 0; ; {
			j := strings.Index(street[i:], suffix)
			if j < 0 {
				break
			}
			at, after := i+j, i+j+len(suffix)
			if at > 0 && after > cut && isStreet(street[after:]) && !notAdminArea(street[:at], suffix) {
				cut = after
			}
			i = after
		}
	}
	return street[cut:], number
}

// isStreet says what is left after a place name can be a street: two
// characters at least, so that 石冲路 in 石冲社区 or 新村路 stays whole
// rather than becoming 路.
func isStreet(s string) bool { return utf8.RuneCountInString(s) >= 2 }

// notAdminArea tells the 区 of a housing estate (小区), a park (园区) or a
// campus (校区) from a district's.
func notAdminArea(before, suffix string) bool {
	if suffix != "区" {
		return false
	}
	for _, estate := range []string{"小", "园", "校", "社"} {
		if strings.HasSuffix(before, estate) {
			return true
		}
	}
	return false
}

// houseNumber finds the house number in a normalised address: the first
// digit run followed by 号, else the first digit run; -1 when none.
func houseNumber(s string) (start, end int) {
	first := [2]int{-1, -1}
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if strings.HasPrefix(s[j:], "号") {
			return i, j
		}
		if first[0] < 0 {
			first = [2]int{i, j}
		}
		i = j
	}
	return first[0], first[1]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
