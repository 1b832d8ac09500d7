// Package importjob runs the imports of the district office's uploads in
// Lambda. A registry file uploaded under registry/ in the uploads bucket
// is imported in as many invocations as it takes: each works until
// shortly before its deadline, then queues a continuation message that the
// same function consumes to resume from the import's checkpoint. A
// reconciliation list uploaded under lists/<kind>/ is stored as a list in
// the invocation S3 starts (see lists.go). Either way, the refused rows go
// to errors/<id>.csv in the same bucket.
package importjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/registry"
	"gridcode/shared/registry/s3source"
	"gridcode/shared/worklist"
)

const (
	// Prefix is where registry files are uploaded. The bucket notification
	// is filtered to it; the handler checks again, so an error file
	// (outside it) can never start an import.
	Prefix = "registry/"
	// ErrorsPrefix is where each import's error file goes.
	ErrorsPrefix = "errors/"
	// RetryDelay is how long a continuation waits when the S3-triggered
	// invocation failed, so a throttled table gets a breather.
	RetryDelay = 60 * time.Second
)

// Reasons an import fails for, beside the Importer's own (a bad header or
// encoding; "changed" for a file shorter than the checkpoint).
const (
	ReasonFileChanged = "changed" // overwritten while imported; the new upload has its own import
	ReasonFileMissing = "missing" // deleted while imported
)

