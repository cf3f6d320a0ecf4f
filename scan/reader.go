package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zyncio/zync/internal/mapfile"
)

// Options tune ScanReaderAt.
type Options struct {
	// Workers is how many sections are scanned at once; 0 means GOMAXPROCS.
	Workers int
	// BufferSize is the bytes read per step by each worker; 0 means 4 MiB
	// (1 MiB for a mapped seed, of which nothing is copied).
	BufferSize int
	// Progress, if set, is called with the number of seed bytes just scanned.
	// It may be called from several goroutines at once.
	Progress func(n int64)
	// NewSink, if set, gives each scanning goroutine its own Sink instead of
	// the shared emit function, so found blocks can be batched (consecutive
	// blocks written with one call); Flush is called when the goroutine ends.
	NewSink func() Sink
	// Sweep, after the main pass, looks again at every seed position the
	// main pass jumped over, for blocks still missing (see the package
	// comment). It finds blocks zsync's rules allow but its jumps step over
	// (a file stored twice in a tar, at another alignment), at the cost of a
	// second pass over the seed data that matched: on a mostly matching seed
	// that is about as long as the main pass again, for typically a few
	// blocks. Off by default.
	Sweep bool
	// Logger, if set, receives the duration of the main pass and the sweep
	// at debug level.
	Logger *slog.Logger
}

// A Sink receives the blocks one scanning goroutine finds.
type Sink interface {
	Emit(block int64, data []byte) error
	Flush() error
}

// ScanReaderAt scans the seed ra of the given size for target blocks. The
// seed is cut into sections scanned in parallel; each section reads a
// window's worth past its end, so no match across a section boundary is
// lost, and the seed is zero-padded past its end as zsync does (so a seed
// ending where the target ends matches the short last block). With
// opts.Sweep, if blocks are still missing afterwards, the positions the main
// pass jumped over are swept (see the package comment). Blocks already known
// are not searched for. emit is called from several goroutines. It returns
// how many blocks this seed supplied.
//
// A seed that is an *os.File is mapped into memory where the platform allows
// (Unix), which saves copying it; if the file shrinks or its storage fails
// while mapped, the scan returns an error wrapping ErrSeedFault instead of
// crashing. A seed that another program rewrites during the scan can then
// change between a block's check and emit's copy of it (read into a buffer,
// a rewrite mixes versions between reads, but each block handed on is the
// one checked). Such a block is caught, like any other corruption, by the
// whole-file hash before the output is committed.
func (m *Matcher) ScanReaderAt(ctx context.Context, ra io.ReaderAt, size int64, known *Bitmap, emit EmitFunc, opts Options) (int64, error) {
	if size <= 0 || m.n == 0 || known.Full() {
		return 0, nil
	}
	src := &seedReader{ra: ra, size: size}
	if f, ok := ra.(*os.File); ok && mapfile.CanRelease {
		if data, unmap, err := mapfile.Map(f, size); err == nil {
			defer unmap()
			src.data = data
		}
	}
	return m.scanSeed(ctx, src, known, emit, opts)
}

// ErrSeedFault is wrapped by the error of a scan whose mapped seed could not
// be read: the file was truncated by another program during the scan, or
// its storage failed. Scanning it again is safe; blocks found before the
// fault were verified.
var ErrSeedFault = mapfile.ErrFault

// seedReader reads windows of a seed: straight from its mapping where it
// has one and the window lies within the seed, else by ReadAt into a buffer.
type seedReader struct {
	ra   io.ReaderAt
	size int64
	data []byte // the seed's mapping, or nil
}

// window returns n bytes of the seed at off, zero-padded past its end, from
// the mapping or read into buf.
func (r *seedReader) window(buf *windowBuf, off int64, n int) ([]byte, error) {
	if r.data != nil && off+int64(n) <= r.size {
		return r.data[off : off+int64(n)], nil
	}
	b := buf.get()[:n]
	return b, readWindow(r.ra, r.size, b, off)
}

// windowBuf is a worker's read buffer, allocated when first needed: with a
// mapped seed only a window at the seed's end (zero-padded) is read.
type windowBuf struct {
	size int
	b    []byte
}

func (w *windowBuf) get() []byte {
	if w.b == nil {
		w.b = make([]byte, w.size)
	}
	return w.b
}

// prefetch asks for the mapped pages of [off, off+n) to be read ahead.
func (r *seedReader) prefetch(off int64, n int) {
	if r.data != nil && off < r.size {
		mapfile.WillNeed(r.data[off:min(off+int64(n), r.size)])
	}
}

// release gives back the mapped pages from off, a page boundary, up to the
// page boundary at or before end, and returns that boundary: the next call
// continues from it, so every page is released once scanned (a page read
// again faults back in from the page cache).
func (r *seedReader) release(off, end int64) int64 {
	if r.data == nil {
		return off
	}
	end = min(end, r.size) &^ int64(os.Getpagesize()-1)
	if end > off {
		mapfile.Release(r.data[off:end])
		return end
	}
	return off
}

