package httpsource

import (
	"errors"
	"strconv"
	"strings"
)

// contentRange is a parsed Content-Range header value.
type contentRange struct {
	off, end    int64 // half-open [off, end); unset if unsatisfied
	total       int64 // -1 for "*"
	unsatisfied bool  // "bytes */total", sent with 416
}

var errContentRange = errors.New("malformed content-range")

// parseContentRange parses "bytes a-b/total", "bytes a-b/*" and
// "bytes */total" (RFC 9110 §14.4). It checks that a ≤ b and, when the total
// is known, b < total.
func parseContentRange(v string) (contentRange, error) {
	cr := contentRange{total: -1}
	v = strings.TrimSpace(v)
	unit, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return cr, errContentRange
	}
	rng, total, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return cr, errContentRange
	}
	rng, total = strings.TrimSpace(rng), strings.TrimSpace(total)
	if total != "*" {
		t, err := parseNum(total)
		if err != nil {
			return cr, errContentRange
		}
		cr.total = t
	}
	if rng == "*" {
		if cr.total < 0 {
			return cr, errContentRange
		}
		cr.unsatisfied = true
		return cr, nil
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return cr, errContentRange
	}
	a, err1 := parseNum(first)
	b, err2 := parseNum(last)
	if err1 != nil || err2 != nil || a > b || b == 1<<63-1 {
		return cr, errContentRange
	}
	if cr.total >= 0 && b >= cr.total {
		return cr, errContentRange
	}
	cr.off, cr.end = a, b+1
	return cr, nil
}

// parseNum accepts only ASCII digits (no sign, no spaces) that fit an int64.
func parseNum(s string) (int64, error) {
	if s == "" {
		return 0, errContentRange
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errContentRange
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
