package httpsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/zyncio/zync/source"
)

// Fetch retrieves ranges (sorted, non-empty, not overlapping) and calls fn
// once for each with a reader of exactly r.Len bytes; see source.Source.
//
// Ranges are grouped into requests of up to Options.MaxRanges HTTP ranges
// (ranges at most Options.MaxGap bytes apart share one HTTP range) and up to
// Options.Concurrency requests run at once, so fn is called from several
// goroutines. If fn does not read its reader to the end, the rest is
// discarded. An error from fn stops Fetch, which returns it unchanged. If ctx
// is cancelled, Fetch returns promptly with an error wrapping ctx.Err().
func (s *Source) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	for i, r := range ranges {
		if r.Off < 0 || r.Len <= 0 || r.End() < r.Off {
			return fmt.Errorf("httpsource: fetch from %s: bad range %d (offset %d, length %d)", s.shown, i, r.Off, r.Len)
		}
		if i > 0 && r.Off < ranges[i-1].End() {
			return fmt.Errorf("httpsource: fetch from %s: ranges %s and %s are not sorted or overlap", s.shown, ranges[i-1], r)
		}
	}
	if len(ranges) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("httpsource: fetch from %s: %w", s.shown, err)
	}
	f := &fetch{s: s, fn: fn, wants: make([]want, len(ranges))}
	for i, r := range ranges {
		f.wants[i].r = r
	}
	return f.run(ctx)
}

// want is one range asked of Fetch.
type want struct {
	r source.Range
	// claimed is set, once, by the goroutine that calls fn for the range.
	claimed atomic.Bool
	// misses counts answers that left the range out (dispatcher only).
	misses int
}

// fetch is the state of one Fetch call.
type fetch struct {
	s     *Source
	fn    func(source.Range, io.Reader) error
	wants []want
	// streaming is set while one goroutine delivers from a 200 body; it
	// claims every range still unclaimed, so nothing else is sent meanwhile.
	streaming atomic.Bool
}

// task is one request: the wants it asks for (indices, ascending), or a plain
// GET streaming the whole target.
type task struct {
	idx    []int
	stream bool
	mode   int32 // the Source's mode when the task was sent
}

// result is what a task reports to the dispatcher.
type result struct {
	err     error
	fnErr   bool   // err came from fn: return it unchanged
	requeue []int  // not delivered, through no fault of the server's answer
	missing []int  // asked for, answered, but left out
	what    string // what the server did, for messages
}

// fnError marks an error returned by the callback.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }

func (f *fetch) run(parent context.Context) error {
	s := f.s
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	all := make([]int, len(f.wants))
	for i := range all {
		all[i] = i
	}
	queue := f.plan(all)
	results := make(chan result)
	running, requests := 0, 0
	maxRequests := 5*len(f.wants) + 2*s.conc + 8 // a backstop: the rules below bound it anyway
	var firstErr error
	fromFn := false
	fail := func(err error, isFn bool) {
		if firstErr == nil {
			firstErr, fromFn = err, isFn
			cancel()
		}
	}

	for {
		for firstErr == nil && len(queue) > 0 && running < f.inFlightLimit() && !f.streaming.Load() {
			if err := ctx.Err(); err != nil {
				fail(fmt.Errorf("httpsource: fetch from %s: %w", s.shown, err), false)
				break
			}
			t := queue[0]
			queue = queue[1:]
			t.idx = slices.DeleteFunc(t.idx, func(i int) bool { return f.wants[i].claimed.Load() })
			if len(t.idx) == 0 {
				continue
			}
			if err := f.checkBounds(t.idx); err != nil {
				fail(err, false)
				break
			}
			t.mode = s.mode.Load()
			if t.mode == modeFull {
				t.stream = true
				f.streaming.Store(true)
			} else if len(f.spans(t.idx)) > s.rangesPerRequest() {
				// The Source stepped down since this task was planned.
				queue = append(f.plan(t.idx), queue...)
				continue
			}
			if requests++; requests > maxRequests {
				fail(fmt.Errorf("httpsource: GET %s: %w: gave up after %d requests for %d ranges", s.shown, source.ErrPermanent, requests-1, len(f.wants)), false)
				break
			}
			running++
			go func() { results <- f.do(ctx, t) }()
		}
		if running == 0 {
			break
		}
		res := <-results
		running--
		if res.err != nil {
			fail(res.err, res.fnErr)
			continue
		}
		if firstErr != nil {
			continue
		}
		back := res.requeue
		for _, i := range res.missing {
			w := &f.wants[i]
			if w.misses++; w.misses >= 2 {
				fail(fmt.Errorf("httpsource: GET %s: %w: the server left out bytes %s twice (%s)", s.shown, source.ErrPermanent, w.r, res.what), false)
				break
			}
			back = append(back, i)
		}
		if firstErr == nil && len(back) > 0 {
			for _, t := range queue {
				back = append(back, t.idx...)
			}
			slices.Sort(back)
			queue = f.plan(slices.Compact(back))
		}
	}

	if pe := parent.Err(); pe != nil && firstErr != nil && !errors.Is(firstErr, pe) {
		return fmt.Errorf("httpsource: fetch from %s: %w", s.shown, pe)
	}
	if firstErr != nil {
		if fromFn {
			var fe *fnError
			if errors.As(firstErr, &fe) {
				return fe.err
			}
		}
		return firstErr
	}
	for i := range f.wants {
		if !f.wants[i].claimed.Load() {
			return fmt.Errorf("httpsource: fetch from %s: internal error: range %s was never delivered", s.shown, f.wants[i].r)
		}
	}
	return nil
}

