package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"gridcode/shared/csvin"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/pii"
)

// Source is a registry file that can be read from any byte offset: a local
// file, an S3 object read with ranged GETs.
type Source interface {
	// Open reads the file from offset to its end.
	Open(ctx context.Context, offset int64) (io.ReadCloser, error)
	Size(ctx context.Context) (int64, error)
}

// ErrPaused means an import stopped at a checkpoint because its time was
// up (a Lambda invocation's deadline); Run the returned Import again to go
// on.
var ErrPaused = errors.New("registry: import paused at a checkpoint")

// CodeInvalidFile is the fields.Error code of a registry file refused
// whole: Problems "file" encoding (not UTF-8 nor GB18030) or changed (shorter
// than the checkpoint), "header" required (no header line), malformed, or
// missing_<col> / duplicate_<col> with col one of name, idType, idNumber,
// phone, town, community, address, residentType, landlordPhone.
const CodeInvalidFile = "invalid_registry_file"

// ImportRetention is how long an import's record and refused rows are
// kept (Import.ExpiresAt), when the caller sets no expiry.
const ImportRetention = 90 * 24 * time.Hour

// sniffBytes of the file's head tell its encoding.
const sniffBytes = 64 << 10

// Importer loads registry files into the registry, in chunks, each
// checkpointed, so an import can stop at any chunk and resume there.
type Importer struct {
	People  Store
	Imports ImportStore
	Vault   *pii.Vault
	Grids   *grid.Directory
	Now     func() time.Time
	// ChunkRows is how many rows are checked, stored and checkpointed
	// together (default 5000).
	ChunkRows int
	// Workers check and build a chunk's rows in parallel (default
	// GOMAXPROCS).
	Workers int
}

// Run imports src as run, from run's checkpoint (Offset and Line; zero for
// the start). The header is always read from the start of the file; then,
// chunk by chunk, rows are checked and built in parallel, written with
// PutPeople (which skips people whose ContentHash is unchanged), their
// refused rows stored with PutRowErrors under the chunk's first line, and
// run checkpointed with PutImport and passed to progress (which may be
// nil). Once until (unless zero) has passed after a chunk, Run returns the
// run and ErrPaused. At the end of the file the run is done.
//
// run is as read from the store (or new, Version 0): every checkpoint is
// written on the condition that the stored record is still at the version
// the previous one left. If another run of the same import wrote it in
// between (an S3 event delivered again while a continuation runs), Run
// stops with ErrConflict at once, leaving the import to that run: both
// read the same file, so the chunk the loser may have written is the one
// the winner writes too.
//
// A file refused whole (encoding, header) fails the run (Status failed,
// Reason the problems' reasons, comma separated) and returns a
// *fields.Error with CodeInvalidFile. Any other error (the source, the
// store, ctx) leaves the run at its last checkpoint, running, to be run
// again.
//
// The same person on two rows: the later row wins, without a problem
// reported, as a later line of a registry export is a later correction.
// A rerun of the same file writes nothing: Written 0, Unchanged the rows.
// Each person carries the row's hash as ImportHash, so that a rerun also
// leaves alone the entries visits have changed since (see Store.PutPeople).
func (im *Importer) Run(ctx context.Context, run Import, src Source, until time.Time, progress func(Import)) (Import, error) {
	if run.ID == "" {
		return run, errors.New("registry import: no import id")
	}
	now := im.now()
	if run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	if run.ExpiresAt == 0 {
		run.ExpiresAt = run.StartedAt.Add(ImportRetention).Unix()
	}
	run.Status, run.Reason, run.UpdatedAt = ImportRunning, "", now
	if progress == nil {
		progress = func(Import) {}
	}

	size, err := src.Size(ctx)
	if err != nil {
		return run, fmt.Errorf("registry import %s: size: %w", run.ID, err)
	}
	if run.Offset > size {
		return im.fail(ctx, run, progress, fields.Problem{Field: "file", Reason: "changed"})
	}
	rd, cols, closeFile, err := im.open(ctx, &run, src, progress)
	if err != nil {
		return run, err
	}
	defer closeFile()
	if err := im.checkpoint(ctx, &run); err != nil {
		return run, fmt.Errorf("registry import %s: %w", run.ID, err)
	}

	chunk := make([]line, 0, im.chunkRows())
	for {
		if err := ctx.Err(); err != nil {
			return run, fmt.Errorf("registry import %s: %w", run.ID, err)
		}
		chunk = chunk[:0]
		eof := false
		for len(chunk) < im.chunkRows() {
			rec, err := rd.Next()
			var lineErr *csvin.LineError
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil && !errors.As(err, &lineErr) {
				return run, fmt.Errorf("registry import %s: read: %w", run.ID, err)
			}
			l := line{Record: rec}
			if lineErr != nil {
				l.unreadable = lineErr.Reason()
			}
			chunk = append(chunk, l)
		}
		if len(chunk) > 0 {
			if err := im.chunk(ctx, &run, chunk, cols); err != nil {
				return run, err
			}
		}
		run.UpdatedAt = im.now()
		if eof {
			run.Status, run.FinishedAt = ImportDone, run.UpdatedAt
		}
		if err := im.checkpoint(ctx, &run); err != nil {
			return run, fmt.Errorf("registry import %s: checkpoint: %w", run.ID, err)
		}
		progress(run)
		if eof {
			return run, nil
		}
		if !until.IsZero() && im.now().After(until) {
			return run, ErrPaused
		}
	}
}

