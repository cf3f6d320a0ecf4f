package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
	fs "github.com/zyncio/zync/source/internal/faultserver"
	"github.com/zyncio/zync/source/retry"
)

const size = 1 << 20

var data = fs.Data(size, 1)

// guard bounds a test that might hang; it never orders events.
const guard = 30 * time.Second

func newHTTP(t *testing.T, srv *fs.Server, opts httpsource.Options) *httpsource.Source {
	t.Helper()
	opts.Client = srv.Client()
	if opts.Length == 0 {
		opts.Length = size
	}
	s, err := httpsource.New(srv.TargetURL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// events records retry events.
type events struct {
	mu   sync.Mutex
	list []retry.Event
	hook func(retry.Event)
}

func (e *events) add(ev retry.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	hook := e.hook
	e.mu.Unlock()
	if hook != nil {
		hook(ev)
	}
}

func (e *events) get() []retry.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

// fast returns Options with tiny delays that report to ev.
func fast(ev *events) retry.Options {
	return retry.Options{BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond, OnRetry: ev.add}
}

// collector checks what fn receives: exactly the target's bytes, each range
// once.
type collector struct {
	mu    sync.Mutex
	got   map[source.Range][]byte
	calls map[source.Range]int
}

func newCollector() *collector {
	return &collector{got: map[source.Range][]byte{}, calls: map[source.Range]int{}}
}

func (c *collector) fn(r source.Range, d io.Reader) error {
	c.mu.Lock()
	c.calls[r]++
	c.mu.Unlock()
	// Small reads, so that a resumption happens between two of them.
	var b bytes.Buffer
	buf := make([]byte, 777)
	for {
		n, err := d.Read(buf)
		b.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.got[r] = b.Bytes()
	c.mu.Unlock()
	return nil
}

func (c *collector) completed() map[source.Range]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[source.Range]bool{}
	for r := range c.got {
		out[r] = true
	}
	return out
}

func (c *collector) check(t *testing.T, want []source.Range) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range want {
		b, ok := c.got[r]
		if !ok {
			t.Errorf("range %s not delivered", r)
			continue
		}
		if !bytes.Equal(b, data[r.Off:r.End()]) {
			t.Errorf("range %s: wrong bytes (%d bytes)", r, len(b))
		}
	}
	for r, n := range c.calls {
		if n != 1 {
			t.Errorf("range %s: fn called %d times", r, n)
		}
	}
}

func fetch(t *testing.T, s source.Source, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	return s.Fetch(ctx, ranges, fn)
}

type span struct{ off, end int64 }

// spans parses a Range header "bytes=a-b,c-d".
func spans(t *testing.T, h string) []span {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		t.Fatalf("range header %q", h)
	}
	var out []span
	for p := range strings.SplitSeq(rest, ",") {
		a, b, _ := strings.Cut(p, "-")
		x, err1 := strconv.ParseInt(a, 10, 64)
		y, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("range header %q", h)
		}
		out = append(out, span{x, y + 1})
	}
	return out
}

func scattered(seed uint64, n int) []source.Range {
	r := rand.New(rand.NewPCG(seed, 3))
	blocks := r.Perm(size / 8192)[:n]
	slices.Sort(blocks)
	out := make([]source.Range, n)
	for i, b := range blocks {
		out[i] = source.Range{Off: int64(b) * 8192, Len: 1000 + int64(r.IntN(7000))}
	}
	return out
}