// inFlightLimit keeps one request in flight until the current mode has
// worked once, so a misbehaving server costs one request, not Concurrency.
func (f *fetch) inFlightLimit() int {
	if f.s.confirmed.Load() {
		return f.s.conc
	}
	return 1
}

// rangesPerRequest is the most HTTP ranges the current mode puts in a request.
func (s *Source) rangesPerRequest() int {
	if s.mode.Load() == modeMulti {
		return int(s.limit.Load())
	}
	return 1
}

// checkBounds rejects ranges that start at or past the known end of the target.
func (f *fetch) checkBounds(idx []int) error {
	total := f.s.total.Load()
	if total < 0 {
		return nil
	}
	for _, i := range idx {
		if r := f.wants[i].r; r.Off >= total {
			return fmt.Errorf("httpsource: fetch from %s: range %s starts past the end of the %d-byte target", f.s.shown, r, total)
		}
	}
	return nil
}

// dataEnd is where the server's bytes for r end: r.End(), or the target
// length if r runs past it (the rest is zero padding).
func (f *fetch) dataEnd(r source.Range) int64 {
	if total := f.s.total.Load(); total >= 0 && r.End() > total {
		return total
	}
	return r.End()
}

// groups splits wants (ascending) into runs that share one HTTP range.
func (f *fetch) groups(idx []int) [][]int {
	var out [][]int
	var lastEnd int64
	for _, i := range idx {
		r := f.wants[i].r
		if len(out) > 0 && r.Off-lastEnd <= f.s.maxGap {
			out[len(out)-1] = append(out[len(out)-1], i)
		} else {
			out = append(out, []int{i})
		}
		lastEnd = r.End()
	}
	return out
}

// plan splits wants into tasks for the current mode: at most
// rangesPerRequest HTTP ranges each, and at least Concurrency tasks when
// there are that many HTTP ranges.
//
// The tasks are laid out in waves of Concurrency, the number that run at
// once: a wave covers a stretch of the target, and its tasks take the
// stretch's HTTP ranges in turn (task j of the wave the j-th, the
// (j+Concurrency)-th, ...). The requests in flight then fill the target
// from its start together, instead of each filling its own part, so the
// caller's whole-file hash, which can only follow the file from its start,
// keeps up with the download. The tasks and their sizes are the same as
// with contiguous parts, so the layout costs no request.
func (f *fetch) plan(idx []int) []task {
	g := f.groups(idx)
	n := len(g)
	if n == 0 {
		return nil
	}
	limit := f.s.rangesPerRequest()
	tasks := max((n+limit-1)/limit, min(f.s.conc, n))
	per := (n + tasks - 1) / tasks
	tasks = (n + per - 1) / per
	out := make([]task, tasks)
	next := 0 // the next HTTP range to hand out
	for w := 0; w < tasks; w += f.s.conc {
		wave := out[w:min(w+f.s.conc, tasks)]
		// The wave's stretch: per ranges for each of its tasks (the last
		// wave takes what is left).
		end := min(next+len(wave)*per, n)
		for j := 0; next < end; j, next = (j+1)%len(wave), next+1 {
			wave[j].idx = append(wave[j].idx, g[next]...)
		}
	}
	return out
}

