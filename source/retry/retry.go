// Package retry wraps a source.Source so that the failures real networks and
// servers show in passing do not end a download.
//
// A Source from New asks its inner Source again, after an exponential
// back-off with jitter, for the ranges a failed Fetch did not start to
// deliver (a refused connection, a 5xx or 429 answer, a stall before any
// data), honouring the server's Retry-After. A range whose bytes stop coming
// part-way (a reset connection, a truncated body, a stalled transfer) is
// resumed from the byte where it stopped: the reader the callback got asks
// the inner Source for the rest of the range only, after the back-off, and
// goes on as if nothing happened. Bytes already delivered are never asked
// for again, and the callback never sees the hiccup.
//
// Failures that another attempt cannot fix end the Fetch at once: those
// source.IsPermanent reports (404, access refused, a length mismatch, a
// changed target, a server that answers something other than what was
// asked), and the cancellation of the caller's context. The attempts are
// bounded; a source that keeps failing ends with an error naming it and the
// last failure.
//
// An error returned by the callback, such as one wrapping source.ErrBadData
// for bytes that failed verification, ends the Fetch and is returned
// unchanged: fetching such a range again, from another mirror when there is
// one, is package mirror's job.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zyncio/zync/source"
)

// Defaults for the zero values of Options.
const (
	DefaultAttempts      = 6
	DefaultBaseDelay     = 500 * time.Millisecond
	DefaultMaxDelay      = 30 * time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
)

// resetProgress is how many bytes a resumed range must deliver before its
// failures are forgiven: a connection that breaks every few megabytes still
// finishes a long range, one that breaks before delivering anything does
// not go on for ever.
const resetProgress = 64 << 10

// Options configure a Source. The zero value is usable.
type Options struct {
	// Attempts is how many times the same work is tried, the first time
	// included, before giving up: the same ranges without any of them
	// starting, or the same range without at least 64 KiB of progress.
	// Default 6; 1 means no retries.
	Attempts int
	// BaseDelay is the back-off before the first retry (default 500 ms); it
	// doubles with each further failure, up to MaxDelay. Each delay is
	// drawn at random between half and all of that value, so that clients
	// do not retry in step.
	BaseDelay time.Duration
	// MaxDelay caps the back-off (default 30 s).
	MaxDelay time.Duration
	// MaxRetryAfter caps the wait a server asks for with Retry-After
	// (default 2 min). A Retry-After longer than the back-off replaces it.
	MaxRetryAfter time.Duration
	// OnRetry, if set, is called before each back-off, from any goroutine.
	OnRetry func(Event)
	// Logger, if set, receives one Info record per retry.
	Logger *slog.Logger
}

// Event describes a retry about to happen.
type Event struct {
	// URL names the inner Source (see source.Name).
	URL string
	// Resume is true when a range cut short is continued: Range is then
	// the part still missing. Otherwise ranges that had not started are
	// asked again: Range is the first of them and Ranges their number.
	Resume bool
	Range  source.Range
	Ranges int
	// Attempt is the attempt about to start: 2 for the first retry.
	Attempt int
	// Delay is the wait before it.
	Delay time.Duration
	// RetryAfter is what the server asked for, before MaxRetryAfter.
	RetryAfter time.Duration
	// Err is the failure.
	Err error
}

// Source retries and resumes the Fetches of an inner Source. It is safe for
// concurrent use.
type Source struct {
	inner source.Source
	name  string
	p     policy
}

var _ source.Source = (*Source)(nil)

// policy is Options with defaults applied.
type policy struct {
	attempts      int
	base, max, ra time.Duration
	onRetry       func(Event)
	log           *slog.Logger
}

func newPolicy(o Options) policy {
	p := policy{attempts: o.Attempts, base: o.BaseDelay, max: o.MaxDelay, ra: o.MaxRetryAfter, onRetry: o.OnRetry, log: o.Logger}
	if p.attempts <= 0 {
		p.attempts = DefaultAttempts
	}
	if p.base <= 0 {
		p.base = DefaultBaseDelay
	}
	if p.max <= 0 {
		p.max = DefaultMaxDelay
	}
	p.max = max(p.max, p.base)
	if p.ra <= 0 {
		p.ra = DefaultMaxRetryAfter
	}
	return p
}

