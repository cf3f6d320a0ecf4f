// Package httpsource fetches byte ranges of a target from a plain HTTP or
// HTTPS server (nginx, Apache, a CDN, S3, Go's http.FileServer) with Range
// requests.
//
// A Source negotiates what the server can do and remembers it for its
// lifetime, stepping down one way only:
//
//  1. multi-range: up to Options.MaxRanges ranges per request, answered with
//     multipart/byteranges (with or without the CRLF before the first
//     boundary), or with fewer, coalesced parts in any order. A multi-range
//     request that fails (400, 416, 501 or another 4xx, a 200 with the whole
//     file, a single part, a garbled multipart body) halves the number of
//     ranges put in one request, down to 2;
//  2. single range: one range per request, after a request of two ranges
//     failed that way too;
//  3. no ranges: one plain GET whose body is streamed once, after a
//     single-range request was answered with 200. Options.WasteBudget bounds
//     the bytes such whole-file answers may cost beyond those asked for.
//
// Until the current mode (and number of ranges) has worked once, only one
// request is in flight, so a server that misbehaves costs one request, not
// Options.Concurrency.
//
// Every answer is checked: the status, Content-Encoding (encoded partial
// answers are refused), each part's Content-Range against what was asked and
// against the target length, the length of each body and part, and, when
// Options.IfRange names the target's validator, the answer's ETag or
// Last-Modified. A range the server leaves out is asked for again, at most
// once; a range left out twice is an error. A Source never loops.
//
// A request that receives nothing (no headers, no body bytes) for
// Options.StallTimeout is aborted with an error wrapping ErrStalled.
//
// Redirects are followed by net/http, relative Location values and query
// strings included. Every request starts again at the URL given to New, so a
// redirect to a signed, expiring URL is resolved afresh each time. Go's
// client drops Authorization and Cookie headers on a redirect to another
// domain.
//
// Retries and mirrors are not done here: they wrap a Source (packages
// source/retry and source/mirror). Errors say which are worth retrying:
// source.ErrNotFound, source.ErrPermanent, source.ErrLengthMismatch and
// source.ErrChanged mark those that are not (see source.IsPermanent); 429,
// 5xx answers (a *StatusError, with any Retry-After), stalls and network
// failures are plain errors.
package httpsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zyncio/zync/source"
)

