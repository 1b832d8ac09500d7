// Package s3fake is a bucket store that answers the S3 REST protocol as the
// SDK speaks it with path-style addressing (http://host/bucket/key), for
// tests of the code that reads registry files and writes error files: S3
// itself cannot run here. It answers HeadObject, GetObject (with Range and
// If-Match) and PutObject, and checks what S3 would check of a PUT: the
// signed payload hash, Content-MD5 and the SDK's CRC32 checksum, whether
// sent as a header or, over TLS, as an aws-chunked trailer.
package s3fake

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is an http.Handler; point the SDK's BaseEndpoint at it with
// UsePathStyle.
type Server struct {
	mu       sync.Mutex
	buckets  map[string]map[string]object
	requests []Request
}

type object struct {
	body         []byte
	etag         string // quoted, as S3 sends it
	contentType  string
	lastModified time.Time
}

// Request is one request the server answered, for tests that check how a
// client reads (a resumed read must ask for a range, not the whole file).
type Request struct {
	Method, Bucket, Key string
	Range               string // the Range header, if any
	IfMatch             string // the If-Match header, if any
	ContentEncoding     string // aws-chunked for a PUT the SDK streamed
	Status              int
}

// New serves the named buckets, empty.
func New(buckets ...string) *Server {
	s := &Server{buckets: map[string]map[string]object{}}
	for _, b := range buckets {
		s.buckets[b] = map[string]object{}
	}
	return s
}

// Put stores body under bucket/key as a PutObject would and returns its
// ETag without quotes, the form S3 event notifications carry.
func (s *Server) Put(bucket, key string, body []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs, ok := s.buckets[bucket]
	if !ok {
		return "", fmt.Errorf("s3fake: no bucket %s", bucket)
	}
	o := newObject(body, "text/csv")
	objs[key] = o
	return strings.Trim(o.etag, `"`), nil
}

// Delete removes bucket/key, as if someone deleted the file.
func (s *Server) Delete(bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.buckets[bucket], key)
}

// Object returns what bucket/key holds.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[bucket][key]
	return bytes.Clone(o.body), ok
}

