package gen

import (
	"flag"
	"fmt"
	"io"
	"time"

	"gridcode/shared/dates"
)

// Command implements `gridcode gen`: it writes a synthetic district at the
// article's scale by default and prints one line per file.
func Command(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stdout)
	out := fs.String("out", "./.data/gen", "directory to write the JSONL files into")
	var s Spec
	fs.Int64Var(&s.Seed, "seed", 1, "random seed; the same flags give the same files")
	fs.IntVar(&s.Grids, "grids", 410, "number of grids")
	fs.IntVar(&s.People, "people", 800_000, "registry people")
	fs.IntVar(&s.Groups, "groups", 3421, "group codes")
	fs.IntVar(&s.Reports, "reports", 12_697, "report submissions")
	fs.StringVar(&s.Today, "today", dates.Today(time.Now()), "district date (YYYY-MM-DD) the reports are valid at")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gen: unexpected arguments %q", fs.Args())
	}
	stats, err := write(*out, s)
	if err != nil {
		return err
	}
	for _, st := range stats {
		fmt.Fprintf(stdout, "%s/%s: %d records, %d bytes\n", *out, st.name, st.records, st.bytes)
	}
	return nil
}