// Defaults for the zero values of Options.
const (
	DefaultConcurrency  = 4
	DefaultMaxRanges    = 64
	DefaultStallTimeout = 30 * time.Second
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// Client sends the requests. If nil, a client is built on a clone of
	// http.DefaultTransport (proxies from the environment, HTTP/2 when the
	// server offers it) with at least Concurrency idle connections per host.
	// It should have no overall timeout, as bodies may be long: StallTimeout
	// catches transfers that stop.
	Client *http.Client
	// Header holds extra request headers, such as User-Agent or
	// Authorization. Range, Accept-Encoding and If-Range are set by the
	// Source and override any given here. A Host entry sets the request's
	// Host.
	Header http.Header
	// Concurrency is the number of requests each Fetch call keeps in flight
	// at once (default 4). Until the server has answered one range request
	// properly, only one is sent at a time.
	Concurrency int
	// MaxRanges is the most ranges put in one request (default 16). Requests
	// are spread so that up to Concurrency of them can run at once. A failed
	// multi-range request halves it for the Source's lifetime, down to
	// single ranges; 1 asks for single ranges from the start.
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
	// StallTimeout aborts a request that receives nothing for this long:
	// no response headers after the request was sent, or no body bytes
	// while the body is read (time the callback spends with the bytes it got
	// does not count, and a slow trickle is progress). The error wraps
	// ErrStalled and is worth retrying. Default 30 s; negative means never.
	// Connect and TLS handshake timeouts belong to the Client.
	StallTimeout time.Duration
	// WasteBudget bounds the bytes not asked for that whole-file answers
	// may cost over the Source's lifetime, when the server ignores Range
	// (the bytes before, between and after the ranges that a plain GET reads
	// through; reading stops after the last range). A Fetch that would go
	// over it fails at once, before reading the body, with an error wrapping
	// ErrWasteBudget and source.ErrPermanent that names the URL and the
	// budget. Zero means no limit, so that a server ignoring Range still
	// works, as before; negative means whole-file answers are refused unless
	// they waste nothing.
	WasteBudget int64
	// IfRange is the target's validator: the strong ETag (or, failing one,
	// the Last-Modified date) that Stat reported when the run began, or that
	// an interrupted run saved (see Info.Validator and SetIfRange). Every
	// range request then carries If-Range, so a server whose file changed
	// answers with the whole new file, which is refused, not read: Fetch
	// fails with an error wrapping source.ErrChanged. An answer whose ETag
	// or Last-Modified differs from IfRange is refused likewise, and a plain
	// GET carries If-Match or If-Unmodified-Since. A weak ETag (W/"…") is
	// compared but not sent as If-Range, as RFC 9110 requires. Empty means
	// no checks. Mirrors have validators of their own: give each its own.
	IfRange string
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

// Validator returns the value to give Options.IfRange or SetIfRange: the
// ETag if the server sent one, else Last-Modified, else "".
func (i Info) Validator() string {
	if i.ETag != "" {
		return i.ETag
	}
	return i.LastModified
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
	stall     time.Duration // 0: never
	budget    int64         // waste budget in bytes; -1: unlimited

	mode      atomic.Int32 // modeMulti, modeSingle or modeFull
	limit     atomic.Int32 // ranges per request in modeMulti, from maxRanges down to 2
	confirmed atomic.Bool  // the current mode and limit have worked at least once
	total     atomic.Int64 // the target length: Options.Length or learned; -1 unknown
	wasted    atomic.Int64 // bytes not asked for that whole-file answers cost so far
	ifRange   atomic.Pointer[string]
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
	s.limit.Store(int32(min(s.maxRanges, 1<<30)))
	if s.maxRanges < 2 {
		s.mode.Store(modeSingle)
	}
	switch {
	case opts.StallTimeout == 0:
		s.stall = DefaultStallTimeout
	case opts.StallTimeout > 0:
		s.stall = opts.StallTimeout
	}
	switch {
	case opts.WasteBudget == 0:
		s.budget = -1
	case opts.WasteBudget > 0:
		s.budget = opts.WasteBudget
	}
	s.SetIfRange(opts.IfRange)
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

// SetIfRange sets the validator later requests check, as Options.IfRange
// does; "" turns the checks off. Typically: Stat, then
// SetIfRange(info.Validator()). It is safe to call at any time; requests
// already sent keep the value they were sent with.
func (s *Source) SetIfRange(v string) {
	v = strings.TrimSpace(v)
	s.ifRange.Store(&v)
}

// IfRange returns the validator requests check, or "".
func (s *Source) IfRange() string { return *s.ifRange.Load() }

// Stat asks for the first byte of the target (Range: bytes=0-0, without
// If-Range) and reports its length, validators and whether the server
// honours ranges. A server that answers with 200 is remembered as one that
// ignores ranges; its body is not read. 404 and 410 give an error wrapping
// source.ErrNotFound. If Options.Length is known and differs from the
// server's length, Stat returns the Info together with an error wrapping
// source.ErrLengthMismatch. If the Source has an IfRange validator and the
// server reports another, Stat returns the Info together with an error
// wrapping source.ErrChanged.
func (s *Source) Stat(ctx context.Context) (Info, error) {
	info := Info{Length: -1}
	resp, err := s.send(ctx, "bytes=0-0", false)
	if err != nil {
		return info, err
	}
	body := resp.Body.(*watchedBody)
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
	if err := s.checkValidators(resp, "bytes=0-0"); err != nil {
		return info, err
	}
	return info, nil
}

// get sends a GET for s.url with the given Range header ("" for none) and
// the conditional headers the IfRange validator calls for.
func (s *Source) get(ctx context.Context, rangeHeader string) (*http.Response, error) {
	return s.send(ctx, rangeHeader, true)
}

// send sends a GET for s.url. The response's Body is a *watchedBody: the
// request is aborted if it stalls, and closing the body releases it.
func (s *Source) send(ctx context.Context, rangeHeader string, conditional bool) (*http.Response, error) {
	w := newWatch(ctx, s.stall)
	req, err := http.NewRequestWithContext(w.ctx, http.MethodGet, s.url, nil)
	if err != nil {
		w.done()
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
	req.Header.Del("If-Range")
	if v := s.IfRange(); conditional && v != "" {
		etag := isETag(v)
		switch {
		case rangeHeader != "" && !strings.HasPrefix(v, "W/"):
			req.Header.Set("If-Range", v)
		case rangeHeader == "" && etag && !strings.HasPrefix(v, "W/"):
			req.Header.Set("If-Match", v)
		case rangeHeader == "" && !etag:
			req.Header.Set("If-Unmodified-Since", v)
		}
	}
	s.log.Debug("httpsource: request", "url", s.shown, "range", abbreviate(rangeHeader))
	resp, err := s.client.Do(req)
	if err != nil {
		stalled := w.stalled()
		w.done()
		if stalled {
			err = &stallError{after: s.stall, headers: true}
		}
		// url.Error repeats the URL (with any password); keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("httpsource: GET %s: %w", s.shown, err)
	}
	w.pause()
	resp.Body = &watchedBody{rc: resp.Body, w: w}
	s.log.Debug("httpsource: response", "url", s.shown, "status", resp.StatusCode,
		"content-range", resp.Header.Get("Content-Range"), "content-type", resp.Header.Get("Content-Type"))
	return resp, nil
}

func (s *Source) report(status, ranges int, n int64) {
	if s.onRequest != nil {
		s.onRequest(RequestInfo{URL: s.shown, Status: status, Ranges: ranges, Bytes: n})
	}
}

// narrow halves the number of ranges put in one multi-range request after a
// request of asked ranges failed, and steps down to single ranges below 2.
// Concurrent failures of requests of the same size halve it once.
func (s *Source) narrow(asked int, why string) {
	next := int32(asked / 2)
	if next < 2 {
		s.stepDown(modeSingle, why)
		return
	}
	for {
		cur := s.limit.Load()
		if cur <= next {
			return
		}
		if s.limit.CompareAndSwap(cur, next) {
			s.confirmed.Store(false)
			s.log.Debug("httpsource: fewer ranges per request", "url", s.shown, "from", cur, "to", next, "why", why)
			return
		}
	}
}

// capRanges lowers the ranges put in one request to n, the most the server
// answered, and reports whether that lowered it (so it happens a bounded
// number of times: the limit only goes down).
func (s *Source) capRanges(n int) bool {
	if n < 2 {
		s.stepDown(modeSingle, "answers one range per request")
		return s.mode.Load() == modeSingle
	}
	for {
		cur := s.limit.Load()
		if cur <= int32(n) {
			return false
		}
		if s.limit.CompareAndSwap(cur, int32(n)) {
			s.confirmed.Store(false)
			s.log.Debug("httpsource: the server answers only so many ranges per request", "url", s.shown, "from", cur, "to", n)
			return true
		}
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
