package pii

import (
	"bytes"
	"errors"
	"testing"
)

func testVault(t *testing.T, fill byte) *Vault {
	t.Helper()
	v, err := NewVault(bytes.Repeat([]byte{fill}, KeySize), bytes.Repeat([]byte{fill + 1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLookupIsKeyedAndSeparated(t *testing.T) {
	t.Parallel()
	a, b := testVault(t, 1), testVault(t, 7)
	if again := testVault(t, 1); a.Lookup("id", "x") != again.Lookup("id", "x") {
		t.Fatal("lookup not deterministic across vaults with the same pepper")
	}
	if a.Lookup("id", "x") == b.Lookup("id", "x") {
		t.Fatal("lookup does not depend on the pepper")
	}
	if a.Lookup("id", "ab", "c") == a.Lookup("id", "a", "bc") {
		t.Fatal("parts are not separated")
	}
	if a.Lookup("id", "x") == a.Lookup("phone", "x") {
		t.Fatal("purpose is not part of the hash")
	}
	if got := len(a.Lookup("id", "x")); got != 32 {
		t.Fatalf("lookup length %d, want 32", got)
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	v := testVault(t, 3)
	msg := []byte(`{"name":"𠮷田"}`)
	sealed, err := v.Seal(msg, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("name")) {
		t.Fatal("sealed bytes contain the plaintext")
	}
	got, err := v.Open(sealed, "r1")
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := v.Open(sealed, "r2"); !errors.Is(err, ErrSealed) {
		t.Fatalf("open with another context: %v, want ErrSealed", err)
	}
	if _, err := testVault(t, 9).Open(sealed, "r1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("open with another key: %v, want ErrSealed", err)
	}
	if _, err := v.Open(sealed[:5], "r1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("open truncated: %v, want ErrSealed", err)
	}
}

func TestSealJSONIsBoundToItsContext(t *testing.T) {
	t.Parallel()
	v := testVault(t, 3)
	type person struct{ Name string }
	sealed, err := v.SealJSON(person{Name: "𠮷田"}, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenJSON[person](v, sealed, "r1"); err != nil || got.Name != "𠮷田" {
		t.Fatalf("OpenJSON = %+v, %v", got, err)
	}
	if _, err := OpenJSON[person](v, sealed, "r2"); err == nil {
		t.Fatal("sealed JSON opened under another context")
	}
}