// Object names one uploaded file, pinned to the version the event saw.
type Object struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"versionId,omitempty"`
	ETag      string `json:"eTag,omitempty"`
}

// Continuation is the SQS message that resumes an import, or retries the
// upload of a list: then ImportID is the list's id (ListID).
type Continuation struct {
	ImportID string `json:"importId"`
	Object
}

// ErrorsKey is where the error file of an import goes.
func ErrorsKey(importID string) string { return ErrorsPrefix + importID + ".csv" }

// Lookup is the keyed hash the import id is made of (pii.Vault.Lookup).
type Lookup interface {
	Lookup(purpose string, parts ...string) string
}

// ImportID is the import of one version of one object: the same event
// delivered again, or a continuation, finds the same import and resumes
// it; a new upload of the key is a new import. Keyed, so the id does not
// reveal file names.
func ImportID(v Lookup, o Object) string {
	return "imp" + v.Lookup("registry-import", o.Bucket, o.Key, o.pin())[:24]
}

// pin is what tells this upload of the key from another: the version in a
// versioned bucket, else the content's ETag.
func (o Object) pin() string {
	if o.VersionID != "" {
		return o.VersionID
	}
	return o.ETag
}

// Objects reads registry files and writes error files.
type Objects interface {
	Source(bucket, key, versionID, eTag string) registry.Source
	Exists(ctx context.Context, bucket, key string) (bool, error)
	Put(ctx context.Context, bucket, key, contentType string, body []byte) error
}

// Queue sends continuations to the function itself.
type Queue interface {
	Send(ctx context.Context, c Continuation, delay time.Duration) error
}

// GridLister reads the grids table, where imported people are placed.
type GridLister interface {
	ListGrids(ctx context.Context) ([]grid.Grid, error)
}

// Job is the function's handler.
type Job struct {
	// Importer does the import; its Grids is replaced by the grids table
	// as read at each invocation.
	Importer *registry.Importer
	Grids    GridLister
	Objects  Objects
	Queue    Queue
	// Lists stores the lists uploaded under ListsPrefix; its Grids is
	// replaced by the grids table as read at each invocation. Nil: such
	// uploads are ignored.
	Lists *worklist.Uploader
	// Margin is left before the invocation's deadline: no chunk starts
	// after deadline - Margin, so it must exceed the time one chunk takes;
	// a list upload must end by then.
	Margin time.Duration
}

// Outcome is what an invocation did with one import.
type Outcome struct {
	ImportID  string `json:"importId"`
	Status    string `json:"status"` // the import's, after the invocation
	Reason    string `json:"reason,omitempty"`
	Rows      int    `json:"rows"`
	Written   int    `json:"written"`
	Unchanged int    `json:"unchanged"`
	Bad       int    `json:"bad"`
	// Continued: a continuation was queued (the import paused, or the
	// invocation failed and the queue will retry it).
	Continued bool `json:"continued,omitempty"`
	// AlreadyEnded: the import had ended before this invocation.
	AlreadyEnded bool `json:"alreadyEnded,omitempty"`
	// Overlapped: another invocation of the same import (the event
	// delivered again, a continuation) wrote its record first; this one
	// stopped and left the import to it. Status and counts are as this
	// invocation last knew them.
	Overlapped bool `json:"overlapped,omitempty"`
}

// S3Result is the answer to an S3 event. S3 invokes asynchronously and
// ignores it; it tells a test or a manual invocation what happened.
type S3Result struct {
	Imports []Outcome     `json:"imports"`
	Lists   []ListOutcome `json:"lists,omitempty"`
	Ignored int           `json:"ignored"` // records for other keys or events
}

// errBadMessage is a continuation that names no import this function made.
var errBadMessage = errors.New("importjob: not a continuation of this function")

// Handle takes the function's two event sources: S3 notifications of new
// files, and SQS batches of continuations.
func (j *Job) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if len(probe.Records) == 0 {
		return nil, errors.New("event has no records")
	}
	switch source := probe.Records[0].EventSource; source {
	case "aws:s3":
		var e events.S3Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("decode S3 event: %w", err)
		}
		return j.HandleS3(ctx, e)
	case "aws:sqs":
		var e events.SQSEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("decode SQS event: %w", err)
		}
		return j.HandleSQS(ctx, e)
	default:
		return nil, fmt.Errorf("unexpected event source %q", source)
	}
}

// HandleS3 starts (or, for an event delivered again, resumes) the import
// of each new registry file, and stores each new list. An import or list
// that fails here is handed to the queue, whose redelivery and dead-letter
// queue then govern it, rather than to S3's two silent retries.
func (j *Job) HandleS3(ctx context.Context, e events.S3Event) (S3Result, error) {
	inv := j.invocation(ctx)
	res := S3Result{Imports: []Outcome{}}
	for _, r := range e.Records {
		key := r.S3.Object.URLDecodedKey
		obj := Object{Bucket: r.S3.Bucket.Name, Key: key, VersionID: r.S3.Object.VersionID, ETag: r.S3.Object.ETag}
		switch j.route(r.EventName, key) {
		case ListsPrefix:
			out, err := j.startList(ctx, inv, obj)
			if err != nil {
				return res, err
			}
			res.Lists = append(res.Lists, out)
			continue
		case Prefix:
		default:
			res.Ignored++
			continue
		}
		c := Continuation{ImportID: ImportID(j.Importer.Vault, obj), Object: obj}
		out, err := j.step(ctx, inv, c)
		if err != nil {
			slog.ErrorContext(ctx, "registry import failed, queued for retry", "importId", c.ImportID, "err", err)
			if err := j.Queue.Send(ctx, c, RetryDelay); err != nil {
				return res, fmt.Errorf("import %s: queue retry: %w", c.ImportID, err)
			}
			out = Outcome{ImportID: c.ImportID, Status: registry.ImportRunning, Continued: true}
		}
		res.Imports = append(res.Imports, out)
	}
	return res, nil
}

// route is the prefix of the uploads an event's key is one of (Prefix,
// ListsPrefix), or "" for anything else: a deletion, another file, an
// error file. S3's filter already picks the prefixes; this checks again,
// and checks the suffix, which S3 would match case-sensitively (Excel on
// Windows writes .CSV).
func (j *Job) route(eventName, key string) string {
	if !strings.HasPrefix(eventName, "ObjectCreated:") || !strings.HasSuffix(strings.ToLower(key), ".csv") {
		return ""
	}
	switch {
	case strings.HasPrefix(key, Prefix):
		return Prefix
	case strings.HasPrefix(key, ListsPrefix) && j.Lists != nil:
		return ListsPrefix
	}
	return ""
}

// HandleSQS resumes the import of each continuation, or retries the list
// of each retry. A failed one is reported as a batch item failure: SQS
// delivers it again after the visibility timeout, and after
// maxReceiveCount moves it to the dead-letter queue, from where it can be
// redriven.
func (j *Job) HandleSQS(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
	inv := j.invocation(ctx)
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range e.Records {
		c, err := j.decode(m.Body)
		message := "registry import continuation failed"
		switch {
		case err != nil:
		case strings.HasPrefix(c.Key, ListsPrefix):
			message = "list upload retry failed"
			_, err = j.uploadList(ctx, inv, c)
		default:
			_, err = j.step(ctx, inv, c)
		}
		if err != nil {
			slog.ErrorContext(ctx, message, "messageId", m.MessageId, "importId", c.ImportID, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// decode reads a continuation and checks that its id is the one this
// function gives its object, so a message cannot point an import or a
// list at another file.
func (j *Job) decode(body string) (Continuation, error) {
	var c Continuation
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Continuation{}, fmt.Errorf("%w: %w", errBadMessage, err)
	}
	var want string
	switch j.route("ObjectCreated:", c.Key) {
	case Prefix:
		want = ImportID(j.Importer.Vault, c.Object)
	case ListsPrefix:
		want = ListID(j.Lists.Vault, c.Object)
	}
	if c.ImportID == "" || c.ImportID != want {
		return c, errBadMessage
	}
	return c, nil
}

// invocation is what the imports of one invocation share: when to stop,
// and the grids, read once.
type invocation struct {
	until  time.Time // zero: no deadline
	grids  *grid.Directory
	worked bool // an import has run a chunk, or a list has been read, in this invocation
}

// directory is the grids table, read at the first call.
func (inv *invocation) directory(ctx context.Context, grids GridLister) (*grid.Directory, error) {
	if inv.grids == nil {
		list, err := grids.ListGrids(ctx)
		if err != nil {
			return nil, fmt.Errorf("read grids: %w", err)
		}
		inv.grids = grid.NewDirectory(list)
	}
	return inv.grids, nil
}

// timeUp reports that the invocation has worked and its time is up: what
// comes next waits for the next invocation. The first import or list of an
// invocation always runs, however late it is, so every invocation makes
// progress.
func (inv *invocation) timeUp(now time.Time) bool {
	return inv.worked && !inv.until.IsZero() && !now.Before(inv.until)
}

func (j *Job) invocation(ctx context.Context) *invocation {
	inv := &invocation{}
	if deadline, ok := ctx.Deadline(); ok {
		inv.until = deadline.Add(-j.Margin)
	}
	return inv
}

// step runs one import for as long as the invocation may, and queues its
// continuation if it is not finished.
//
// Two invocations may run one import at once: S3 delivers an event at
// least once, and a redelivered event can meet the continuation of the
// first. Every write of the import's record is conditional on the version
// read, so the first to write goes on and the other, refused with
// registry.ErrConflict, stops quietly: it queues nothing and reports
// success, as the import is in hand.
func (j *Job) step(ctx context.Context, inv *invocation, c Continuation) (Outcome, error) {
	now := j.Importer.Now()
	run, err := j.Importer.Imports.GetImport(ctx, c.ImportID)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		// The base name only: the key's folders are the bucket's layout,
		// and the record is shown to the office as it is.
		run = registry.Import{
			ID: c.ImportID, Source: path.Base(c.Key), Status: registry.ImportRunning,
			StartedAt: now.UTC(), UpdatedAt: now.UTC(), ExpiresAt: now.Add(registry.ImportRetention).Unix(),
			Version: 1,
		}
		err := j.Importer.Imports.PutImport(ctx, run, 0)
		if errors.Is(err, registry.ErrConflict) {
			return overlapped(ctx, run), nil
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("import %s: record the start: %w", c.ImportID, err)
		}
	case err != nil:
		return Outcome{}, fmt.Errorf("import %s: read: %w", c.ImportID, err)
	}
	if run.Status != registry.ImportRunning {
		// A repeated event or message of an import that has ended: only
		// make sure its error file was written (the invocation that ended
		// it may have stopped just before).
		if err := j.ensureErrorFile(ctx, c, run); err != nil {
			return Outcome{}, err
		}
		out := outcome(run)
		out.AlreadyEnded = true
		return out, nil
	}

	// The first import of an invocation always runs at least one chunk,
	// however late it is, so every invocation makes progress; a later one
	// waits for the next invocation once the time is up.
	if inv.timeUp(now) {
		return j.pause(ctx, c, run)
	}
	grids, err := inv.directory(ctx, j.Grids)
	if err != nil {
		return Outcome{}, fmt.Errorf("import %s: %w", c.ImportID, err)
	}
	im := *j.Importer
	im.Grids = grids
	inv.worked = true
	src := j.Objects.Source(c.Bucket, c.Key, c.VersionID, c.ETag)
	run, err = im.Run(ctx, run, src, inv.until, func(registry.Import) {})

	var problems *fields.Error
	switch {
	case errors.Is(err, registry.ErrConflict):
		return overlapped(ctx, run), nil
	case errors.Is(err, registry.ErrPaused):
		return j.pause(ctx, c, run)
	case err == nil, errors.As(err, &problems):
		// Done, or failed for the file itself (its header, its
		// encoding): the Importer has recorded which.
	case errors.Is(err, s3source.ErrChanged), errors.Is(err, s3source.ErrMissing):
		run, err = j.fail(ctx, run, err)
		if errors.Is(err, registry.ErrConflict) {
			return overlapped(ctx, run), nil
		}
		if err != nil {
			return Outcome{}, err
		}
	default:
		return Outcome{}, fmt.Errorf("import %s: %w", c.ImportID, err)
	}
	if err := j.writeErrorFile(ctx, c, run); err != nil {
		return Outcome{}, err
	}
	slog.InfoContext(ctx, "registry import ended", "importId", run.ID, "status", run.Status, "reason", run.Reason,
		"rows", run.Rows, "written", run.Written, "unchanged", run.Unchanged, "bad", run.Bad)
	return outcome(run), nil
}

// pause queues the import's continuation.
func (j *Job) pause(ctx context.Context, c Continuation, run registry.Import) (Outcome, error) {
	if err := j.Queue.Send(ctx, c, 0); err != nil {
		return Outcome{}, fmt.Errorf("import %s: queue continuation: %w", c.ImportID, err)
	}
	slog.InfoContext(ctx, "registry import paused", "importId", run.ID, "line", run.Line, "offset", run.Offset, "rows", run.Rows)
	out := outcome(run)
	out.Continued = true
	return out, nil
}

// overlapped is the outcome of an invocation that found the import's
// record written by another one.
func overlapped(ctx context.Context, run registry.Import) Outcome {
	slog.InfoContext(ctx, "registry import run by another invocation, leaving it", "importId", run.ID)
	out := outcome(run)
	out.Overlapped = true
	return out
}

// fail records an import whose file is gone or replaced as failed, at its
// last checkpoint: run, as the Importer left it when the file's read
// failed.
func (j *Job) fail(ctx context.Context, run registry.Import, cause error) (registry.Import, error) {
	failed := run
	now := j.Importer.Now().UTC()
	failed.Status, failed.UpdatedAt, failed.FinishedAt = registry.ImportFailed, now, now
	failed.Reason = ReasonFileChanged
	if errors.Is(cause, s3source.ErrMissing) {
		failed.Reason = ReasonFileMissing
	}
	failed.Version = run.Version + 1
	if err := j.Importer.Imports.PutImport(ctx, failed, run.Version); err != nil {
		return run, fmt.Errorf("import %s: record the failure: %w", run.ID, err)
	}
	return failed, nil
}

func (j *Job) ensureErrorFile(ctx context.Context, c Continuation, run registry.Import) error {
	ok, err := j.Objects.Exists(ctx, c.Bucket, ErrorsKey(run.ID))
	if err != nil {
		return fmt.Errorf("import %s: error file: %w", run.ID, err)
	}
	if ok {
		return nil
	}
	return j.writeErrorFile(ctx, c, run)
}

// writeErrorFile writes the refused rows of an ended import, the header
// alone when there are none, so the office always finds the file. An
// import that failed as a whole adds its reasons (missing_name, encoding,
// changed...) as field "file" on the line after its checkpoint: the
// header's line when the header was refused.
func (j *Job) writeErrorFile(ctx context.Context, c Continuation, run registry.Import) error {
	rows, err := j.Importer.Imports.RowErrors(ctx, run.ID)
	if err != nil {
		return fmt.Errorf("import %s: read refused rows: %w", run.ID, err)
	}
	if run.Status == registry.ImportFailed {
		for _, reason := range strings.Split(run.Reason, ",") {
			rows = append(rows, registry.RowError{Line: run.Line + 1, Field: FieldFile, Reason: reason})
		}
	}
	if err := j.putErrorFile(ctx, c.Bucket, run.ID, rows); err != nil {
		return fmt.Errorf("import %s: %w", run.ID, err)
	}
	return nil
}

// FieldFile is the RowError field of a file refused as a whole.
const FieldFile = "file"

// putErrorFile writes rows as the error file of the import or list id.
func (j *Job) putErrorFile(ctx context.Context, bucket, id string, rows []registry.RowError) error {
	var buf bytes.Buffer
	if err := registry.WriteErrorsCSV(&buf, rows); err != nil {
		return fmt.Errorf("error file: %w", err)
	}
	if err := j.Objects.Put(ctx, bucket, ErrorsKey(id), "text/csv; charset=utf-8", buf.Bytes()); err != nil {
		return fmt.Errorf("error file: %w", err)
	}
	return nil
}

func outcome(run registry.Import) Outcome {
	return Outcome{
		ImportID: run.ID, Status: run.Status, Reason: run.Reason,
		Rows: run.Rows, Written: run.Written, Unchanged: run.Unchanged, Bad: run.Bad,
	}
}
