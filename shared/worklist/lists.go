package worklist

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
	"unicode"
	"unicode/utf8"

	"gridcode/shared/csvin"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/group"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/textnorm"
)

// CodeInvalidList refuses an upload: its name or kind, its header, its
// encoding, or a file without one usable row.
const CodeInvalidList = "invalid_list"

// Reasons of list problems, besides "required", "too_long", the idcard
// reasons and the header reasons of csvin.Columns.
const (
	ReasonNoRows      = "no_rows"                  // file: no row with a valid document
	ReasonExcelNumber = registry.ReasonExcelNumber // idNumber: Excel wrote it as 4.40106E+17
	ReasonEncoding    = "encoding"                 // file: neither UTF-8 nor GB18030 (UTF-16)
)

// MaxListNameRunes bounds a list's name.
const MaxListNameRunes = 50

// MaxRowErrors is how many refused rows an upload reports one by one; the
// list's Bad counts them all. A file that is wrong throughout (the wrong
// column picked as the ID) says so in the first thousand.
const MaxRowErrors = 1000

// evidence text limits: long enough for any real cell, short enough that
// a misplaced column cannot bloat a chunk.
const (
	maxSeenRunes = 30
	maxCellRunes = 100
)

// listColumns maps header cells, normalised by csvin.Columns, to columns.
var listColumns = map[string]string{
	"姓名": "name", "name": "name",
	"证件类型": "idType", "idtype": "idType",
	"证件号码": "idNumber", "证件号": "idNumber", "身份证号": "idNumber", "身份证号码": "idNumber", "idnumber": "idNumber",
	"手机号": "phone", "手机号码": "phone", "手机": "phone", "电话": "phone", "联系电话": "phone", "phone": "phone",
	"社区": "community", "村居": "community", "社区/村居": "community", "社区村居": "community", "村": "community",
	"所属社区": "community", "community": "community",
	"地址": "address", "详细地址": "address", "居住地址": "address", "现住址": "address", "address": "address",
	"检测点": "place", "场所": "place", "场所名称": "place", "采样点": "place", "检测点/场所": "place", "place": "place",
	"时间": "seen", "检测时间": "seen", "采样时间": "seen", "扫码时间": "seen", "seen": "seen", "time": "seen",
}

// uploadKinds are the kinds a list may be; the registry is not uploaded
// here but imported.
var uploadKinds = map[string]bool{KindNAT: true, KindResidenceCode: true, KindVenueCode: true, KindOther: true}

// Uploader stores uploaded lists.
type Uploader struct {
	Store Store
	Vault *pii.Vault
	Grids *grid.Directory
	Now   func() time.Time
	// Retention sets the list's ExpiresAt; DefaultRetention when zero.
	Retention time.Duration
}

// Upload reads a list's CSV (UTF-8 with or without BOM, or GB18030 as
// Chinese Excel saves it) and stores it in chunks, then the list. Columns:
// 证件号码 (idNumber) required; 姓名, 证件类型, 手机号, 社区/村居, 地址,
// 检测点/场所 and 时间/检测时间 optional. A row whose document is not
// valid is refused (reported by line, not stored); a person listed twice
// counts once, with the first row's data. The other cells only inform the
// grid worker, so they never cost a row: a phone that is not a mainland
// mobile (a landline) is left out, text is trimmed, stripped of control
// characters and cut at a length.
//
// The file is read as a stream: memory holds the few batches and chunks in
// flight and the set of people seen, never the file.
//
// Errors: *fields.Error (CodeInvalidList) for a bad name or kind, header,
// encoding, or no usable row (the row errors are returned with it).
func (u *Uploader) Upload(ctx context.Context, name, kind, by string, r io.Reader) (List, []registry.RowError, error) {
	return u.UploadAs(ctx, "", name, kind, by, r)
}