// TestResume: a range cut short is continued from the byte where it
// stopped, with one request for the rest only, and fn never notices.
func TestResume(t *testing.T) {
	r := source.Range{Off: 5000, Len: 20000}
	for _, k := range []fs.Kind{fs.Reset, fs.Truncate, fs.StallBody} {
		t.Run(k.String(), func(t *testing.T) {
			srv := fs.New(t, data, fs.Options{})
			srv.SetFaults(fs.First(1, fs.Fault{Kind: k, After: 7000}))
			var ev events
			// A wide stall timeout: on a loaded machine the headers must
			// arrive before it, or the stall is one of headers.
			s := retry.New(newHTTP(t, srv, httpsource.Options{StallTimeout: 500 * time.Millisecond}), fast(&ev))
			c := newCollector()
			if err := fetch(t, s, []source.Range{r}, c.fn); err != nil {
				t.Fatal(err)
			}
			c.check(t, []source.Range{r})
			got := srv.Ranges()
			if len(got) != 2 || got[0] != "bytes=5000-24999" {
				t.Fatalf("requests %q, want the range, then the rest", got)
			}
			resumed := spans(t, got[1])
			if len(resumed) != 1 || resumed[0].end != r.End() || resumed[0].off < r.Off || resumed[0].off > r.Off+7000 {
				t.Fatalf("second request %q, want the rest of the range from where it stopped", got[1])
			}
			if k != fs.Reset && resumed[0].off != r.Off+7000 {
				// The bytes before a reset may be lost in the kernel; those
				// before a close or a stall arrive.
				t.Errorf("resumed at %d, want %d", resumed[0].off, r.Off+7000)
			}
			evs := ev.get()
			if len(evs) != 1 || !evs[0].Resume || evs[0].Range != (source.Range{Off: resumed[0].off, Len: r.End() - resumed[0].off}) ||
				evs[0].Attempt != 2 || evs[0].URL != srv.TargetURL() || evs[0].Err == nil {
				t.Errorf("events %+v", evs)
			}
			t.Logf("resumed with %s after: %v", got[1], evs[0].Err)
		})
	}
}

// TestResumeMultiRange cuts a multipart answer in the middle: the range in
// progress resumes where it stopped, the ranges not yet started are asked
// again, and no byte fn already has is asked for again.
func TestResumeMultiRange(t *testing.T) {
	srv := fs.New(t, data, fs.Options{})
	srv.SetFaults(fs.First(1, fs.Fault{Kind: fs.Truncate, After: 40000}))
	ranges := scattered(5, 30)
	c := newCollector()
	var ev events
	var mu sync.Mutex
	var doneAtCut map[source.Range]bool
	ev.hook = func(e retry.Event) {
		mu.Lock()
		if doneAtCut == nil {
			doneAtCut = c.completed()
		}
		mu.Unlock()
	}
	s := retry.New(newHTTP(t, srv, httpsource.Options{Concurrency: 1, MaxRanges: 16}), fast(&ev))
	if err := fetch(t, s, ranges, c.fn); err != nil {
		t.Fatal(err)
	}
	c.check(t, ranges)
	evs := ev.get()
	if len(evs) != 2 || !evs[0].Resume || evs[1].Resume {
		t.Fatalf("events %+v, want a resumption, then the ranges not started asked again", evs)
	}
	reqs := srv.Ranges()
	t.Logf("%d requests: %q", len(reqs), reqs)
	mu.Lock()
	defer mu.Unlock()
	if len(doneAtCut) == 0 {
		t.Fatal("no range was complete when the answer was cut; make After larger")
	}
	cut := evs[0].Range
	for _, h := range reqs[1:] {
		for _, sp := range spans(t, h) {
			for r := range doneAtCut {
				if sp.off < r.End() && r.Off < sp.end {
					t.Errorf("request %q asks again for %s, delivered before the cut", h, r)
				}
			}
			if sp.off < cut.Off && cut.Off < sp.end {
				t.Errorf("request %q asks again for bytes before %d, where the cut range stopped", h, cut.Off)
			}
		}
	}
	if got := spans(t, reqs[1]); len(got) != 1 || got[0].off != cut.Off || got[0].end != cut.End() {
		t.Errorf("second request %q, want the rest of the cut range, %s", reqs[1], cut)
	}
}

