package httpsource

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The target every test server serves: 1 MiB of seeded random bytes.
const targetSize = 1 << 20

var targetData = func() []byte {
	b := make([]byte, targetSize)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

const (
	testETag     = `"zync-test-etag"`
	testBoundary = "ZYNC_TEST_BOUNDARY_3d6b6a416f9b"
	targetPath   = "/target.bin"
)

var testModTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// seenRequest is what the test server recorded about one request.
type seenRequest struct {
	Path, RawQuery string
	Range          string
	AcceptEncoding string
	ProtoMajor     int
}

// testServer serves targetData with a chosen misbehaviour. Modes:
//
//	normal        correct single-part and multipart 206 (CRLF before the first boundary, like nginx and Apache)
//	gofileserver  Go's http.ServeContent (multipart without the leading CRLF)
//	full200       ignores Range: 200 with the whole file
//	s3            200 with the whole file for multi-range requests, 206 for single ranges
//	firstOnly     answers a multi-range request with its first range only, as a single-part 206
//	multi501, multi400, multi416  that status for multi-range requests
//	coalesce      merges asked ranges pairwise into one part each and sends the parts in reverse order
//	wrongRange    sends a Content-Range (and bytes) 64 KiB past what was asked
//	badTotal      Content-Range totals are one byte too long
//	gzip206       206 answers carry Content-Encoding: gzip
//	prefix        every part holds only the first half of the range asked
//	short         single-part 206 whose body stops halfway (the connection is closed)
//	notFound, gone, unauthorized, forbidden, err500  that status
//	redirect      /file → 302 relative "dl/next?sig=abc" → 307 "../real/target.bin?token=x&e=1" → normal
//	stallHeaders  never answers; waits for the client to give up
//	stallBody     single-range 206 that sends half its body, then waits for the client to give up
type testServer struct {
	*httptest.Server
	mode string

	mu   sync.Mutex
	reqs []seenRequest

	inFlight, maxInFlight atomic.Int32
	// hook, if set, runs at the start of every request.
	hook func(r *http.Request)
	// stalled is closed when a stall mode has stopped sending.
	stalled     chan struct{}
	stalledOnce sync.Once
}

func newTestServer(t *testing.T, mode string) *testServer {
	t.Helper()
	ts := &testServer{mode: mode, stalled: make(chan struct{})}
	ts.Server = httptest.NewServer(ts)
	t.Cleanup(ts.Close)
	return ts
}

// newTLSTestServer is newTestServer over HTTPS with HTTP/2 enabled.
func newTLSTestServer(t *testing.T, mode string) *testServer {
	t.Helper()
	ts := &testServer{mode: mode, stalled: make(chan struct{})}
	ts.Server = httptest.NewUnstartedServer(ts)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// TargetURL is the URL a client should be given.
func (ts *testServer) TargetURL() string {
	if ts.mode == "redirect" {
		return ts.URL + "/file"
	}
	return ts.URL + targetPath
}

// Requests returns what was recorded so far, for every path.
func (ts *testServer) Requests() []seenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]seenRequest(nil), ts.reqs...)
}

