// Package mirror fetches a target's ranges from several sources that hold
// the same bytes: the URL lines of a control file and any extra URLs.
//
// A Source from New splits the ranges of a Fetch into batches and hands
// each to a healthy mirror that is idle, so a fast mirror takes more work
// than a slow one and each mirror has one Fetch (and so its own requests in
// flight) at a time. With one healthy mirror, the batch is all that is left.
//
// When a mirror's Fetch fails, the ranges it did not deliver go back to the
// queue for any healthy mirror (failover per request). A mirror whose
// Fetches fail Options.MaxFailures times in a row, or fail permanently
// (source.IsPermanent: 404, access refused, a length mismatch, a changed
// target, a waste budget exceeded), is left for the rest of the Source's
// life. When no mirror is left, Fetch fails with an error listing each
// mirror's last error.
//
// A range whose bytes the callback rejects with an error wrapping
// source.ErrBadData (a corrupting proxy or CDN node, a shifted answer) is
// fetched again, up to Options.BadDataRetries times, from a mirror that has
// not sent it bad bytes yet when there is one, else from the same; then
// Fetch fails with an error naming the range and the URLs that sent it.
// The callback is called again for such a range (and for a range whose
// reader failed part-way): it must accept bytes it has seen before, as
// assemble's Receive does by skipping blocks already written.
//
// Mirrors are typically retry.Source values, so that each rides out
// passing failures itself before the mirror layer fails over:
//
//	mirror.New([]source.Source{retry.New(httpA, ro), retry.New(httpB, ro)}, mo)
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zyncio/zync/source"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxFailures    = 2
	DefaultBadDataRetries = 3
	DefaultBatchRanges    = 128
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// MaxFailures is how many Fetches in a row a mirror may fail (each
	// after its own retries, when it is a retry.Source) before it is left
	// (default 2). A Fetch that delivered some ranges before failing
	// counts as the first of a new row. Bad data counts as a failure while
	// another mirror is healthy; the last healthy mirror is never left for
	// bad data, BadDataRetries bounds that.
	MaxFailures int
	// BadDataRetries is how many times a range whose bytes failed
	// verification is fetched again before Fetch fails (default 3).
	BadDataRetries int
	// BatchRanges is the most ranges handed to one mirror at once while
	// several are healthy (default 128): smaller batches spread the work
	// more evenly, larger ones make fewer, fuller requests.
	BatchRanges int
	// OnEvent, if set, is called for each failover, bad range and mirror
	// left, from the goroutine that called Fetch.
	OnEvent func(Event)
	// Logger, if set, receives one Warn record per Event.
	Logger *slog.Logger
}

// EventKind says what happened.
type EventKind int

// The kinds of Event.
const (
	// Failover: the mirror URL failed with Err; Ranges ranges it had not
	// delivered, the first being Range, go back to the queue.
	Failover EventKind = iota
	// BadData: the bytes of Range from URL failed verification (Err); the
	// range will be fetched again, Attempt being the next try.
	BadData
	// Down: the mirror URL is left for the rest of the Source's life; Err
	// is its last error.
	Down
)