// TestResumeRedirect: a resumption starts again at the original URL and
// follows the redirects, query strings included.
func TestResumeRedirect(t *testing.T) {
	srv := fs.New(t, data, fs.Options{Redirect: true})
	srv.SetFaults(fs.First(1, fs.Fault{Kind: fs.Truncate, After: 3000}))
	var ev events
	s := retry.New(newHTTP(t, srv, httpsource.Options{}), fast(&ev))
	r := source.Range{Off: 100, Len: 10000}
	c := newCollector()
	if err := fetch(t, s, []source.Range{r}, c.fn); err != nil {
		t.Fatal(err)
	}
	c.check(t, []source.Range{r})
	var paths []string
	for _, q := range srv.Requests() {
		paths = append(paths, q.Path)
	}
	want := []string{"/file", "/dl/next", "/real/target.bin", "/file", "/dl/next", "/real/target.bin"}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	final := srv.TargetRequests()
	if len(final) != 2 || final[1].Range != "bytes=3100-10099" || final[1].RawQuery != "token=x&e=1" {
		t.Errorf("final requests %+v", final)
	}
}

// TestRetryAfter: 429 and 503 answers are retried after the wait the server
// asks for, capped by MaxRetryAfter.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      fs.Fault
		minRA      time.Duration
		maxRA      time.Duration
		maxWait    time.Duration // 0: the default cap
		minElapsed time.Duration
	}{
		{"503 seconds", fs.Fault{Kind: fs.Status, Code: 503, RetryAfter: "1"}, time.Second, time.Second, 20 * time.Millisecond, 20 * time.Millisecond},
		{"429 date", fs.Fault{Kind: fs.Status, Code: 429, RetryAfter: fs.HTTPDate(time.Now().Add(3 * time.Second))}, time.Second, 3 * time.Second, 20 * time.Millisecond, 20 * time.Millisecond},
		{"503 honoured", fs.Fault{Kind: fs.Status, Code: 503, RetryAfter: "1"}, time.Second, time.Second, 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fs.New(t, data, fs.Options{})
			srv.SetFaults(fs.First(1, tc.fault))
			var ev events
			opts := fast(&ev)
			opts.MaxRetryAfter = tc.maxWait
			s := retry.New(newHTTP(t, srv, httpsource.Options{}), opts)
			r := []source.Range{{Off: 0, Len: 4096}}
			c := newCollector()
			start := time.Now()
			if err := fetch(t, s, r, c.fn); err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			c.check(t, r)
			evs := ev.get()
			if len(evs) != 1 {
				t.Fatalf("events %+v", evs)
			}
			e := evs[0]
			t.Logf("event %+v after %s", e, elapsed)
			if e.RetryAfter < tc.minRA || e.RetryAfter > tc.maxRA || e.Resume || e.Ranges != 1 || e.Attempt != 2 {
				t.Errorf("event %+v, want RetryAfter %s to %s", e, tc.minRA, tc.maxRA)
			}
			if tc.maxWait > 0 && e.Delay != tc.maxWait {
				t.Errorf("delay %s, want the cap %s", e.Delay, tc.maxWait)
			}
			if elapsed < tc.minElapsed {
				t.Errorf("took %s, want at least %s", elapsed, tc.minElapsed)
			}
			var se *httpsource.StatusError
			if !errors.As(e.Err, &se) || se.Code != tc.fault.Code {
				t.Errorf("event error %v is not the server's status", e.Err)
			}
			if n := len(srv.TargetRequests()); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		})
	}
}