// Keys lists the keys of bucket with prefix, in no order.
func (s *Server) Keys(bucket, prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.buckets[bucket] {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Requests returns every request answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func newObject(body []byte, contentType string) object {
	sum := md5.Sum(body)
	return object{body: body, etag: `"` + hex.EncodeToString(sum[:]) + `"`, contentType: contentType, lastModified: time.Now().UTC().Truncate(time.Second)}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &statusWriter{ResponseWriter: w}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Bucket: bucket, Key: key, Range: r.Header.Get("Range"), IfMatch: r.Header.Get("If-Match"), ContentEncoding: r.Header.Get("Content-Encoding"), Status: rw.status})
		s.mu.Unlock()
	}()
	// S3 refuses unsigned requests; the SDK always signs.
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(rw, r, http.StatusForbidden, "AccessDenied", "request is not signed with SigV4")
		return
	}
	if bucket == "" || key == "" {
		fail(rw, r, http.StatusBadRequest, "InvalidRequest", "only path-style object requests are served")
		return
	}
	switch r.Method {
	case http.MethodHead, http.MethodGet:
		s.get(rw, r, bucket, key)
	case http.MethodPut:
		s.put(rw, r, bucket, key)
	default:
		fail(rw, r, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not served")
	}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, bucket, key string) {
	s.mu.Lock()
	objs, bucketOK := s.buckets[bucket]
	o, ok := objs[key]
	s.mu.Unlock()
	switch {
	case !bucketOK:
		fail(w, r, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	case !ok:
		fail(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && strings.Trim(m, `"`) != strings.Trim(o.etag, `"`) {
		fail(w, r, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
		return
	}
	h := w.Header()
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.lastModified.Format(http.TimeFormat))
	h.Set("Content-Type", o.contentType)
	h.Set("Accept-Ranges", "bytes")
	size := int64(len(o.body))
	start, end, ranged, ok := parseRange(r.Header.Get("Range"), size)
	if !ok {
		fail(w, r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
		return
	}
	status := http.StatusOK
	if ranged {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
	}
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		w.Write(o.body[start:end])
	}
}

// parseRange reads the one byte range S3 takes ("bytes=a-", "bytes=a-b",
// "bytes=-n") and returns it as [start, end). A header S3 would ignore
// (not bytes=, several ranges) reads the whole object; a start at or past
// the end is not satisfiable.
func parseRange(header string, size int64) (start, end int64, ranged, ok bool) {
	spec, isBytes := strings.CutPrefix(header, "bytes=")
	if header == "" || !isBytes || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return 0, size, false, true
	}
	if first == "" { // the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, false
		}
		return max(size-n, 0), size, true, size > 0
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 || a >= size {
		return 0, 0, false, false
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, size, false, true
		}
		b = min(b, size-1)
	}
	return a, b + 1, true, true
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, bucket, key string) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	body, trailer := raw, http.Header{}
	if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		if body, trailer, err = decodeChunked(raw); err != nil {
			fail(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
			return
		}
		if n := r.Header.Get("X-Amz-Decoded-Content-Length"); n != strconv.Itoa(len(body)) {
			fail(w, r, http.StatusBadRequest, "IncompleteBody", fmt.Sprintf("x-amz-decoded-content-length %s, got %d bytes", n, len(body)))
			return
		}
	}
	if code, msg := checkPayload(r.Header, trailer, body); code != "" {
		fail(w, r, http.StatusBadRequest, code, msg)
		return
	}
	s.mu.Lock()
	objs, ok := s.buckets[bucket]
	var o object
	if ok {
		o = newObject(body, r.Header.Get("Content-Type"))
		objs[key] = o
	}
	s.mu.Unlock()
	if !ok {
		fail(w, r, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	w.Header().Set("ETag", o.etag)
	w.WriteHeader(http.StatusOK)
}

// checkPayload checks the body against every digest the request carries.
func checkPayload(h, trailer http.Header, body []byte) (code, msg string) {
	if want := h.Get("X-Amz-Content-Sha256"); want != "" && !strings.HasPrefix(want, "UNSIGNED") && !strings.HasPrefix(want, "STREAMING") {
		sum := sha256.Sum256(body)
		if want != hex.EncodeToString(sum[:]) {
			return "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
		}
	}
	if want := h.Get("Content-Md5"); want != "" {
		sum := md5.Sum(body)
		if want != base64.StdEncoding.EncodeToString(sum[:]) {
			return "BadDigest", "The Content-MD5 you specified did not match what we received."
		}
	}
	for _, from := range []http.Header{h, trailer} {
		if want := from.Get("X-Amz-Checksum-Crc32"); want != "" {
			sum := crc32.ChecksumIEEE(body)
			got := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
			if want != got {
				return "BadDigest", "The CRC32 you specified did not match the calculated checksum."
			}
		}
	}
	return "", ""
}

// decodeChunked reads an aws-chunked body with unsigned chunks (what the
// SDK sends over TLS: STREAMING-UNSIGNED-PAYLOAD-TRAILER): hex-size CRLF
// data CRLF ... 0 CRLF, then trailer headers and a blank line.
func decodeChunked(raw []byte) ([]byte, http.Header, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	var body []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("aws-chunked: chunk header: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("aws-chunked: chunk size %q", sizeHex)
		}
		if n == 0 {
			break
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, nil, fmt.Errorf("aws-chunked: chunk data: %w", err)
		}
		body = append(body, chunk...)
		if crlf, err := br.ReadString('\n'); err != nil || crlf != "\r\n" {
			return nil, nil, errors.New("aws-chunked: chunk not followed by CRLF")
		}
	}
	trailer := http.Header{}
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return body, trailer, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("aws-chunked: trailer: %w", err)
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("aws-chunked: trailer line %q", line)
		}
		trailer.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

// fail answers as S3 does: an XML error body, none for HEAD (the SDK then
// names the error by status, e.g. NotFound).
func fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("X-Amz-Request-Id", "S3FAKE"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(errorBody{Code: code, Message: msg, Resource: r.URL.Path, RequestID: w.Header().Get("X-Amz-Request-Id")})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
