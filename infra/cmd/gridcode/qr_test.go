package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gridcode/infra/local"
	"gridcode/infra/qrread"
)

// decodeQR reads what a PNG file's QR code says.
func decodeQR(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text, err := qrread.Text(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return text
}

// `gridcode qr --out DIR` writes one code per grid and the district's,
// each opening its report form, and a manifest naming them.
func TestQRCommandWritesOneCodePerGrid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir, out := t.TempDir(), filepath.Join(t.TempDir(), "codes")
	const base = "https://api.example.cn/prod/r"
	var stdout bytes.Buffer
	if err := run(ctx, []string{"qr", "--out", out, "--report-url", base, "--data-dir", dataDir}, &stdout); err != nil {
		t.Fatal(err)
	}
	sys, err := local.Open(ctx, dataDir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := sys.Settings.Grids(ctx)
	sys.Close()
	if err != nil {
		t.Fatal(err)
	}
	grids := dir.Grids()
	pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(pngs) != len(grids)+1 {
		t.Fatalf("%d PNGs for %d grids and the district", len(pngs), len(grids))
	}
	if got := decodeQR(t, filepath.Join(out, "district.png")); got != base {
		t.Errorf("district code opens %q, want %q", got, base)
	}
	for _, g := range []int{0, len(grids) / 2, len(grids) - 1} {
		code := grids[g].Code
		if got, want := decodeQR(t, filepath.Join(out, code+".png")), base+"/"+code; got != want {
			t.Errorf("grid %s's code opens %q, want %q", code, got, want)
		}
	}

	f, err := os.ReadFile(filepath.Join(out, "codes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(f), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(grids)+2 {
		t.Fatalf("codes.csv has %d rows, want a header, the district and %d grids", len(rows), len(grids))
	}
	last := rows[len(rows)-1]
	if g := grids[len(grids)-1]; last[0] != g.Code+".png" || last[2] != g.Name || last[3] != g.Community || last[5] != base+"/"+g.Code {
		t.Errorf("codes.csv's last row %q does not describe grid %+v", last, g)
	}
	if !strings.Contains(stdout.String(), out) {
		t.Errorf("output %q does not say where the codes went", stdout.String())
	}
}
