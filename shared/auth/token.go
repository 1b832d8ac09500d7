// Package auth issues and checks staff bearer tokens and decides what a
// role may read.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Role is what a staff member does in the district.
type Role string

const (
	DistrictAdmin Role = "district_admin"
	GridWorker    Role = "grid_worker"
)

// ParseRole accepts the known roles only.
func ParseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case DistrictAdmin, GridWorker:
		return r, true
	}
	return "", false
}

// Principal is the verified caller.
type Principal struct {
	Subject string    `json:"sub"`
	Role    Role      `json:"role"`
	Grid    string    `json:"grid,omitempty"`
	Expires time.Time `json:"exp"`
}

// CanReadGrid says whether the caller may see the reports of grid.
func (p Principal) CanReadGrid(grid string) bool {
	switch p.Role {
	case DistrictAdmin:
		return true
	case GridWorker:
		return p.Grid != "" && p.Grid == grid
	}
	return false
}

// IsDistrictAdmin says whether the caller runs the district office.
func (p Principal) IsDistrictAdmin() bool { return p.Role == DistrictAdmin }

var (
	ErrMissing = errors.New("auth: no token")
	ErrInvalid = errors.New("auth: token invalid")
	ErrExpired = errors.New("auth: token expired")
)

var b64 = base64.RawURLEncoding

// Issuer signs and verifies tokens with one HMAC key: "<claims>.<mac>",
// both base64url. Tokens are for staff of one district; an HMAC is enough
// and needs no key server.
type Issuer struct{ key []byte }

// NewIssuer wants a key of at least 32 bytes.
func NewIssuer(key []byte) (Issuer, error) {
	if len(key) < 32 {
		return Issuer{}, fmt.Errorf("auth: token key must be at least 32 bytes")
	}
	return Issuer{key: append([]byte(nil), key...)}, nil
}

// Issue signs p. A grid worker's token must name the grid.
func (i Issuer) Issue(p Principal) (string, error) {
	if _, ok := ParseRole(string(p.Role)); !ok {
		return "", fmt.Errorf("auth: unknown role %q", p.Role)
	}
	if p.Role == GridWorker && p.Grid == "" {
		return "", errors.New("auth: a grid worker token needs a grid")
	}
	claims, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	body := b64.EncodeToString(claims)
	return body + "." + b64.EncodeToString(i.mac(body)), nil
}

func (i Issuer) mac(body string) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks the signature and expiry of a token.
func (i Issuer) Verify(token string, now time.Time) (Principal, error) {
	if token == "" {
		return Principal{}, ErrMissing
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Principal{}, ErrInvalid
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, i.mac(body)) {
		return Principal{}, ErrInvalid
	}
	claims, err := b64.DecodeString(body)
	if err != nil {
		return Principal{}, ErrInvalid
	}
	var p Principal
	if err := json.Unmarshal(claims, &p); err != nil {
		return Principal{}, ErrInvalid
	}
	if _, ok := ParseRole(string(p.Role)); !ok {
		return Principal{}, ErrInvalid
	}
	if !now.Before(p.Expires) {
		return Principal{}, ErrExpired
	}
	return p, nil
}

// FromHeader extracts the bearer token of an Authorization header value.
func FromHeader(h string) string {
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// ErrForbidden is a verified caller asking for what their role does not cover.
var ErrForbidden = errors.New("auth: forbidden")