func (m *Matcher) scanSeed(ctx context.Context, src *seedReader, known *Bitmap, emit EmitFunc, opts Options) (int64, error) {
	size := src.size
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	bufSize := max(opts.BufferSize, 4*m.Window())
	if opts.BufferSize <= 0 {
		// Read in 4 MiB steps; a mapped seed in 1 MiB steps, the most
		// of it each worker holds resident before giving the pages back.
		bufSize = max(4<<20, 4*m.Window())
		if src.data != nil {
			bufSize = max(1<<20, 4*m.Window())
		}
	}
	// Sections: big enough that the window overlap and sum restart are
	// negligible, small enough to balance work between workers.
	secSize := min(max(size/int64(workers*4), int64(bufSize)), 256<<20)
	var secs []span
	for off := int64(0); off < size; off += secSize {
		secs = append(secs, span{off, min(off+secSize, size)})
	}
	start := time.Now()
	found, skips, err := m.scanSpans(ctx, src, known, emit, opts.NewSink, secs, workers, bufSize, opts.Progress)
	if opts.Logger != nil {
		opts.Logger.Debug("seed scanned", "elapsed", time.Since(start).Round(time.Millisecond), "blocks", found, "anchors", m.anch != nil)
	}
	if err != nil || !opts.Sweep || known.Full() || len(skips) == 0 {
		return found, err
	}
	slices.SortFunc(skips, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	sm := m.sweeper(known)
	if len(sm.ents) == 0 {
		return found, nil
	}
	// Cut long spans into sections, so every worker has a share.
	var work []span
	for _, sp := range skips {
		for off := sp.from; off < sp.to; off += secSize {
			work = append(work, span{off, min(off+secSize, sp.to)})
		}
	}
	start = time.Now()
	more, _, err := sm.scanSpans(ctx, src, known, emit, opts.NewSink, work, workers, bufSize, nil)
	if opts.Logger != nil {
		var n int64
		for _, sp := range skips {
			n += sp.to - sp.from
		}
		opts.Logger.Debug("skipped positions swept", "elapsed", time.Since(start).Round(time.Millisecond), "bytes", n, "blocks", more)
	}
	return found + more, err
}

// scanSpans scans the window starts in spans on several goroutines and
// returns the blocks found and the positions jumped over.
func (m *Matcher) scanSpans(ctx context.Context, src *seedReader, known *Bitmap, emit EmitFunc, newSink func() Sink, spans []span, workers, bufSize int, progress func(int64)) (int64, []span, error) {
	var next atomic.Int64
	var found atomic.Int64
	var mu sync.Mutex
	var skips []span
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range min(workers, len(spans)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := &windowBuf{size: bufSize + m.Window()}
			e := emit
			var sink Sink
			if newSink != nil {
				sink = newSink()
				e = sink.Emit
			}
			s := NewScanner(m, known, e)
			defer func() {
				if sink != nil {
					if err := sink.Flush(); err != nil {
						cancel(err)
					}
				}
			}()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(spans)) || ctx.Err() != nil || known.Full() {
					break
				}
				var err error
				// A fault reading the mapping (the file shrank, an I/O
				// error) becomes an error, not a crash.
				if ferr := mapfile.Guard(func() { err = m.scanSection(ctx, src, s, buf, spans[i].from, spans[i].to, progress) }); ferr != nil {
					err = ferr
				}
				if err != nil {
					cancel(err)
					break
				}
			}
			found.Add(s.Found())
			mu.Lock()
			skips = append(skips, s.skips...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return found.Load(), skips, context.Cause(ctx)
}

// readWindow reads len(buf) bytes of the seed at off, zero-padded past its end.
func readWindow(ra io.ReaderAt, size int64, buf []byte, off int64) error {
	avail := int(max(0, min(int64(len(buf)), size-off)))
	n, err := ra.ReadAt(buf[:avail], off)
	if err != nil && !(errors.Is(err, io.EOF) && n == avail) {
		return fmt.Errorf("read seed at offset %d: %w", off, err)
	}
	clear(buf[avail:])
	return nil
}

// scanSection scans window starts in [secStart, secEnd).
func (m *Matcher) scanSection(ctx context.Context, src *seedReader, s *Scanner, buf *windowBuf, secStart, secEnd int64, progress func(int64)) error {
	size := src.size
	win := m.Window()
	s.Reset()
	pos := secStart
	// Mapped pages are given back behind the scan (see seedReader.release),
	// from done on; touched is the end of the seed bytes looked at.
	done, touched := secStart&^int64(os.Getpagesize()-1), secStart
	defer func() { src.release(done, touched) }()
	for pos < secEnd {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.known.Full() {
			return nil
		}
		limit := int(min(int64(buf.size-win), secEnd-pos))
		want := limit - 1 + win
		w, err := src.window(buf, pos, want)
		if err != nil {
			return err
		}
		touched = max(touched, pos+int64(want))
		src.prefetch(pos+int64(want), want)
		adv, err := s.Scan(w, pos, limit)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(int64(min(adv, limit)))
		}
		pos += int64(adv)
		done = src.release(done, pos)
	}
	// Follow a run of matches past the section's end while it supplies
	// blocks nobody has yet.
	for s.cont >= 0 && s.contAt < size {
		w, err := src.window(buf, s.contAt, m.bs)
		if err != nil {
			return err
		}
		touched = max(touched, s.contAt+int64(m.bs))
		if ok, err := s.Extend(w); err != nil || !ok {
			return err
		}
	}
	return nil
}