// UploadAs is Upload under the list id listID, or a new id when it is "".
// An upload that may be delivered twice names its list itself (the S3
// import, after the object), so the second delivery finds the list of the
// first. The caller checks that no list has the id: the chunks of a list
// under listID would be overwritten, and deleted if this upload failed.
func (u *Uploader) UploadAs(ctx context.Context, listID, name, kind, by string, r io.Reader) (List, []registry.RowError, error) {
	now := u.Now()
	var c fields.Collector
	name, reason := textnorm.Required(name, MaxListNameRunes)
	if reason != "" {
		c.Add("name", reason)
	}
	if !uploadKinds[kind] {
		c.Add("kind", fields.Reason(kind, ReasonUnknown))
	}
	if err := c.Err(CodeInvalidList); err != nil {
		return List{}, nil, err
	}

	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return List{}, nil, fmt.Errorf("read list: %w", err)
	}
	enc, err := csvin.Sniff(head)
	if err != nil {
		return List{}, nil, listProblem("file", ReasonEncoding)
	}
	rd := csvin.NewReader(br, enc, 0, 0)
	header, err := rd.Next()
	if errors.Is(err, io.EOF) {
		return List{}, nil, listProblem("header", "required")
	}
	var lineErr *csvin.LineError
	if errors.As(err, &lineErr) {
		return List{}, nil, listProblem("header", lineErr.Reason())
	}
	if err != nil {
		return List{}, nil, fmt.Errorf("read list header: %w", err)
	}
	cols, err := csvin.Columns(header.Fields, listColumns, "idNumber")
	if err != nil {
		return List{}, nil, asListError(err, "header")
	}

	if listID == "" {
		listID = newID("l", now)
	}
	l := List{ID: listID, Name: name, Kind: kind, CreatedAt: now.UTC(), CreatedBy: by}
	retention := u.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	l.ExpiresAt = now.Add(retention).Unix()

	up := u.startUpload(ctx, l.ID, rowChecker{u: u, cols: cols, today: now.In(dates.District)})
	batch := rawBatch{}
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			up.check(batch)
			break
		}
		// A broken line (bad quoting, an endless cell) is that row's
		// problem; the reader carries on after it.
		var lineErr *csvin.LineError
		if err != nil && !errors.As(err, &lineErr) {
			up.fail(fmt.Errorf("read list: %w", err))
			break
		}
		batch.recs = append(batch.recs, rec)
		batch.errs = append(batch.errs, lineErr)
		if len(batch.recs) == ChunkRows {
			if !up.check(batch) {
				break
			}
			batch = rawBatch{seq: batch.seq + 1}
		}
	}
	res, err := up.wait()
	if err != nil {
		return List{}, nil, u.discard(ctx, l.ID, err)
	}
	if res.rows == 0 {
		// No row, no chunk: there is nothing to discard.
		return List{}, res.rowErrs, listProblem("file", ReasonNoRows)
	}
	l.Rows, l.Bad, l.Chunks = res.rows, res.bad, res.chunks
	if err := u.Store.PutList(ctx, l); err != nil {
		return List{}, nil, u.discard(ctx, l.ID, fmt.Errorf("put list %s: %w", l.ID, err))
	}
	return l, res.rowErrs, nil
}

// discardTimeout bounds the deletion of a failed upload's chunks.
const discardTimeout = 10 * time.Second

// discard deletes the chunks of an upload that failed with cause, once the
// pipeline has stopped writing them: rows of personal data that no list
// shows and no reconciliation reads. It runs even when the caller's context
// has ended (a dropped connection fails an upload too). The cause is
// returned, joined with a failure to delete (the DynamoDB chunks then
// still expire after dynamo.UploadExpiry).
func (u *Uploader) discard(ctx context.Context, listID string, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discardTimeout)
	defer cancel()
	if err := u.Store.DeleteListChunks(ctx, listID); err != nil {
		return errors.Join(cause, fmt.Errorf("discard chunks of failed upload %s: %w", listID, err))
	}
	return cause
}

// The upload is a pipeline, so that a district-wide list takes seconds
// on a few cores: this goroutine reads the CSV into batches; checkers
// check and hash the batches' rows in parallel; one merger puts the rows
// back in file order, drops people already seen and cuts chunks; writers
// seal and store the chunks, overlapping the store's commits.

// rawBatch is up to ChunkRows records as read; errs[i] is non-nil for a
// line that could not be read.
type rawBatch struct {
	seq  int
	recs []csvin.Record
	errs []*csvin.LineError
}

// checkedBatch is a batch's rows after checking, in file order.
type checkedBatch struct {
	seq     int
	rows    []checkedRow
	rowErrs []registry.RowError // at most MaxRowErrors
	bad     int
}

type checkedRow struct {
	key, hint string
	ev        Evidence
}

type uploadResult struct {
	rows, bad, chunks int
	rowErrs           []registry.RowError
}

type upload struct {
	u      *Uploader
	listID string
	rc     rowChecker
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc

	raw     chan rawBatch
	checked chan checkedBatch
	chunks  chan pendingChunk
	done    chan uploadResult // the merger's result, once the writers are done

	mu  sync.Mutex
	err error
}

