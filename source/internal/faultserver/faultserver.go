// Package faultserver is an HTTP server for tests that serves one target with
// Go's http.ServeContent (single and multi-range answers, If-Range, ETag and
// Last-Modified) and misbehaves on demand, request by request: error
// statuses with Retry-After, connections reset or bodies cut short after a
// number of bytes, stalls before the headers or in the body, a slow trickle,
// corrupted or shifted bytes under a correct-looking 206, and answers that
// ignore Range. No real server shows these on demand.
//
// Stalled handlers wait for the client to go away or for the test to end,
// never for a timer, so tests need no sleeps to synchronise.
package faultserver

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind is a misbehaviour.
type Kind int

// The misbehaviours. Body byte counts (Fault.After) count the bytes of the
// response body as sent, multipart framing included.
const (
	// OK serves the request correctly.
	OK Kind = iota
	// Status answers with Fault.Code, a short text body and, if set,
	// Fault.RetryAfter as the Retry-After header.
	Status
	// Reset sends the headers and Fault.After body bytes, then resets the
	// connection (TCP RST).
	Reset
	// Truncate sends the headers, promising the whole body, and Fault.After
	// body bytes, then closes the connection normally.
	Truncate
	// StallHeaders sends nothing until the client gives up.
	StallHeaders
	// StallBody sends the headers and Fault.After body bytes, then nothing
	// until the client gives up.
	StallBody
	// Trickle sends the body Fault.Chunk bytes at a time, every
	// Fault.Every: slow, but never stalled.
	Trickle
	// Corrupt serves the target with the byte at offset Fault.At flipped,
	// under correct headers.
	Corrupt
	// Shift serves every range 4 bytes late (bytes a+4 to b+4 for a to b)
	// under a correct-looking 206, as a CDN bug once did.
	Shift
	// Full ignores Range (and If-Range): 200 with the whole target.
	Full
	// IgnoreIfRange ignores If-Range: it answers Range with 206 whatever
	// the validator.
	IgnoreIfRange
	// GarbleMulti answers a multi-range request with a 206 whose
	// multipart body is garbage (correct headers, a complete body);
	// single ranges are served correctly.
	GarbleMulti
)

var kindNames = [...]string{"ok", "status", "reset", "truncate", "stall-headers", "stall-body", "trickle", "corrupt", "shift", "full", "ignore-if-range", "garble-multi"}

// String names the kind, for test names.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// Fault says how to answer one request. The zero value answers correctly.
type Fault struct {
	Kind       Kind
	Code       int           // Status: the status code
	RetryAfter string        // Status: the Retry-After value, if any
	After      int64         // Reset, Truncate, StallBody: body bytes sent first
	At         int64         // Corrupt: the target offset of the flipped byte
	Chunk      int           // Trickle: bytes per write (default 1)
	Every      time.Duration // Trickle: pause between writes
}

// Request is what the server saw of one request.
type Request struct {
	// N numbers the requests for the target itself, from 1; 0 for
	// redirects and other paths.
	N                          int
	Path, RawQuery             string
	Range, IfRange             string
	IfMatch, IfUnmodifiedSince string
	AcceptEncoding             string
}

// Options configure a Server.
type Options struct {
	// ETag is the target's entity tag (default "\"v1\"").
	ETag string
	// Redirect serves the target behind two redirects with query strings:
	// /file → 302 "dl/next?sig=abc" → 307 "../real/target.bin?token=x&e=1".
	Redirect bool
}

// ModTime is the target's Last-Modified time.
var ModTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// Server serves one target. Create it with New.
type Server struct {
	*httptest.Server
	data     []byte
	redirect bool
	release  chan struct{}

	mu     sync.Mutex
	etag   string
	reqs   []Request
	n      int
	faults func(n int) Fault
}

// New starts a Server for data, closed when the test ends.
func New(tb testing.TB, data []byte, opts Options) *Server {
	tb.Helper()
	s := &Server{data: data, redirect: opts.Redirect, release: make(chan struct{}), etag: opts.ETag}
	if s.etag == "" {
		s.etag = `"v1"`
	}
	s.Server = httptest.NewServer(s)
	tb.Cleanup(func() {
		close(s.release)
		s.Server.Close()
	})
	return s
}

// Data returns n bytes of seeded random data.
func Data(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 99))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TargetURL is the URL clients are given.
func (s *Server) TargetURL() string {
	if s.redirect {
		return s.URL + "/file"
	}
	return s.URL + "/target.bin"
}

// SetFaults sets the function that chooses the fault for the n-th request
// for the target (from 1). nil serves every request correctly.
func (s *Server) SetFaults(f func(n int) Fault) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// SetETag changes the target's entity tag, as a new version would.
func (s *Server) SetETag(v string) {
	s.mu.Lock()
	s.etag = v
	s.mu.Unlock()
}

// Always applies f to every request.
func Always(f Fault) func(int) Fault { return func(int) Fault { return f } }

// First applies f to the first k requests and serves the rest correctly.
func First(k int, f Fault) func(int) Fault {
	return func(n int) Fault {
		if n <= k {
			return f
		}
		return Fault{}
	}
}

