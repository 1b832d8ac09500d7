package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzVerify checks the staff token: whatever the bearer sends, Verify
// answers with a known role and an unexpired time or one of its three
// errors; a token it issued verifies to the same principal; and a token
// changed in any byte is refused, so what a token says cannot be altered
// and a token has one spelling.
func FuzzVerify(f *testing.F) {
	iss, err := NewIssuer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2022, 12, 5, 1, 0, 0, 0, time.UTC)
	valid, err := iss.Issue(Principal{Subject: "w1", Role: GridWorker, Grids: []string{"440703001001-01"}, Expires: now.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{valid, valid + "A", "x" + valid, "", ".", "abc", "e30.", "e30.AAAA", "\xff.\xff"} {
		f.Add(s, "w1", "grid_worker", "440703001001-01", "", int64(3600), uint16(0), byte(1))
	}
	// The last character of the signature carries two bits the MAC does
	// not have: another character there must not verify.
	last := uint16(len(valid) - 1)
	for _, b := range []byte{valid[last] + 1, valid[last] + 2, '\n'} {
		f.Add("", "w1", "grid_worker", "440703001001-01", "", int64(3600), last, b)
	}
	f.Add("", "office", "district_admin", "", "", int64(60), uint16(70), byte('B'))
	f.Add("", "feed", "health_feed", "", "", int64(-1), uint16(3), byte(0))
	f.Add("", "店长", "group_admin", "", "g1", int64(86400), uint16(40), byte('.'))
	f.Fuzz(func(t *testing.T, token, sub, role, grid, group string, ttl int64, at uint16, b byte) {
		// Anything a client sends.
		p, err := iss.Verify(token, now)
		switch {
		case err == nil:
			if _, ok := ParseRole(string(p.Role)); !ok || !now.Before(p.Expires) {
				t.Fatalf("Verify(%q) = %+v", token, p)
			}
		case errors.Is(err, ErrMissing):
			if token != "" {
				t.Fatalf("Verify(%q) = ErrMissing", token)
			}
		case errors.Is(err, ErrInvalid), errors.Is(err, ErrExpired):
		default:
			t.Fatalf("Verify(%q) = %v", token, err)
		}
		// Accepted only as this issuer spells it: the body's own MAC, in
		// canonical base64 (older tokens, with a single grid claim, too).
		if body, sig, _ := strings.Cut(token, "."); err == nil && sig != b64.EncodeToString(iss.mac(body)) {
			t.Fatalf("Verify(%q) accepted a token this issuer did not sign", token)
		}

		// A token this issuer signs.
		want := Principal{Subject: sub, Role: Role(role), Grids: []string{grid}, Group: group, Expires: now.Add(time.Duration(ttl%(1<<40)) * time.Second)}
		tok, err := iss.Issue(want)
		if err != nil {
			return // an unknown role, or a worker without a grid, is not issued
		}
		got, err := iss.Verify(tok, now)
		if !now.Before(want.Expires) {
			if !errors.Is(err, ErrExpired) {
				t.Fatalf("expired token: Verify = %+v, %v", got, err)
			}
		} else if err != nil || !got.Expires.Equal(want.Expires) || got.Role != want.Role ||
			(utf8.ValidString(sub) && utf8.ValidString(grid) && utf8.ValidString(group) && (got.Subject != sub || got.FirstGrid() != grid || got.Group != group)) {
			t.Fatalf("Verify(Issue(%+v)) = %+v, %v", want, got, err)
		}
		i := int(at) % len(tok)
		if tok[i] == b {
			return
		}
		changed := tok[:i] + string(b) + tok[i+1:]
		if p, err := iss.Verify(changed, now); !errors.Is(err, ErrInvalid) {
			t.Fatalf("token %q changed at %d to %q: Verify = %+v, %v; want ErrInvalid", tok, i, b, p, err)
		}
	})
}