// New wraps inner.
func New(inner source.Source, opts Options) *Source {
	return &Source{inner: inner, name: source.Name(inner), p: newPolicy(opts)}
}

// URL returns the inner Source's name (its URL for an HTTP source).
func (s *Source) URL() string { return s.name }

// Unwrap returns the inner Source.
func (s *Source) Unwrap() source.Source { return s.inner }

// delay returns the back-off after the n-th consecutive failure, and the
// server's Retry-After found in err.
func (p *policy) delay(n int, err error) (d, retryAfter time.Duration) {
	d = p.max
	if n-1 < 32 {
		d = min(p.base<<(n-1), p.max)
		if d <= 0 { // overflow
			d = p.max
		}
	}
	d = d/2 + rand.N(d/2+1)
	if ra, ok := source.RetryAfter(err); ok {
		retryAfter = ra
		d = max(d, min(ra, p.ra))
	}
	return d, retryAfter
}

func (p *policy) report(e Event) {
	if p.log != nil {
		p.log.Info("retrying", "url", e.URL, "resume", e.Resume, "range", e.Range.String(), "ranges", e.Ranges,
			"attempt", e.Attempt, "delay", e.Delay, "retry_after", e.RetryAfter, "err", e.Err)
	}
	if p.onRetry != nil {
		p.onRetry(e)
	}
}

// retryable reports whether err is worth another attempt while ctx lives.
// Context errors from inside the inner Source (its own cancellations) are;
// the caller's cancellation is not.
func retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !source.IsPermanent(err)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do calls op until it succeeds, fails with an error that is not worth
// retrying, or has failed Attempts times, with the back-off and events of
// a Source; name is the Event's URL. It suits single requests such as
// httpsource.Source.Stat.
func Do(ctx context.Context, opts Options, name string, op func(context.Context) error) error {
	p := newPolicy(opts)
	for n := 1; ; n++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if !retryable(ctx, err) {
			return err
		}
		if n >= p.attempts {
			return fmt.Errorf("retry: %s: gave up after %d attempts (run the same command again later): %w", name, n, err)
		}
		d, ra := p.delay(n, err)
		p.report(Event{URL: name, Attempt: n + 1, Delay: d, RetryAfter: ra, Err: err})
		if serr := sleep(ctx, d); serr != nil {
			return fmt.Errorf("retry: %s: %w (while waiting to retry after: %v)", name, serr, err)
		}
	}
}