// TestPermanentNotRetried: errors no retry can fix end the Fetch at once.
func TestPermanentNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fs.Fault
		opts  httpsource.Options
		is    error
	}{
		{"404", fs.Fault{Kind: fs.Status, Code: 404}, httpsource.Options{}, source.ErrNotFound},
		{"410", fs.Fault{Kind: fs.Status, Code: 410}, httpsource.Options{}, source.ErrNotFound},
		{"403", fs.Fault{Kind: fs.Status, Code: 403}, httpsource.Options{}, source.ErrPermanent},
		{"length", fs.Fault{}, httpsource.Options{Length: size + 1}, source.ErrLengthMismatch},
		{"changed", fs.Fault{}, httpsource.Options{IfRange: `"v0"`}, source.ErrChanged},
		{"waste", fs.Fault{Kind: fs.Full}, httpsource.Options{WasteBudget: -1}, httpsource.ErrWasteBudget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fs.New(t, data, fs.Options{})
			srv.SetFaults(fs.Always(tc.fault))
			var ev events
			s := retry.New(newHTTP(t, srv, tc.opts), fast(&ev))
			err := fetch(t, s, []source.Range{{Off: 10, Len: 100}, {Off: 5000, Len: 100}}, newCollector().fn)
			t.Logf("error: %v", err)
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if n := len(srv.TargetRequests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if evs := ev.get(); len(evs) != 0 {
				t.Errorf("retried: %+v", evs)
			}
		})
	}
}

// TestBounded: a source that keeps failing ends with a clear error after
// Attempts tries.
func TestBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fs.Fault
		says  string
	}{
		{"503", fs.Fault{Kind: fs.Status, Code: 503}, "gave up after 4 attempts"},
		{"stall", fs.Fault{Kind: fs.StallHeaders}, "gave up after 4 attempts"},
		{"reset", fs.Fault{Kind: fs.Truncate, After: 100}, "cut short 4 times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fs.New(t, data, fs.Options{})
			srv.SetFaults(fs.Always(tc.fault))
			var ev events
			opts := fast(&ev)
			opts.Attempts = 4
			s := retry.New(newHTTP(t, srv, httpsource.Options{StallTimeout: 50 * time.Millisecond}), opts)
			err := fetch(t, s, []source.Range{{Off: 1000, Len: 20000}}, newCollector().fn)
			t.Logf("error: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), srv.TargetURL()) {
				t.Fatalf("error %v should name the URL and say %q", err, tc.says)
			}
			if n := len(srv.TargetRequests()); n != 4 {
				t.Errorf("%d requests, want 4: %q", n, srv.Ranges())
			}
			if n := len(ev.get()); n != 3 {
				t.Errorf("%d events, want 3", n)
			}
			if tc.name == "reset" {
				// Each try asks only for what is still missing.
				want := []string{"bytes=1000-20999", "bytes=1100-20999", "bytes=1200-20999", "bytes=1300-20999"}
				if got := srv.Ranges(); !slices.Equal(got, want) {
					t.Errorf("ranges %q, want %q", got, want)
				}
			}
		})
	}
}

// TestCallbackErrors pass through unchanged and are not retried, bad data
// included: fetching that again is the mirror's job.
func TestCallbackErrors(t *testing.T) {
	for _, want := range []error{fmt.Errorf("block 3: %w", source.ErrBadData), errors.New("disk full")} {
		srv := fs.New(t, data, fs.Options{})
		var ev events
		s := retry.New(newHTTP(t, srv, httpsource.Options{Concurrency: 2, MaxRanges: 2}), fast(&ev))
		err := fetch(t, s, scattered(2, 10), func(r source.Range, d io.Reader) error {
			if r.Off > 300000 {
				return want
			}
			_, err := io.Copy(io.Discard, d)
			return err
		})
		if err != want {
			t.Errorf("error %v, want %v unchanged", err, want)
		}
		if evs := ev.get(); len(evs) != 0 {
			t.Errorf("retried: %+v", evs)
		}
		checkNoGoroutines(t)
	}
}