// RequestsTo returns the recorded requests for one path.
func (ts *testServer) RequestsTo(path string) []seenRequest {
	var out []seenRequest
	for _, r := range ts.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (ts *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	ts.reqs = append(ts.reqs, seenRequest{
		Path: r.URL.Path, RawQuery: r.URL.RawQuery, Range: r.Header.Get("Range"),
		AcceptEncoding: r.Header.Get("Accept-Encoding"), ProtoMajor: r.ProtoMajor,
	})
	ts.mu.Unlock()
	n := ts.inFlight.Add(1)
	defer ts.inFlight.Add(-1)
	for {
		m := ts.maxInFlight.Load()
		if n <= m || ts.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if ts.hook != nil {
		ts.hook(r)
	}

	if ts.mode == "redirect" {
		switch r.URL.Path {
		case "/file":
			w.Header().Set("Location", "dl/next?sig=abc") // relative to /file → /dl/next
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
		case "/real/target.bin":
			if r.URL.Query().Get("token") != "x" || r.URL.Query().Get("e") != "1" {
				http.Error(w, "bad token", http.StatusForbidden)
				return
			}
			ts.serveRanges(w, r, "normal")
			return
		}
		http.NotFound(w, r)
		return
	}
	if r.URL.Path != targetPath {
		http.NotFound(w, r)
		return
	}
	switch ts.mode {
	case "notFound":
		http.NotFound(w, r)
	case "gone":
		http.Error(w, "gone", http.StatusGone)
	case "unauthorized":
		w.Header().Set("WWW-Authenticate", `Basic realm="zync"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	case "forbidden":
		http.Error(w, "forbidden", http.StatusForbidden)
	case "err500":
		http.Error(w, "oops", http.StatusInternalServerError)
	case "gofileserver":
		w.Header().Set("Etag", testETag)
		http.ServeContent(w, r, "target.bin", testModTime, bytes.NewReader(targetData))
	case "full200":
		writeFull(w)
	case "stallHeaders":
		ts.stalledOnce.Do(func() { close(ts.stalled) })
		<-r.Context().Done()
	default:
		ts.serveRanges(w, r, ts.mode)
	}
}

func writeFull(w http.ResponseWriter) {
	w.Header().Set("Content-Length", strconv.Itoa(len(targetData)))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(targetData)
}

// parseRangeHeader parses "bytes=a-b,c-d" (only first-last forms), clipping
// to the target size. ok is false if there is no usable header.
func parseRangeHeader(h string) (spans []span, satisfiable, ok bool) {
	rest, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return nil, false, false
	}
	for _, part := range strings.Split(rest, ",") {
		a, b, found := strings.Cut(strings.TrimSpace(part), "-")
		if !found {
			return nil, false, false
		}
		off, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil || last < off {
			return nil, false, false
		}
		if off >= targetSize {
			continue
		}
		spans = append(spans, span{off, min(last+1, targetSize)})
	}
	return spans, len(spans) > 0, true
}

func (ts *testServer) serveRanges(w http.ResponseWriter, r *http.Request, mode string) {
	w.Header().Set("Etag", testETag)
	w.Header().Set("Last-Modified", testModTime.Format(http.TimeFormat))
	w.Header().Set("Accept-Ranges", "bytes")
	spans, satisfiable, ok := parseRangeHeader(r.Header.Get("Range"))
	if !ok || mode == "s3" && len(spans) > 1 {
		writeFull(w)
		return
	}
	if !satisfiable {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", targetSize))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	total := int64(targetSize)
	switch mode {
	case "multi501", "multi400", "multi416":
		if len(spans) > 1 {
			code, _ := strconv.Atoi(strings.TrimPrefix(mode, "multi"))
			http.Error(w, "too many ranges", code)
			return
		}
	case "firstOnly":
		spans = spans[:1]
	case "coalesce":
		var merged []span
		for i := 0; i < len(spans); i += 2 {
			sp := spans[i]
			if i+1 < len(spans) {
				sp.end = spans[i+1].end
			}
			merged = append(merged, sp)
		}
		for i, j := 0, len(merged)-1; i < j; i, j = i+1, j-1 {
			merged[i], merged[j] = merged[j], merged[i]
		}
		if len(spans) > 1 {
			writeMultipart(w, merged, total, true)
			return
		}
	case "wrongRange":
		const shift = 64 << 10
		sp := span{spans[0].off + shift, min(spans[0].end+shift, targetSize)}
		writeSingle(w, sp, total)
		return
	case "badTotal":
		total++
	case "prefix":
		for i := range spans {
			spans[i].end = spans[i].off + max((spans[i].end-spans[i].off)/2, 1)
		}
	case "gzip206":
		w.Header().Set("Content-Encoding", "gzip")
	case "short":
		sp := spans[0]
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", sp.off, sp.end-1, total))
		w.Header().Set("Content-Length", strconv.FormatInt(sp.end-sp.off, 10))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(targetData[sp.off : sp.off+(sp.end-sp.off)/2])
		return // net/http closes the connection: the body is short
	case "stallBody":
		sp := spans[0]
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", sp.off, sp.end-1, total))
		w.Header().Set("Content-Length", strconv.FormatInt(sp.end-sp.off, 10))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(targetData[sp.off : sp.off+(sp.end-sp.off)/2])
		w.(http.Flusher).Flush()
		ts.stalledOnce.Do(func() { close(ts.stalled) })
		<-r.Context().Done()
		return
	}
	if len(spans) == 1 {
		writeSingle(w, spans[0], total)
		return
	}
	writeMultipart(w, spans, total, true)
}

func writeSingle(w http.ResponseWriter, sp span, total int64) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", sp.off, sp.end-1, total))
	w.Header().Set("Content-Length", strconv.FormatInt(sp.end-sp.off, 10))
	w.WriteHeader(http.StatusPartialContent)
	_, _ = w.Write(targetData[sp.off:sp.end])
}

// writeMultipart writes a multipart/byteranges answer the way nginx and
// Apache do: CRLF, then the delimiter, before every part (leadingCRLF), or
// without the CRLF before the first part (as Go's ServeContent does).
func writeMultipart(w http.ResponseWriter, parts []span, total int64, leadingCRLF bool) {
	var buf bytes.Buffer
	for i, p := range parts {
		if i > 0 || leadingCRLF {
			buf.WriteString("\r\n")
		}
		fmt.Fprintf(&buf, "--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %d-%d/%d\r\n\r\n",
			testBoundary, p.off, p.end-1, total)
		buf.Write(targetData[p.off:p.end])
	}
	fmt.Fprintf(&buf, "\r\n--%s--\r\n", testBoundary)
	w.Header().Set("Content-Type", "multipart/byteranges; boundary="+testBoundary)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusPartialContent)
	_, _ = w.Write(buf.Bytes())
}