// Fetch fetches ranges from the inner Source and calls fn once for each,
// with a reader of exactly r.Len bytes that resumes a range cut short (see
// the package documentation). It returns fn's first error unchanged, an
// error that is not worth retrying, or, once the attempts are spent, an
// error naming the inner Source that wraps the last failure. Cancelling
// ctx ends it promptly with an error wrapping ctx.Err().
func (s *Source) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	if len(ranges) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("retry: fetch from %s: %w", s.name, err)
	}
	for i := 1; i < len(ranges); i++ {
		if ranges[i].Off < ranges[i-1].End() {
			return fmt.Errorf("retry: fetch from %s: ranges %s and %s are not sorted or overlap", s.name, ranges[i-1], ranges[i])
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &call{s: s, ctx: cctx, cancel: cancel, fn: fn, ranges: ranges, started: make([]atomic.Bool, len(ranges))}

	pending := ranges
	failures := 0
	for {
		before := c.nStarted.Load()
		err := s.inner.Fetch(cctx, pending, c.deliver)
		c.wg.Wait() // a well-behaved inner Source has returned from every callback
		if ferr := c.result(); ferr != nil {
			if ctx.Err() != nil && !errors.Is(ferr, ctx.Err()) && !c.fromFn.Load() {
				return fmt.Errorf("retry: fetch from %s: %w", s.name, ctx.Err())
			}
			return ferr
		}
		pending = c.notStarted(pending)
		if err == nil {
			if len(pending) == 0 {
				return nil
			}
			return fmt.Errorf("retry: fetch from %s: it returned without delivering %d ranges, the first %s", s.name, len(pending), pending[0])
		}
		if ctx.Err() != nil {
			if errors.Is(err, ctx.Err()) {
				return err
			}
			return fmt.Errorf("retry: fetch from %s: %w", s.name, ctx.Err())
		}
		if !retryable(ctx, err) {
			return err
		}
		if len(pending) == 0 {
			return nil // every range was delivered; the failure came after
		}
		if c.nStarted.Load() > before {
			failures = 0 // progress: these are new ranges failing
		}
		failures++
		if failures >= s.p.attempts {
			return fmt.Errorf("retry: fetch from %s: gave up after %d attempts, %s still missing (the server or the network kept failing; run the same command again later to resume): %w",
				s.name, failures, plural(len(pending), "range"), err)
		}
		d, ra := s.p.delay(failures, err)
		s.p.report(Event{URL: s.name, Range: pending[0], Ranges: len(pending), Attempt: failures + 1, Delay: d, RetryAfter: ra, Err: err})
		if serr := sleep(ctx, d); serr != nil {
			return fmt.Errorf("retry: fetch from %s: %w (while waiting to retry after: %v)", s.name, serr, err)
		}
	}
}

// call is the state of one Fetch.
type call struct {
	s       *Source
	ctx     context.Context
	cancel  context.CancelFunc
	fn      func(source.Range, io.Reader) error
	ranges  []source.Range
	started []atomic.Bool

	nStarted atomic.Int64
	wg       sync.WaitGroup

	mu     sync.Mutex
	err    error // the first error: fn's, or a range's final read error
	fromFn atomic.Bool
}

func (c *call) fail(err error, fromFn bool) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		c.fromFn.Store(fromFn)
	}
	c.mu.Unlock()
	c.cancel()
}

func (c *call) result() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *call) index(r source.Range) (int, bool) {
	i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i].Off >= r.Off })
	return i, i < len(c.ranges) && c.ranges[i] == r
}

func (c *call) notStarted(rs []source.Range) []source.Range {
	var out []source.Range
	for _, r := range rs {
		if i, _ := c.index(r); !c.started[i].Load() {
			out = append(out, r)
		}
	}
	return out
}

// deliver is the callback given to the inner Source.
func (c *call) deliver(r source.Range, data io.Reader) error {
	i, ok := c.index(r)
	if !ok {
		return fmt.Errorf("retry: %s delivered range %s, which was not asked for", c.s.name, r)
	}
	if c.started[i].Swap(true) {
		return fmt.Errorf("retry: %s delivered range %s twice", c.s.name, r)
	}
	c.wg.Add(1)
	defer c.wg.Done()
	c.nStarted.Add(1)
	rr := &resumer{c: c, r: r, cur: data}
	err := c.fn(r, rr)
	if err != nil {
		c.fail(err, true)
	} else if rr.err != nil {
		// fn ignored the reader's final error; Fetch must not.
		err = rr.err
		c.fail(err, false)
	}
	rr.close()
	return err
}

// errAbandoned ends a resumption whose reader is no longer read.
var errAbandoned = errors.New("retry: range abandoned by its reader")

// resumer reads one range for fn. When the inner Source's reader fails
// part-way with an error worth retrying, it asks the inner Source for the
// rest of the range, after the back-off, and reads on from there.
type resumer struct {
	c   *call
	r   source.Range
	cur io.Reader // the current segment: the inner's reader, then a pipe

	sub        *segment // the resumption feeding cur, if any
	done       int64    // bytes handed to fn
	segStart   int64    // done when the current segment began
	failures   int
	collateral int   // resumptions after the inner Source cancelled this read
	pending    error // a failure to handle at the next Read
	err        error // final: every later Read returns it
}

