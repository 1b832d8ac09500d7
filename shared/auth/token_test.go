package auth

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestIssueVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2022, 12, 5, 9, 0, 0, 0, time.UTC)
	iss, err := NewIssuer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewIssuer(bytes.Repeat([]byte{2}, 32))
	tok, err := iss.Issue(Principal{Subject: "w1", Role: GridWorker, Grids: []string{"g1"}, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := iss.Verify(tok, now)
	if err != nil || p.FirstGrid() != "g1" || p.Role != GridWorker {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	cases := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"empty", "", now, ErrMissing},
		{"other key", func() string { s, _ := other.Issue(p); return s }(), now, ErrInvalid},
		{"no dot", "abc", now, ErrInvalid},
		{"tampered", "x" + tok, now, ErrInvalid},
		{"expired", tok, now.Add(time.Hour), ErrExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := iss.Verify(c.token, c.at); !errors.Is(err, c.want) {
				t.Fatalf("Verify err = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := iss.Issue(Principal{Role: GridWorker}); err == nil {
		t.Fatal("grid worker token without grid issued")
	}
	if _, err := iss.Issue(Principal{Role: "mayor"}); err == nil {
		t.Fatal("unknown role issued")
	}
}

func TestScope(t *testing.T) {
	t.Parallel()
	w := Principal{Role: GridWorker, Grids: []string{"g1"}}
	if !w.CanReadGrid("g1") || w.CanReadGrid("g2") {
		t.Fatal("grid worker scope wrong")
	}
	if !(Principal{Role: DistrictAdmin}).CanReadGrid("g2") {
		t.Fatal("district admin cannot read a grid")
	}
	if FromHeader("Bearer abc") != "abc" || FromHeader("Basic abc") != "" || FromHeader("bearer  abc ") != "abc" {
		t.Fatal("FromHeader wrong")
	}
}

func TestGroupScope(t *testing.T) {
	t.Parallel()
	admin := Principal{Role: GroupAdmin, Group: "GAAA"}
	worker := Principal{Role: GridWorker, Grids: []string{"g1"}}
	district := Principal{Role: DistrictAdmin}
	feed := Principal{Role: HealthFeed}
	tests := []struct {
		name           string
		p              Principal
		manage, read   bool
		feedsHealth    bool
		readsOtherGrid bool
	}{
		{"own group admin", admin, true, true, false, false},
		{"grid worker of the group's grid", worker, false, true, false, false},
		{"district admin", district, true, true, true, true},
		{"health feed", feed, false, false, true, false},
	}
	for _, tt := range tests {
		if got := tt.p.CanManageGroup("GAAA"); got != tt.manage {
			t.Errorf("%s: CanManageGroup = %v", tt.name, got)
		}
		if got := tt.p.CanReadGroup("GAAA", "g1"); got != tt.read {
			t.Errorf("%s: CanReadGroup = %v", tt.name, got)
		}
		if got := tt.p.CanReadGroup("GBBB", "g2"); got != tt.readsOtherGrid {
			t.Errorf("%s: CanReadGroup(other group, other grid) = %v", tt.name, got)
		}
		if got := tt.p.CanFeedHealth(); got != tt.feedsHealth {
			t.Errorf("%s: CanFeedHealth = %v", tt.name, got)
		}
	}
	if _, err := (Issuer{key: make([]byte, 32)}).Issue(Principal{Role: GroupAdmin}); err == nil {
		t.Fatal("a group admin token without a group was issued")
	}
}

func TestSeveralGrids(t *testing.T) {
	t.Parallel()
	now := time.Date(2022, 12, 5, 9, 0, 0, 0, time.UTC)
	iss, err := NewIssuer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(Principal{Subject: "w", Role: GridWorker, Grids: []string{"g1", "g2"}, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := iss.Verify(tok, now)
	if err != nil || !p.CanReadGrid("g1") || !p.CanReadGrid("g2") || p.CanReadGrid("g3") || p.CanReadGrid("") || p.FirstGrid() != "g1" {
		t.Fatalf("Verify = %+v, %v; want a worker of g1 and g2", p, err)
	}
	if !p.CanReadGroup("G1", "g2") || p.CanReadGroup("G1", "g3") {
		t.Fatal("a worker of two grids reads the groups of both and only those")
	}
	// A token issued when a worker had one grid: {"grid":"g1"}.
	body := b64.EncodeToString([]byte(`{"sub":"w","role":"grid_worker","grid":"g1","exp":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`))
	old := body + "." + b64.EncodeToString(iss.mac(body))
	p, err = iss.Verify(old, now)
	if err != nil || len(p.Grids) != 1 || !p.CanReadGrid("g1") {
		t.Fatalf("an old token: Verify = %+v, %v; want a worker of g1", p, err)
	}
	for _, bad := range [][]string{nil, {""}, {"g1", "g1"}, {"g1,g2"}} {
		if _, err := iss.Issue(Principal{Subject: "w", Role: GridWorker, Grids: bad, Expires: now.Add(time.Hour)}); err == nil {
			t.Errorf("a worker token with grids %q was issued", bad)
		}
	}
	if got := ParseGrids(" g1,g2,,g1", "g3"); len(got) != 3 || got[0] != "g1" || got[2] != "g3" {
		t.Errorf("ParseGrids = %q", got)
	}
}
