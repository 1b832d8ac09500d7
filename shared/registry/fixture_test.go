package registry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/store/embedded"
)

var (
	_ registry.Store       = (*embedded.Store)(nil)
	_ registry.ImportStore = (*embedded.Store)(nil)
)

// now is the tests' fixed clock: 2022-12-05 10:00 in the district.
var now = time.Date(2022, 12, 5, 2, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return now }

func testVault(t testing.TB) *pii.Vault {
	t.Helper()
	v, err := pii.NewVault(bytes.Repeat([]byte{1}, pii.KeySize), bytes.Repeat([]byte{2}, pii.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testGrids: 石冲社区 has three grids, 子绵村 one.
func testGrids() *grid.Directory {
	return grid.NewDirectory([]grid.Grid{
		{Code: "440703006107-01", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703006107-02", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703006107-03", Community: "石冲社区", Town: "环市街道"},
		{Code: "440703103206-01", Community: "子绵村", Town: "杜阮镇"},
	})
}

func openStore(t testing.TB) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir() + "/s.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// residentID is a valid resident ID of someone born 1980-01-01 in
// Pengjiang, numbered seq.
func residentID(seq int) string {
	first17 := fmt.Sprintf("44070319800101%03d", seq%1000)
	return first17 + string(idcard.CheckDigit(first17))
}

// bytesSource is a registry.Source over a file in memory.
type bytesSource struct{ data []byte }

func (s bytesSource) Open(_ context.Context, offset int64) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s.data[offset:])), nil
}

func (s bytesSource) Size(context.Context) (int64, error) { return int64(len(s.data)), nil }

func gb18030(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entry(name string, seq int, community, address string) registry.Entry {
	return registry.Entry{
		Personal:     registry.Personal{Name: name, IDNumber: residentID(seq), Address: address},
		IDType:       idcard.ResidentID,
		Community:    community,
		ResidentType: registry.Permanent,
	}
}
