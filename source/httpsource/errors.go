package httpsource

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zyncio/zync/source"
)

// Errors a caller decides on, besides the sentinels of package source.
var (
	// ErrStalled is wrapped by the error of a request that received no data
	// (no response headers, or no body bytes) for Options.StallTimeout. It
	// is worth retrying: the next request usually goes through. Errors
	// wrapping it also report Timeout() == true, like net.Error timeouts.
	ErrStalled = errors.New("transfer stalled")
	// ErrWasteBudget is wrapped, together with source.ErrPermanent, by the
	// error of a Fetch that would have to read more of a whole-file answer
	// than Options.WasteBudget allows, from a server that ignores Range.
	ErrWasteBudget = errors.New("whole-file download over the waste budget")
)

// StatusError is the error for an HTTP answer whose status is not the one
// asked for (404, 403, 429, 503, …). Code and RetryAfter are there for
// callers such as a retry decorator; the message names the URL, the status
// and what to do. It wraps source.ErrNotFound (404, 410) or
// source.ErrPermanent (other answers that retrying will not change) or
// nothing (429, 408 and 5xx, worth retrying).
type StatusError struct {
	// URL is the URL given to New, without any password.
	URL string
	// Code is the HTTP status code of the final answer, after redirects.
	Code int
	// RetryAfter is the wait the server asked for with Retry-After (in
	// seconds or as an HTTP date), or 0 if it did not ask.
	RetryAfter time.Duration

	msg  string
	kind error // a sentinel of package source, or nil
}

// Error returns the message.
func (e *StatusError) Error() string { return e.msg }

// Unwrap returns the sentinel the error wraps, if any.
func (e *StatusError) Unwrap() error { return e.kind }

// RetryAfterDelay returns RetryAfter; source.RetryAfter finds it there.
func (e *StatusError) RetryAfterDelay() time.Duration { return e.RetryAfter }

// stallError reports a request that stopped receiving data.
type stallError struct {
	after   time.Duration
	headers bool // no response headers arrived (else: no body bytes)
}

func (e *stallError) Error() string {
	what := "no data received"
	if e.headers {
		what = "no answer received"
	}
	return fmt.Sprintf("%s for %s: %v (the server or the network stopped sending)", what, e.after, ErrStalled)
}

func (e *stallError) Is(target error) bool { return target == ErrStalled }

// Timeout reports true, so that callers that treat net.Error timeouts as
// network errors treat a stall alike.
func (e *stallError) Timeout() bool { return true }

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). A date in the past, or a bad value, gives 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// statusError explains a response status that is not the one expected.
func (s *Source) statusError(resp *http.Response, asked string) error {
	status := resp.Status
	if status == "" {
		status = strconv.Itoa(resp.StatusCode)
	}
	code := resp.StatusCode
	e := &StatusError{URL: s.shown, Code: code, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	wait := ""
	if e.RetryAfter > 0 {
		wait = fmt.Sprintf("; it asks to wait %s", e.RetryAfter.Round(time.Second))
	}
	prefix := fmt.Sprintf("httpsource: GET %s: %s", s.shown, status)
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		e.kind = source.ErrNotFound
		e.msg = fmt.Sprintf("%s: %v (the control file may point at a file that was moved or not yet published)", prefix, source.ErrNotFound)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.kind = source.ErrPermanent
		e.msg = fmt.Sprintf("%s: %v: access refused (check the credentials given with -A, or the signed URL may have expired)", prefix, source.ErrPermanent)
	case code == http.StatusTooManyRequests:
		e.msg = fmt.Sprintf("%s: the server limits the request rate%s (fewer requests in flight, -j, may help)", prefix, wait)
	case code == http.StatusRequestTimeout:
		e.msg = fmt.Sprintf("%s: the server timed out waiting for the request%s", prefix, wait)
	case code >= 500:
		e.msg = fmt.Sprintf("%s: server error while asking for %s%s", prefix, abbreviate(asked), wait)
	case code >= 300 && code < 400:
		e.kind = source.ErrPermanent
		e.msg = fmt.Sprintf("%s: %v: redirect not followed (location %q)", prefix, source.ErrPermanent, resp.Header.Get("Location"))
	default:
		want := "206 partial content"
		if asked == "" {
			want = "200 ok"
		}
		e.kind = source.ErrPermanent
		e.msg = fmt.Sprintf("%s: %v: expected %s for %s", prefix, source.ErrPermanent, want, abbreviate(asked))
	}
	return e
}
