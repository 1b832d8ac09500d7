package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestFromFileCreatesOnceThenReads(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	first, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	second, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Pepper, second.Pepper) || !bytes.Equal(first.DataKey, second.DataKey) || !bytes.Equal(first.TokenKey, second.TokenKey) {
		t.Fatal("second load returned other keys")
	}
	if bytes.Equal(first.Pepper, first.DataKey) {
		t.Fatal("keys are not independent")
	}
}

func TestParseRejectsShortKeys(t *testing.T) {
	t.Parallel()
	if _, err := Parse([]byte(`{"pepper":"AAAA","dataKey":"AAAA","tokenKey":"AAAA"}`)); err == nil {
		t.Fatal("short keys accepted")
	}
	if _, err := Parse([]byte(`not json`)); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestFromFileConcurrentFirstStartsAgree(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	const n = 8
	got := make(chan Keyset, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			k, err := FromFile(path)
			if err != nil {
				errs <- err
				return
			}
			got <- k
		}()
	}
	var first Keyset
	for i := range n {
		select {
		case err := <-errs:
			t.Fatal(err)
		case k := <-got:
			if i == 0 {
				first = k
			} else if !bytes.Equal(k.DataKey, first.DataKey) {
				t.Fatal("two first starts ended with different keys")
			}
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".keys-*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}
