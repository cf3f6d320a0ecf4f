package interop

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// Multi-range behaviour of the real servers, as observed with the Debian 12
// packages (and checked, for the CRLF, by testenv's TestHarnessServerLog):
//
//   - nginx 1.22: multipart/byteranges with the CRLF before the first
//     boundary; no limit on the number of ranges (max_ranges unset); ranges
//     are neither merged nor reordered.
//   - Apache 2.4: multipart with the leading CRLF, parts' headers spelled
//     "Content-range"; overlapping and adjacent ranges are merged; more than
//     MaxRanges (200) ranges are answered 200 with the whole file.
//   - lighttpd 1.4.69: multipart WITHOUT the leading CRLF (zsync 0.6.2 loops
//     on it); ranges closer than a multipart header are merged into one part
//     (0-1,50-51 is served as 0-51); only the first 10 ranges of a request
//     are answered, so zync asks again for the rest.
//   - Caddy 2.6 (Go's http.ServeContent): multipart WITHOUT the leading
//     CRLF; no limit on the number of ranges, no merging; a request whose
//     ranges add up to more than the file is answered 200 with the whole file.
//
// The test prints each server's counts (t.Log) so that a change of
// behaviour in a new package version shows.

// multiRange is the note above, per server, for the test's log.
var multiRange = map[string]string{
	"nginx":    "multipart with leading CRLF; no range limit; no merging",
	"apache2":  `multipart with leading CRLF, "Content-range" part headers; merges overlapping/adjacent ranges; over 200 ranges: 200 whole file`,
	"lighttpd": "multipart without leading CRLF; merges close ranges; answers only the first 10 ranges of a request",
	"caddy":    "Go http.ServeContent: multipart without leading CRLF; no range limit; ranges adding up past the size: 200 whole file",
}

// serverCase is one run of `zync get` against a real server.
type serverCase struct {
	name  string
	seed  bool // give the old version as a seed
	args  []string
	setup func(t *testing.T, out string, target []byte)
	// check looks at the requests for the target in the access log.
	check func(t *testing.T, server string, reqs []testenv.Request, st rangeStats)
}

// rangeStats sums up the Range headers of some requests.
type rangeStats struct {
	multi    int // requests with more than one range
	asked    int // ranges asked, in all requests
	distinct int // different ranges asked
	whole    int // requests for the whole file in one range
}

func statRanges(reqs []testenv.Request, size int) rangeStats {
	var st rangeStats
	seen := map[string]bool{}
	whole := fmt.Sprintf("0-%d", size-1)
	for _, r := range reqs {
		spec, _ := strings.CutPrefix(r.Range, "bytes=")
		parts := strings.Split(spec, ",")
		if len(parts) > 1 {
			st.multi++
		}
		for _, p := range parts {
			st.asked++
			if !seen[p] {
				seen[p] = true
				st.distinct++
			}
			if p == whole || p == "0-" {
				st.whole++
			}
		}
	}
	return st
}

