// Package outbox is the SMS provider for running locally (make run): instead
// of texting anyone it appends each message as one JSON line to a file, and
// serves the lines at GET /dev/sms so a developer can see what went out.
//
// The "to" field holds the full phone number on purpose: the file is the
// developer's stand-in for the phone network, and you cannot check who got
// what without it. That is why it must live under the git-ignored data
// directory, is created with mode 0600, and must never be pointed at real
// residents' numbers outside a developer's machine. Errors from Send never
// carry the number, as with every provider.
//
// WithFaults makes Send fail at a set rate, for testing delivery's retries.
//
// The provider answers sms.Receipts from the file: delivery asks it before
// sending again an alert whose sender died, so a crash between writing a
// line and recording it in the ledger does not write a second line.
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"gridcode/shared/sms"
)

// Line is one sent message as stored in the file and served by Handler.
type Line struct {
	AlertID  string            `json:"alertId"`
	To       string            `json:"to"`
	Template string            `json:"template"`
	Params   map[string]string `json:"params"`
	Text     string            `json:"text"`
	Segments int               `json:"segments"`
	SentAt   time.Time         `json:"sentAt"`
}

// Faults makes Send fail, for fault tests of delivery.
type Faults struct {
	// Rate is the share of Sends, 0 to 1, that fail as if the provider
	// were struggling: half of them wrap sms.ErrThrottled, half are plain
	// (retryable) errors. Nothing is written for a failed Send.
	Rate float64
	// Seed fixes the sequence of failures: the same seed and the same
	// order of Sends fail the same Sends.
	Seed uint64
	// Permanent lists E.164 numbers that always fail with sms.ErrPermanent,
	// like an opted-out phone.
	Permanent map[string]bool
}

// Option configures Open.
type Option func(*Provider)

// WithFaults makes Send fail as f says.
func WithFaults(f Faults) Option {
	return func(p *Provider) {
		p.faults = f
		p.rng = rand.New(rand.NewPCG(f.Seed, f.Seed))
	}
}

// Provider writes messages to the outbox file. It is safe for concurrent use.
type Provider struct {
	now    func() time.Time
	faults Faults
	rng    *rand.Rand // nil without faults

	mu       sync.Mutex
	f        *os.File          // nil once closed
	sent     int               // lines in the file, numbering the ids
	receipts map[string]string // alert id -> the id of its first line
}

var (
	_ sms.Provider = (*Provider)(nil)
	_ sms.Receipts = (*Provider)(nil)
)

// ErrClosed is returned by Send and List after Close.
var ErrClosed = errors.New("outbox: closed")

// Open opens or creates (mode 0600, and its directory 0700) the outbox file
// at path. Ids continue from the lines already in it. now is the clock;
// nil means time.Now.
func Open(path string, now func() time.Time, opts ...Option) (*Provider, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	p := &Provider{now: now, f: f}
	for _, o := range opts {
		o(p)
	}
	lines, err := p.readLines()
	if err == nil {
		err = p.endTornLine()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	p.sent = len(lines)
	p.receipts = make(map[string]string, len(lines))
	for i, l := range lines {
		p.receipt(l.AlertID, i+1)
	}
	return p, nil
}

// receipt records the id of alertID's first line. Called with mu held, or
// before p is shared.
func (p *Provider) receipt(alertID string, n int) {
	if _, ok := p.receipts[alertID]; !ok && alertID != "" {
		p.receipts[alertID] = "local-" + strconv.Itoa(n)
	}
}

// Receipt implements sms.Receipts: the id Send gave alertID's first line,
// in this process or before it (the file's lines are read on Open).
func (p *Provider) Receipt(ctx context.Context, alertID string) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return "", false, fmt.Errorf("outbox: receipt of alert %s: %w", alertID, ErrClosed)
	}
	id, ok := p.receipts[alertID]
	return id, ok, nil
}

// endTornLine closes a last line a crash left without its newline, so the
// next Send starts a line of its own instead of gluing onto the torn one.
func (p *Provider) endTornLine() error {
	fi, err := p.f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := p.f.ReadAt(last, fi.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err = p.f.Write([]byte{'\n'})
	}
	return err
}

