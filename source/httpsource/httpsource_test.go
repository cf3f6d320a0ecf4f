package httpsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zyncio/zync/source"
)

// guard bounds a test that might hang; it is a safety net, never used to
// order events.
const guard = 30 * time.Second

// scatteredRanges returns n sorted ranges, each inside its own 4 KiB block and
// never adjacent to the next, so no two merge unless MaxGap says so.
func scatteredRanges(seed uint64, n int) []source.Range {
	r := rand.New(rand.NewPCG(seed, 7))
	blocks := r.Perm(targetSize / 4096)[:n]
	slices.Sort(blocks)
	out := make([]source.Range, n)
	for i, b := range blocks {
		off := int64(b)*4096 + int64(r.IntN(100))
		out[i] = source.Range{Off: off, Len: 1 + int64(r.IntN(4096-200))}
	}
	return out
}

// expected returns the target bytes of r, zero-padded past the end.
func expected(r source.Range) []byte {
	out := make([]byte, r.Len)
	if r.Off < targetSize {
		copy(out, targetData[r.Off:min(r.End(), targetSize)])
	}
	return out
}

// collector records what Fetch delivers and checks each range arrives once.
type collector struct {
	mu  sync.Mutex
	got map[source.Range][]byte
	dup []source.Range
}

func newCollector() *collector { return &collector{got: map[source.Range][]byte{}} }

func (c *collector) fn(r source.Range, data io.Reader) error {
	b, err := io.ReadAll(data)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.got[r]; ok {
		c.dup = append(c.dup, r)
	}
	c.got[r] = b
	return nil
}

// check asserts that every range in want was delivered once with the right
// bytes, and that whatever else was delivered (after an error) is right too.
func (c *collector) check(t *testing.T, want []source.Range, complete bool) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dup) > 0 {
		t.Errorf("ranges delivered more than once: %v", c.dup)
	}
	for r, b := range c.got {
		if !bytes.Equal(b, expected(r)) {
			t.Errorf("range %s: wrong bytes (got %d bytes)", r, len(b))
		}
	}
	if complete {
		for _, r := range want {
			if _, ok := c.got[r]; !ok {
				t.Errorf("range %s not delivered", r)
			}
		}
	}
}

func newSource(t *testing.T, ts *testServer, opts Options) *Source {
	t.Helper()
	if opts.Client == nil {
		opts.Client = ts.Client()
	}
	s, err := New(ts.TargetURL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fetchWithGuard(t *testing.T, s *Source, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	return s.Fetch(ctx, ranges, fn)
}

// TestFetchModes runs two Fetch calls of 10 scattered ranges against each
// well-behaved or recoverable server, with Concurrency 1 and 4, and checks
// every byte and the exact number of requests made: what a Source learns
// about a server is remembered, and a misbehaving server costs one request
// even when several could be in flight.
func TestFetchModes(t *testing.T) {
	tests := []struct {
		mode           string
		first, second  int // requests to the target path by the first and second Fetch
		c4             int // requests by each Fetch with Concurrency 4, if different
		c4first        int // requests by the first Fetch with Concurrency 4, if different
		secondNoRanges bool
	}{
		{mode: "normal", first: 1, second: 1, c4: 4},
		{mode: "gofileserver", first: 1, second: 1, c4: 4},
		{mode: "coalesce", first: 1, second: 1, c4: 4},
		// Each failed multi-range request halves the ranges per request:
		// 10 ranges, then 5, then 2, then single ranges. firstOnly delivers
		// the first range of each: 1 of 10, 1 of 5, 1 of 2, then 7 single.
		// With Concurrency 4 the first request holds 3 ranges: halved, that
		// is single ranges at once.
		{mode: "firstOnly", first: 3 + 7, second: 10},
		{mode: "multi501", first: 3 + 10, second: 10, c4first: 1 + 10},
		{mode: "multi400", first: 3 + 10, second: 10, c4first: 1 + 10},
		{mode: "multi416", first: 3 + 10, second: 10, c4first: 1 + 10},
		// 200 to the multi-range requests of 10, 5 and 2 ranges (dropped),
		// then 200 to a single range, which is streamed; afterwards plain
		// GETs only. With Concurrency 4 as well: one request is in flight
		// until a mode works.
		{mode: "full200", first: 4, second: 1, c4first: 2, secondNoRanges: true},
		// S3: 200 to multi-range only; single ranges work.
		{mode: "s3", first: 3 + 10, second: 10, c4first: 1 + 10},
		{mode: "redirect", first: 1, second: 1, c4: 4},
	}
	for _, tc := range tests {
		for _, conc := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/c%d", tc.mode, conc), func(t *testing.T) {
				first := tc.first
				if conc == 4 && tc.c4first != 0 {
					first = tc.c4first
				}
				testFetchMode(t, tc.mode, conc, first, tc.second, tc.c4, tc.secondNoRanges)
			})
		}
	}
}