// TestZyncGetRealServers runs `zync get` (the CLI) against every real web
// server with a zync-made control file, and checks the output, and zync's
// counts of requests and bytes against the server's access log: they must
// be equal.
func TestZyncGetRealServers(t *testing.T) {
	t.Parallel()
	const size = 3 << 20
	old := randBytes(0x5e7e, size)
	// Scattered edits, an insertion and a deletion: some 40 missing ranges,
	// more than one request holds.
	target := edit(0x5e7f, old, 40, 5000, 3000)

	deltaUsed := func(t *testing.T, server string, reqs []testenv.Request, st rangeStats) {
		if st.multi == 0 || st.whole != 0 {
			t.Errorf("%s: want multi-range requests and no whole-file request: %+v", server, st)
		}
		if st.asked != st.distinct {
			t.Errorf("%s: %d ranges asked again although the server answered all: %+v", server, st.asked-st.distinct, st)
		}
	}
	cases := []serverCase{
		{name: "seed", seed: true, check: deltaUsed},
		{name: "seed, one request in flight", seed: true, args: []string{"-j", "1"},
			// One request at a time puts up to 16 ranges in a request:
			// lighttpd answers only the first 10, and zync asks again for
			// the others.
			check: func(t *testing.T, server string, reqs []testenv.Request, st rangeStats) {
				if server != "lighttpd" {
					deltaUsed(t, server, reqs, st)
					return
				}
				if st.multi == 0 || st.asked <= st.distinct {
					t.Errorf("lighttpd: want ranges asked again (it answers 10 a request): %+v", st)
				}
			}},
		{name: "no seed",
			// Too little to reuse: one request for the whole file.
			check: func(t *testing.T, server string, reqs []testenv.Request, st rangeStats) {
				if st.whole != 1 || st.multi != 0 {
					t.Errorf("%s: want one request for the whole file: %+v", server, st)
				}
			}},
		{name: "up to date",
			setup: func(t *testing.T, out string, target []byte) { writeFile(t, out, target) },
			check: func(t *testing.T, server string, reqs []testenv.Request, st rangeStats) {
				if len(reqs) != 0 {
					t.Errorf("%s: the output was up to date, yet zync made %d requests for the target", server, len(reqs))
				}
			}},
	}

	for _, ws := range testenv.WebServers {
		t.Run(ws.Name, func(t *testing.T) {
			t.Parallel()
			t.Logf("%s multi-range behaviour: %s", ws.Name, multiRange[ws.Name])
			served, work := t.TempDir(), t.TempDir()
			writeFile(t, filepath.Join(served, "app.img"), target)
			zyncMake(t, served, "app.img")
			seed := writeFile(t, filepath.Join(work, "old.img"), old)
			srv := ws.Start(t, served)
			url := srv.URL("app.img.zsync")

			for _, c := range cases {
				// Sequential: each case reads the server's log.
				t.Run(c.name, func(t *testing.T) {
					srv.Reset()
					dir := t.TempDir()
					out := filepath.Join(dir, "app.img")
					if c.setup != nil {
						c.setup(t, out, target)
					}
					args := append([]string{"-o", out}, c.args...)
					if c.seed {
						args = append(args, "-i", seed)
					}
					res, stderr, code := zyncGet(t, dir, append(args, url)...)
					if code != 0 {
						t.Fatalf("zync get: exit %d: %s", code, stderr)
					}
					checkResult(t, dir, res, out, target)
					if c.seed && stderr != "" {
						t.Errorf("zync get with a good seed printed on stderr: %s", stderr)
					}

					log := srv.Log()
					if len(log) == 0 || log[0].Path != "/app.img.zsync" || log[0].Status != 200 || log[0].Range != "" {
						t.Fatalf("first request should be a plain GET of the control file: %+v", log)
					}
					reqs := log[1:]
					var bytes int64
					for _, r := range reqs {
						if r.Path != "/app.img" || r.Status != 206 || r.Range == "" {
							t.Errorf("request %+v: want 206 to a Range request for /app.img", r)
						}
						bytes += r.Bytes
					}
					st := statRanges(reqs, len(target))
					t.Logf("%s, %s: %d requests (%d multi-range; %d ranges asked, %d distinct), %d body bytes for a %d-byte target, %d reused",
						ws.Name, c.name, len(reqs), st.multi, st.asked, st.distinct, bytes, res.Length, res.ReusedBytes)
					if int64(len(reqs)) != res.Requests {
						t.Errorf("zync counted %d requests, %s logged %d", res.Requests, ws.Name, len(reqs))
					}
					if bytes != res.FetchedBytes {
						t.Errorf("zync counted %d bytes fetched, %s sent %d body bytes", res.FetchedBytes, ws.Name, bytes)
					}
					c.check(t, ws.Name, reqs, st)
					if t.Failed() {
						for _, r := range reqs {
							t.Logf("  %d %d bytes, Range %.200s", r.Status, r.Bytes, r.Range)
						}
					}
				})
			}
		})
	}
}