func (u *Uploader) startUpload(parent context.Context, listID string, rc rowChecker) *upload {
	ctx, cancel := context.WithCancel(parent)
	workers := max(2, runtime.GOMAXPROCS(0))
	up := &upload{
		u: u, listID: listID, rc: rc, parent: parent, ctx: ctx, cancel: cancel,
		raw: make(chan rawBatch, workers), checked: make(chan checkedBatch, workers),
		chunks: make(chan pendingChunk, 1), done: make(chan uploadResult, 1),
	}
	var checkers, writers sync.WaitGroup
	for range workers {
		checkers.Go(func() {
			for b := range up.raw {
				cb := up.rc.batch(b)
				select {
				case up.checked <- cb:
				case <-ctx.Done():
				}
			}
		})
		writers.Go(func() {
			for c := range up.chunks {
				if ctx.Err() != nil {
					continue
				}
				if err := up.store(c); err != nil {
					up.fail(err)
				}
			}
		})
	}
	go func() { checkers.Wait(); close(up.checked) }()
	go func() {
		res := up.merge()
		close(up.chunks)
		writers.Wait()
		up.done <- res
	}()
	return up
}

// check hands a batch to the checkers; false means the upload failed.
func (up *upload) check(b rawBatch) bool {
	if len(b.recs) == 0 {
		return true
	}
	select {
	case up.raw <- b:
		return true
	case <-up.ctx.Done():
		return false
	}
}

// merge takes the checked batches in file order and cuts chunks.
func (up *upload) merge() uploadResult {
	var res uploadResult
	seen := make(map[personID]struct{})
	waiting := map[int]checkedBatch{}
	next := 0
	cur := up.newChunk(0)
	for cb := range up.checked {
		if up.ctx.Err() != nil {
			continue // drain, so no checker stays blocked
		}
		waiting[cb.seq] = cb
		for {
			b, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			res.bad += b.bad
			if room := MaxRowErrors - len(res.rowErrs); room > 0 {
				res.rowErrs = append(res.rowErrs, b.rowErrs[:min(room, len(b.rowErrs))]...)
			}
			for _, r := range b.rows {
				var id personID
				copy(id[:], r.key)
				if _, dup := seen[id]; dup {
					continue
				}
				seen[id] = struct{}{}
				cur.Keys = append(cur.Keys, r.key)
				cur.Grids = append(cur.Grids, r.hint)
				cur.evidence = append(cur.evidence, r.ev)
				res.rows++
				if len(cur.Keys) == ChunkRows {
					up.write(cur)
					cur = up.newChunk(cur.N + 1)
				}
			}
		}
	}
	if len(cur.Keys) > 0 {
		up.write(cur)
		cur.N++
	}
	res.chunks = cur.N
	return res
}

func (up *upload) newChunk(n int) pendingChunk {
	return pendingChunk{
		Chunk:    Chunk{ListID: up.listID, N: n, Keys: make([]string, 0, ChunkRows), Grids: make([]string, 0, ChunkRows)},
		evidence: make([]Evidence, 0, ChunkRows),
	}
}

func (up *upload) write(c pendingChunk) {
	select {
	case up.chunks <- c:
	case <-up.ctx.Done():
	}
}

func (up *upload) store(c pendingChunk) error {
	sealed, err := up.u.Vault.SealJSON(c.evidence, chunkContext(up.listID, c.N))
	if err != nil {
		return fmt.Errorf("seal chunk %d of list %s: %w", c.N, up.listID, err)
	}
	c.Sealed = sealed
	if err := up.u.Store.PutListChunk(up.ctx, c.Chunk); err != nil {
		return fmt.Errorf("put chunk %d of list %s: %w", c.N, up.listID, err)
	}
	return nil
}

func (up *upload) fail(err error) {
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.err == nil {
		up.err = err
		up.cancel()
	}
}

// wait ends the reading, lets the pipeline finish and returns its result
// or its first failure (or the caller's context's end).
func (up *upload) wait() (uploadResult, error) {
	close(up.raw)
	res := <-up.done
	up.cancel()
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.err != nil {
		return uploadResult{}, up.err
	}
	if err := up.parent.Err(); err != nil {
		return uploadResult{}, fmt.Errorf("store list %s: %w", up.listID, err)
	}
	return res, nil
}

// pendingChunk is a chunk before its evidence is sealed.
type pendingChunk struct {
	Chunk
	evidence []Evidence
}

// personID is the start of a person key: 80 bits of keyed hash, so the
// chance of two of a million people sharing one is about 1 in 10^12,
// in half the memory of the whole keys.
type personID [16]byte

// rowChecker checks rows; it is safe for concurrent use.
type rowChecker struct {
	u     *Uploader
	cols  map[string]int
	today time.Time
}

