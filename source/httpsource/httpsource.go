// Package httpsource fetches byte ranges of a target from a plain HTTP or
// HTTPS server (nginx, Apache, a CDN, S3, Go's http.FileServer) with Range
// requests.
//
// A Source negotiates what the server can do and remembers it for its
// lifetime, stepping down one way only:
//
//  1. multi-range: up to Options.MaxRanges ranges per request, answered with
//     multipart/byteranges (with or without the CRLF before the first
//     boundary), or with fewer, coalesced parts in any order;
//  2. single range: one range per request, after the server rejected a
//     multi-range request (400, 416, 501 or another 4xx), answered it with
//     only its first range, or answered it with 200 and the whole file;
//  3. no ranges: one plain GET whose body is streamed once, after a
//     single-range request was answered with 200.
//
// Until the current mode has worked once, only one request is in flight, so
// a server that misbehaves costs one request, not Options.Concurrency.
//
// Every answer is checked: the status, Content-Encoding (encoded partial
// answers are refused), each part's Content-Range against what was asked and
// against the target length, and the length of each body and part. A range
// the server leaves out is asked for again, at most once; a range left out
// twice is an error. A Source never loops.
//
// Redirects are followed by net/http, relative Location values and query
// strings included. Every request starts again at the URL given to New, so a
// redirect to a signed, expiring URL is resolved afresh each time. Go's
// client drops Authorization and Cookie headers on a redirect to another
// domain.
//
// Retries, stall detection, rate limits and mirrors are not done here: they
// wrap a Source (see package source). Errors say which are worth retrying:
// source.ErrNotFound and source.ErrPermanent mark those that are not; 5xx
// answers and network failures are plain errors.
package httpsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"github.com/zyncio/zync/source"
)

// Defaults for the zero values of Options.
const (
	DefaultConcurrency = 4
	DefaultMaxRanges   = 16
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// Client sends the requests. If nil, a client is built on a clone of
	// http.DefaultTransport (proxies from the environment, HTTP/2 when the
	// server offers it) with at least Concurrency idle connections per host.
	// It has no overall timeout: bodies may be long; stalls are a
	// decorator's job.
	Client *http.Client
	// Header holds extra request headers, such as User-Agent or
	// Authorization. Range and Accept-Encoding are set by the Source and
	// override any given here. A Host entry sets the request's Host.
	Header http.Header
	// Concurrency is the number of requests each Fetch call keeps in flight
	// at once (default 4). Until the server has answered one range request
	// properly, only one is sent at a time.
	Concurrency int
	// MaxRanges is the most ranges put in one request (default 16). Requests
	// are spread so that up to Concurrency of them can run at once.
	MaxRanges int
	// MaxGap merges requested ranges separated by at most MaxGap bytes into
	// one HTTP range; the gap bytes are read and thrown away, never passed to
	// the callback. Default 0: only adjacent ranges are merged.
	MaxGap int64
	// Length is the target length the index expects; zero or negative means
	// unknown. A server reporting another length makes requests fail with
	// source.ErrLengthMismatch. A range that runs past Length is requested
	// only up to Length and its tail is delivered as zero bytes (zsync pads
	// the last block with zeros); a range that starts at or past Length is an
	// error. When Length is unknown, the first total length a server reports
	// plays its part.
	Length int64
	// Logger receives debug logs; nil means none.
	Logger *slog.Logger
	// OnRequest, if set, is called once after each HTTP response has been
	// read and closed, for statistics. It may be called from several
	// goroutines at once. Requests that fail before a response arrives are
	// not reported.
	OnRequest func(RequestInfo)
}

// RequestInfo describes one HTTP request and its response, for statistics.
type RequestInfo struct {
	// URL is the URL given to New, without any password.
	URL string
	// Status is the HTTP status code of the final response after redirects.
	Status int
	// Ranges is the number of byte ranges asked for; 0 for a plain GET.
	Ranges int
	// Bytes is the number of body bytes received (headers not included).
	Bytes int64
}

// Info is what Stat learns about the target.
type Info struct {
	// Length is the target length in bytes, or -1 if the server did not say.
	Length int64
	// ETag and LastModified are the server's validators, if it sent them.
	ETag, LastModified string
	// AcceptsRanges reports whether the server answered a range request with
	// 206 Partial Content (or 416 for an empty target).
	AcceptsRanges bool
}

