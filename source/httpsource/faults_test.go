package httpsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyncio/zync/source"
	fs "github.com/zyncio/zync/source/internal/faultserver"
)

// faultSource returns a Source for a faultserver that serves targetData.
func faultSource(t *testing.T, srv *fs.Server, opts Options) *Source {
	t.Helper()
	if opts.Client == nil {
		opts.Client = srv.Client()
	}
	if opts.Length == 0 {
		opts.Length = targetSize
	}
	s, err := New(srv.TargetURL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStatusError(t *testing.T) {
	date := time.Now().Add(3 * time.Second)
	tests := []struct {
		fault     fs.Fault
		permanent error
		minRA     time.Duration
		maxRA     time.Duration
		contains  string
	}{
		{fault: fs.Fault{Kind: fs.Status, Code: 503, RetryAfter: "1"}, minRA: time.Second, maxRA: time.Second, contains: "server error"},
		{fault: fs.Fault{Kind: fs.Status, Code: 429, RetryAfter: fs.HTTPDate(date)}, minRA: time.Second, maxRA: 3 * time.Second, contains: "limits the request rate"},
		{fault: fs.Fault{Kind: fs.Status, Code: 429}, contains: "-j"},
		{fault: fs.Fault{Kind: fs.Status, Code: 500, RetryAfter: "soon"}, contains: "500"},
		{fault: fs.Fault{Kind: fs.Status, Code: 404}, permanent: source.ErrNotFound, contains: "moved or not yet published"},
		{fault: fs.Fault{Kind: fs.Status, Code: 403}, permanent: source.ErrPermanent, contains: "access refused"},
		{fault: fs.Fault{Kind: fs.Status, Code: 400}, permanent: source.ErrPermanent, contains: "expected 206"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.fault.Code, tc.fault.RetryAfter), func(t *testing.T) {
			srv := fs.New(t, targetData, fs.Options{})
			srv.SetFaults(fs.Always(tc.fault))
			s := faultSource(t, srv, Options{})
			err := s.Fetch(t.Context(), []source.Range{{Off: 0, Len: 100}}, newCollector().fn)
			t.Logf("error: %v", err)
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *StatusError", err)
			}
			if se.Code != tc.fault.Code || se.URL != srv.TargetURL() {
				t.Errorf("StatusError %+v", se)
			}
			if se.RetryAfter < tc.minRA || se.RetryAfter > tc.maxRA {
				t.Errorf("RetryAfter %s, want %s to %s", se.RetryAfter, tc.minRA, tc.maxRA)
			}
			if ra, ok := source.RetryAfter(err); ok != (tc.maxRA > 0) || ra != se.RetryAfter {
				t.Errorf("source.RetryAfter = %s, %v", ra, ok)
			}
			if got := source.IsPermanent(err); got != (tc.permanent != nil) {
				t.Errorf("IsPermanent = %v", got)
			}
			if tc.permanent != nil && !errors.Is(err, tc.permanent) {
				t.Errorf("error does not wrap %v", tc.permanent)
			}
			if msg := err.Error(); !strings.Contains(msg, srv.TargetURL()) || !strings.Contains(msg, tc.contains) || msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("message %q should name the URL and say %q", msg, tc.contains)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-1", 0},
		{"1.5", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"Sunday, 06-Nov-94 08:49:37 GMT", 0}, // RFC 850, in the past
		{"tomorrow", 0},
		{"", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestStall: a request that receives nothing for StallTimeout fails with a
// retryable error wrapping ErrStalled, naming the URL and the time; a slow
// trickle and a slow callback are not stalls.
//
// The timeouts leave a wide margin: on a loaded machine the headers of an
// answer that then stalls must arrive well within the stall timeout.
func TestStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	r := []source.Range{{Off: 1000, Len: 5000}}
	for _, tc := range []struct {
		name  string
		fault fs.Fault
		says  string
	}{
		{"headers", fs.Fault{Kind: fs.StallHeaders}, "no answer received for 300ms"},
		{"body", fs.Fault{Kind: fs.StallBody, After: 1000}, "no data received for 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fs.New(t, targetData, fs.Options{})
			srv.SetFaults(fs.Always(tc.fault))
			s := faultSource(t, srv, Options{StallTimeout: stall})
			c := newCollector()
			start := time.Now()
			err := fetchWithGuard(t, s, r, c.fn)
			t.Logf("error after %s: %v", time.Since(start), err)
			if !errors.Is(err, ErrStalled) || source.IsPermanent(err) || errors.Is(err, context.Canceled) {
				t.Fatalf("error %v: want ErrStalled, not permanent, not context.Canceled", err)
			}
			var te interface{ Timeout() bool }
			if !errors.As(err, &te) || !te.Timeout() {
				t.Error("a stall should be a timeout")
			}
			if msg := err.Error(); !strings.Contains(msg, srv.TargetURL()) || !strings.Contains(msg, tc.says) {
				t.Errorf("message %q should name the URL and say %q", msg, tc.says)
			}
			c.check(t, nil, false)
			checkNoFetchGoroutines(t)
		})
	}
	t.Run("trickle", func(t *testing.T) {
		// 5000 bytes, 500 every 60 ms: 540 ms in all, never 300 ms without data.
		srv := fs.New(t, targetData, fs.Options{})
		srv.SetFaults(fs.Always(fs.Fault{Kind: fs.Trickle, Chunk: 500, Every: 60 * time.Millisecond}))
		s := faultSource(t, srv, Options{StallTimeout: stall})
		c := newCollector()
		start := time.Now()
		if err := fetchWithGuard(t, s, r, c.fn); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < stall {
			t.Errorf("took %s; the trickle should take longer than the stall timeout to prove anything", d)
		}
		c.check(t, r, true)
	})
	t.Run("slow callback", func(t *testing.T) {
		srv := fs.New(t, targetData, fs.Options{})
		s := faultSource(t, srv, Options{StallTimeout: 100 * time.Millisecond})
		ranges := []source.Range{{Off: 0, Len: 100}, {Off: 10000, Len: 100}}
		c := newCollector()
		err := fetchWithGuard(t, s, ranges, func(r source.Range, data io.Reader) error {
			time.Sleep(300 * time.Millisecond) // the consumer is slow, the server is not
			return c.fn(r, data)
		})
		if err != nil {
			t.Fatal(err)
		}
		c.check(t, ranges, true)
	})
}

// TestWasteBudget: a server that ignores Range is read through only within
// the budget, counted over the Source's life.
func TestWasteBudget(t *testing.T) {
	ranges := []source.Range{{Off: 1000, Len: 1000}, {Off: 5000, Len: 1000}} // reading to 6000 wastes 4000
	for _, tc := range []struct {
		budget   int64
		fetches  int // Fetch calls that succeed before one fails; -1: all succeed
		requests int
	}{
		{budget: 0, fetches: -1},       // unlimited
		{budget: 8000, fetches: 2},     // 4000 each: two fit
		{budget: 3999, fetches: 0},     // the first is over
		{budget: -1, fetches: 0},       // none allowed
		{budget: 1 << 40, fetches: -1}, // plenty
	} {
		t.Run(fmt.Sprint(tc.budget), func(t *testing.T) {
			srv := fs.New(t, targetData, fs.Options{})
			srv.SetFaults(fs.Always(fs.Fault{Kind: fs.Full}))
			s := faultSource(t, srv, Options{WasteBudget: tc.budget, Concurrency: 1})
			for i := range 3 {
				c := newCollector()
				err := fetchWithGuard(t, s, ranges, c.fn)
				if tc.fetches < 0 || i < tc.fetches {
					if err != nil {
						t.Fatalf("fetch %d: %v", i+1, err)
					}
					c.check(t, ranges, true)
					continue
				}
				t.Logf("error: %v", err)
				if !errors.Is(err, ErrWasteBudget) || !errors.Is(err, source.ErrPermanent) {
					t.Fatalf("fetch %d: error %v, want ErrWasteBudget and ErrPermanent", i+1, err)
				}
				want := []string{srv.TargetURL(), "ignores range", "4000 bytes", fmt.Sprintf("budget of %d bytes", max(tc.budget, 0))}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("message does not say %q", w)
					}
				}
				if len(c.got) != 0 {
					t.Errorf("delivered %d ranges over budget", len(c.got))
				}
				break
			}
		})
	}
	t.Run("contiguous ranges waste nothing", func(t *testing.T) {
		srv := fs.New(t, targetData, fs.Options{})
		srv.SetFaults(fs.Always(fs.Fault{Kind: fs.Full}))
		s := faultSource(t, srv, Options{WasteBudget: -1})
		ranges := []source.Range{{Off: 0, Len: 1000}, {Off: 1000, Len: 5000}}
		c := newCollector()
		if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
			t.Fatal(err)
		}
		c.check(t, ranges, true)
	})
}