// span is one HTTP range, half-open.
type span struct{ off, end int64 }

// spans returns the HTTP ranges for wants, clipped to the target length.
func (f *fetch) spans(idx []int) []span {
	var out []span
	for _, grp := range f.groups(idx) {
		first, last := f.wants[grp[0]].r, f.wants[grp[len(grp)-1]].r
		out = append(out, span{first.Off, f.dataEnd(last)})
	}
	return out
}

func rangeHeader(spans []span) string {
	var b strings.Builder
	b.WriteString("bytes=")
	for i, sp := range spans {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", sp.off, sp.end-1)
	}
	return b.String()
}

func (f *fetch) do(ctx context.Context, t task) result {
	if t.stream {
		return f.doStream(ctx)
	}
	return f.doRanges(ctx, t)
}

// doStream sends a plain GET and delivers every unclaimed range from the
// body. The dispatcher has set f.streaming.
func (f *fetch) doStream(ctx context.Context) result {
	defer f.streaming.Store(false)
	s := f.s
	resp, err := s.get(ctx, "")
	if err != nil {
		return result{err: err}
	}
	body := resp.Body.(*watchedBody)
	defer func() {
		resp.Body.Close()
		s.report(resp.StatusCode, 0, body.n)
	}()
	if resp.StatusCode == http.StatusPreconditionFailed && s.IfRange() != "" {
		return result{err: fmt.Errorf("httpsource: GET %s: %w: 412 precondition failed for the whole file with validator %s (fetch a fresh control file and run again)", s.shown, source.ErrChanged, s.IfRange())}
	}
	if resp.StatusCode != http.StatusOK {
		return result{err: s.statusError(resp, "")}
	}
	if err := s.checkEncoding(resp); err != nil {
		return result{err: err}
	}
	if err := s.checkValidators(resp, ""); err != nil {
		return result{err: err}
	}
	return f.streamBody(body, resp.ContentLength, "a plain GET")
}

// doRanges sends one range request and delivers what the answer holds.
func (f *fetch) doRanges(ctx context.Context, t task) result {
	s := f.s
	spans := f.spans(t.idx)
	hdr := rangeHeader(spans)
	resp, err := s.get(ctx, hdr)
	if err != nil {
		return result{err: err}
	}
	body := resp.Body.(*watchedBody)
	defer func() {
		resp.Body.Close()
		s.report(resp.StatusCode, len(spans), body.n)
	}()
	multi := len(spans) > 1
	switch code := resp.StatusCode; {
	case code == http.StatusPartialContent:
		if err := s.checkEncoding(resp); err != nil {
			return result{err: err}
		}
		if err := s.checkValidators(resp, hdr); err != nil {
			return result{err: err}
		}
		res := f.partial(resp, body, t, spans, hdr)
		if multi && res.err != nil && !res.fnErr && body.err == nil &&
			!errors.Is(res.err, source.ErrLengthMismatch) && !errors.Is(res.err, source.ErrChanged) {
			// The connection is fine but the multipart answer is not: a
			// proxy or server that mangles many ranges (OpenStack Swift,
			// caching proxies). Fewer ranges per request may work.
			s.narrow(len(spans), "garbled multi-range answer: "+res.err.Error())
			return result{requeue: f.unclaimed(t.idx)}
		}
		return res
	case code == http.StatusOK:
		if s.sendsIfRange() {
			if match, known, _ := s.validatorsMatch(resp); !known || !match {
				return result{err: s.changedError(resp, hdr)}
			}
		} else if err := s.checkValidators(resp, hdr); err != nil {
			return result{err: err}
		}
		if err := s.checkEncoding(resp); err != nil {
			return result{err: err}
		}
		if err := s.checkTotal(resp.ContentLength); err != nil {
			return result{err: err}
		}
		if multi {
			// S3 answers only multi-range requests with the whole file;
			// Apache and nginx do so above a number of ranges or when the
			// parts would add up to about the file. Fewer ranges, then
			// single ranges, may work and are far cheaper than reading the
			// whole body. Drop this one and try.
			s.narrow(len(spans), "answered a multi-range request with 200")
			return result{requeue: t.idx}
		}
		s.stepDown(modeFull, "answered a single-range request with 200")
		if !f.streaming.CompareAndSwap(false, true) {
			return result{requeue: t.idx} // another goroutine streams: it claims these
		}
		defer f.streaming.Store(false)
		return f.streamBody(body, resp.ContentLength, "a single-range request")
	case multi && rejectsMultiRange(code):
		s.narrow(len(spans), fmt.Sprintf("answered a multi-range request with %d", code))
		return result{requeue: t.idx}
	default:
		return result{err: s.statusError(resp, hdr)}
	}
}

