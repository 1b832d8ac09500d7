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
	"slices"
	"strconv"
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

// Principal is the verified caller. A grid worker may work one grid or
// several (a worker covering a neighbour's grid, a community's supervisor).
type Principal struct {
	Subject string    `json:"sub"`
	Role    Role      `json:"role"`
	Grids   []string  `json:"grids,omitempty"`
	Group   string    `json:"group,omitempty"`
	Expires time.Time `json:"exp"`
}

// UnmarshalJSON also reads the single "grid" claim of the tokens issued
// before a worker could have several grids.
func (p *Principal) UnmarshalJSON(b []byte) error {
	type plain Principal
	var v struct {
		plain
		Grid string `json:"grid"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Principal(v.plain)
	if v.Grid != "" && !slices.Contains(p.Grids, v.Grid) {
		p.Grids = append([]string{v.Grid}, p.Grids...)
	}
	return nil
}

// FirstGrid is the caller's first grid, or "" for none.
func (p Principal) FirstGrid() string {
	if len(p.Grids) == 0 {
		return ""
	}
	return p.Grids[0]
}

// ParseGrids splits a comma list of grid codes, dropping blanks and
// repeats.
func ParseGrids(list ...string) []string {
	var out []string
	for _, s := range list {
		for _, g := range strings.Split(s, ",") {
			if g = strings.TrimSpace(g); g != "" && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// CanReadGrid says whether the caller may see the reports of grid.
func (p Principal) CanReadGrid(grid string) bool {
	switch p.Role {
	case DistrictAdmin:
		return true
	case GridWorker:
		return grid != "" && slices.Contains(p.Grids, grid)
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

// complete says whether p names what its role needs: a grid worker a
// grid, a group admin a group.
func (p Principal) complete() error {
	if p.Role == GridWorker && len(ParseGrids(p.Grids...)) != len(p.Grids) {
		return errors.New("auth: a blank, repeated or comma-holding grid")
	}
	if p.Role == GridWorker && len(p.Grids) == 0 {
		return errors.New("auth: a grid worker token needs a grid")
	}
	if p.Role == GroupAdmin && p.Group == "" {
		return errors.New("auth: a group admin token needs a group")
	}
	return nil
}

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

// Issue signs p. A grid worker's token must name a grid.
func (i Issuer) Issue(p Principal) (string, error) {
	if _, ok := ParseRole(string(p.Role)); !ok {
		return "", fmt.Errorf("auth: unknown role %q", p.Role)
	}
	if err := p.complete(); err != nil {
		return "", err
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

// FromClaims builds the caller from the claims of a JWT that API Gateway's
// authorizer already verified (signature, issuer, audience, expiry): a
// Cognito ID token's "sub", "exp" (seconds since 1970, as API Gateway
// passes them: text) and the user's custom attributes "custom:role",
// "custom:grids" (a comma list) and "custom:group". A token with no
// claims is ErrMissing; one whose user has no role, an unknown one, or a
// role without its grid or group is ErrForbidden: the user signed in, but
// the district gave them nothing to do.
func FromClaims(claims map[string]string, now time.Time) (Principal, error) {
	if len(claims) == 0 {
		return Principal{}, ErrMissing
	}
	sub := claims["sub"]
	exp, err := strconv.ParseInt(claims["exp"], 10, 64)
	if sub == "" || err != nil {
		return Principal{}, ErrInvalid
	}
	p := Principal{Subject: sub, Expires: time.Unix(exp, 0).UTC(), Group: strings.TrimSpace(claims["custom:group"])}
	if !now.Before(p.Expires) {
		return Principal{}, ErrExpired
	}
	role, ok := ParseRole(strings.TrimSpace(claims["custom:role"]))
	if !ok {
		return Principal{}, ErrForbidden
	}
	p.Role = role
	if role == GridWorker {
		p.Grids = ParseGrids(claims["custom:grids"])
	}
	if p.complete() != nil {
		return Principal{}, ErrForbidden
	}
	return p, nil
}