// Send appends m as one line and returns its id, "local-<n>".
func (p *Provider) Send(ctx context.Context, m sms.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("outbox: send alert %s: %w", m.AlertID, err)
	}
	line, err := json.Marshal(Line{
		AlertID: m.AlertID, To: m.To, Template: m.Template, Params: m.Params,
		Text: m.Text, Segments: m.Segments, SentAt: p.now().UTC(),
	})
	if err != nil {
		return "", fmt.Errorf("outbox: send alert %s: %w", m.AlertID, err)
	}
	line = append(line, '\n')

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return "", fmt.Errorf("outbox: send alert %s: %w", m.AlertID, ErrClosed)
	}
	if err := p.fault(m); err != nil {
		return "", fmt.Errorf("outbox: send alert %s: %w", m.AlertID, err)
	}
	// One Write of the whole line, under the lock, so lines never
	// interleave and a reader never sees half of one (but a crash or a
	// full disk can leave a torn last line, which reading skips).
	if _, err := p.f.Write(line); err != nil {
		return "", fmt.Errorf("outbox: send alert %s: %w", m.AlertID, err)
	}
	p.sent++
	p.receipt(m.AlertID, p.sent)
	return "local-" + strconv.Itoa(p.sent), nil
}

// Errors the faults inject.
var (
	errInjectedPermanent = fmt.Errorf("injected fault, number fails always: %w", sms.ErrPermanent)
	errInjectedThrottled = fmt.Errorf("injected fault: %w", sms.ErrThrottled)
	errInjected          = errors.New("injected fault: provider unavailable")
)

// fault returns the injected failure for m, if any. Called with mu held so
// the random sequence is drawn in Send order.
func (p *Provider) fault(m sms.Message) error {
	if p.faults.Permanent[m.To] {
		return errInjectedPermanent
	}
	if p.rng == nil || p.faults.Rate <= 0 {
		return nil
	}
	switch u := p.rng.Float64(); {
	case u < p.faults.Rate/2:
		return errInjectedThrottled
	case u < p.faults.Rate:
		return errInjected
	}
	return nil
}

// List returns up to limit lines, newest first; limit <= 0 means all.
func (p *Provider) List(limit int) ([]Line, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return nil, ErrClosed
	}
	lines, err := p.readLines()
	if err != nil {
		return nil, fmt.Errorf("outbox: list: %w", err)
	}
	if limit <= 0 || limit > len(lines) {
		limit = len(lines)
	}
	out := make([]Line, 0, limit)
	for i := len(lines) - 1; i >= len(lines)-limit; i-- {
		out = append(out, lines[i])
	}
	return out, nil
}

// readLines decodes the file's lines, oldest first, skipping a torn last
// line that has no newline. Called with mu held, or before p is shared.
func (p *Provider) readLines() ([]Line, error) {
	fi, err := p.f.Stat()
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(io.NewSectionReader(p.f, 0, fi.Size()))
	var lines []Line
	for {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return lines, nil // b, if any, is a torn line
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(b, &l); err != nil {
			continue // a line torn by a crash and closed on reopening
		}
		lines = append(lines, l)
	}
}

// Close closes the file. Send and List fail after it.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	return err
}

// defaultLimit and maxLimit bound GET /dev/sms?limit=.
const (
	defaultLimit = 100
	maxLimit     = 10000
)

// Handler serves GET /dev/sms: the lines as a JSON array, newest first,
// ?limit= of them (default 100). For the local runner only: it shows full
// phone numbers.
func (p *Provider) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed"})
			return
		}
		limit := defaultLimit
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > maxLimit {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_limit"})
				return
			}
			limit = n
		}
		lines, err := p.List(limit)
		if err != nil {
			slog.ErrorContext(r.Context(), "list dev sms outbox", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "outbox_unreadable"})
			return
		}
		if lines == nil {
			lines = []Line{} // [] rather than null
		}
		writeJSON(w, http.StatusOK, lines)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client has gone; nothing to do
}
