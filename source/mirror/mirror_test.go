package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/makeindex"
	"github.com/zyncio/zync/scan"
	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
	fs "github.com/zyncio/zync/source/internal/faultserver"
	"github.com/zyncio/zync/source/mirror"
	"github.com/zyncio/zync/source/retry"
)

const size = 1 << 20

var data = fs.Data(size, 2)

const guard = 30 * time.Second

// chain builds the composition get uses: one retry.Source over an
// httpsource.Source per server.
func chain(t *testing.T, hopts httpsource.Options, srvs ...*fs.Server) []source.Source {
	t.Helper()
	var out []source.Source
	for _, srv := range srvs {
		o := hopts
		o.Client = srv.Client()
		o.Length = size
		h, err := httpsource.New(srv.TargetURL(), o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, retry.New(h, retry.Options{Attempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, MaxRetryAfter: 5 * time.Millisecond}))
	}
	return out
}

type recorder struct {
	mu     sync.Mutex
	events []mirror.Event
}

func (r *recorder) add(e mirror.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) kinds() []mirror.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []mirror.EventKind
	for _, e := range r.events {
		out = append(out, e.Kind)
	}
	return out
}

func newMirror(t *testing.T, srcs []source.Source, opts mirror.Options, rec *recorder) *mirror.Source {
	t.Helper()
	if rec != nil {
		opts.OnEvent = rec.add
	}
	m, err := mirror.New(srcs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// verifier is the callback: like assemble's Receive, it checks the bytes
// and rejects bad ones with source.ErrBadData.
type verifier struct {
	mu    sync.Mutex
	good  map[source.Range]bool
	calls map[source.Range]int
	bad   map[source.Range]int
}

func newVerifier() *verifier {
	return &verifier{good: map[source.Range]bool{}, calls: map[source.Range]int{}, bad: map[source.Range]int{}}
}

func (v *verifier) fn(r source.Range, d io.Reader) error {
	b, err := io.ReadAll(d)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls[r]++
	if err != nil {
		return fmt.Errorf("read %s: %w", r, err)
	}
	if !bytes.Equal(b, data[r.Off:r.End()]) {
		v.bad[r]++
		return fmt.Errorf("bytes %s: block does not match its checksum: %w", r, source.ErrBadData)
	}
	v.good[r] = true
	return nil
}

func (v *verifier) check(t *testing.T, ranges []source.Range) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range ranges {
		if !v.good[r] {
			t.Errorf("range %s not delivered right", r)
		}
	}
}

func fetch(t *testing.T, s source.Source, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	return s.Fetch(ctx, ranges, fn)
}

func scattered(seed uint64, n int) []source.Range {
	r := rand.New(rand.NewPCG(seed, 5))
	blocks := r.Perm(size / 4096)[:n]
	slices.Sort(blocks)
	out := make([]source.Range, n)
	for i, b := range blocks {
		out[i] = source.Range{Off: int64(b) * 4096, Len: 500 + int64(r.IntN(3000))}
	}
	return out
}

// asked reports whether any request srv saw covers offset off.
func asked(t *testing.T, srv *fs.Server, off int64) int {
	t.Helper()
	n := 0
	for _, h := range srv.Ranges() {
		for p := range strings.SplitSeq(strings.TrimPrefix(h, "bytes="), ",") {
			a, b, _ := strings.Cut(p, "-")
			x, _ := strconv.ParseInt(a, 10, 64)
			y, _ := strconv.ParseInt(b, 10, 64)
			if x <= off && off <= y {
				n++
			}
		}
	}
	return n
}

func TestFailover(t *testing.T) {
	bad := fs.New(t, data, fs.Options{})
	bad.SetFaults(fs.Always(fs.Fault{Kind: fs.Status, Code: 503}))
	good := fs.New(t, data, fs.Options{})
	var rec recorder
	var m *mirror.Source
	m = newMirror(t, chain(t, httpsource.Options{}, bad, good), mirror.Options{BatchRanges: 8, OnEvent: func(e mirror.Event) {
		_ = m.Mirrors() // an event handler may look at the mirrors
		rec.add(e)
	}}, nil)
	ranges := scattered(1, 40)
	v := newVerifier()
	if err := fetch(t, m, ranges, v.fn); err != nil {
		t.Fatal(err)
	}
	v.check(t, ranges)
	st := m.Mirrors()
	if st[0].Healthy || !st[1].Healthy || st[1].Delivered != 40 || st[0].Delivered != 0 {
		t.Errorf("status %+v", st)
	}
	var se *httpsource.StatusError
	if !errors.As(st[0].LastErr, &se) || se.Code != 503 {
		t.Errorf("last error of the bad mirror: %v", st[0].LastErr)
	}
	// Two batches failed (each after 2 attempts), then it was left.
	if got := rec.kinds(); !slices.Equal(got, []mirror.EventKind{mirror.Failover, mirror.Down}) {
		t.Errorf("events %v", got)
	}
	if n := len(bad.TargetRequests()); n != 4 {
		t.Errorf("%d requests to the failing mirror, want 2 Fetches × 2 attempts", n)
	}
	// Once left, it is not asked again.
	before := len(bad.TargetRequests())
	if err := fetch(t, m, scattered(2, 10), newVerifier().fn); err != nil {
		t.Fatal(err)
	}
	if n := len(bad.TargetRequests()); n != before {
		t.Errorf("a mirror left was asked again")
	}
}

// TestPermanentLeaves: a mirror that fails for good is left at once.
func TestPermanentLeaves(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    fs.Fault
		opts     httpsource.Options
		requests int
	}{
		{"404", fs.Fault{Kind: fs.Status, Code: 404}, httpsource.Options{}, 1},
		{"changed", fs.Fault{}, httpsource.Options{IfRange: `"old"`}, 1},
		// A multi-range request answered with 200, then a single range.
		{"waste budget", fs.Fault{Kind: fs.Full}, httpsource.Options{WasteBudget: -1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fs.New(t, data, fs.Options{})
			a.SetFaults(fs.Always(tc.fault))
			b := fs.New(t, data, fs.Options{})
			srcs := chain(t, tc.opts, a)
			srcs = append(srcs, chain(t, httpsource.Options{}, b)...)
			var rec recorder
			m := newMirror(t, srcs, mirror.Options{}, &rec)
			ranges := scattered(3, 20)
			v := newVerifier()
			if err := fetch(t, m, ranges, v.fn); err != nil {
				t.Fatal(err)
			}
			v.check(t, ranges)
			if n := len(a.TargetRequests()); n != tc.requests {
				t.Errorf("%d requests to the broken mirror, want %d", n, tc.requests)
			}
			if got := rec.kinds(); !slices.Equal(got, []mirror.EventKind{mirror.Down}) {
				t.Errorf("events %v", got)
			}
		})
	}
}