// unclaimed returns the wants of idx not yet delivered.
func (f *fetch) unclaimed(idx []int) []int {
	var out []int
	for _, i := range idx {
		if !f.wants[i].claimed.Load() {
			out = append(out, i)
		}
	}
	return out
}

// rejectsMultiRange reports whether a status answering a multi-range request
// may mean "not with so many ranges" (GitHub's 501, GCS's 400, Varnish's 416)
// rather than a problem with the URL itself.
func rejectsMultiRange(code int) bool {
	switch code {
	case http.StatusNotImplemented:
		return true
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone,
		http.StatusProxyAuthRequired, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return code >= 400 && code < 500
}

func (s *Source) checkEncoding(resp *http.Response) error {
	if ce := strings.TrimSpace(resp.Header.Get("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return fmt.Errorf("httpsource: GET %s: %w: %s answer has content-encoding %q although identity was asked; its bytes are not the file's", s.shown, source.ErrPermanent, resp.Status, ce)
	}
	return nil
}

// partial handles a 206 answer, single-part or multipart/byteranges.
func (f *fetch) partial(resp *http.Response, body io.Reader, t task, spans []span, hdr string) result {
	s := f.s
	var what string
	singlePart := false
	parts := 0 // parts of a multipart answer
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if strings.EqualFold(mt, "multipart/byteranges") {
		boundary := params["boundary"]
		if boundary == "" {
			return result{err: fmt.Errorf("httpsource: GET %s: %w: multipart answer without a boundary", s.shown, source.ErrPermanent)}
		}
		// mime/multipart skips a preamble, so the CRLF that Apache and nginx
		// put before the first boundary is as welcome as its absence (Go's
		// http.ServeContent).
		mr := multipart.NewReader(body, boundary)
		var got []string
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return result{err: fmt.Errorf("httpsource: GET %s: reading multipart answer to %s: %w", s.shown, abbreviate(hdr), err)}
			}
			if len(got) >= 2*len(spans) {
				return result{err: fmt.Errorf("httpsource: GET %s: %w: more than %d parts in the answer to %d ranges", s.shown, source.ErrPermanent, len(got), len(spans))}
			}
			v := p.Header.Get("Content-Range")
			cr, err := parseContentRange(v)
			if err != nil || cr.unsatisfied {
				return result{err: fmt.Errorf("httpsource: GET %s: %w: part %d has a bad content-range %q", s.shown, source.ErrPermanent, len(got)+1, v)}
			}
			if err := f.checkPart(cr, spans, hdr); err != nil {
				return result{err: err}
			}
			got = append(got, fmt.Sprintf("%d-%d", cr.off, cr.end-1))
			parts++
			if err := f.readPart(p, cr, t.idx); err != nil {
				return errResult(err)
			}
		}
		if len(got) > 4 {
			got = append(got[:4], "…")
		}
		what = fmt.Sprintf("asked for %d ranges, got %d parts: %s", len(spans), len(got), strings.Join(got, ","))
	} else {
		v := resp.Header.Get("Content-Range")
		cr, err := parseContentRange(v)
		if err != nil || cr.unsatisfied {
			return result{err: fmt.Errorf("httpsource: GET %s: %w: 206 answer to %s has a bad content-range %q", s.shown, source.ErrPermanent, abbreviate(hdr), v)}
		}
		if err := f.checkPart(cr, spans, hdr); err != nil {
			return result{err: err}
		}
		if n := resp.ContentLength; n >= 0 && n != cr.end-cr.off {
			return result{err: fmt.Errorf("httpsource: GET %s: %w: content-length %d does not match content-range %q", s.shown, source.ErrPermanent, n, v)}
		}
		if err := f.readPart(body, cr, t.idx); err != nil {
			return errResult(err)
		}
		singlePart = true
		what = fmt.Sprintf("asked for %d ranges, got one part: %d-%d", len(spans), cr.off, cr.end-1)
	}
	missing := f.unclaimed(t.idx)
	switch {
	case len(missing) == 0:
		if s.mode.Load() == t.mode && (t.mode != modeMulti || int(s.limit.Load()) >= len(spans)) {
			s.confirmed.Store(true)
		}
	case singlePart && len(spans) > 1:
		// Only the first range (or the first few, coalesced): the server
		// does not do this many ranges. Not the server leaving out ranges it
		// says it sends, so they do not count as missed.
		s.narrow(len(spans), "answered a multi-range request with a single part")
		return result{requeue: missing, what: what}
	case !singlePart && parts > 0 && parts < len(spans) && s.capRanges(parts):
		// Some parts, fewer than asked: the server answers only so many
		// ranges per request (lighttpd: 10). Ask for no more than that from
		// now on; the ranges left out are asked for again, not counted as
		// missed.
		return result{requeue: missing, what: what}
	}
	return result{missing: missing, what: what}
}