// testFetchMode runs two Fetch calls of 10 scattered ranges and checks the
// bytes and the number of requests each made.
func testFetchMode(t *testing.T, mode string, conc, first, second, c4 int, secondNoRanges bool) {
	if conc == 4 && c4 != 0 {
		first, second = c4, c4
	}
	ts := newTestServer(t, mode)
	s := newSource(t, ts, Options{Concurrency: conc, Length: targetSize})
	path := targetPath
	if mode == "redirect" {
		path = "/file"
	}
	for i, want := range []int{first, second} {
		ranges := scatteredRanges(uint64(i+1), 10)
		before := len(ts.RequestsTo(path))
		c := newCollector()
		if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
			t.Fatalf("fetch %d: %v", i+1, err)
		}
		c.check(t, ranges, true)
		reqs := ts.RequestsTo(path)[before:]
		if len(reqs) != want {
			t.Errorf("fetch %d: %d requests, want %d: %+v", i+1, len(reqs), want, reqs)
		}
		for _, r := range reqs {
			if r.AcceptEncoding != "identity" {
				t.Errorf("Accept-Encoding %q, want identity", r.AcceptEncoding)
			}
			if i == 1 && secondNoRanges && r.Range != "" {
				t.Errorf("fetch 2 sent Range %q to a server that ignores ranges", r.Range)
			}
		}
	}
	if mode == "redirect" {
		// Each request starts at the original URL and follows the
		// whole chain, query strings and the Range header included.
		for _, p := range []string{"/file", "/dl/next", "/real/target.bin"} {
			if n := len(ts.RequestsTo(p)); n != first+second {
				t.Errorf("%s: %d requests, want %d", p, n, first+second)
			}
		}
		for _, r := range ts.RequestsTo("/real/target.bin") {
			if !strings.HasPrefix(r.Range, "bytes=") || r.RawQuery != "token=x&e=1" {
				t.Errorf("final request lost its Range or query: %+v", r)
			}
		}
	}
}

