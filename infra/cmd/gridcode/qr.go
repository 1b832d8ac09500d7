package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gridcode/infra/local"
	"gridcode/shared/qr"
)

// codeSize prints sharp at 6 cm on a poster (the group codes' size too).
const codeSize = 512

// qrCmd writes the report codes to print: district.png (the district-wide
// code), one <gridCode>.png per grid of the local store, and codes.csv
// naming each file's grid, place and link, for the print shop. The store
// is one process's: stop `gridcode serve` first.
func qrCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("qr", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write the PNGs into (created if missing)")
	reportURL := fs.String("report-url", envOr("REPORT_URL", local.ReportURL), "the report form's address the codes open (env REPORT_URL); in the cloud https://<api>/<stage>/r")
	dataDir := fs.String("data-dir", envOr("DATA_DIR", ".data"), "data directory (env DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("qr: --out DIR is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	sys, err := local.Open(ctx, *dataDir, time.Now)
	if err != nil {
		return err
	}
	defer sys.Close()
	dir, err := sys.Settings.Grids(ctx)
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(*out, "codes.csv"))
	if err != nil {
		return err
	}
	defer f.Close()         // after a write error; Close below reports the rest
	f.WriteString("\ufeff") // Excel reads UTF-8 with a BOM
	manifest := csv.NewWriter(f)
	manifest.UseCRLF = true
	manifest.Write([]string{"文件", "网格编码", "网格", "社区", "镇街", "链接"})
	write := func(file, code, name, community, town string) error {
		link := qr.ReportLink(*reportURL, code)
		png, err := qr.PNG(link, codeSize)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, file), png, 0o644); err != nil {
			return err
		}
		return manifest.Write([]string{file, code, name, community, town, link})
	}
	if err := write("district.png", "", "全区", "", ""); err != nil {
		return err
	}
	for _, g := range dir.Grids() {
		// A grid code names a file: nothing that leaves the directory.
		if g.Code == "" || strings.ContainsAny(g.Code, `/\`) || strings.HasPrefix(g.Code, ".") {
			return fmt.Errorf("qr: grid code %q cannot name a file", g.Code)
		}
		if err := write(g.Code+".png", g.Code, g.Name, g.Community, g.Town); err != nil {
			return err
		}
	}
	manifest.Flush()
	if err := errors.Join(manifest.Error(), f.Close()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d grid codes and the district code (%d px) to %s, with codes.csv; they open %s\n",
		len(dir.Grids()), codeSize, *out, *reportURL)
	return nil
}
