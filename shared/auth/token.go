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
	GroupAdmin    Role = "group_admin" // the one administrator of one group
	HealthFeed    Role = "health_feed" // the machine that imports the provincial health data
)

// ParseRole accepts the known roles only.
func ParseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case DistrictAdmin, GridWorker, GroupAdmin, HealthFeed:
		return r, true
	}
	return "", false
}

// Principal is the verified caller.
type Principal struct {
	Subject string    `json:"sub"`
	Role    Role      `json:"role"`
	Grid    string    `json:"grid,omitempty"`
	Group   string    `json:"group,omitempty"`
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

// CanManageGroup says whether the caller may change the roster of the
// group and read its lists: its own administrator, or the district office.
func (p Principal) CanManageGroup(groupID string) bool {
	switch p.Role {
	case DistrictAdmin:
		return true
	case GroupAdmin:
		return p.Group != "" && p.Group == groupID
	}
	return false
}

// CanReadGroup adds the grid worker of the group's grid to those who
// manage it: the worker follows up the group's abnormal members.
func (p Principal) CanReadGroup(groupID, gridCode string) bool {
	return p.CanManageGroup(groupID) || (p.Role == GridWorker && p.CanReadGrid(gridCode))
}

// CanFeedHealth says whether the caller may post health-status updates.
func (p Principal) CanFeedHealth() bool { return p.Role == HealthFeed || p.Role == DistrictAdmin }

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
	if p.Role == GroupAdmin && p.Group == "" {
		return "", errors.New("auth: a group admin token needs a group")
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
	// Compared as text: base64 decoding ignores line breaks and the unused
	// low bits of the last character, so comparing decoded bytes would take
	// other spellings of the same token.
	if !hmac.Equal([]byte(sig), []byte(b64.EncodeToString(i.mac(body)))) {
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
