package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"gridcode/infra/gen/synth"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/report"
)

// DemoGroup is one demo group, before its roster (version 1) is stored,
// with its members' health.
type DemoGroup struct {
	Group   group.Group
	Members []group.Member
	Health  []health.Record
}

// demoGroups are places in 石冲社区's first grid, where the demo's reports
// also go, so one grid worker sees them all.
var demoGroups = []struct {
	name, kind, address string
	size                int
}{
	{"惠民超市", "supermarket", "石冲社区新塘里1号", 12},
	{"江华小学", "school", "石冲社区长庚里20号", 40},
	{"五邑KTV", "ktv", "石冲社区新塘里8号", 6},
}

// DemoGroupGrid is the grid of the demo groups.
const DemoGroupGrid = "440703006107-01"

// Groups returns the demo groups as of now: rosters of synthetic people
// and a health mix a district sees on a normal morning (most green with a
// recent test, a few overdue for a test, one yellow, one red, one with no
// data). The same people on every call; only the sealing nonces differ.
func Groups(v *pii.Vault, now time.Time) ([]DemoGroup, error) {
	r := rand.New(rand.NewPCG(layoutSeed, 7))
	var out []DemoGroup
	seq := 0
	for gi, dg := range demoGroups {
		g := group.Group{
			ID: group.ID(v, dg.name, dg.address), Name: dg.name, Kind: group.Kind(dg.kind), Address: dg.address,
			GridCode: DemoGroupGrid, CreatedAt: now.UTC(),
		}
		admin := group.Admin{Name: synth.Name(r), Phone: synth.Mobile(r)}
		g.AdminLookup = report.PhoneLookup(v, admin.Phone)
		if err := g.SealAdmin(v, admin); err != nil {
			return nil, err
		}
		d := DemoGroup{Group: g}
		for i := 0; i < dg.size; i++ {
			seq++
			birth := fmt.Sprintf("%04d%02d%02d", 1960+r.IntN(45), 1+r.IntN(12), 1+r.IntN(28))
			id := synth.ResidentID("440703", birth, seq)
			m := group.Member{
				GroupID: g.ID, PersonKey: report.PersonLookup(v, idcard.ResidentID, id), Version: 1,
				Status: group.Active, IDType: idcard.ResidentID, JoinedAt: now.UTC(),
			}
			if err := m.SealPersonal(v, group.Personal{Name: synth.Name(r), IDNumber: id, Phone: synth.Mobile(r)}); err != nil {
				return nil, err
			}
			d.Members = append(d.Members, m)
			s, ok := demoStatus(gi, i, r, now)
			if !ok {
				continue
			}
			rec, err := health.Seal(v, m.PersonKey, s)
			if err != nil {
				return nil, err
			}
			d.Health = append(d.Health, rec)
		}
		out = append(out, d)
	}
	return out, nil
}

// demoStatus is member i of group gi's status, or none.
func demoStatus(gi, i int, r *rand.Rand, now time.Time) (health.Status, bool) {
	natAt := now.Add(-time.Duration(6+r.IntN(60)) * time.Hour)
	s := health.Status{CodeColor: health.Green, NATAt: &natAt, NATResult: health.Negative, VaccineDoses: 2 + r.IntN(2), UpdatedAt: now.Add(-time.Hour)}
	switch {
	case gi == 0 && i == 0:
		s.CodeColor = health.Red
	case gi == 0 && i == 1:
		s.CodeColor = health.Yellow
	case gi == 0 && i == 2:
		return health.Status{}, false
	case i%9 == 4:
		stale := now.Add(-time.Duration(80+r.IntN(40)) * time.Hour)
		s.NATAt = &stale
	}
	return s, true
}
