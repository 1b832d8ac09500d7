// Package demo is the demo district loaded on the first `make run`:
// Pengjiang's real towns and communities cut into 410 grids with synthetic
// grid workers, and a sample risk-area list.
package demo

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"

	"gridcode/infra/gen/synth"
	"gridcode/shared/dates"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
	"gridcode/shared/risk"
)

//go:embed data/pengjiang_communities.csv
var communitiesCSV []byte

// GridCount is the number of grids of the district (the source article's 410).
const GridCount = 410

// layoutSeed fixes the demo layout and workers; changing it renames grids.
const layoutSeed = 20221206

// Community is one community (社区) or village (村) of the district.
type Community struct {
	TownCode string
	Town     string
	Code     string // 12-digit NBS code, e.g. 440703006107
	Name     string // e.g. 石冲社区
}

// Communities returns the district's communities in code order.
// CommunityNames are the names of Communities, in their order: where
// generated reports say their arrivals stay.
func CommunityNames() ([]string, error) {
	cs, err := Communities()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return names, nil
}

func Communities() ([]Community, error) {
	cr := csv.NewReader(bytes.NewReader(communitiesCSV))
	cr.FieldsPerRecord = 4
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("demo communities: header: %w", err)
	}
	if header[0] != "townCode" || header[1] != "town" || header[2] != "communityCode" || header[3] != "community" {
		return nil, fmt.Errorf("demo communities: unexpected header %q", header)
	}
	var out []Community
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("demo communities: %w", err)
		}
		out = append(out, Community{TownCode: rec[0], Town: rec[1], Code: rec[2], Name: rec[3]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("demo communities: empty table")
	}
	return out, nil
}

// Plan cuts the district into n grids, without workers, sorted by code.
// When n is at least the number of communities, every community gets
// n/communities grids or up to two more (410 gives 2–4 each); below that,
// n communities get one grid each. The same n always gives the same grids.
func Plan(n int) ([]grid.Grid, error) {
	if n < 1 {
		return nil, fmt.Errorf("demo plan: %d grids, need at least 1", n)
	}
	cs, err := Communities()
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(layoutSeed, uint64(n)))
	counts := make([]int, len(cs))
	if n < len(cs) {
		for _, i := range r.Perm(len(cs))[:n] {
			counts[i] = 1
		}
	} else {
		base := n / len(cs)
		for i := range counts {
			counts[i] = base
		}
		// The remainder is below len(cs) and the cap leaves room for
		// 2*len(cs) more, so this ends.
		for extra := n % len(cs); extra > 0; {
			i := r.IntN(len(cs))
			if counts[i] < base+2 {
				counts[i]++
				extra--
			}
		}
	}
	grids := make([]grid.Grid, 0, n)
	for i, c := range cs {
		for k := 1; k <= counts[i]; k++ {
			grids = append(grids, grid.Grid{
				Code:      fmt.Sprintf("%s-%02d", c.Code, k),
				Name:      fmt.Sprintf("%s第%d网格", c.Name, k),
				Community: c.Name,
				Town:      c.Town,
			})
		}
	}
	return grids, nil
}

// Grids returns the demo district's 410 grids, each with one to three
// synthetic grid workers sealed to the grid code. Workers are the same on
// every call; only the sealing nonces differ.
func Grids(v *pii.Vault) ([]grid.Grid, error) {
	grids, err := Plan(GridCount)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(layoutSeed, 0))
	for i := range grids {
		ws := make([]grid.Worker, 1+r.IntN(3))
		for j := range ws {
			ws[j] = grid.Worker{Name: synth.Name(r), Phone: synth.Mobile(r)}
		}
		if err := grids[i].SealWorkers(v, ws); err != nil {
			return nil, err
		}
	}
	return grids, nil
}

// RiskAreas is a sample list as of today (a district date): high and low
// areas in Guangzhou, Shenzhen, Beijing, Shanghai, Chongqing and Chengdu that
// came in over the last week, most still in force, two closed (one of them
// before today, so it no longer counts for new travel). An invalid today
// gives nil.
func RiskAreas(today string) []risk.Area {
	if _, ok := dates.Parse(today); !ok {
		return nil
	}
	d := func(n int) string { return dates.AddDays(today, n) }
	return []risk.Area{
		{AreaCode: "440106", Level: risk.High, From: d(-5)},            // 广州 天河区
		{AreaCode: "440111", Level: risk.High, From: d(-6)},            // 广州 白云区
		{AreaCode: "440105", Level: risk.Low, From: d(-4)},             // 广州 海珠区
		{AreaCode: "440305", Level: risk.Low, From: d(-3), To: d(2)},   // 深圳 南山区
		{AreaCode: "110105", Level: risk.High, From: d(-3)},            // 北京 朝阳区
		{AreaCode: "110108", Level: risk.Low, From: d(-2)},             // 北京 海淀区
		{AreaCode: "310115", Level: risk.Low, From: d(-10), To: d(-3)}, // 上海 浦东新区, expired
		{AreaCode: "500105", Level: risk.High, From: d(-4)},            // 重庆 江北区
		{AreaCode: "500112", Level: risk.Low, From: d(-2)},             // 重庆 渝北区
		{AreaCode: "510107", Level: risk.Low, From: d(-1)},             // 成都 武侯区
	}
}
