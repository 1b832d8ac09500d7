package embedded

import (
	"path/filepath"
	"testing"

	"gridcode/shared/store/storetest"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "gridcode.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTemp(t) })
}

func TestLedgerContract(t *testing.T) {
	storetest.RunLedger(t, func(t *testing.T) storetest.LedgerStore { return openTemp(t) })
}