// TestIfRange: with a validator, every range request carries If-Range, and
// a target that changed on the server is refused with source.ErrChanged
// instead of being read.
func TestIfRange(t *testing.T) {
	lastMod := fs.ModTime.Format(http.TimeFormat)
	ranges := []source.Range{{Off: 100, Len: 100}, {Off: 5000, Len: 100}}

	t.Run("unchanged", func(t *testing.T) {
		for _, v := range []string{`"v1"`, lastMod} {
			srv := fs.New(t, targetData, fs.Options{ETag: `"v1"`})
			s := faultSource(t, srv, Options{IfRange: v})
			c := newCollector()
			if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
				t.Fatal(err)
			}
			c.check(t, ranges, true)
			for _, r := range srv.TargetRequests() {
				if r.IfRange != v {
					t.Errorf("If-Range %q, want %q", r.IfRange, v)
				}
			}
		}
	})
	t.Run("changed", func(t *testing.T) {
		for _, v := range []string{`"v1"`, lastMod} {
			srv := fs.New(t, targetData, fs.Options{ETag: `"v1"`})
			var bytes int64
			var mu sync.Mutex
			s := faultSource(t, srv, Options{IfRange: v, OnRequest: func(ri RequestInfo) {
				mu.Lock()
				bytes += ri.Bytes
				mu.Unlock()
			}})
			srv.SetETag(`"v2"`)
			if v == lastMod {
				s.SetIfRange(fs.ModTime.Add(-time.Hour).Format(http.TimeFormat))
			}
			c := newCollector()
			err := fetchWithGuard(t, s, ranges, c.fn)
			t.Logf("error: %v", err)
			if !errors.Is(err, source.ErrChanged) || !source.IsPermanent(err) {
				t.Fatalf("error %v, want ErrChanged", err)
			}
			if !strings.Contains(err.Error(), srv.TargetURL()) {
				t.Error("error does not name the URL")
			}
			if n := len(srv.TargetRequests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			mu.Lock()
			if bytes > 0 {
				t.Errorf("read %d body bytes of the changed file", bytes)
			}
			mu.Unlock()
			if len(c.got) != 0 {
				t.Errorf("delivered %d ranges of the changed file", len(c.got))
			}
		}
	})
	t.Run("server ignores If-Range", func(t *testing.T) {
		srv := fs.New(t, targetData, fs.Options{ETag: `"v2"`})
		srv.SetFaults(fs.Always(fs.Fault{Kind: fs.IgnoreIfRange}))
		s := faultSource(t, srv, Options{IfRange: `"v1"`})
		err := fetchWithGuard(t, s, ranges, newCollector().fn)
		if !errors.Is(err, source.ErrChanged) || !strings.Contains(err.Error(), `"v2"`) {
			t.Fatalf("error %v, want ErrChanged naming the new ETag", err)
		}
	})
	t.Run("server ignores Range, same file", func(t *testing.T) {
		srv := fs.New(t, targetData, fs.Options{ETag: `"v1"`})
		srv.SetFaults(fs.Always(fs.Fault{Kind: fs.Full}))
		s := faultSource(t, srv, Options{IfRange: `"v1"`, Concurrency: 1})
		for range 2 { // range requests, then a plain GET with If-Match
			c := newCollector()
			if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
				t.Fatal(err)
			}
			c.check(t, ranges, true)
		}
		reqs := srv.TargetRequests()
		if last := reqs[len(reqs)-1]; last.Range != "" || last.IfMatch != `"v1"` {
			t.Errorf("last request %+v, want a plain GET with If-Match", last)
		}
	})
	t.Run("plain GET, changed", func(t *testing.T) {
		srv := fs.New(t, targetData, fs.Options{ETag: `"v1"`})
		srv.SetFaults(fs.Always(fs.Fault{Kind: fs.Full}))
		s := faultSource(t, srv, Options{})
		if _, err := s.Stat(t.Context()); err != nil { // learns that ranges are ignored
			t.Fatal(err)
		}
		s.SetIfRange(`"v1"`)
		srv.SetETag(`"v2"`)
		err := fetchWithGuard(t, s, ranges, newCollector().fn)
		if !errors.Is(err, source.ErrChanged) || !strings.Contains(err.Error(), "412") {
			t.Fatalf("error %v, want ErrChanged after 412", err)
		}
	})
	t.Run("weak etag", func(t *testing.T) {
		srv := fs.New(t, targetData, fs.Options{ETag: `W/"v1"`})
		s := faultSource(t, srv, Options{IfRange: `W/"v1"`})
		c := newCollector()
		if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
			t.Fatal(err)
		}
		c.check(t, ranges, true)
		if r := srv.TargetRequests()[0]; r.IfRange != "" {
			t.Errorf("weak ETag sent as If-Range: %+v", r)
		}
		srv.SetETag(`W/"v2"`)
		if err := fetchWithGuard(t, s, ranges, newCollector().fn); !errors.Is(err, source.ErrChanged) {
			t.Errorf("error %v, want ErrChanged", err)
		}
	})
	t.Run("stat", func(t *testing.T) {
		srv := fs.New(t, targetData, fs.Options{ETag: `"v1"`})
		s := faultSource(t, srv, Options{})
		info, err := s.Stat(t.Context())
		if err != nil || info.Validator() != `"v1"` {
			t.Fatalf("info %+v, err %v", info, err)
		}
		s.SetIfRange(info.Validator())
		if s.IfRange() != `"v1"` {
			t.Errorf("IfRange() = %q", s.IfRange())
		}
		srv.SetETag(`"v2"`)
		info, err = s.Stat(t.Context())
		if !errors.Is(err, source.ErrChanged) || info.ETag != `"v2"` {
			t.Errorf("info %+v, err %v; want the new ETag and ErrChanged", info, err)
		}
		if r := srv.TargetRequests()[1]; r.IfRange != "" {
			t.Errorf("Stat sent If-Range: %+v", r)
		}
	})
}