// TestFlaky: many ranges, several requests in flight, and every third
// request cut short: every byte arrives exactly once.
func TestFlaky(t *testing.T) {
	srv := fs.New(t, data, fs.Options{})
	srv.SetFaults(func(n int) fs.Fault {
		switch n % 3 {
		case 1:
			return fs.Fault{Kind: fs.Truncate, After: int64(1000 + n*97%5000)}
		case 2:
			if n%4 == 2 {
				return fs.Fault{Kind: fs.Status, Code: 503}
			}
		}
		return fs.Fault{}
	})
	var ev events
	opts := fast(&ev)
	opts.Attempts = 20
	s := retry.New(newHTTP(t, srv, httpsource.Options{Concurrency: 4, MaxRanges: 4}), opts)
	ranges := scattered(9, 120)
	c := newCollector()
	if err := fetch(t, s, ranges, c.fn); err != nil {
		t.Fatal(err)
	}
	c.check(t, ranges)
	t.Logf("%d requests, %d retries", len(srv.TargetRequests()), len(ev.get()))
	checkNoGoroutines(t)
}

// TestCancel: cancelling ctx ends Fetch promptly wherever it is: waiting
// to retry, waiting to resume, or waiting for a stalled server.
func TestCancel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults func(int) fs.Fault
		at     string // "event": cancel on the first retry event; "request N": when request N arrives
	}{
		{"back-off", fs.Always(fs.Fault{Kind: fs.Status, Code: 503}), "event"},
		{"resume back-off", fs.Always(fs.Fault{Kind: fs.Truncate, After: 500}), "event"},
		{"stalled", fs.Always(fs.Fault{Kind: fs.StallBody, After: 500}), "request 1"},
		{"stalled resumption", func(n int) fs.Fault {
			if n == 1 {
				return fs.Fault{Kind: fs.Truncate, After: 500}
			}
			return fs.Fault{Kind: fs.StallHeaders}
		}, "request 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fs.New(t, data, fs.Options{})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			srv.SetFaults(func(n int) fs.Fault {
				if tc.at == fmt.Sprint("request ", n) {
					cancel()
				}
				return tc.faults(n)
			})
			var ev events
			opts := fast(&ev)
			if tc.at == "event" {
				opts.BaseDelay, opts.MaxDelay = time.Hour, time.Hour
				ev.hook = func(retry.Event) { cancel() }
			}
			s := retry.New(newHTTP(t, srv, httpsource.Options{StallTimeout: -1}), opts)
			done := make(chan error, 1)
			go func() { done <- s.Fetch(ctx, []source.Range{{Off: 0, Len: 8000}}, newCollector().fn) }()
			select {
			case err := <-done:
				t.Logf("error: %v", err)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v, want context.Canceled", err)
				}
			case <-time.After(guard):
				t.Fatal("Fetch did not return after cancel")
			}
			checkNoGoroutines(t)
		})
	}
}

// TestDo retries a Stat.
func TestDo(t *testing.T) {
	srv := fs.New(t, data, fs.Options{})
	srv.SetFaults(fs.First(2, fs.Fault{Kind: fs.Status, Code: 502}))
	h := newHTTP(t, srv, httpsource.Options{})
	var ev events
	var info httpsource.Info
	err := retry.Do(t.Context(), fast(&ev), h.URL(), func(ctx context.Context) error {
		var err error
		info, err = h.Stat(ctx)
		return err
	})
	if err != nil || info.Length != size || len(ev.get()) != 2 {
		t.Errorf("info %+v, err %v, events %+v", info, err, ev.get())
	}
	srv.SetFaults(fs.Always(fs.Fault{Kind: fs.Status, Code: 404}))
	err = retry.Do(t.Context(), fast(&ev), h.URL(), func(ctx context.Context) error {
		_, err := h.Stat(ctx)
		return err
	})
	if !errors.Is(err, source.ErrNotFound) || len(ev.get()) != 2 {
		t.Errorf("err %v, events %d", err, len(ev.get()))
	}
}

// checkNoGoroutines fails if goroutines of a Fetch outlive it.
func checkNoGoroutines(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		n := runtime.Stack(buf, true)
		s := string(buf[:n])
		if !strings.Contains(s, "retry.(*resumer)") && !strings.Contains(s, "httpsource.(*fetch)") {
			return
		}
		if i == 10000 {
			t.Fatalf("goroutines left running:\n%s", s)
		}
		runtime.Gosched()
	}
}