func errResult(err error) result {
	var fe *fnError
	return result{err: err, fnErr: errors.As(err, &fe)}
}

// checkPart checks a part's Content-Range against the request: its total
// must be the target length, and it must lie within the asked ranges' span
// and overlap one of them (servers may coalesce ranges, gaps included).
func (f *fetch) checkPart(cr contentRange, spans []span, hdr string) error {
	if err := f.s.checkTotal(cr.total); err != nil {
		return err
	}
	overlaps := false
	for _, sp := range spans {
		if cr.off < sp.end && sp.off < cr.end {
			overlaps = true
			break
		}
	}
	if !overlaps || cr.off < spans[0].off || cr.end > spans[len(spans)-1].end {
		return fmt.Errorf("httpsource: GET %s: %w: the server sent bytes %d-%d, which were not asked for (asked %s)", f.s.shown, source.ErrPermanent, cr.off, cr.end-1, abbreviate(hdr))
	}
	return nil
}

// readPart reads one part (or single-part body) holding bytes [cr.off,
// cr.end), delivers every unclaimed want it covers, and reads it to its end.
func (f *fetch) readPart(r io.Reader, cr contentRange, idx []int) error {
	s := f.s
	short := func(err error) error {
		return fmt.Errorf("httpsource: GET %s: reading bytes %d-%d: %w", s.shown, cr.off, cr.end-1, err)
	}
	cur := cr.off
	for _, i := range idx {
		w := &f.wants[i]
		if w.r.Off < cur {
			continue
		}
		end := f.dataEnd(w.r)
		if end > cr.end {
			break // wants are ascending: the rest lie beyond this part
		}
		if w.claimed.Load() {
			continue
		}
		if err := skip(r, w.r.Off-cur); err != nil {
			return short(err)
		}
		cur = w.r.Off
		if !w.claimed.CompareAndSwap(false, true) {
			continue
		}
		if err := f.deliver(w, r, end); err != nil {
			return err
		}
		cur = end
	}
	if err := skip(r, cr.end-cur); err != nil {
		return short(err)
	}
	switch n, err := io.CopyN(io.Discard, r, 1); {
	case n > 0:
		return fmt.Errorf("httpsource: GET %s: %w: the part for bytes %d-%d is longer than its content-range says", s.shown, source.ErrPermanent, cr.off, cr.end-1)
	case err != nil && err != io.EOF:
		return short(err)
	}
	return nil
}