// String names the kind: "failover", "bad data" or "mirror down".
func (k EventKind) String() string {
	switch k {
	case Failover:
		return "failover"
	case BadData:
		return "bad data"
	case Down:
		return "mirror down"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a failover, a range fetched again, or a mirror left.
type Event struct {
	Kind EventKind
	// URL names the mirror concerned (see source.Name).
	URL string
	// Range is the range concerned, or the first of Ranges ranges.
	Range  source.Range
	Ranges int
	// Attempt is, for BadData, the fetch of Range about to come: 2 for
	// the first fetch again.
	Attempt int
	// Err is the failure.
	Err error
}

// Status describes one mirror.
type Status struct {
	// URL names the mirror (see source.Name).
	URL string
	// Healthy is false once the mirror has been left.
	Healthy bool
	// Failures counts its failed Fetches in a row.
	Failures int
	// Delivered counts the ranges it delivered.
	Delivered int64
	// LastErr is its last error, or nil.
	LastErr error
}

type mirrorState struct {
	src       source.Source
	name      string
	healthy   bool
	failures  int
	delivered int64
	lastErr   error
}

// Source fetches ranges from the healthy mirrors. It is safe for concurrent
// use; what it learns about the mirrors lasts for its lifetime.
type Source struct {
	maxFailures, badRetries, batch int
	onEvent                        func(Event)
	log                            *slog.Logger

	mu      sync.Mutex // guards the mirror states and next
	mirrors []*mirrorState
	next    int // where the next dispatch round starts
}

var _ source.Source = (*Source)(nil)

// New returns a Source over the mirrors, in order of preference: the first
// gets the first batch.
func New(mirrors []source.Source, opts Options) (*Source, error) {
	if len(mirrors) == 0 {
		return nil, errors.New("mirror: no sources given")
	}
	s := &Source{
		maxFailures: opts.MaxFailures, badRetries: opts.BadDataRetries, batch: opts.BatchRanges,
		onEvent: opts.OnEvent, log: opts.Logger,
	}
	if s.maxFailures <= 0 {
		s.maxFailures = DefaultMaxFailures
	}
	if s.badRetries <= 0 {
		s.badRetries = DefaultBadDataRetries
	}
	if s.batch <= 0 {
		s.batch = DefaultBatchRanges
	}
	for _, m := range mirrors {
		if m == nil {
			return nil, errors.New("mirror: nil source")
		}
		s.mirrors = append(s.mirrors, &mirrorState{src: m, name: source.Name(m), healthy: true})
	}
	return s, nil
}

// URL names the mirrors, joined by " | ".
func (s *Source) URL() string {
	names := make([]string, len(s.mirrors))
	for i, m := range s.mirrors {
		names[i] = m.name
	}
	return strings.Join(names, " | ")
}

// Mirrors reports the state of each mirror, in the order given to New.
func (s *Source) Mirrors() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.mirrors))
	for i, m := range s.mirrors {
		out[i] = Status{URL: m.name, Healthy: m.healthy, Failures: m.failures, Delivered: m.delivered, LastErr: m.lastErr}
	}
	return out
}

func (s *Source) emit(e Event) {
	if s.log != nil {
		s.log.Warn("mirror: "+e.Kind.String(), "url", e.URL, "range", e.Range.String(), "ranges", e.Ranges, "err", e.Err)
	}
	if s.onEvent != nil {
		s.onEvent(e)
	}
}

// item is one range of a Fetch.
type item struct {
	r       source.Range
	bad     int   // times its bytes failed verification
	badFrom []int // mirrors that sent them
	lastBad error
}

// batchResult is what one mirror's Fetch of a batch reports.
type batchResult struct {
	m     int
	idx   []int // items, ascending
	done  []atomic.Bool
	mu    sync.Mutex
	bad   map[int]error // item → the callback's bad-data error
	fatal error         // the callback's first error not caused by the source
	err   error         // the mirror's Fetch's error
}

// Fetch fetches ranges from the healthy mirrors and calls fn for each, as
// source.Source requires, except that fn is called again for a range whose
// earlier call failed with bad data or a read error (see the package
// documentation). It returns fn's first other error unchanged.
func (s *Source) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	for i, r := range ranges {
		if r.Off < 0 || r.Len <= 0 || (i > 0 && r.Off < ranges[i-1].End()) {
			return fmt.Errorf("mirror: fetch: ranges not sorted, empty or overlapping at %s", r)
		}
	}
	if len(ranges) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mirror: fetch from %s: %w", s.URL(), err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()

	items := make([]item, len(ranges))
	queue := make([]int, len(ranges))
	for i, r := range ranges {
		items[i].r = r
		queue[i] = i
	}
	var redo []int // items to fetch again after bad data
	busy := make([]bool, len(s.mirrors))
	results := make(chan *batchResult)
	running := 0
	var fatal error

	for {
		if fatal == nil && ctx.Err() == nil {
			for _, d := range s.dispatch(busy, items, &queue, &redo) {
				busy[d.m] = true
				running++
				go func() { results <- s.run(cctx, d.m, d.idx, items, fn) }()
			}
		}
		if running == 0 {
			switch {
			case fatal != nil:
				return fatal
			case ctx.Err() != nil:
				return fmt.Errorf("mirror: fetch from %s: %w", s.URL(), ctx.Err())
			case len(queue)+len(redo) == 0:
				return nil
			}
			return s.noneLeft(items, queue, redo)
		}
		res := <-results
		running--
		busy[res.m] = false
		events, err := s.settle(cctx, res, items, &queue, &redo)
		for _, e := range events {
			s.emit(e)
		}
		if err != nil && fatal == nil {
			fatal = err
			cancel()
		}
	}
}

