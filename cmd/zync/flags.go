package main

import (
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// parseRate reads a byte rate: plain bytes per second, or a number with a
// K, M, G or T suffix (powers of 1024; "KB", "KiB" and a trailing "/s" are
// accepted too), as curl's --limit-rate. "0" means unlimited.
func parseRate(s string) (int64, error) {
	v := strings.TrimSpace(s)
	v = strings.TrimSuffix(v, "/s")
	mult := 1.0
	upper := strings.ToUpper(v)
	for _, suf := range []string{"IB", "B"} {
		if strings.HasSuffix(upper, suf) && len(upper) > len(suf) {
			upper = upper[:len(upper)-len(suf)]
			break
		}
	}
	if n := len(upper); n > 0 {
		if i := strings.IndexByte("KMGT", upper[n-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			upper = upper[:n-1]
		}
	}
	f, err := strconv.ParseFloat(upper, 64)
	if err != nil || upper == "" || strings.ContainsAny(upper, "eEnNxXpP+") || f < 0 || math.IsInf(f, 0) {
		return 0, fmt.Errorf("rate %q: want bytes per second, e.g. 500K, 2M, 1G or 65536", s)
	}
	b := f * mult
	if b > math.MaxInt64/2 {
		return 0, fmt.Errorf("rate %q is too large", s)
	}
	if b > 0 && b < 1 {
		return 0, fmt.Errorf("rate %q is below 1 byte per second", s)
	}
	return int64(b), nil
}

// parseDuration reads a Go duration ("15s", "1m30s") or a plain number of
// seconds ("15", "0.5"), as curl takes it.
func parseDuration(s string) (time.Duration, error) {
	v := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "eEnNxXpP") {
		if f < 0 || f > 1e9 {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 30s, 2m or a number of seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// durationFlag is a pflag.Value for parseDuration.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return "0"
	}
	return f.d.String()
}
func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}
func (durationFlag) Type() string { return "duration" }

// parseAuth reads -A values, host=user:pass (zsync's syntax), into a map.
func parseAuth(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		host, cred, ok := strings.Cut(v, "=")
		host = strings.TrimSpace(host)
		if !ok || host == "" || !strings.Contains(cred, ":") {
			return nil, fmt.Errorf("-A %q: want host=user:pass (or host:port=user:pass)", redactAuth(v))
		}
		if strings.Contains(host, "/") {
			return nil, fmt.Errorf("-A %q: give a host name, not a URL", redactAuth(v))
		}
		out[strings.ToLower(host)] = cred
	}
	return out, nil
}

// redactAuth hides the password of an -A value in messages.
func redactAuth(v string) string {
	host, cred, ok := strings.Cut(v, "=")
	if !ok {
		return "…"
	}
	user, _, _ := strings.Cut(cred, ":")
	return host + "=" + user + ":…"
}

// parseHeaders reads -H values, "Name: value", into a header.
func parseHeaders(vals []string) (http.Header, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for _, v := range vals {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || !validHeaderName(name) {
			return nil, fmt.Errorf("-H %q: want \"Name: value\"", v)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("-H %q: the value has a line break", v)
		}
		switch strings.ToLower(name) {
		case "range", "accept-encoding", "content-length", "transfer-encoding", "connection":
			return nil, fmt.Errorf("-H %s: zync sets this header itself", name)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
	return h, nil
}

func validHeaderName(s string) bool {
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// checkMirror checks a --url value: an absolute http(s) URL.
func checkMirror(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want an absolute http:// or https:// URL of the target", s)
	}
	return nil
}
