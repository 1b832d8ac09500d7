// Package pii protects personal data: keyed-hash lookups so records can be
// found by ID number or phone without storing either in the clear, and
// authenticated encryption for the values themselves.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// KeySize is the length of the pepper and the data key.
const KeySize = 32

// ErrSealed means a sealed value could not be opened: wrong key, wrong
// context or tampered bytes.
var ErrSealed = errors.New("pii: sealed value does not open")

// Vault computes lookups and seals values. It is safe for concurrent use.
type Vault struct {
	aead cipher.AEAD
	macs sync.Pool
}

// NewVault takes the lookup pepper and the AES-256 data key.
func NewVault(pepper, dataKey []byte) (*Vault, error) {
	if len(pepper) != KeySize || len(dataKey) != KeySize {
		return nil, fmt.Errorf("pii: pepper and data key must be %d bytes", KeySize)
	}
	block, err := aes.NewCipher(dataKey)
	if err != nil {
		return nil, fmt.Errorf("pii: data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("pii: gcm: %w", err)
	}
	p := append([]byte(nil), pepper...)
	v := &Vault{aead: aead}
	v.macs.New = func() any { return hmac.New(sha256.New, p) }
	return v, nil
}

var lookupEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Lookup returns the keyed hash of the parts, separated so that ("ab","c")
// and ("a","bc") differ. The purpose keeps hashes of different kinds apart.
// The result is 32 lower-case base32 characters (160 bits).
func (v *Vault) Lookup(purpose string, parts ...string) string {
	mac := v.macs.Get().(hash.Hash)
	defer v.macs.Put(mac)
	mac.Reset()
	mac.Write([]byte(purpose))
	for _, p := range parts {
		mac.Write([]byte{0})
		mac.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	s := lookupEncoding.EncodeToString(mac.Sum(sum[:0])[:20])
	return toLower(s)
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Seal encrypts plaintext bound to context (e.g. the record id), so a sealed
// value copied onto another record does not open there.
func (v *Vault) Seal(plaintext []byte, context string) ([]byte, error) {
	nonce := make([]byte, v.aead.NonceSize(), v.aead.NonceSize()+len(plaintext)+v.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("pii: nonce: %w", err)
	}
	return v.aead.Seal(nonce, nonce, plaintext, []byte(context)), nil
}

// Open reverses Seal.
func (v *Vault) Open(sealed []byte, context string) ([]byte, error) {
	n := v.aead.NonceSize()
	if len(sealed) < n+v.aead.Overhead() {
		return nil, ErrSealed
	}
	out, err := v.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return nil, ErrSealed
	}
	return out, nil
}

// SealJSON seals the JSON of x bound to context.
func (v *Vault) SealJSON(x any, context string) ([]byte, error) {
	plain, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return v.Seal(plain, context)
}

// OpenJSON reverses SealJSON.
func OpenJSON[T any](v *Vault, sealed []byte, context string) (T, error) {
	var x T
	plain, err := v.Open(sealed, context)
	if err != nil {
		return x, err
	}
	err = json.Unmarshal(plain, &x)
	return x, err
}
