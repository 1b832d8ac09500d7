// Package grid holds the district's grids: each grid has a code (printed on
// its own report QR code), belongs to one community and has grid workers.
package grid

import (
	"fmt"
	"sort"
	"strings"

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
