package importjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"gridcode/shared/fields"
	"gridcode/shared/registry"
	"gridcode/shared/registry/s3source"
	"gridcode/shared/textnorm"
	"gridcode/shared/worklist"
)

// Reconciliation lists (the all-staff NAT list, the residence-code list,
// venue-code lists) reach the district's tables through the uploads bucket
// rather than POST /v1/lists: a district-wide one, 800,000 rows and about
// 60 MB, is ten times Lambda's 6 MB request limit.
//
// A list is stored in the invocation S3 starts, with one GET of the whole
// object from its first byte: worklist.Uploader streams it (800,000 rows:
// 2 s on 2 cores against the embedded store, 48 MB of heap; in DynamoDB
// its 800 chunks are some 180 MB of writes, under a minute at a new
// on-demand table's 4,000 WCU/s), well inside the 15-minute timeout. So
// unlike a registry import a list needs no checkpoint and no SQS
// continuation. The queue only retries a list whose upload failed (a
// throttled table, the margin reached): the retry starts again from the
// first byte.

// ListsPrefix is where lists are uploaded, as lists/<kind>/<name>.csv:
// kind one of worklist's list kinds (nat, residence_code, venue_code,
// other), name the list's name.
const ListsPrefix = "lists/"

// ListCreatedBy is the List.CreatedBy of a list uploaded through S3: the
// bucket does not say which member of the office put the file there.
const ListCreatedBy = "s3"

// ReasonUnknownKind refuses a list whose folder under lists/ is not a kind
// of list (or that is not in a folder at all).
const ReasonUnknownKind = "unknown_kind"

// ListID is the list of one version of one uploaded object, as ImportID is
// its import: the same event delivered again, or a retry, finds the list;
// a new upload of the key is a new list. Keyed, so the id does not reveal
// file names.
func ListID(v Lookup, o Object) string {
	return "l" + v.Lookup("list-upload", o.Bucket, o.Key, o.pin())[:24]
}

// ListFile reads a list's kind and name from its key,
// lists/<kind>/<name>.csv: the kind is the first folder under lists/ (""
// for a file right in lists/), the name the file's base name without .csv,
// cut to worklist.MaxListNameRunes (a long file name still names its list).
func ListFile(key string) (kind, name string) {
	rest := strings.TrimPrefix(key, ListsPrefix)
	if folder, _, ok := strings.Cut(rest, "/"); ok {
		kind = folder
	}
	base := path.Base(rest)
	if strings.HasSuffix(strings.ToLower(base), ".csv") {
		base = base[:len(base)-len(".csv")]
	}
	name = textnorm.Clean(base)
	if utf8.RuneCountInString(name) > worklist.MaxListNameRunes {
		name = strings.TrimSpace(string([]rune(name)[:worklist.MaxListNameRunes]))
	}
	return kind, name
}

// ListOutcome is what an invocation did with one uploaded list. Status is
// a registry import's: done (the list is stored), failed (the file was
// refused whole; the error file says why) or running (queued for a retry).
type ListOutcome struct {
	ListID string `json:"listId"`
	Kind   string `json:"kind,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"` // of a failed one: its reasons, comma-separated
	Rows   int    `json:"rows"`
	Bad    int    `json:"bad"`
	Chunks int    `json:"chunks"`
	// Continued: a retry was queued.
	Continued bool `json:"continued,omitempty"`
	// AlreadyEnded: the list was stored before this invocation (the event
	// delivered again); nothing was read or written.
	AlreadyEnded bool `json:"alreadyEnded,omitempty"`
}

// startList stores the list of an S3 event, handing it to the queue if
// that fails.
func (j *Job) startList(ctx context.Context, inv *invocation, obj Object) (ListOutcome, error) {
	c := Continuation{ImportID: ListID(j.Lists.Vault, obj), Object: obj}
	out, err := j.uploadList(ctx, inv, c)
	if err == nil {
		return out, nil
	}
	slog.ErrorContext(ctx, "list upload failed, queued for retry", "listId", c.ImportID, "err", err)
	if err := j.Queue.Send(ctx, c, RetryDelay); err != nil {
		return out, fmt.Errorf("list %s: queue retry: %w", c.ImportID, err)
	}
	return ListOutcome{ListID: c.ImportID, Status: registry.ImportRunning, Continued: true}, nil
}

