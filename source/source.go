// Package source defines where missing target bytes come from.
//
// A Source answers "give me these byte ranges of the target". Implementations
// live in sub-packages (httpsource for HTTP/HTTPS, filesource for a local
// file). Retry, rate limiting and mirror failover wrap a Source; they are not
// options inside one.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Range is a half-open byte range [Off, Off+Len) of the target.
type Range struct {
	Off int64
	Len int64
}

// End returns Off+Len.
func (r Range) End() int64 { return r.Off + r.Len }

// String formats the range as an HTTP byte range ("a-b", inclusive).
func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Off, r.Off+r.Len-1) }

// A Source fetches byte ranges of a target.
//
// Decorators wrap a Source and are Sources themselves: package retry retries
// failed requests and resumes ranges cut short, package mirror spreads ranges
// over several Sources, fails over between them and fetches again ranges
// whose bytes failed verification.
type Source interface {
	// Fetch retrieves ranges, which are sorted, non-empty and do not overlap,
	// and calls fn once for each with a reader of exactly r.Len bytes. fn may
	// be called from several goroutines at once and in any order. If fn
	// returns an error, Fetch stops and returns it. A reader that fails
	// before r.Len bytes reports the error to fn, and Fetch returns an error.
	// (A decorator that fetches a range again after fn rejected its bytes
	// with ErrBadData, as package mirror does, calls fn for it again.)
	Fetch(ctx context.Context, ranges []Range, fn func(r Range, data io.Reader) error) error
}

// Errors a caller decides on. Sources wrap them with detail.
var (
	// ErrNotFound means the target does not exist at the source (HTTP 404/410).
	ErrNotFound = errors.New("target not found")
	// ErrPermanent marks a failure that retrying will not fix (auth, bad
	// request, a server that sends something other than what was asked).
	ErrPermanent = errors.New("permanent source failure")
	// ErrLengthMismatch means the source's target length differs from the index's.
	ErrLengthMismatch = errors.New("control file and target differ")
	// ErrBadData is wrapped by errors a Fetch callback returns when the bytes
	// a source delivered failed verification (a corrupting CDN, a shifted
	// answer). Decorators may fetch the same range again, preferably from
	// another mirror, a bounded number of times.
	ErrBadData = errors.New("source sent bad data")
	// ErrChanged means the target changed on the server during the run (its
	// validators no longer match); data fetched so far may be stale.
	ErrChanged = errors.New("target changed on the server")
)

// IsPermanent reports whether err wraps one of the sentinels that asking the
// same source again cannot fix: ErrNotFound, ErrPermanent, ErrLengthMismatch
// or ErrChanged. ErrBadData is not among them: another attempt, preferably at
// another mirror, may well deliver good bytes.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrPermanent) ||
		errors.Is(err, ErrLengthMismatch) || errors.Is(err, ErrChanged)
}

// RetryAfter returns how long a source asked its callers to wait before the
// next attempt (an HTTP Retry-After on a 429 or 503 answer). It looks in
// err's chain for an error with a method RetryAfterDelay() time.Duration that
// returns more than zero, and reports whether it found one.
func RetryAfter(err error) (time.Duration, bool) {
	var d interface{ RetryAfterDelay() time.Duration }
	if errors.As(err, &d) {
		if v := d.RetryAfterDelay(); v > 0 {
			return v, true
		}
	}
	return 0, false
}

// Name returns a name for s to use in messages and events: its URL() (as
// httpsource.Source and the decorators have), else its String(), else its
// type.
func Name(s Source) string {
	switch v := s.(type) {
	case interface{ URL() string }:
		return v.URL()
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprintf("%T", s)
}