type assignment struct {
	m   int
	idx []int
}

// dispatch hands batches to the idle healthy mirrors, round-robin.
func (s *Source) dispatch(busy []bool, items []item, queue, redo *[]int) []assignment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var healthy []int
	for m, st := range s.mirrors {
		if st.healthy {
			healthy = append(healthy, m)
		}
	}
	var out []assignment
	n := len(s.mirrors)
	start := s.next
	for k := range n {
		m := (start + k) % n
		if busy[m] || !s.mirrors[m].healthy || len(*queue)+len(*redo) == 0 {
			continue
		}
		idx := s.take(m, healthy, items, queue, redo)
		if len(idx) == 0 {
			continue
		}
		out = append(out, assignment{m, idx})
		s.next = (m + 1) % n
	}
	return out
}

// take removes from the queues a batch for mirror m: ranges to fetch again
// that m has not sent bad bytes for (or that every healthy mirror has), then
// ranges from the main queue.
func (s *Source) take(m int, healthy []int, items []item, queue, redo *[]int) []int {
	size := len(*queue) + len(*redo)
	if len(healthy) > 1 {
		size = min(s.batch, (size+len(healthy)-1)/len(healthy))
	}
	var idx []int
	keep := (*redo)[:0]
	for _, i := range *redo {
		it := &items[i]
		ok := !slices.Contains(it.badFrom, m)
		if !ok {
			ok = true
			for _, h := range healthy {
				if !slices.Contains(it.badFrom, h) {
					ok = false
					break
				}
			}
		}
		if ok && len(idx) < size {
			idx = append(idx, i)
		} else {
			keep = append(keep, i)
		}
	}
	*redo = keep
	if k := min(size-len(idx), len(*queue)); k > 0 {
		idx = append(idx, (*queue)[:k]...)
		*queue = (*queue)[k:]
	}
	slices.Sort(idx)
	return idx
}

// run fetches one batch from mirror m.
func (s *Source) run(ctx context.Context, m int, idx []int, items []item, fn func(source.Range, io.Reader) error) *batchResult {
	res := &batchResult{m: m, idx: idx, done: make([]atomic.Bool, len(idx)), bad: map[int]error{}}
	rs := make([]source.Range, len(idx))
	for k, i := range idx {
		rs[k] = items[i].r
	}
	name := s.mirrors[m].name
	res.err = s.mirrors[m].src.Fetch(ctx, rs, func(r source.Range, data io.Reader) error {
		k := sort.Search(len(rs), func(k int) bool { return rs[k].Off >= r.Off })
		if k == len(rs) || rs[k] != r {
			return fmt.Errorf("mirror: %s delivered range %s, which was not asked for", name, r)
		}
		tr := &trackReader{r: data}
		err := fn(r, tr)
		switch {
		case err == nil && tr.err == nil:
			res.done[k].Store(true)
			return nil
		case err == nil:
			return tr.err // fn ignored a failed read: the range is not in
		case errors.Is(err, source.ErrBadData):
			res.mu.Lock()
			res.bad[idx[k]] = err
			res.mu.Unlock()
		case tr.err == nil:
			res.mu.Lock()
			if res.fatal == nil {
				res.fatal = err
			}
			res.mu.Unlock()
		}
		return err
	})
	return res
}