// segment is a resumption: an inner Fetch of the rest of the range, whose
// callback copies the bytes into a pipe the resumer reads.
type segment struct {
	pr   *io.PipeReader
	done chan struct{}
}

func (x *resumer) Read(p []byte) (int, error) {
	for {
		if x.err != nil {
			return 0, x.err
		}
		if x.done >= x.r.Len {
			return 0, io.EOF
		}
		if x.pending != nil {
			cause := x.pending
			x.pending = nil
			if err := x.resume(cause); err != nil {
				x.err = err
				return 0, err
			}
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		if rem := x.r.Len - x.done; int64(len(p)) > rem {
			p = p[:rem]
		}
		n, err := x.cur.Read(p)
		x.done += int64(n)
		switch {
		case x.done >= x.r.Len:
			err = nil // every byte is in
		case err == io.EOF:
			err = fmt.Errorf("%s: bytes %d-%d ended %d bytes early: %w", x.c.s.name, x.r.Off, x.r.End()-1, x.r.Len-x.done, io.ErrUnexpectedEOF)
		}
		x.pending = err
		if n > 0 || err == nil {
			return n, nil
		}
	}
}

// resume handles a failure of the current segment: it gives up, or waits
// and starts a new segment for the rest of the range.
func (x *resumer) resume(cause error) error {
	c := x.c
	x.stop()
	name := c.s.name
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("retry: fetch from %s: %w (after: %v)", name, err, cause)
	}
	if !retryable(c.ctx, cause) {
		return cause
	}
	if x.done-x.segStart >= resetProgress {
		x.failures, x.collateral = 0, 0
	}
	rest := source.Range{Off: x.r.Off + x.done, Len: x.r.Len - x.done}
	if errors.Is(cause, context.Canceled) && x.collateral < 4*c.s.p.attempts {
		// The inner Source cancelled this read, our context alive: another
		// of its requests failed and it stopped them all. Not this
		// server's answer failing: go on at once, without a back-off, but
		// not for ever.
		x.collateral++
		x.start(rest)
		return nil
	}
	x.failures++
	if x.failures >= c.s.p.attempts {
		return fmt.Errorf("retry: fetch from %s: bytes %d-%d cut short %d times, %d bytes still missing (the server or the network kept failing; run the same command again later to resume): %w",
			name, x.r.Off, x.r.End()-1, x.failures, x.r.Len-x.done, cause)
	}
	d, ra := c.s.p.delay(x.failures, cause)
	c.s.p.report(Event{URL: name, Resume: true, Range: rest, Ranges: 1, Attempt: x.failures + 1, Delay: d, RetryAfter: ra, Err: cause})
	if err := sleep(c.ctx, d); err != nil {
		return fmt.Errorf("retry: fetch from %s: %w (while waiting to resume after: %v)", name, err, cause)
	}
	x.start(rest)
	return nil
}

// start begins a resumption: an inner Fetch of rest whose bytes come
// through a pipe.
func (x *resumer) start(rest source.Range) {
	c := x.c
	name := c.s.name
	pr, pw := io.Pipe()
	seg := &segment{pr: pr, done: make(chan struct{})}
	go func() {
		defer close(seg.done)
		delivered := false
		err := c.s.inner.Fetch(c.ctx, []source.Range{rest}, func(got source.Range, data io.Reader) error {
			if got != rest {
				return fmt.Errorf("retry: %s delivered range %s, asked for %s", name, got, rest)
			}
			delivered = true
			_, err := io.Copy(pw, data)
			return err
		})
		if err == nil && !delivered {
			err = fmt.Errorf("retry: %s returned without delivering %s", name, rest)
		}
		if err == nil {
			err = io.EOF
		}
		pw.CloseWithError(err)
	}()
	x.sub, x.cur, x.segStart = seg, pr, x.done
}

// stop ends the current resumption, if any, and waits for it.
func (x *resumer) stop() {
	if x.sub != nil {
		x.sub.pr.CloseWithError(errAbandoned)
		<-x.sub.done
		x.sub = nil
	}
}

func (x *resumer) close() { x.stop() }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
