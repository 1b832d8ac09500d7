package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gridcode/infra/demo"
	"gridcode/infra/gen"
	"gridcode/infra/gen/synth"
)

// DemoPeople is the size of the demo district's registry: enough for a
// grid worker to search, small enough to load in a second.
const DemoPeople = 5000

// DemoRegistryFile is the demo registry, written under the data dir and
// imported on first start like any registry file.
const DemoRegistryFile = "demo-registry.csv"

// BriefCase is the wrong-address case of the source article: two migrant
// workers said they lived at 长庚里96号 in 石冲社区; the registry has them
// at 新塘里96号, next door. A search by name at the address they gave must
// find them.
var BriefCase = [][]string{
	{"陈永健", "居民身份证", synth.ResidentID("450981", "19880314", 231), "13926081234", "环市街道", "石冲社区", "新塘里96号", "外来", "13702290011"},
	{"黄雅玲", "居民身份证", synth.ResidentID("452501", "19910627", 142), "13926085678", "环市街道", "石冲社区", "新塘里96号", "外来", "13702290011"},
}

// seedRegistry writes the demo registry and imports it.
func (s *System) seedRegistry(ctx context.Context, dataDir string) error {
	reg, err := gen.NewRegistry(gen.Spec{Seed: 1, Grids: demo.GridCount, People: DemoPeople})
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, DemoRegistryFile)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("demo registry: %w", err)
	}
	err = reg.WriteRowsCSV(f, DemoPeople+len(BriefCase), func(i int) []string {
		if i < DemoPeople {
			return reg.Row(i)
		}
		return BriefCase[i-DemoPeople]
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("demo registry: %w", err)
	}
	run, err := s.ImportRegistry(ctx, path, nil)
	if err != nil {
		return fmt.Errorf("demo registry: %w", err)
	}
	if run.Bad > 0 {
		return fmt.Errorf("demo registry: %d rows refused", run.Bad)
	}
	return nil
}