// TestFetchErrors checks servers whose answers must not be trusted.
func TestFetchErrors(t *testing.T) {
	tests := []struct {
		mode     string
		is       error // a sentinel the error must wrap, or nil
		isNot    error // a sentinel it must not wrap, or nil
		contains []string
		requests int   // requests made, 0: do not check
		length   int64 // Options.Length; 0 means targetSize
	}{
		// Taken for a garbled multi-range answer twice (5 ranges, then 2),
		// then refused as a single-range answer.
		{mode: "wrongRange", is: source.ErrPermanent, contains: []string{"not asked"}, requests: 3},
		{mode: "badTotal", is: source.ErrLengthMismatch, contains: []string{"1048577", "1048576"}, requests: 1},
		{mode: "gzip206", is: source.ErrPermanent, contains: []string{"gzip"}, requests: 1},
		{mode: "notFound", is: source.ErrNotFound, contains: []string{"404", "moved or not yet published"}, requests: 1},
		{mode: "gone", is: source.ErrNotFound, contains: []string{"410"}, requests: 1},
		{mode: "unauthorized", is: source.ErrPermanent, contains: []string{"401", "-A"}, requests: 1},
		{mode: "forbidden", is: source.ErrPermanent, contains: []string{"403", "-A"}, requests: 1},
		{mode: "err500", isNot: source.ErrPermanent, contains: []string{"500"}, requests: 1},
		// Half of every range, every time: asked twice, then an error.
		{mode: "prefix", is: source.ErrPermanent, contains: []string{"twice"}, requests: 2},
		{mode: "short", is: io.ErrUnexpectedEOF, requests: 1},
		// A whole-file answer of another length is refused at once.
		{mode: "full200", length: targetSize - 1, is: source.ErrLengthMismatch, contains: []string{"1048575", "1048576"}, requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			ts := newTestServer(t, tc.mode)
			length := tc.length
			if length == 0 {
				length = targetSize
			}
			s := newSource(t, ts, Options{Concurrency: 1, Length: length})
			ranges := scatteredRanges(3, 5)
			if tc.mode == "short" {
				ranges = ranges[:1]
			}
			c := newCollector()
			err := fetchWithGuard(t, s, ranges, c.fn)
			if err == nil {
				t.Fatal("fetch succeeded")
			}
			t.Logf("error: %v", err)
			c.check(t, ranges, false)
			checkNoFetchGoroutines(t)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error does not wrap %v", tc.is)
			}
			if tc.isNot != nil && errors.Is(err, tc.isNot) {
				t.Errorf("error wraps %v", tc.isNot)
			}
			if notFound := errors.Is(err, source.ErrNotFound); notFound != (tc.is == source.ErrNotFound) {
				t.Errorf("errors.Is(err, ErrNotFound) = %v", notFound)
			}
			msg := err.Error()
			if !strings.Contains(msg, ts.TargetURL()) {
				t.Errorf("error does not name the URL %s", ts.TargetURL())
			}
			for _, sub := range tc.contains {
				if !strings.Contains(msg, sub) {
					t.Errorf("error does not mention %q", sub)
				}
			}
			if n := len(ts.Requests()); tc.requests > 0 && n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

// TestMultipartPreamble shows that the two servers really differ in the CRLF
// before the first boundary, and that both are parsed.
func TestMultipartPreamble(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		prefix string
	}{
		{"normal", "\r\n--"},
		{"gofileserver", "--"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ts := newTestServer(t, tc.mode)
			req, _ := http.NewRequest(http.MethodGet, ts.TargetURL(), nil)
			req.Header.Set("Range", "bytes=0-9,100-109")
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusPartialContent || !strings.HasPrefix(string(body), tc.prefix) {
				t.Fatalf("status %d, body starts %q, want prefix %q", resp.StatusCode, body[:min(len(body), 8)], tc.prefix)
			}
			if tc.mode == "gofileserver" && strings.HasPrefix(string(body), "\r\n") {
				t.Fatal("ServeContent now writes a leading CRLF; this test no longer covers its absence")
			}

			s := newSource(t, ts, Options{Concurrency: 1})
			ranges := []source.Range{{Off: 0, Len: 10}, {Off: 100, Len: 10}, {Off: 5000, Len: 3000}}
			c := newCollector()
			if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
				t.Fatal(err)
			}
			c.check(t, ranges, true)
			if n := len(ts.Requests()); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}

func TestMaxGap(t *testing.T) {
	ranges := []source.Range{{Off: 0, Len: 100}, {Off: 100, Len: 50}, {Off: 200, Len: 100}, {Off: 1000, Len: 100}}
	for _, tc := range []struct {
		gap  int64
		want string
	}{
		{0, "bytes=0-149,200-299,1000-1099"}, // adjacent ranges always share one
		{49, "bytes=0-149,200-299,1000-1099"},
		{50, "bytes=0-299,1000-1099"},
		{699, "bytes=0-299,1000-1099"},
		{700, "bytes=0-1099"},
	} {
		t.Run(strconv.FormatInt(tc.gap, 10), func(t *testing.T) {
			ts := newTestServer(t, "normal")
			s := newSource(t, ts, Options{Concurrency: 1, MaxGap: tc.gap})
			c := newCollector()
			if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
				t.Fatal(err)
			}
			c.check(t, ranges, true)
			reqs := ts.Requests()
			if len(reqs) != 1 || reqs[0].Range != tc.want {
				t.Errorf("requests %+v, want one with Range %s", reqs, tc.want)
			}
		})
	}
}

func TestMaxRangesAndSpreading(t *testing.T) {
	ranges := scatteredRanges(9, 40)
	for _, tc := range []struct {
		conc, maxRanges int
		perRequest      []int
	}{
		{1, 16, []int{14, 14, 12}},     // 3 requests of at most 16, evened out
		{4, 16, []int{10, 10, 10, 10}}, // at least Concurrency requests
		{2, 1, nil},                    // 40 single-range requests
	} {
		t.Run(fmt.Sprintf("c%d-m%d", tc.conc, tc.maxRanges), func(t *testing.T) {
			ts := newTestServer(t, "normal")
			s := newSource(t, ts, Options{Concurrency: tc.conc, MaxRanges: tc.maxRanges})
			c := newCollector()
			if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
				t.Fatal(err)
			}
			c.check(t, ranges, true)
			var counts []int
			for _, r := range ts.Requests() {
				counts = append(counts, strings.Count(r.Range, ",")+1)
			}
			slices.Sort(counts)
			slices.Reverse(counts)
			want := tc.perRequest
			if want == nil {
				want = slices.Repeat([]int{1}, len(ranges))
			}
			if !slices.Equal(counts, want) {
				t.Errorf("ranges per request %v, want %v", counts, want)
			}
		})
	}
}

