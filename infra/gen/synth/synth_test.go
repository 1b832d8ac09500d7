package synth

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gridcode/shared/area"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
)

func TestResidentID(t *testing.T) {
	t.Parallel()
	today := time.Date(2022, 12, 5, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		county, birth string
		seq           int
		want          string // "" when only validity is checked
	}{
		{county: "110105", birth: "19491231", seq: 1},
		{county: "440703", birth: "20000229", seq: 999},
		{county: "650102", birth: "19800101", seq: 0},
		{county: "440703", birth: "19900307", seq: 1234, want: "440703199003072342"}, // weighted sum 274, 274 mod 11 = 10 -> "2",
	}
	for _, tt := range tests {
		t.Run(tt.county+tt.birth, func(t *testing.T) {
			t.Parallel()
			id := ResidentID(tt.county, tt.birth, tt.seq)
			if _, reason := idcard.Check(idcard.ResidentID, id, today); reason != "" {
				t.Errorf("ResidentID = %s, rejected: %s", id, reason)
			}
			if tt.want != "" && id != tt.want {
				t.Errorf("ResidentID = %s, want %s", id, tt.want)
			}
		})
	}
}

func TestDraws(t *testing.T) {
	t.Parallel()
	catalog, err := area.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range HomeCounties {
		if _, ok := catalog.County(c.Code); !ok || c.Weight <= 0 {
			t.Errorf("home county %+v unknown or unweighted", c)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	rare := 0
	for i := 0; i < 20_000; i++ {
		n := Name(r)
		if k := utf8.RuneCountInString(n); k < 2 || k > 4 {
			t.Fatalf("name %q has %d characters", n, k)
		}
		if strings.Contains(n, Rare) {
			rare++
		}
		if p, ok := phone.Normalize(Mobile(r)); !ok || len(p) != 11 {
			t.Fatalf("bad mobile %q", p)
		}
		if a := Address(r); !strings.Contains(a, "号") {
			t.Fatalf("address %q has no number", a)
		}
	}
	if rare == 0 || rare > 200 {
		t.Errorf("%d of 20000 names have a rare character, want a few", rare)
	}
}
