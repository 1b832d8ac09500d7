package gen

import (
	"fmt"

	"gridcode/infra/demo"
	"gridcode/shared/grid"
)

// Source gives the registry people and groups of a spec in memory, one
// record at a time, for loading a store directly (the benchmarks) rather
// than through the JSONL files. It gives what Write writes for the same
// spec.
type Source struct {
	spec  Spec
	grids []grid.Grid
	ids   idSpace
}

// NewSource checks s and prepares its grids.
func NewSource(s Spec) (*Source, error) {
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("gen spec: %w", err)
	}
	grids, err := demo.Plan(s.Grids)
	if err != nil {
		return nil, err
	}
	return &Source{spec: s, grids: grids, ids: newIDSpace(s.Seed, streamPeopleIDs)}, nil
}

// Person is registry person i (0 <= i < People), as line i+1 of
// people.jsonl.
func (e *Source) Person(i int) Person { return newPerson(e.spec.Seed, i, e.ids, e.grids) }

// PersonID is registry person i's ID number alone, cheaper than Person.
func (e *Source) PersonID(i int) string { return personID(e.spec.Seed, i, e.ids) }

// Group is group i (0 <= i < Groups), as line i+1 of groups.jsonl, and
// the registry indexes of its members, in the order of its Members.
func (e *Source) Group(i int) (Group, []int) {
	g, people := newGroupPeople(e.spec, i, e.grids)
	g.Members = make([]string, len(people))
	for k, j := range people {
		g.Members[k] = e.PersonID(j)
	}
	return g, people
}

// Groups calls fn with every group of the spec in order, with its members
// as registry people, and stops at fn's first error.
func (e *Source) Groups(fn func(g Group, members []Person) error) error {
	for i := 0; i < e.spec.Groups; i++ {
		g, people := newGroupPeople(e.spec, i, e.grids)
		members := make([]Person, len(people))
		g.Members = make([]string, len(people))
		for k, j := range people {
			members[k] = e.Person(j)
			g.Members[k] = members[k].IDNumber
		}
		if err := fn(g, members); err != nil {
			return err
		}
	}
	return nil
}