// TestLengthClip: a range running past Length is asked only up to Length and
// its tail comes back as zeros; one starting past Length is refused. With
// Length unknown, the server's total plays its part.
func TestLengthClip(t *testing.T) {
	for _, mode := range []string{"normal", "full200"} {
		for _, length := range []int64{targetSize, -1} {
			t.Run(fmt.Sprint(mode, "/length", length), func(t *testing.T) {
				ts := newTestServer(t, mode)
				s := newSource(t, ts, Options{Concurrency: 1, Length: length})
				ranges := []source.Range{{Off: 10, Len: 10}, {Off: targetSize - 100, Len: 4096}}
				c := newCollector()
				if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
					t.Fatal(err)
				}
				c.check(t, ranges, true)
				want := fmt.Sprintf("bytes=10-19,%d-%d", targetSize-100, targetSize-1)
				if length < 0 {
					want = fmt.Sprintf("bytes=10-19,%d-%d", targetSize-100, targetSize-100+4095)
				}
				if r := ts.Requests(); r[0].Range != want {
					t.Errorf("requests %+v, want Range %s first", r, want)
				}
				// Now the length is known either way.
				err := fetchWithGuard(t, s, []source.Range{{Off: targetSize, Len: 1}}, newCollector().fn)
				if err == nil || !strings.Contains(err.Error(), "past the end") {
					t.Errorf("range past the end: %v", err)
				}
			})
		}
	}
}

// TestRedirectNotFollowed: a client that stops at redirects gets a clear,
// permanent error naming the Location.
func TestRedirectNotFollowed(t *testing.T) {
	ts := newTestServer(t, "redirect")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s := newSource(t, ts, Options{Client: client})
	err := fetchWithGuard(t, s, []source.Range{{Off: 0, Len: 10}}, newCollector().fn)
	if !errors.Is(err, source.ErrPermanent) || !strings.Contains(err.Error(), "dl/next?sig=abc") {
		t.Errorf("err %v", err)
	}
}

func TestStat(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		ts := newTestServer(t, "normal")
		s := newSource(t, ts, Options{Length: targetSize})
		info, err := s.Stat(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := Info{Length: targetSize, ETag: testETag, LastModified: testModTime.Format(http.TimeFormat), AcceptsRanges: true}
		if info != want {
			t.Errorf("info %+v, want %+v", info, want)
		}
		if r := ts.Requests(); len(r) != 1 || r[0].Range != "bytes=0-0" {
			t.Errorf("requests %+v", r)
		}
	})
	t.Run("full200", func(t *testing.T) {
		ts := newTestServer(t, "full200")
		var got []RequestInfo
		var mu sync.Mutex
		s := newSource(t, ts, Options{Length: targetSize, OnRequest: func(ri RequestInfo) {
			mu.Lock()
			got = append(got, ri)
			mu.Unlock()
		}})
		info, err := s.Stat(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.AcceptsRanges || info.Length != targetSize {
			t.Errorf("info %+v", info)
		}
		ranges := scatteredRanges(4, 20)
		c := newCollector()
		if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
			t.Fatal(err)
		}
		c.check(t, ranges, true)
		reqs := ts.Requests()
		if len(reqs) != 2 || reqs[1].Range != "" {
			t.Errorf("requests %+v, want the probe and one plain GET", reqs)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 2 || got[1].Ranges != 0 || got[1].Status != 200 || got[1].Bytes <= ranges[len(ranges)-1].Off {
			t.Errorf("OnRequest got %+v", got)
		}
	})
	t.Run("notFound", func(t *testing.T) {
		ts := newTestServer(t, "notFound")
		_, err := newSource(t, ts, Options{}).Stat(t.Context())
		if !errors.Is(err, source.ErrNotFound) {
			t.Errorf("err %v, want ErrNotFound", err)
		}
	})
	t.Run("badTotal", func(t *testing.T) {
		ts := newTestServer(t, "badTotal")
		info, err := newSource(t, ts, Options{Length: targetSize}).Stat(t.Context())
		if !errors.Is(err, source.ErrLengthMismatch) || info.Length != targetSize+1 {
			t.Errorf("info %+v, err %v; want length %d and ErrLengthMismatch", info, err, targetSize+1)
		}
	})
}