// Requests returns every request seen so far, redirects included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// TargetRequests returns the requests for the target itself.
func (s *Server) TargetRequests() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.N > 0 {
			out = append(out, r)
		}
	}
	return out
}

// Ranges returns the Range headers of the requests for the target.
func (s *Server) Ranges() []string {
	var out []string
	for _, r := range s.TargetRequests() {
		out = append(out, r.Range)
	}
	return out
}

// ServeHTTP records the request and answers it, with the chosen fault.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := "/target.bin"
	if s.redirect {
		target = "/real/target.bin"
	}
	s.mu.Lock()
	rec := Request{
		Path: r.URL.Path, RawQuery: r.URL.RawQuery, Range: r.Header.Get("Range"),
		IfRange: r.Header.Get("If-Range"), IfMatch: r.Header.Get("If-Match"),
		IfUnmodifiedSince: r.Header.Get("If-Unmodified-Since"),
		AcceptEncoding:    r.Header.Get("Accept-Encoding"),
	}
	var f Fault
	if r.URL.Path == target {
		s.n++
		rec.N = s.n
		if s.faults != nil {
			f = s.faults(s.n)
		}
	}
	etag := s.etag
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()

	if s.redirect {
		switch r.URL.Path {
		case "/file":
			w.Header().Set("Location", "dl/next?sig=abc")
			w.WriteHeader(http.StatusFound)
			return
		case "/dl/next":
			if r.URL.Query().Get("sig") != "abc" {
				http.Error(w, "bad signature", http.StatusForbidden)
				return
			}
			w.Header().Set("Location", "../real/target.bin?token=x&e=1")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		case target:
			if r.URL.Query().Get("token") != "x" || r.URL.Query().Get("e") != "1" {
				http.Error(w, "bad token", http.StatusForbidden)
				return
			}
		}
	}
	if r.URL.Path != target {
		http.NotFound(w, r)
		return
	}
	s.serve(w, r, f, etag)
}

// errStop ends ServeContent's copy once a fault has done its work.
var errStop = errors.New("faultserver: stop writing")

func (s *Server) wait(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.release:
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, f Fault, etag string) {
	content := s.data
	switch f.Kind {
	case Status:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		http.Error(w, http.StatusText(f.Code), f.Code)
		return
	case StallHeaders:
		s.wait(r)
		return
	case Full:
		r.Header.Del("Range")
		r.Header.Del("If-Range")
	case IgnoreIfRange:
		r.Header.Del("If-Range")
	case GarbleMulti:
		if strings.Contains(r.Header.Get("Range"), ",") {
			body := []byte("--B\r\nContent-Type: application/octet-stream\r\nContent-Rang")
			w.Header().Set("Etag", etag)
			w.Header().Set("Content-Type", "multipart/byteranges; boundary=B")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(body)
			return
		}
	case Corrupt:
		content = bytes.Clone(s.data)
		content[f.At] ^= 0xff
	case Shift:
		content = append(bytes.Clone(s.data[min(4, len(s.data)):]), make([]byte, min(4, len(s.data)))...)
	}
	w.Header().Set("Etag", etag)
	var out http.ResponseWriter = w
	switch f.Kind {
	case Reset, Truncate, StallBody, Trickle:
		out = &faultWriter{ResponseWriter: w, s: s, r: r, f: f}
	}
	http.ServeContent(out, r, "target.bin", ModTime, bytes.NewReader(content))
}

// faultWriter applies a body fault to what ServeContent writes.
type faultWriter struct {
	http.ResponseWriter
	s    *Server
	r    *http.Request
	f    Fault
	sent int64
	done bool
}

func (w *faultWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errStop
	}
	f := w.f
	if f.Kind == Trickle {
		return w.trickle(p)
	}
	if w.sent+int64(len(p)) <= f.After {
		n, err := w.ResponseWriter.Write(p)
		w.sent += int64(n)
		return n, err
	}
	n, _ := w.ResponseWriter.Write(p[:f.After-w.sent])
	w.sent += int64(n)
	w.done = true
	w.ResponseWriter.(http.Flusher).Flush()
	switch f.Kind {
	case Reset:
		conn, _, err := w.ResponseWriter.(http.Hijacker).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with RST
			}
			conn.Close()
		}
	case StallBody:
		w.s.wait(w.r)
	case Truncate:
		// Returning before the promised Content-Length makes net/http
		// close the connection.
	}
	return n, errStop
}

func (w *faultWriter) trickle(p []byte) (int, error) {
	chunk := max(w.f.Chunk, 1)
	written := 0
	for written < len(p) {
		if written > 0 || w.sent > 0 {
			t := time.NewTimer(w.f.Every)
			select {
			case <-t.C:
			case <-w.r.Context().Done():
				t.Stop()
				return written, errStop
			case <-w.s.release:
				t.Stop()
				return written, errStop
			}
		}
		end := min(written+chunk, len(p))
		n, err := w.ResponseWriter.Write(p[written:end])
		written += n
		w.sent += int64(n)
		if err != nil {
			return written, err
		}
		w.ResponseWriter.(http.Flusher).Flush()
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *faultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// HTTPDate formats t as an HTTP date, for Retry-After.
func HTTPDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// Seconds formats a Retry-After value in seconds.
func Seconds(n int) string { return strconv.Itoa(n) }
