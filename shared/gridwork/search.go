package gridwork

import (
	"context"
	"fmt"
	"slices"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/registry"
)

// Search scopes: how far a grid worker's registry search reaches.
const (
	ScopeCommunity = "community" // the communities of the worker's grid
	ScopeTown      = "town"      // every community of the grid's town
)

// Search is the registry search of grid workers and the district office.
type Search struct {
	Searcher *registry.Searcher
	Grids    Grids
	Audit    Auditor
	// Scope is ScopeCommunity or ScopeTown for grid workers; the district
	// office searches everywhere.
	Scope string
}

// SearchQuery is what the caller asked.
type SearchQuery struct {
	Name, Community, Address, PhoneLast4, IDLast4 string
	Limit                                         int
}

// Found is one search result as the caller sees it: the name and the
// address to find the person by, ID and phones masked.
type Found struct {
	PersonKey     string   `json:"personKey"`
	Name          string   `json:"name"`
	IDType        string   `json:"idType"`
	IDNumber      string   `json:"idNumber"`
	Phone         string   `json:"phone,omitempty"`
	Town          string   `json:"town"`
	Community     string   `json:"community"`
	Address       string   `json:"address"`
	GridCode      string   `json:"gridCode"`
	ResidentType  string   `json:"residentType"`
	Status        string   `json:"status"`
	LandlordPhone string   `json:"landlordPhone,omitempty"`
	Score         int      `json:"score"`
	Matched       []string `json:"matched"`
}

// Run searches within the caller's scope and audits every person shown.
func (s Search) Run(ctx context.Context, c Caller, q SearchQuery) ([]Found, error) {
	if err := requireGridWork(c); err != nil {
		return nil, err
	}
	dir, err := s.Grids.Grids(ctx)
	if err != nil {
		return nil, err
	}
	scope, err := s.scope(dir, c.Principal)
	if err != nil {
		return nil, err
	}
	if q.Community != "" {
		// People write 石冲 for 石冲社区: search the community the
		// directory knows by that name.
		code, ok := dir.ForCommunity(q.Community)
		if !ok {
			return nil, &fields.Error{Code: registry.CodeInvalidQuery, Problems: []fields.Problem{{Field: "community", Reason: "unknown"}}}
		}
		g, _ := dir.Lookup(code)
		q.Community = g.Community
		if scope != nil && !slices.Contains(scope, q.Community) {
			return nil, auth.ErrForbidden
		}
	}
	results, err := s.Searcher.Search(ctx, registry.Query{
		Name: q.Name, Community: q.Community, Address: q.Address, PhoneLast4: q.PhoneLast4, IDLast4: q.IDLast4,
		Communities: scope, Limit: q.Limit,
	})
	if err != nil {
		return nil, err
	}
	found := make([]Found, 0, len(results))
	keys := make([]string, 0, len(results))
	for _, r := range results {
		p, m := r.Person, r.Personal.Masked(r.Person.IDType)
		found = append(found, Found{
			PersonKey: p.Key, Name: m.Name, IDType: string(p.IDType), IDNumber: m.IDNumber, Phone: m.Phone,
			Town: p.Town, Community: p.Community, Address: m.Address, GridCode: p.GridCode,
			ResidentType: string(p.ResidentType), Status: p.Status, LandlordPhone: m.LandlordPhone,
			Score: r.Score, Matched: r.Matched,
		})
		keys = append(keys, p.Key)
	}
	if err := s.Audit.Record(ctx, c, "registry.search_result", keys...); err != nil {
		return nil, err
	}
	return found, nil
}

// scope is nil for the whole district, else the communities the caller may
// search.
func (s Search) scope(dir *grid.Directory, p auth.Principal) ([]string, error) {
	switch p.Role {
	case auth.DistrictAdmin:
		return nil, nil
	case auth.GridWorker:
	default:
		return nil, auth.ErrForbidden
	}
	// A worker of several grids searches the communities (or towns) of
	// each.
	var communities []string
	add := func(c string) {
		if !slices.Contains(communities, c) {
			communities = append(communities, c)
		}
	}
	for _, code := range p.Grids {
		own, ok := dir.Lookup(code)
		if !ok || code == grid.Unassigned {
			continue
		}
		if s.Scope != ScopeTown {
			add(own.Community)
			continue
		}
		for _, g := range dir.Grids() {
			if g.Town == own.Town {
				add(g.Community)
			}
		}
	}
	if len(communities) == 0 {
		return nil, auth.ErrForbidden
	}
	return communities, nil
}

// CheckScope refuses a search scope other than community or town.
func CheckScope(scope string) error {
	if scope != ScopeCommunity && scope != ScopeTown {
		return fmt.Errorf("search scope %q: want %s or %s", scope, ScopeCommunity, ScopeTown)
	}
	return nil
}
