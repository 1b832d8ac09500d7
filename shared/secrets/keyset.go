// Package secrets loads the keys that protect personal data and sign staff
// tokens: from a local key file (created on first run) or from an SSM
// SecureString parameter in the cloud.
package secrets

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"gridcode/shared/pii"
)

// Keyset holds the three independent secrets. Keeping them apart means a
// leaked token key cannot decrypt data and a leaked data key cannot forge
// lookups.
type Keyset struct {
	Pepper   []byte `json:"pepper"`
	DataKey  []byte `json:"dataKey"`
	TokenKey []byte `json:"tokenKey"`
}

// Validate checks every key has the right size.
func (k Keyset) Validate() error {
	for _, key := range []struct {
		name string
		b    []byte
	}{{"pepper", k.Pepper}, {"dataKey", k.DataKey}, {"tokenKey", k.TokenKey}} {
		if len(key.b) != pii.KeySize {
			return fmt.Errorf("secrets: %s must be %d bytes, is %d", key.name, pii.KeySize, len(key.b))
		}
	}
	return nil
}

// Vault builds the personal-data vault from the keyset.
func (k Keyset) Vault() (*pii.Vault, error) { return pii.NewVault(k.Pepper, k.DataKey) }

// Generate makes a fresh random keyset.
func Generate() (Keyset, error) {
	k := Keyset{Pepper: make([]byte, pii.KeySize), DataKey: make([]byte, pii.KeySize), TokenKey: make([]byte, pii.KeySize)}
	for _, b := range [][]byte{k.Pepper, k.DataKey, k.TokenKey} {
		if _, err := rand.Read(b); err != nil {
			return Keyset{}, fmt.Errorf("secrets: random: %w", err)
		}
	}
	return k, nil
}

// Parse reads a keyset from its JSON form (keys base64-encoded).
func Parse(data []byte) (Keyset, error) {
	var k Keyset
	if err := json.Unmarshal(data, &k); err != nil {
		return Keyset{}, fmt.Errorf("secrets: parse keyset: %w", err)
	}
	return k, k.Validate()
}

// FromFile reads the keyset at path, creating it (mode 0600) when it does
// not exist yet, so the first `make run` needs no setup.
func FromFile(path string) (Keyset, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return Parse(data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Keyset{}, fmt.Errorf("secrets: read %s: %w", path, err)
	}
	k, err := Generate()
	if err != nil {
		return Keyset{}, err
	}
	data, err = json.Marshal(k)
	if err != nil {
		return Keyset{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Keyset{}, fmt.Errorf("secrets: %w", err)
	}
	// Written whole to a temporary file, then linked into place: link fails
	// if another process got there first, and nobody reads a half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return Keyset{}, fmt.Errorf("secrets: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return Keyset{}, fmt.Errorf("secrets: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Keyset{}, fmt.Errorf("secrets: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return Keyset{}, fmt.Errorf("secrets: close %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return FromFile(path)
	} else if err != nil {
		return Keyset{}, fmt.Errorf("secrets: create %s: %w", path, err)
	}
	return k, nil
}

// ParameterReader is the one SSM call the cloud path needs.
type ParameterReader interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// FromParameter reads the keyset JSON from an SSM SecureString parameter.
func FromParameter(ctx context.Context, client ParameterReader, name string) (Keyset, error) {
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return Keyset{}, fmt.Errorf("secrets: get parameter %s: %w", name, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return Keyset{}, fmt.Errorf("secrets: parameter %s has no value", name)
	}
	return Parse([]byte(*out.Parameter.Value))
}