// open reads the header from the start of the file and returns a reader of
// the rows from run's checkpoint on, with the columns, or fails the run.
func (im *Importer) open(ctx context.Context, run *Import, src Source, progress func(Import)) (*csvin.Reader, map[string]int, func(), error) {
	f, err := src.Open(ctx, 0)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("registry import %s: open: %w", run.ID, err)
	}
	closeFile := func() { f.Close() }
	failed := func(p ...fields.Problem) (*csvin.Reader, map[string]int, func(), error) {
		closeFile()
		var err error
		*run, err = im.fail(ctx, *run, progress, p...)
		return nil, nil, nil, err
	}
	br := bufio.NewReaderSize(f, sniffBytes)
	head, err := br.Peek(sniffBytes)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		closeFile()
		return nil, nil, nil, fmt.Errorf("registry import %s: read: %w", run.ID, err)
	}
	enc, err := csvin.Sniff(head)
	if err != nil {
		return failed(fields.Problem{Field: "file", Reason: csvin.ReasonEncoding})
	}
	rd := csvin.NewReader(br, enc, 0, 0)
	header, err := rd.Next()
	var lineErr *csvin.LineError
	switch {
	case err == io.EOF:
		return failed(fields.Problem{Field: "header", Reason: "required"})
	case errors.As(err, &lineErr):
		return failed(fields.Problem{Field: "header", Reason: lineErr.Reason()})
	case err != nil:
		closeFile()
		return nil, nil, nil, fmt.Errorf("registry import %s: read: %w", run.ID, err)
	}
	cols, err := csvin.Columns(header.Fields, columnNames, requiredColumns...)
	if fe := (*fields.Error)(nil); errors.As(err, &fe) {
		return failed(fe.Problems...)
	} else if err != nil {
		closeFile()
		return nil, nil, nil, fmt.Errorf("registry import %s: header: %w", run.ID, err)
	}
	if run.Offset <= header.End {
		run.Offset, run.Line = header.End, header.LastLine
		return rd, cols, closeFile, nil
	}
	closeFile()
	if f, err = src.Open(ctx, run.Offset); err != nil {
		return nil, nil, nil, fmt.Errorf("registry import %s: open at %d: %w", run.ID, run.Offset, err)
	}
	resumed := csvin.NewReader(f, enc, run.Offset, run.Line)
	resumed.Comma = rd.Comma
	return resumed, cols, func() { f.Close() }, nil
}

