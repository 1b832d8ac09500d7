package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gridcode/infra/local"
	"gridcode/shared/registry"
)

// importCmd is `gridcode import registry FILE` and `gridcode import list
// FILE --kind K [--name N]`, into the local store (the server stopped).
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "registry" && args[0] != "list") {
		return errors.New("usage: gridcode import registry FILE | import list FILE --kind nat|residence_code|venue_code|other [--name N]")
	}
	what := args[0]
	fs := flag.NewFlagSet("import "+what, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("DATA_DIR", ".data"), "data directory (env DATA_DIR)")
	kind := fs.String("kind", "", "list kind: nat, residence_code, venue_code or other")
	name := fs.String("name", "", "list name (default: the file name)")
	errorsOut := fs.String("errors", "", "where to write the refused rows as CSV (default FILE.errors.csv)")
	if err := fs.Parse(interleaved(args[1:])); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("import %s: want one FILE, got %d arguments", what, fs.NArg())
	}
	path := fs.Arg(0)
	if *errorsOut == "" {
		*errorsOut = path + ".errors.csv"
	}
	sys, err := local.Open(ctx, *dataDir, time.Now)
	if err != nil {
		return fmt.Errorf("%w (is gridcode serve running? stop it first)", err)
	}
	defer sys.Close()
	if what == "list" {
		l, rowErrs, err := sys.ImportList(ctx, path, *name, *kind)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "list %s (%s, %s): %d people, %d rows refused\n", l.ID, l.Name, l.Kind, l.Rows, l.Bad)
		return writeRowErrors(stdout, *errorsOut, rowErrs)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	bar := newProgressBar(stderr, info.Size(), time.Now)
	run, err := sys.ImportRegistry(ctx, path, func(im registry.Import) { bar.update(im.Offset, im.Rows, false) })
	bar.update(run.Offset, run.Rows, true)
	if err != nil {
		return fmt.Errorf("import %s: %w", run.ID, err)
	}
	fmt.Fprintf(stdout, "import %s: %d rows, %d written, %d unchanged, %d refused in %s\n",
		run.ID, run.Rows, run.Written, run.Unchanged, run.Bad, run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond))
	rowErrs, err := sys.Store.RowErrors(ctx, run.ID)
	if err != nil {
		return err
	}
	return writeRowErrors(stdout, *errorsOut, rowErrs)
}

// writeRowErrors writes the refused rows (line, column, reason) to path.
func writeRowErrors(stdout io.Writer, path string, rowErrs []registry.RowError) error {
	if len(rowErrs) == 0 {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := registry.WriteErrorsCSV(f, rowErrs); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "refused rows: %s\n", path)
	return nil
}

// reconcileCmd is `gridcode reconcile A B`: people in list A and not in
// list B become verification tasks ("registry" names the registry).
func reconcileCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dataDir := fs.String("data-dir", envOr("DATA_DIR", ".data"), "data directory (env DATA_DIR)")
	if err := fs.Parse(interleaved(args)); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: gridcode reconcile LIST_A LIST_B (a list id, or registry)")
	}
	sys, err := local.Open(ctx, *dataDir, time.Now)
	if err != nil {
		return fmt.Errorf("%w (is gridcode serve running? stop it first)", err)
	}
	defer sys.Close()
	res, err := sys.Reconcile(ctx, fs.Arg(0), fs.Arg(1))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d of %d people of %s are not in %s: %d new tasks (%d in the district pool) in %.1f s\n",
		res.ID, res.Missing, res.RowsA, res.ListA, res.ListB, res.Created, res.ToPool, res.Seconds)
	return nil
}

// interleaved moves flags before positional arguments, so both
// `import registry FILE --data-dir D` and `--data-dir D FILE` work.
func interleaved(args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		rest = append(rest, a)
	}
	return append(flags, rest...)
}