// TestBadData: a range whose bytes fail verification is fetched again, from
// the other mirror when there is one, a bounded number of times.
func TestBadData(t *testing.T) {
	ranges := scattered(4, 20)
	corruptAt := ranges[0].Off + 17 // in the first batch, which goes to the first mirror

	t.Run("other mirror", func(t *testing.T) {
		a := fs.New(t, data, fs.Options{})
		a.SetFaults(fs.Always(fs.Fault{Kind: fs.Corrupt, At: corruptAt}))
		b := fs.New(t, data, fs.Options{})
		var rec recorder
		m := newMirror(t, chain(t, httpsource.Options{}, a, b), mirror.Options{}, &rec)
		v := newVerifier()
		if err := fetch(t, m, ranges, v.fn); err != nil {
			t.Fatal(err)
		}
		v.check(t, ranges)
		if na, nb := asked(t, a, corruptAt), asked(t, b, corruptAt); na != 1 || nb != 1 {
			t.Errorf("corrupted range asked %d times of the corrupting mirror, %d of the other; want 1, 1", na, nb)
		}
		if v.bad[ranges[0]] != 1 {
			t.Errorf("bad deliveries %v", v.bad)
		}
		if got := rec.kinds(); !slices.Equal(got, []mirror.EventKind{mirror.BadData}) {
			t.Errorf("events %v", got)
			for _, e := range rec.events {
				t.Logf("event %+v", e)
			}
		}
	})
	t.Run("once, one mirror", func(t *testing.T) {
		a := fs.New(t, data, fs.Options{})
		a.SetFaults(fs.First(1, fs.Fault{Kind: fs.Corrupt, At: corruptAt}))
		m := newMirror(t, chain(t, httpsource.Options{}, a), mirror.Options{}, nil)
		v := newVerifier()
		if err := fetch(t, m, ranges, v.fn); err != nil {
			t.Fatal(err)
		}
		v.check(t, ranges)
		if n := asked(t, a, corruptAt); n != 2 {
			t.Errorf("corrupted range asked %d times, want 2", n)
		}
		if !m.Mirrors()[0].Healthy {
			t.Error("the only mirror was left")
		}
	})
	t.Run("always, one mirror", func(t *testing.T) {
		a := fs.New(t, data, fs.Options{})
		a.SetFaults(fs.Always(fs.Fault{Kind: fs.Corrupt, At: corruptAt}))
		var rec recorder
		m := newMirror(t, chain(t, httpsource.Options{}, a), mirror.Options{}, &rec)
		v := newVerifier()
		err := fetch(t, m, ranges, v.fn)
		t.Logf("error: %v", err)
		if !errors.Is(err, source.ErrBadData) {
			t.Fatalf("error %v, want ErrBadData", err)
		}
		for _, want := range []string{a.TargetURL(), fmt.Sprintf("bytes %d-%d", ranges[0].Off, ranges[0].End()-1), "4 times"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q", want)
			}
		}
		if n := asked(t, a, corruptAt); n != 1+mirror.DefaultBadDataRetries {
			t.Errorf("corrupted range asked %d times, want %d", n, 1+mirror.DefaultBadDataRetries)
		}
		if got := rec.kinds(); len(got) != mirror.DefaultBadDataRetries {
			t.Errorf("events %v", got)
		}
		checkNoGoroutines(t)
	})
}