// Range modes, in the order a Source steps down through them.
const (
	modeMulti int32 = iota
	modeSingle
	modeFull
)

var modeNames = [...]string{"multi-range", "single-range", "no-range"}

// Source fetches byte ranges of one URL. It is safe for concurrent use; what
// it learns about the server is shared by all its calls.
type Source struct {
	url       string // as given: every request starts here
	shown     string // url without password, for messages
	client    *http.Client
	header    http.Header
	conc      int
	maxRanges int
	maxGap    int64
	length    int64 // from Options; -1 if unknown
	log       *slog.Logger
	onRequest func(RequestInfo)

	mode      atomic.Int32 // modeMulti, modeSingle or modeFull
	confirmed atomic.Bool  // the current mode has worked at least once
	total     atomic.Int64 // the target length: Options.Length or learned; -1 unknown
}

var _ source.Source = (*Source)(nil)

// New returns a Source for an http or https URL. It sends no request.
func New(rawURL string, opts Options) (*Source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("httpsource: bad url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("httpsource: url %s: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("httpsource: url %s has no host", u.Redacted())
	}
	s := &Source{
		url:       rawURL,
		shown:     u.Redacted(),
		client:    opts.Client,
		header:    opts.Header.Clone(),
		conc:      opts.Concurrency,
		maxRanges: opts.MaxRanges,
		maxGap:    max(opts.MaxGap, 0),
		length:    opts.Length,
		log:       opts.Logger,
		onRequest: opts.OnRequest,
	}
	if s.conc <= 0 {
		s.conc = DefaultConcurrency
	}
	if s.maxRanges <= 0 {
		s.maxRanges = DefaultMaxRanges
	}
	if s.length <= 0 {
		s.length = -1
	}
	s.total.Store(s.length)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.client == nil {
		s.client = defaultClient(s.conc)
	}
	return s, nil
}

func defaultClient(conc int) *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{}
	}
	t.Proxy = http.ProxyFromEnvironment
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, conc, http.DefaultMaxIdleConnsPerHost)
	return &http.Client{Transport: t}
}

// URL returns the URL given to New, without any password.
func (s *Source) URL() string { return s.shown }

// Stat asks for the first byte of the target (Range: bytes=0-0) and reports
// its length, validators and whether the server honours ranges. A server
// that answers with 200 is remembered as one that ignores ranges; its body is
// not read. 404 and 410 give an error wrapping source.ErrNotFound. If
// Options.Length is known and differs from the server's length, Stat returns
// the Info together with an error wrapping source.ErrLengthMismatch.
func (s *Source) Stat(ctx context.Context) (Info, error) {
	info := Info{Length: -1}
	resp, err := s.get(ctx, "bytes=0-0")
	if err != nil {
		return info, err
	}
	body := &countingReader{r: resp.Body}
	defer func() {
		// At most one byte is expected; a 200 body is not worth draining.
		if resp.StatusCode == http.StatusPartialContent {
			_, _ = io.CopyN(io.Discard, body, 4<<10)
		}
		resp.Body.Close()
		s.report(resp.StatusCode, 1, body.n)
	}()
	info.ETag = resp.Header.Get("Etag")
	info.LastModified = resp.Header.Get("Last-Modified")
	switch resp.StatusCode {
	case http.StatusPartialContent:
		info.AcceptsRanges = true
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || cr.unsatisfied {
			return info, fmt.Errorf("httpsource: GET %s: %w: 206 answer to bytes=0-0 has a bad content-range: %q", s.shown, source.ErrPermanent, resp.Header.Get("Content-Range"))
		}
		info.Length = cr.total
	case http.StatusOK:
		info.Length = resp.ContentLength
		s.stepDown(modeFull, "answered bytes=0-0 with 200")
	case http.StatusRequestedRangeNotSatisfiable:
		// An empty target cannot satisfy bytes=0-0; RFC 9110 says the answer
		// carries "bytes */0".
		cr, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || !cr.unsatisfied || cr.total != 0 {
			return info, s.statusError(resp, "bytes=0-0")
		}
		info.AcceptsRanges = true
		info.Length = 0
	default:
		return info, s.statusError(resp, "bytes=0-0")
	}
	if info.Length >= 0 {
		if err := s.checkTotal(info.Length); err != nil {
			return info, err
		}
	}
	return info, nil
}

