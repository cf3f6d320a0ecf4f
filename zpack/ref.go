package zpack

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// HeaderName is the control-file header that points to a companion. Its
// value is Ref.String(). Control files must announce it in a "Safe:" line
// before it (zsyncfile's File.Extra does), so that zsync 0.6.2 and 0.7
// ignore it and use the plain URL.
const HeaderName = "X-Zync-Zpack"

// Ref is what a control file records about a companion: where it is, and
// where in it the map is and what the map's SHA-256 is, so that a client
// fetches the map with one range request and trusts it as far as it trusts
// the control file.
type Ref struct {
	// URL of the companion, absolute or relative to the control file's URL
	// (as the URL header). It must not contain white space: percent-encode
	// it.
	URL string
	// MapOffset and MapLength locate the map section in the companion.
	MapOffset, MapLength int64
	// MapSHA256 is the SHA-256 of the map section.
	MapSHA256 [32]byte
}

// Size returns the companion's size: the frames, the map and the trailer.
func (r Ref) Size() int64 { return r.MapOffset + r.MapLength + TrailerSize }

// String returns the header value:
//
//	url=<URL> map=<offset>+<length> sha256=<64 lower-case hex digits>
//
// ParseRef ignores keys it does not know, so later versions may add some.
func (r Ref) String() string {
	return fmt.Sprintf("url=%s map=%d+%d sha256=%s", r.URL, r.MapOffset, r.MapLength, hex.EncodeToString(r.MapSHA256[:]))
}

// ParseRef parses a HeaderName value (see Ref.String). Unknown keys are
// ignored; url, map and sha256 are required, and the map must fit
// MaxMapSize. Errors wrap ErrFormat.
func ParseRef(value string) (Ref, error) {
	var r Ref
	var haveURL, haveMap, haveSum bool
	for _, f := range strings.Fields(value) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Ref{}, fmt.Errorf("%w: %s header: %q is not key=value", ErrFormat, HeaderName, f)
		}
		switch k {
		case "url":
			if v == "" {
				return Ref{}, fmt.Errorf("%w: %s header: empty url", ErrFormat, HeaderName)
			}
			r.URL, haveURL = v, true
		case "map":
			o, l, ok := strings.Cut(v, "+")
			off, err1 := strconv.ParseInt(o, 10, 64)
			n, err2 := strconv.ParseInt(l, 10, 64)
			if !ok || err1 != nil || err2 != nil || off < 0 || off > MaxLength || n < int64(len(mapMagic))+1 || n > MaxMapSize {
				return Ref{}, fmt.Errorf("%w: %s header: bad map location %q", ErrFormat, HeaderName, v)
			}
			r.MapOffset, r.MapLength, haveMap = off, n, true
		case "sha256":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != 32 {
				return Ref{}, fmt.Errorf("%w: %s header: bad sha256 %q", ErrFormat, HeaderName, v)
			}
			copy(r.MapSHA256[:], b)
			haveSum = true
		}
	}
	if !haveURL || !haveMap || !haveSum {
		return Ref{}, fmt.Errorf("%w: %s header %q lacks url, map or sha256", ErrFormat, HeaderName, value)
	}
	return r, nil
}
