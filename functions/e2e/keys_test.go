package e2e_test

import (
	"path/filepath"
	"testing"

	"gridcode/shared/pii"
	"gridcode/shared/secrets"
)

// testKeys writes a fresh keyset where the functions read it (KEYS_FILE)
// and opens the same keys for the test.
func testKeys(t *testing.T) (file string, keys secrets.Keyset, vault *pii.Vault) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "keys.json")
	keys, err := secrets.FromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if vault, err = keys.Vault(); err != nil {
		t.Fatal(err)
	}
	return file, keys, vault
}