// get sends a GET for s.url with the given Range header ("" for none).
func (s *Source) get(ctx context.Context, rangeHeader string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("httpsource: GET %s: %w", s.shown, err)
	}
	for k, vs := range s.header {
		if http.CanonicalHeaderKey(k) == "Host" {
			if len(vs) > 0 {
				req.Host = vs[0]
			}
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	// identity: a compressed answer has no byte offsets of the target, and
	// setting the header ourselves stops net/http from decompressing
	// transparently.
	req.Header.Set("Accept-Encoding", "identity")
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	} else {
		req.Header.Del("Range")
	}
	s.log.Debug("httpsource: request", "url", s.shown, "range", abbreviate(rangeHeader))
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the URL (with any password); keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("httpsource: GET %s: %w", s.shown, err)
	}
	s.log.Debug("httpsource: response", "url", s.shown, "status", resp.StatusCode,
		"content-range", resp.Header.Get("Content-Range"), "content-type", resp.Header.Get("Content-Type"))
	return resp, nil
}

func (s *Source) report(status, ranges int, n int64) {
	if s.onRequest != nil {
		s.onRequest(RequestInfo{URL: s.shown, Status: status, Ranges: ranges, Bytes: n})
	}
}

// stepDown moves the Source to a lower range mode, never up.
func (s *Source) stepDown(to int32, why string) {
	for {
		cur := s.mode.Load()
		if cur >= to {
			return
		}
		if s.mode.CompareAndSwap(cur, to) {
			s.confirmed.Store(false)
			s.log.Debug("httpsource: stepping down", "url", s.shown, "from", modeNames[cur], "to", modeNames[to], "why", why)
			return
		}
	}
}

// checkTotal compares a total length reported by the server with the one
// expected, or learns it.
func (s *Source) checkTotal(t int64) error {
	if t < 0 {
		return nil
	}
	if s.length >= 0 {
		if t != s.length {
			return fmt.Errorf("httpsource: GET %s: %w: the server's file has %d bytes, the control file says %d", s.shown, source.ErrLengthMismatch, t, s.length)
		}
		return nil
	}
	if s.total.CompareAndSwap(-1, t) {
		return nil
	}
	if old := s.total.Load(); old != t {
		return fmt.Errorf("httpsource: GET %s: %w: the server now reports %d bytes, it reported %d before (the file changed during the download?)", s.shown, source.ErrLengthMismatch, t, old)
	}
	return nil
}

// statusError explains a response status that is not the one expected.
func (s *Source) statusError(resp *http.Response, asked string) error {
	status := resp.Status
	if status == "" {
		status = strconv.Itoa(resp.StatusCode)
	}
	code := resp.StatusCode
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		return fmt.Errorf("httpsource: GET %s: %s: %w (the control file may point at a file that was moved or not yet published)", s.shown, status, source.ErrNotFound)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("httpsource: GET %s: %s: %w: access refused (check the credentials given with -A, or the signed URL may have expired)", s.shown, status, source.ErrPermanent)
	case code >= 500:
		return fmt.Errorf("httpsource: GET %s: %s: server error while asking for %s", s.shown, status, abbreviate(asked))
	case code >= 300 && code < 400:
		return fmt.Errorf("httpsource: GET %s: %s: %w: redirect not followed (location %q)", s.shown, status, source.ErrPermanent, resp.Header.Get("Location"))
	default:
		want := "206 partial content"
		if asked == "" {
			want = "200 ok"
		}
		return fmt.Errorf("httpsource: GET %s: %s: %w: expected %s for %s", s.shown, status, source.ErrPermanent, want, abbreviate(asked))
	}
}

// abbreviate shortens a long Range header for messages.
func abbreviate(h string) string {
	if h == "" {
		return "the whole file"
	}
	const limit = 80
	if len(h) <= limit {
		return h
	}
	return h[:limit] + "…"
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
