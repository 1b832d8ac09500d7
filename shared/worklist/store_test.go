package worklist_test

import (
	"path/filepath"
	"testing"

	"gridcode/shared/store/embedded"
)

// openStore opens an embedded store of its own for a test: the real bbolt
// adapter, as the local server runs it.
func openStore(t testing.TB) stores {
	t.Helper()
	s, err := embedded.Open(filepath.Join(t.TempDir(), "gridcode.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