// TestShifted: a mirror that sends every range 4 bytes late, with correct
// headers, is found out by verification and left; the other does the work.
func TestShifted(t *testing.T) {
	a := fs.New(t, data, fs.Options{})
	a.SetFaults(fs.Always(fs.Fault{Kind: fs.Shift}))
	b := fs.New(t, data, fs.Options{})
	var rec recorder
	m := newMirror(t, chain(t, httpsource.Options{}, a, b), mirror.Options{BatchRanges: 4}, &rec)
	ranges := scattered(5, 40)
	v := newVerifier()
	if err := fetch(t, m, ranges, v.fn); err != nil {
		t.Fatal(err)
	}
	v.check(t, ranges)
	st := m.Mirrors()
	if st[0].Healthy || !errors.Is(st[0].LastErr, source.ErrBadData) {
		t.Errorf("shifting mirror %+v, want left for bad data", st[0])
	}
	if got := rec.kinds(); got[len(got)-1] != mirror.Down || slices.Index(got, mirror.Down) != len(got)-1 {
		t.Errorf("events %v", got)
	}
}

// TestShiftedOnly: with a shifting mirror alone, the run ends after the
// first range was fetched 1+BadDataRetries times, with an error naming it.
func TestShiftedOnly(t *testing.T) {
	a := fs.New(t, data, fs.Options{})
	a.SetFaults(fs.Always(fs.Fault{Kind: fs.Shift}))
	m := newMirror(t, chain(t, httpsource.Options{Concurrency: 1}, a), mirror.Options{}, nil)
	ranges := scattered(11, 10)
	err := fetch(t, m, ranges, newVerifier().fn)
	t.Logf("error: %v", err)
	if !errors.Is(err, source.ErrBadData) || !strings.Contains(err.Error(), a.TargetURL()) || !strings.Contains(err.Error(), "4 times") {
		t.Fatalf("error %v", err)
	}
	if n := len(a.TargetRequests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestNoneLeft(t *testing.T) {
	a := fs.New(t, data, fs.Options{})
	a.SetFaults(fs.Always(fs.Fault{Kind: fs.Status, Code: 404}))
	b := fs.New(t, data, fs.Options{})
	b.SetFaults(fs.Always(fs.Fault{Kind: fs.Status, Code: 503}))
	m := newMirror(t, chain(t, httpsource.Options{}, a, b), mirror.Options{}, nil)
	err := fetch(t, m, scattered(6, 10), newVerifier().fn)
	t.Logf("error: %v", err)
	var nl *mirror.NoneLeftError
	if !errors.As(err, &nl) || nl.Ranges != 10 || len(nl.Errs) != 2 {
		t.Fatalf("error %v, want a NoneLeftError for 10 ranges", err)
	}
	if !errors.Is(err, source.ErrNotFound) {
		t.Error("error does not wrap ErrNotFound")
	}
	for _, want := range []string{"all 2 mirrors failed", a.TargetURL(), "404", b.TargetURL(), "503"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q", want)
		}
	}
}

// TestSpread: ranges are spread over the healthy mirrors.
func TestSpread(t *testing.T) {
	srvs := []*fs.Server{fs.New(t, data, fs.Options{}), fs.New(t, data, fs.Options{}), fs.New(t, data, fs.Options{})}
	m := newMirror(t, chain(t, httpsource.Options{MaxRanges: 4}, srvs...), mirror.Options{BatchRanges: 8}, nil)
	ranges := scattered(7, 200)
	v := newVerifier()
	if err := fetch(t, m, ranges, v.fn); err != nil {
		t.Fatal(err)
	}
	v.check(t, ranges)
	var total int64
	for i, st := range m.Mirrors() {
		if st.Delivered == 0 || len(srvs[i].TargetRequests()) == 0 {
			t.Errorf("mirror %d got no work: %+v", i, st)
		}
		total += st.Delivered
	}
	for r, n := range v.calls {
		if n != 1 {
			t.Errorf("range %s delivered %d times", r, n)
		}
	}
	if total != 200 {
		t.Errorf("delivered %d ranges in all, want 200", total)
	}
}

// TestFlakyChain: the whole chain against mirrors that cut answers short:
// retry resumes, so every range reaches fn once, with the right bytes.
func TestFlakyChain(t *testing.T) {
	a := fs.New(t, data, fs.Options{})
	a.SetFaults(func(n int) fs.Fault {
		if n%2 == 1 {
			return fs.Fault{Kind: fs.Truncate, After: 2000}
		}
		return fs.Fault{}
	})
	b := fs.New(t, data, fs.Options{})
	b.SetFaults(func(n int) fs.Fault {
		if n%3 == 1 {
			return fs.Fault{Kind: fs.Reset, After: 3000}
		}
		return fs.Fault{}
	})
	var srcs []source.Source
	for _, srv := range []*fs.Server{a, b} {
		h, err := httpsource.New(srv.TargetURL(), httpsource.Options{Client: srv.Client(), Length: size, MaxRanges: 8})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, retry.New(h, retry.Options{Attempts: 10, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
	}
	var rec recorder
	m := newMirror(t, srcs, mirror.Options{BatchRanges: 16}, &rec)
	ranges := scattered(8, 150)
	v := newVerifier()
	if err := fetch(t, m, ranges, v.fn); err != nil {
		t.Fatal(err)
	}
	v.check(t, ranges)
	for r, n := range v.calls {
		if n != 1 {
			t.Errorf("range %s delivered %d times", r, n)
		}
	}
	if len(rec.kinds()) != 0 {
		t.Errorf("mirror events %v; retry should have absorbed the faults", rec.kinds())
	}
	t.Logf("requests: %d and %d", len(a.TargetRequests()), len(b.TargetRequests()))
	checkNoGoroutines(t)
}

// TestCallbackError: an error of fn's own ends the Fetch unchanged and
// harms no mirror.
func TestCallbackError(t *testing.T) {
	a, b := fs.New(t, data, fs.Options{}), fs.New(t, data, fs.Options{})
	var rec recorder
	m := newMirror(t, chain(t, httpsource.Options{}, a, b), mirror.Options{BatchRanges: 4}, &rec)
	diskFull := errors.New("no space left on device")
	ranges := scattered(9, 30)
	err := fetch(t, m, ranges, func(r source.Range, d io.Reader) error {
		if r == ranges[17] {
			return diskFull
		}
		_, err := io.Copy(io.Discard, d)
		return err
	})
	if err != diskFull {
		t.Errorf("error %v, want %v unchanged", err, diskFull)
	}
	for _, st := range m.Mirrors() {
		if !st.Healthy || st.Failures != 0 {
			t.Errorf("mirror harmed: %+v", st)
		}
	}
	if len(rec.kinds()) != 0 {
		t.Errorf("events %v", rec.kinds())
	}
	checkNoGoroutines(t)
}

// TestCancel: cancelling ctx ends Fetch promptly and harms no mirror.
func TestCancel(t *testing.T) {
	a, b := fs.New(t, data, fs.Options{}), fs.New(t, data, fs.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	stall := func(n int) fs.Fault {
		once.Do(cancel)
		return fs.Fault{Kind: fs.StallBody, After: 100}
	}
	a.SetFaults(stall)
	b.SetFaults(stall)
	m := newMirror(t, chain(t, httpsource.Options{StallTimeout: -1}, a, b), mirror.Options{}, nil)
	done := make(chan error, 1)
	go func() { done <- m.Fetch(ctx, scattered(10, 20), newVerifier().fn) }()
	select {
	case err := <-done:
		t.Logf("error: %v", err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	case <-time.After(guard):
		t.Fatal("Fetch did not return after cancel")
	}
	for _, st := range m.Mirrors() {
		if !st.Healthy || st.Failures != 0 {
			t.Errorf("mirror harmed by a cancel: %+v", st)
		}
	}
	checkNoGoroutines(t)
}

func TestNew(t *testing.T) {
	if _, err := mirror.New(nil, mirror.Options{}); err == nil {
		t.Error("no sources accepted")
	}
	if _, err := mirror.New([]source.Source{nil}, mirror.Options{}); err == nil {
		t.Error("nil source accepted")
	}
}

func checkNoGoroutines(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		n := runtime.Stack(buf, true)
		s := string(buf[:n])
		if !strings.Contains(s, "mirror.(*Source).run") && !strings.Contains(s, "retry.(*resumer)") && !strings.Contains(s, "httpsource.(*fetch)") {
			return
		}
		if i == 10000 {
			t.Fatalf("goroutines left running:\n%s", s)
		}
		runtime.Gosched()
	}
}

// TestAssemble runs the whole chain into assemble, whose Receive verifies
// each block: a mirror that shifts its answers, one that corrupts a byte of
// one range and one that cuts every other answer short still make a
// verified target.
func TestAssemble(t *testing.T) {
	res, err := makeindex.Build(t.Context(), bytes.NewReader(data), size, makeindex.Options{
		Blocksize: 2048, SeqMatches: 1, WeakBytes: 4, StrongLen: 16, Algo: index.MD4,
	})
	if err != nil {
		t.Fatal(err)
	}
	shift, corrupt, flaky := fs.New(t, data, fs.Options{}), fs.New(t, data, fs.Options{}), fs.New(t, data, fs.Options{})
	shift.SetFaults(fs.Always(fs.Fault{Kind: fs.Shift}))
	flaky.SetFaults(func(n int) fs.Fault {
		if n%2 == 1 {
			return fs.Fault{Kind: fs.Reset, After: 5000}
		}
		return fs.Fault{}
	})
	var rec recorder
	m := newMirror(t, chain(t, httpsource.Options{MaxRanges: 8}, shift, corrupt, flaky), mirror.Options{BatchRanges: 16}, &rec)

	// A seed with 40 holes of 8 KiB: 40 missing ranges.
	dir := t.TempDir()
	seed := bytes.Clone(data)
	for i := range 40 {
		off := i*(size/40) + 1000
		clear(seed[off : off+8192])
	}
	if err := os.WriteFile(filepath.Join(dir, "seed"), seed, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "target.bin")
	a, err := assemble.Begin(out, res.Index)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(false)
	if _, err := a.ScanSeed(t.Context(), filepath.Join(dir, "seed"), scan.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Missing()); n != 40 {
		t.Fatalf("%d missing ranges, want 40", n)
	}
	corrupt.SetFaults(fs.Always(fs.Fault{Kind: fs.Corrupt, At: a.Missing()[20].Off + 100}))
	if err := a.Fetch(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Verify(t.Context(), assemble.Hashes{SHA256: res.SHA256}); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(assemble.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs from the target (err %v)", err)
	}
	st := m.Mirrors()
	if st[0].Healthy || !st[1].Healthy || !st[2].Healthy {
		t.Errorf("mirrors %+v: want the shifting one left", st)
	}
	t.Logf("events %v; requests %d, %d, %d", rec.kinds(), len(shift.TargetRequests()), len(corrupt.TargetRequests()), len(flaky.TargetRequests()))
}