func (rc rowChecker) batch(b rawBatch) checkedBatch {
	out := checkedBatch{seq: b.seq, rows: make([]checkedRow, 0, len(b.recs))}
	report := func(errs ...registry.RowError) {
		out.bad++
		if room := MaxRowErrors - len(out.rowErrs); room > 0 {
			out.rowErrs = append(out.rowErrs, errs[:min(room, len(errs))]...)
		}
	}
	// A list names a handful of document types a million times over.
	kinds := map[string]idcard.Kind{}
	for i, rec := range b.recs {
		if e := b.errs[i]; e != nil {
			report(registry.RowError{Line: e.Line, Field: registry.FieldRow, Reason: e.Reason()})
			continue
		}
		row, bad := rc.read(rec, kinds)
		if len(bad) > 0 {
			report(bad...)
			continue
		}
		out.rows = append(out.rows, row)
	}
	return out
}

// read checks one row: its document decides whether it counts; the other
// cells are what the grid worker is shown, kept as clean as they come.
func (rc rowChecker) read(rec csvin.Record, kinds map[string]idcard.Kind) (row checkedRow, bad []registry.RowError) {
	cell := func(col string) string {
		if i, ok := rc.cols[col]; ok && i < len(rec.Fields) {
			return rec.Fields[i]
		}
		return ""
	}
	refuse := func(field, reason string) {
		bad = append(bad, registry.RowError{Line: rec.Line, Field: field, Reason: reason})
	}

	ev := &row.ev
	typed := cell("idType")
	kind, ok := kinds[typed]
	if !ok {
		if kind, ok = group.ParseIDType(typed); !ok {
			refuse("idType", ReasonUnknown)
			return row, bad
		}
		kinds[typed] = kind
	}
	raw := strings.TrimPrefix(strings.TrimSpace(cell("idNumber")), "'")
	number, reason := idcard.Check(kind, raw, rc.today)
	if reason != "" && looksLikeExcelNumber(raw) {
		reason = ReasonExcelNumber
	}
	if reason != "" {
		refuse("idNumber", reason)
		return row, bad
	}
	ev.IDType, ev.IDNumber = string(kind), number
	row.key = report.PersonLookup(rc.u.Vault, kind, number)

	if p, ok := phone.Normalize(strings.TrimPrefix(strings.TrimSpace(cell("phone")), "'")); ok {
		ev.Phone = p
	}
	ev.Name = evidenceText(cell("name"), registry.MaxNameRunes)
	ev.Community = evidenceText(cell("community"), registry.MaxCommunityRunes)
	ev.Address = evidenceText(cell("address"), registry.MaxAddressRunes)
	ev.Place = evidenceText(cell("place"), maxCellRunes)
	ev.Seen = evidenceText(cell("seen"), maxSeenRunes)
	// The hint places the row as the registry would place the address;
	// the registry's own entry, if any, wins in the reconciliation.
	if ev.Community != "" && rc.u.Grids != nil {
		if code, ok := rc.u.Grids.ForPlace("", ev.Community, ev.Address); ok {
			row.hint = code
		}
	}
	return row, nil
}

// looksLikeExcelNumber reports a number in scientific notation
// (4.40106E+17): Excel's rendering of an ID column not formatted as text.
func looksLikeExcelNumber(s string) bool {
	mant, exp, ok := strings.Cut(strings.ToUpper(s), "E+")
	if !ok || mant == "" || exp == "" {
		return false
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	return len(intPart) == 1 && allDigits(intPart) && allDigits(frac) && allDigits(exp)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// evidenceText cleans an optional cell for showing: trimmed, runs of
// white space folded, control and format characters dropped, at most limit
// characters. It leaves Unicode normalisation alone: evidence is shown to
// the grid worker, never compared, and most cells need no change at all,
// which this finds without allocating (the upload cleans millions).
func evidenceText(s string, limit int) string {
	if s == "" || isCleanText(s) && utf8.RuneCountInString(s) <= limit {
		return s
	}
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = n > 0
			continue
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		// A space is written with the character after it, so a cut
		// never leaves one at the end.
		width := 1
		if space {
			width = 2
		}
		if n += width; n > limit {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isCleanText reports that s needs nothing of evidenceText but a length check.
func isCleanText(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
				return false
			case c < ' ' || c == 0x7f:
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
		i += size
	}
	return true
}

// asListError keeps a *fields.Error as it is (under CodeInvalidList) and
// wraps anything else.
func asListError(err error, field string) error {
	var fe *fields.Error
	if errors.As(err, &fe) {
		return &fields.Error{Code: CodeInvalidList, Problems: fe.Problems}
	}
	return fmt.Errorf("read list %s: %w", field, err)
}

func listProblem(field, reason string) error {
	return &fields.Error{Code: CodeInvalidList, Problems: []fields.Problem{{Field: field, Reason: reason}}}
}