// TestCancel: cancelling ctx while a request waits for headers, or while a
// body has stalled, ends Fetch at once with ctx's error.
func TestCancel(t *testing.T) {
	for _, mode := range []string{"stallHeaders", "stallBody"} {
		t.Run(mode, func(t *testing.T) {
			ts := newTestServer(t, mode)
			s := newSource(t, ts, Options{Concurrency: 1})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			fn := newCollector().fn
			if mode == "stallHeaders" {
				go func() {
					<-ts.stalled
					cancel()
				}()
			} else {
				// Cancel once the first bytes are in, then wait for the rest,
				// which the server never sends.
				fn = func(r source.Range, data io.Reader) error {
					var b [1]byte
					if _, err := io.ReadFull(data, b[:]); err != nil {
						return err
					}
					cancel()
					_, err := io.ReadAll(data)
					return err
				}
			}
			done := make(chan error, 1)
			go func() { done <- s.Fetch(ctx, []source.Range{{Off: 0, Len: 8192}}, fn) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err %v, want context.Canceled", err)
				}
				t.Logf("error: %v", err)
			case <-time.After(guard):
				t.Fatal("Fetch did not return after cancel")
			}
			checkNoFetchGoroutines(t)
		})
	}
	t.Run("before", func(t *testing.T) {
		ts := newTestServer(t, "normal")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := newSource(t, ts, Options{}).Fetch(ctx, []source.Range{{Off: 0, Len: 1}}, newCollector().fn)
		if !errors.Is(err, context.Canceled) || len(ts.Requests()) != 0 {
			t.Errorf("err %v, %d requests", err, len(ts.Requests()))
		}
	})
}

// checkNoFetchGoroutines fails if goroutines started by Fetch outlive it.
// A goroutine that has sent its result may need a moment to exit, hence the
// bounded yield loop.
func checkNoFetchGoroutines(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte("httpsource.(*fetch)")) {
			return
		}
		if i == 10000 {
			t.Fatalf("goroutines of Fetch left running:\n%s", buf[:n])
		}
		runtime.Gosched()
	}
}

