package gen

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gridcode/infra/demo"
	"gridcode/infra/gen/synth"
	"gridcode/shared/grid"
)

// RegistryFile is the population registry as the district's CSV export.
const RegistryFile = "registry.csv"

// RegistryHeader is the registry file's header, in the words the district's
// export uses.
var RegistryHeader = []string{"姓名", "证件类型", "证件号码", "手机号", "镇街", "社区", "地址", "人员类型", "房东电话"}

// resident types, about 60% permanent, 25% floating, 15% from elsewhere;
// those who are not permanent rent, and the file gives their landlord.
func residentType(seed int64, i int) (kind string, rents bool) {
	switch n := recordRand(seed, streamResidents, i).IntN(100); {
	case n < 60:
		return "常住", false
	case n < 85:
		return "流动", true
	default:
		return "外来", true
	}
}

// RegistryRecord is registry person i as a row of RegistryFile.
func RegistryRecord(seed int64, i int, ids idSpace, grids []grid.Grid) []string {
	p := newPerson(seed, i, ids, grids)
	g := gridByCode(grids, p.GridCode)
	kind, rents := residentType(seed, i)
	landlord := ""
	if rents {
		landlord = synth.Mobile(recordRand(seed, streamResidents, i))
	}
	return []string{p.Name, "居民身份证", p.IDNumber, p.Phone, g.Town, g.Community, p.Address, kind, landlord}
}

func gridByCode(grids []grid.Grid, code string) grid.Grid {
	for _, g := range grids {
		if g.Code == code {
			return g
		}
	}
	return grid.Grid{}
}

// Registry writes people [from, to) of s as registry rows (no header).
type Registry struct {
	seed  int64
	ids   idSpace
	grids []grid.Grid
}

// NewRegistry prepares the registry rows of s.
func NewRegistry(s Spec) (*Registry, error) {
	grids, err := demo.Plan(s.Grids)
	if err != nil {
		return nil, err
	}
	return &Registry{seed: s.Seed, ids: newIDSpace(s.Seed, streamPeopleIDs), grids: grids}, nil
}

// Row is registry person i: rows beyond the spec's People are people the
// registry does not have (reconciliation lists use them).
func (r *Registry) Row(i int) []string { return RegistryRecord(r.seed, i, r.ids, r.grids) }

// WriteCSV writes the header and people [0, n) as UTF-8 with a BOM, CRLF,
// as Excel saves "CSV UTF-8".
func (r *Registry) WriteCSV(w io.Writer, n int) error {
	return r.WriteRowsCSV(w, n, r.Row)
}

// WriteRowsCSV writes the header and n rows made by row.
func (r *Registry) WriteRowsCSV(w io.Writer, n int, row func(i int) []string) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString("\uFEFF"); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(RegistryHeader); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := cw.Write(row(i)); err != nil {
			return fmt.Errorf("gen: registry row %d: %w", i, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func writeRegistry(dir string, s Spec) (fileStat, error) {
	st := fileStat{name: RegistryFile}
	reg, err := NewRegistry(s)
	if err != nil {
		return st, err
	}
	path := filepath.Join(dir, RegistryFile)
	f, err := os.Create(path)
	if err != nil {
		return st, fmt.Errorf("gen: %w", err)
	}
	if err := reg.WriteCSV(f, s.People); err != nil {
		f.Close()
		return st, err
	}
	if err := f.Close(); err != nil {
		return st, fmt.Errorf("gen: close %s: %w", RegistryFile, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return st, err
	}
	st.records, st.bytes = s.People, info.Size()
	return st, nil
}
