package httpsource

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/zyncio/zync/source"
)

// isETag reports whether a validator is an entity tag ("…" or W/"…") rather
// than an HTTP date.
func isETag(v string) bool {
	return strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/")
}

// sendsIfRange reports whether range requests carry If-Range: only strong
// ETags and dates may be sent (RFC 9110 §13.1.5).
func (s *Source) sendsIfRange() bool {
	v := s.IfRange()
	return v != "" && !strings.HasPrefix(v, "W/")
}

// validatorsMatch compares resp's validator of the IfRange kind with
// IfRange. known is false when there is no IfRange or resp lacks that
// validator.
func (s *Source) validatorsMatch(resp *http.Response) (match, known bool, got string) {
	v := s.IfRange()
	if v == "" {
		return false, false, ""
	}
	if isETag(v) {
		got = strings.TrimSpace(resp.Header.Get("Etag"))
		if got == "" {
			return false, false, ""
		}
		// Weak comparison: the same opaque tag, W/ or not. A strong If-Range
		// the server honoured gives a strong tag back anyway.
		return strings.TrimPrefix(got, "W/") == strings.TrimPrefix(v, "W/"), true, got
	}
	got = strings.TrimSpace(resp.Header.Get("Last-Modified"))
	if got == "" {
		return false, false, ""
	}
	t1, err1 := http.ParseTime(v)
	t2, err2 := http.ParseTime(got)
	if err1 == nil && err2 == nil {
		return t1.Equal(t2), true, got
	}
	return got == v, true, got
}

// checkValidators refuses an answer whose ETag or Last-Modified shows that
// the target is not the one IfRange names.
func (s *Source) checkValidators(resp *http.Response, asked string) error {
	match, known, got := s.validatorsMatch(resp)
	if !known || match {
		return nil
	}
	return fmt.Errorf("httpsource: GET %s: %w: the answer to %s carries validator %s, the run began with %s (fetch a fresh control file and run again)",
		s.shown, source.ErrChanged, abbreviate(asked), got, s.IfRange())
}

// changedError explains a 200 answer to a range request that carried
// If-Range: the server's file is no longer the one the validator names.
func (s *Source) changedError(resp *http.Response, asked string) error {
	_, known, got := s.validatorsMatch(resp)
	now := "without a validator"
	if known {
		now = "with validator " + got
	}
	return fmt.Errorf("httpsource: GET %s: %w: it answered %s with If-Range: %s by sending the whole file %s (fetch a fresh control file and run again)",
		s.shown, source.ErrChanged, abbreviate(asked), s.IfRange(), now)
}