// TestConcurrency fetches 240 ranges with 8 requests in flight (run it with
// -race). Requests 2 to 9, sent together once the first has shown that the
// server does multi-range, wait for each other at the server, which proves
// that 8 were in flight at once.
func TestConcurrency(t *testing.T) {
	ts := newTestServer(t, "normal")
	var seq, met atomic.Int32
	release := make(chan struct{})
	ts.hook = func(r *http.Request) {
		if n := seq.Add(1); n >= 2 && n <= 9 {
			if met.Add(1) == 8 {
				close(release)
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}
	var infos atomic.Int64
	var rangesAsked, bytesGot atomic.Int64
	s := newSource(t, ts, Options{Concurrency: 8, MaxRanges: 4, Length: targetSize, OnRequest: func(ri RequestInfo) {
		infos.Add(1)
		rangesAsked.Add(int64(ri.Ranges))
		bytesGot.Add(ri.Bytes)
	}})
	ranges := scatteredRanges(5, 240)
	out := make([]byte, targetSize)
	var calls [targetSize / 4096]atomic.Int32
	err := fetchWithGuard(t, s, ranges, func(r source.Range, data io.Reader) error {
		calls[r.Off/4096].Add(1)
		_, err := io.ReadFull(data, out[r.Off:r.End()])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		if n := calls[r.Off/4096].Load(); n != 1 {
			t.Errorf("range %s delivered %d times", r, n)
		}
		if !bytes.Equal(out[r.Off:r.End()], targetData[r.Off:r.End()]) {
			t.Errorf("range %s: wrong bytes", r)
		}
	}
	reqs := ts.Requests()
	if m := ts.maxInFlight.Load(); m != 8 {
		t.Errorf("max in flight %d, want 8", m)
	}
	if int(infos.Load()) != len(reqs) || rangesAsked.Load() != int64(len(ranges)) || bytesGot.Load() < int64(len(ranges)) {
		t.Errorf("OnRequest: %d calls for %d requests, %d ranges for %d, %d bytes", infos.Load(), len(reqs), rangesAsked.Load(), len(ranges), bytesGot.Load())
	}
	t.Logf("%d requests, max %d in flight", len(reqs), ts.maxInFlight.Load())
}

// TestHTTP2 fetches over HTTPS with HTTP/2, multipart included.
func TestHTTP2(t *testing.T) {
	ts := newTLSTestServer(t, "normal")
	s := newSource(t, ts, Options{Concurrency: 2, Length: targetSize})
	ranges := scatteredRanges(6, 50)
	c := newCollector()
	if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
		t.Fatal(err)
	}
	c.check(t, ranges, true)
	for _, r := range ts.Requests() {
		if r.ProtoMajor != 2 {
			t.Fatalf("request over HTTP/%d", r.ProtoMajor)
		}
	}
}

func TestCallback(t *testing.T) {
	ranges := scatteredRanges(8, 30)
	t.Run("error stops fetch", func(t *testing.T) {
		ts := newTestServer(t, "normal")
		s := newSource(t, ts, Options{Concurrency: 4, MaxRanges: 2})
		stop := errors.New("stop here")
		var calls atomic.Int32
		err := fetchWithGuard(t, s, ranges, func(r source.Range, data io.Reader) error {
			if calls.Add(1) == 3 {
				return stop
			}
			_, err := io.Copy(io.Discard, data)
			return err
		})
		if err != stop {
			t.Errorf("err %v, want the callback's error unchanged", err)
		}
		checkNoFetchGoroutines(t)
	})
	t.Run("partial reads are drained", func(t *testing.T) {
		ts := newTestServer(t, "normal")
		s := newSource(t, ts, Options{Concurrency: 1})
		var mu sync.Mutex
		first := map[source.Range]byte{}
		err := fetchWithGuard(t, s, ranges, func(r source.Range, data io.Reader) error {
			var b [1]byte
			if _, err := io.ReadFull(data, b[:]); err != nil {
				return err
			}
			mu.Lock()
			first[r] = b[0]
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ranges {
			if first[r] != targetData[r.Off] {
				t.Errorf("range %s: first byte %d, want %d", r, first[r], targetData[r.Off])
			}
		}
	})
}

func TestBadInput(t *testing.T) {
	ts := newTestServer(t, "normal")
	s := newSource(t, ts, Options{})
	for _, ranges := range [][]source.Range{
		{{Off: 0, Len: 0}},
		{{Off: -1, Len: 5}},
		{{Off: 10, Len: 5}, {Off: 0, Len: 5}},
		{{Off: 0, Len: 10}, {Off: 5, Len: 10}},
	} {
		if err := s.Fetch(t.Context(), ranges, newCollector().fn); err == nil {
			t.Errorf("ranges %v accepted", ranges)
		}
	}
	if err := s.Fetch(t.Context(), nil, newCollector().fn); err != nil {
		t.Errorf("no ranges: %v", err)
	}
	if n := len(ts.Requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
	for _, u := range []string{"ftp://example.com/x", "http:///x", "::"} {
		if _, err := New(u, Options{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in   string
		want contentRange
		ok   bool
	}{
		{"bytes 0-0/1", contentRange{off: 0, end: 1, total: 1}, true},
		{"bytes 10-19/100", contentRange{off: 10, end: 20, total: 100}, true},
		{"BYTES  10-19/*", contentRange{off: 10, end: 20, total: -1}, true},
		{" bytes 10-19 / 100 ", contentRange{off: 10, end: 20, total: 100}, true},
		{"bytes */100", contentRange{total: 100, unsatisfied: true}, true},
		{"bytes */*", contentRange{}, false},
		{"bytes 19-10/100", contentRange{}, false},
		{"bytes 10-100/100", contentRange{}, false},
		{"bytes 10-19", contentRange{}, false},
		{"bytes -1-19/100", contentRange{}, false},
		{"bytes +1-19/100", contentRange{}, false},
		{"items 1-2/3", contentRange{}, false},
		{"bytes 1-9223372036854775807/*", contentRange{}, false},
		{"bytes 1-99999999999999999999/*", contentRange{}, false},
		{"", contentRange{}, false},
	}
	for _, tc := range tests {
		got, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("parseContentRange(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