// TestGarbledMultipart: a multipart answer that is garbage on a sound
// connection halves the ranges per request, down to single ranges.
func TestGarbledMultipart(t *testing.T) {
	srv := fs.New(t, targetData, fs.Options{})
	srv.SetFaults(fs.Always(fs.Fault{Kind: fs.GarbleMulti}))
	s := faultSource(t, srv, Options{Concurrency: 1, MaxRanges: 8})
	ranges := scatteredRanges(11, 8)
	c := newCollector()
	if err := fetchWithGuard(t, s, ranges, c.fn); err != nil {
		t.Fatal(err)
	}
	c.check(t, ranges, true)
	var counts []int
	for _, r := range srv.TargetRequests() {
		counts = append(counts, strings.Count(r.Range, ",")+1)
	}
	want := []int{8, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("ranges per request %v, want %v", counts, want)
	}
}

// TestCutShort: a connection reset or a truncated body fails the Fetch with
// an error that is worth retrying, after delivering what came.
func TestCutShort(t *testing.T) {
	for _, k := range []fs.Kind{fs.Reset, fs.Truncate} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			srv := fs.New(t, targetData, fs.Options{})
			srv.SetFaults(fs.Always(fs.Fault{Kind: k, After: 3000}))
			s := faultSource(t, srv, Options{})
			var got int
			err := fetchWithGuard(t, s, []source.Range{{Off: 0, Len: 10000}}, func(r source.Range, data io.Reader) error {
				n, err := io.Copy(io.Discard, data)
				got = int(n)
				return err
			})
			t.Logf("error after %d bytes: %v", got, err)
			if err == nil || source.IsPermanent(err) || got > 3000 {
				t.Errorf("err %v after %d bytes", err, got)
			}
		})
	}
}