// streamBody delivers every unclaimed want from a body holding the whole
// target, in offset order, and stops reading after the last. answered says
// what the whole file came as an answer to, for messages.
func (f *fetch) streamBody(body io.Reader, contentLength int64, answered string) result {
	s := f.s
	if err := s.checkTotal(contentLength); err != nil {
		return result{err: err}
	}
	if err := f.spendWaste(answered); err != nil {
		return result{err: err}
	}
	cur := int64(0)
	for i := range f.wants {
		w := &f.wants[i]
		if w.claimed.Load() {
			continue
		}
		if total := s.total.Load(); total >= 0 && w.r.Off >= total {
			return result{err: fmt.Errorf("httpsource: fetch from %s: range %s starts past the end of the %d-byte target", s.shown, w.r, total)}
		}
		if err := skip(body, w.r.Off-cur); err != nil {
			return result{err: fmt.Errorf("httpsource: GET %s: reading the whole file up to byte %d: %w", s.shown, w.r.Off, err)}
		}
		cur = w.r.Off
		if !w.claimed.CompareAndSwap(false, true) {
			continue
		}
		end := f.dataEnd(w.r)
		if err := f.deliver(w, body, end); err != nil {
			return errResult(err)
		}
		cur = end
	}
	return result{}
}

// spendWaste books the bytes not asked for that reading the whole file up to
// the last unclaimed want costs, or refuses if that goes over the budget.
func (f *fetch) spendWaste(answered string) error {
	s := f.s
	var need, last int64
	for i := range f.wants {
		w := &f.wants[i]
		if w.claimed.Load() {
			continue
		}
		end := f.dataEnd(w.r)
		if end > w.r.Off {
			need += end - w.r.Off
			last = end
		}
	}
	waste := max(last-need, 0)
	spent := s.wasted.Add(waste)
	if s.budget >= 0 && spent > s.budget {
		s.wasted.Add(-waste)
		return fmt.Errorf("httpsource: GET %s: %w: %w: the server ignores range requests (it answered %s with the whole file); reading it for these ranges would cost %d bytes not asked for (%d spent already), over the waste budget of %d bytes (raise the budget, or use a mirror that honours ranges)",
			s.shown, ErrWasteBudget, source.ErrPermanent, answered, waste, spent-waste, s.budget)
	}
	return nil
}

// deliver calls fn for w with the next end-w.r.Off bytes of r plus zero
// padding up to w.r.Len, then discards whatever fn left unread.
func (f *fetch) deliver(w *want, r io.Reader, end int64) error {
	er := &exactReader{s: f.s, want: w.r, r: r, n: end - w.r.Off, pad: w.r.End() - end}
	if err := f.fn(w.r, er); err != nil {
		return &fnError{err}
	}
	// A reader error fn chose to ignore is sticky and comes back here.
	if _, err := io.Copy(io.Discard, er); err != nil {
		return err
	}
	return nil
}

// skip discards n bytes of r; running out is io.ErrUnexpectedEOF.
func skip(r io.Reader, n int64) error {
	if n <= 0 {
		return nil
	}
	m, err := io.CopyN(io.Discard, r, n)
	if err == io.EOF {
		return fmt.Errorf("%d bytes short: %w", n-m, io.ErrUnexpectedEOF)
	}
	return err
}

// exactReader yields exactly n bytes of r, then pad zero bytes, then io.EOF.
// If r ends early or fails, it returns a descriptive error from then on.
type exactReader struct {
	s    *Source
	want source.Range
	r    io.Reader
	n    int64
	pad  int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if e.n > 0 {
		if int64(len(p)) > e.n {
			p = p[:e.n]
		}
		n, err := e.r.Read(p)
		e.n -= int64(n)
		switch {
		case err != nil && e.n == 0:
			// Every byte is in; whatever broke after them concerns the
			// rest of the answer, which reports it.
			err = nil
		case err == io.EOF:
			e.err = fmt.Errorf("httpsource: GET %s: the answer ended %d bytes before the end of range %s: %w", e.s.shown, e.n, e.want, io.ErrUnexpectedEOF)
		case err != nil:
			e.err = fmt.Errorf("httpsource: GET %s: reading range %s: %w", e.s.shown, e.want, err)
		}
		return n, e.err
	}
	if e.pad > 0 {
		n := int(min(int64(len(p)), e.pad))
		clear(p[:n])
		e.pad -= int64(n)
		return n, nil
	}
	return 0, io.EOF
}