// fail ends run as failed for problems of the whole file.
func (im *Importer) fail(ctx context.Context, run Import, progress func(Import), problems ...fields.Problem) (Import, error) {
	reasons := make([]string, len(problems))
	for i, p := range problems {
		reasons[i] = p.Reason
	}
	run.Status, run.Reason = ImportFailed, strings.Join(reasons, ",")
	run.UpdatedAt = im.now()
	run.FinishedAt = run.UpdatedAt
	if err := im.checkpoint(ctx, &run); err != nil {
		return run, fmt.Errorf("registry import %s: %w", run.ID, err)
	}
	progress(run)
	return run, &fields.Error{Code: CodeInvalidFile, Problems: problems}
}

// built is one row's outcome.
type built struct {
	person Person
	errs   []RowError
}

// line is a record of the file, or a line csvin could not read and why.
type line struct {
	csvin.Record
	unreadable string
}

// chunk checks and builds a chunk's rows, stores them and their problems
// and moves run's checkpoint past them.
func (im *Importer) chunk(ctx context.Context, run *Import, recs []line, cols map[string]int) error {
	now := im.now()
	out := make([]built, len(recs))
	workers := min(im.workers(), len(recs))
	per := (len(recs) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(recs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				rec := recs[i]
				if rec.unreadable != "" {
					out[i].errs = []RowError{{Line: rec.Line, Field: FieldRow, Reason: rec.unreadable}}
					continue
				}
				e, problems := CheckRow(rowOf(rec.Fields, cols), rec.Line, now)
				if len(problems) > 0 {
					out[i].errs = problems
					continue
				}
				p, err := Build(im.Vault, im.Grids, e, run.ID, now)
				if err != nil {
					errs[w] = fmt.Errorf("line %d: %w", rec.Line, err)
					return
				}
				p.ImportHash = p.ContentHash
				out[i].person = p
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("registry import %s: %w", run.ID, err)
	}

	// The later row of a person wins within the chunk too.
	people := make([]Person, 0, len(recs))
	at := make(map[string]int, len(recs))
	var rowErrs []RowError
	bad := 0
	for _, b := range out {
		if len(b.errs) > 0 {
			rowErrs = append(rowErrs, b.errs...)
			bad++
			continue
		}
		if i, dup := at[b.person.Key]; dup {
			people[i] = b.person
			continue
		}
		at[b.person.Key] = len(people)
		people = append(people, b.person)
	}
	written, err := im.People.PutPeople(ctx, people)
	if err != nil {
		return fmt.Errorf("registry import %s: lines %d-%d: %w", run.ID, recs[0].Line, recs[len(recs)-1].LastLine, err)
	}
	if len(rowErrs) > 0 {
		if err := im.Imports.PutRowErrors(ctx, run.ID, recs[0].Line, rowErrs); err != nil {
			return fmt.Errorf("registry import %s: row errors: %w", run.ID, err)
		}
	}
	last := recs[len(recs)-1]
	run.Offset, run.Line = last.End, last.LastLine
	run.Rows += len(recs)
	run.Bad += bad
	run.Written += written
	run.Unchanged += len(recs) - bad - written
	return nil
}

// checkpoint stores run as the next version of the one it was read at,
// and moves run to that version; ErrConflict if another run wrote it.
func (im *Importer) checkpoint(ctx context.Context, run *Import) error {
	next := *run
	next.Version++
	if err := im.Imports.PutImport(ctx, next, run.Version); err != nil {
		return err
	}
	*run = next
	return nil
}

func (im *Importer) now() time.Time {
	if im.Now == nil {
		return time.Now()
	}
	return im.Now()
}

func (im *Importer) chunkRows() int {
	if im.ChunkRows <= 0 {
		return 5000
	}
	return im.ChunkRows
}

func (im *Importer) workers() int {
	if im.Workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return im.Workers
}