// uploadList stores the list c names, unless it is stored already, and
// writes its error file. An error means the upload failed and may succeed
// if tried again; a file refused for what it is (its kind, its header, no
// usable row, gone or replaced) is not an error, but a failed outcome
// with its error file.
//
// Two deliveries of one event at once both find no list and both upload
// it, under the same id: they write the same chunks and the same list.
// Should one of them fail meanwhile, it deletes the chunks of both, and
// the list the other stores lacks them; S3 delivers an event twice rarely,
// and twice at once far more rarely still, so this has no lock.
func (j *Job) uploadList(ctx context.Context, inv *invocation, c Continuation) (ListOutcome, error) {
	out := ListOutcome{ListID: c.ImportID, Status: registry.ImportRunning}
	l, err := j.Lists.Store.GetList(ctx, c.ImportID)
	switch {
	case err == nil:
		return ListOutcome{
			ListID: l.ID, Kind: l.Kind, Status: registry.ImportDone,
			Rows: l.Rows, Bad: l.Bad, Chunks: l.Chunks, AlreadyEnded: true,
		}, nil
	case !errors.Is(err, worklist.ErrNotFound):
		return out, fmt.Errorf("list %s: read: %w", c.ImportID, err)
	}

	now := j.Lists.Now()
	if inv.timeUp(now) {
		if err := j.Queue.Send(ctx, c, 0); err != nil {
			return out, fmt.Errorf("list %s: queue: %w", c.ImportID, err)
		}
		out.Continued = true
		return out, nil
	}
	grids, err := inv.directory(ctx, j.Grids)
	if err != nil {
		return out, fmt.Errorf("list %s: %w", c.ImportID, err)
	}
	up := *j.Lists
	up.Grids = grids
	inv.worked = true

	// The upload ends by the margin, so that a failed one has the time to
	// delete its chunks and queue its retry; the first of an invocation
	// that starts later has the invocation's own deadline.
	uploadCtx := ctx
	if !inv.until.IsZero() && inv.until.After(now) {
		var cancel context.CancelFunc
		uploadCtx, cancel = context.WithDeadline(ctx, inv.until)
		defer cancel()
	}
	kind, name := ListFile(c.Key)
	body := &objectReader{ctx: uploadCtx, src: j.Objects.Source(c.Bucket, c.Key, c.VersionID, c.ETag)}
	defer body.Close()
	l, rows, err := up.UploadAs(uploadCtx, c.ImportID, name, kind, ListCreatedBy, body)

	var problems *fields.Error
	var refused []registry.RowError
	switch {
	case err == nil:
		out = ListOutcome{ListID: l.ID, Kind: l.Kind, Status: registry.ImportDone, Rows: l.Rows, Bad: l.Bad, Chunks: l.Chunks}
	case errors.As(err, &problems):
		refused = fileProblems(problems)
	case errors.Is(err, s3source.ErrChanged):
		refused = []registry.RowError{{Line: 1, Field: FieldFile, Reason: ReasonFileChanged}}
	case errors.Is(err, s3source.ErrMissing):
		refused = []registry.RowError{{Line: 1, Field: FieldFile, Reason: ReasonFileMissing}}
	default:
		return out, fmt.Errorf("list %s: %w", c.ImportID, err)
	}
	if refused != nil {
		var reasons []string
		for _, r := range refused {
			if !slices.Contains(reasons, r.Reason) {
				reasons = append(reasons, r.Reason)
			}
		}
		out = ListOutcome{ListID: c.ImportID, Status: registry.ImportFailed, Reason: strings.Join(reasons, ",")}
		if !slices.Contains(reasons, ReasonUnknownKind) {
			// A folder that is no kind is whatever the uploader typed:
			// it is not logged.
			out.Kind = kind
		}
	}

	// The file's problems first, on line 1, then the refused rows by line;
	// the header alone when there are none, so the office always finds
	// the file.
	if err := j.putErrorFile(ctx, c.Bucket, c.ImportID, append(refused, rows...)); err != nil {
		if out.Status == registry.ImportDone {
			// The list is stored; a retry would find it and stop. Its Bad
			// still counts the refused rows.
			slog.ErrorContext(ctx, "list stored without its error file", "listId", c.ImportID, "err", err)
			return out, nil
		}
		return out, fmt.Errorf("list %s: %w", c.ImportID, err)
	}
	// Not the name: it is the file's, whatever the uploader typed.
	slog.InfoContext(ctx, "list upload ended", "listId", out.ListID, "kind", out.Kind, "status", out.Status,
		"reason", out.Reason, "rows", out.Rows, "bad", out.Bad, "chunks", out.Chunks)
	return out, nil
}

// fileProblems are the problems of a list refused whole, as error file
// rows of field "file" on line 1: the kind (from the key's folder, so
// unknown_kind), the name (from the file's name: name_required...), the
// encoding, the header (missing_idNumber...), no usable row.
func fileProblems(fe *fields.Error) []registry.RowError {
	rows := make([]registry.RowError, 0, len(fe.Problems))
	for _, p := range fe.Problems {
		reason := p.Reason
		switch p.Field {
		case "kind":
			reason = ReasonUnknownKind
		case "name":
			reason = "name_" + p.Reason
		}
		rows = append(rows, registry.RowError{Line: 1, Field: FieldFile, Reason: reason})
	}
	return rows
}

// objectReader reads the object from its first byte, opened at the first
// read: a list refused for its key (its kind, its name) costs no GET.
type objectReader struct {
	ctx  context.Context
	src  registry.Source
	body io.ReadCloser
	err  error
}

func (r *objectReader) Read(p []byte) (int, error) {
	if r.body == nil && r.err == nil {
		r.body, r.err = r.src.Open(r.ctx, 0)
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.body.Read(p)
}

func (r *objectReader) Close() error {
	if r.body == nil {
		return nil
	}
	return r.body.Close()
}