// settle books a batch's outcome: delivered ranges, bad ones, failures and
// the mirror's health. It returns the events to report (once the lock is
// released) and an error that ends the Fetch.
func (s *Source) settle(ctx context.Context, res *batchResult, items []item, queue, redo *[]int) (events []Event, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mirrors[res.m]
	var delivered int64
	var back []int
	for k, i := range res.idx {
		switch {
		case res.done[k].Load():
			delivered++
		case res.bad[i] != nil:
		default:
			back = append(back, i)
		}
	}
	st.delivered += delivered
	if res.fatal != nil {
		return nil, res.fatal
	}
	// Ranges not delivered go back, also when ctx ended: nothing is lost.
	*queue = mergeSorted(*queue, back)
	if ctx.Err() != nil {
		return nil, nil
	}

	healthyOthers := 0
	for m, o := range s.mirrors {
		if m != res.m && o.healthy {
			healthyOthers++
		}
	}
	var badIdx []int
	for i := range res.bad {
		badIdx = append(badIdx, i)
	}
	slices.Sort(badIdx)
	for _, i := range badIdx {
		it := &items[i]
		err := res.bad[i]
		it.bad++
		it.badFrom = append(it.badFrom, res.m)
		it.lastBad = err
		if it.bad > s.badRetries {
			var order []int
			count := map[int]int{}
			for _, m := range it.badFrom {
				if count[m]++; count[m] == 1 {
					order = append(order, m)
				}
			}
			var from []string
			for _, m := range order {
				if count[m] > 1 {
					from = append(from, fmt.Sprintf("%s (%d times)", s.mirrors[m].name, count[m]))
				} else {
					from = append(from, s.mirrors[m].name)
				}
			}
			return events, fmt.Errorf("mirror: bytes %d-%d failed verification %d times, sent by %s (the server, a mirror or a proxy sends wrong data): %w",
				it.r.Off, it.r.End()-1, it.bad, strings.Join(from, ", "), err)
		}
		*redo = append(*redo, i)
		events = append(events, Event{Kind: BadData, URL: st.name, Range: it.r, Ranges: 1, Attempt: it.bad + 1, Err: err})
	}

	switch {
	case res.err == nil:
		st.failures = 0
	case len(res.bad) > 0 && errors.Is(res.err, source.ErrBadData):
		st.lastErr = fmt.Errorf("mirror: %s sent bytes that failed verification: %w", st.name, res.err)
		if healthyOthers > 0 {
			// The BadData events tell the story; the ranges the aborted
			// Fetch left undelivered go back quietly.
			events = s.fail(events, st, delivered, false, nil, items)
		}
	default:
		st.lastErr = res.err
		events = s.fail(events, st, delivered, source.IsPermanent(res.err), back, items)
	}
	return events, nil
}

// fail books a failed Fetch of mirror st and leaves it if it failed too
// often or for good; back are the ranges it left undelivered, to announce.
func (s *Source) fail(events []Event, st *mirrorState, delivered int64, permanent bool, back []int, items []item) []Event {
	if delivered > 0 {
		st.failures = 0
	}
	st.failures++
	if permanent || st.failures >= s.maxFailures {
		st.healthy = false
		return append(events, Event{Kind: Down, URL: st.name, Err: st.lastErr})
	}
	if len(back) > 0 {
		events = append(events, Event{Kind: Failover, URL: st.name, Range: items[back[0]].r, Ranges: len(back), Err: st.lastErr})
	}
	return events
}

// noneLeft explains why ranges remain: every mirror has been left.
func (s *Source) noneLeft(items []item, queue, redo []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rest := append(slices.Clone(queue), redo...)
	slices.Sort(rest)
	e := &NoneLeftError{Ranges: len(rest), First: items[rest[0]].r}
	for _, m := range s.mirrors {
		e.URLs = append(e.URLs, m.name)
		err := m.lastErr
		if err == nil {
			err = errors.New("no error recorded")
		}
		e.Errs = append(e.Errs, err)
	}
	return e
}

// NoneLeftError is returned when ranges remain but every mirror has been
// left. It wraps each mirror's last error, so errors.Is finds their
// sentinels (source.ErrNotFound, source.ErrBadData, …).
type NoneLeftError struct {
	Ranges int          // ranges not delivered
	First  source.Range // the first of them
	URLs   []string     // the mirrors, in the order given to New
	Errs   []error      // their last errors
}

// Error lists each mirror's last error.
func (e *NoneLeftError) Error() string {
	var b strings.Builder
	mirrors := "the only mirror"
	if len(e.URLs) > 1 {
		mirrors = fmt.Sprintf("all %d mirrors", len(e.URLs))
	}
	rs := "ranges"
	if e.Ranges == 1 {
		rs = "range"
	}
	fmt.Fprintf(&b, "mirror: %s failed, %d %s still missing (from bytes %s)", mirrors, e.Ranges, rs, e.First)
	for i, u := range e.URLs {
		fmt.Fprintf(&b, "; %s: %v", u, e.Errs[i])
	}
	return b.String()
}

// Unwrap returns the mirrors' last errors.
func (e *NoneLeftError) Unwrap() []error { return e.Errs }

func mergeSorted(a, b []int) []int {
	if len(b) == 0 {
		return a
	}
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return out
}

// trackReader remembers a failed read (anything but io.EOF), so that a
// callback error caused by the source is told from one of the callback's
// own.
type trackReader struct {
	r   io.Reader
	err error
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}
