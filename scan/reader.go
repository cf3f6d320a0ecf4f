package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// Options tune ScanReaderAt.
type Options struct {
	// Workers is how many sections are scanned at once; 0 means GOMAXPROCS.
	Workers int
	// BufferSize is the bytes read per step by each worker; 0 means 4 MiB.
	BufferSize int
	// Progress, if set, is called with the number of seed bytes just scanned.
	// It may be called from several goroutines at once.
	Progress func(n int64)
}

// ScanReaderAt scans the seed ra of the given size for target blocks. The
// seed is cut into sections scanned in parallel; each section reads a
// window's worth past its end, so no match across a section boundary is
// lost, and the seed is zero-padded past its end as zsync does (so a seed
// ending where the target ends matches the short last block). Blocks already
// known are not searched for. emit is called from several goroutines.
// It returns how many blocks this seed supplied.
func (m *Matcher) ScanReaderAt(ctx context.Context, ra io.ReaderAt, size int64, known *Bitmap, emit EmitFunc, opts Options) (int64, error) {
	if size <= 0 || m.n == 0 || known.Full() {
		return 0, nil
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	bufSize := opts.BufferSize
	if bufSize <= 0 {
		bufSize = 4 << 20
	}
	win := m.Window()
	bufSize = max(bufSize, 4*win)

	// Sections: big enough that the window overlap and sum restart are
	// negligible, small enough to balance work between workers.
	secSize := max(size/int64(workers*4), int64(bufSize))
	secSize = min(secSize, 256<<20)
	var next atomic.Int64 // next section start
	var found atomic.Int64

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w := 0; w < workers && int64(w)*secSize < size; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bufSize+win)
			s := NewScanner(m, known, emit)
			for {
				secStart := next.Add(secSize) - secSize
				if secStart >= size || ctx.Err() != nil || known.Full() {
					break
				}
				secEnd := min(secStart+secSize, size)
				if err := m.scanSection(ctx, ra, size, s, buf, secStart, secEnd, opts.Progress); err != nil {
					cancel(err)
					break
				}
			}
			found.Add(s.Found())
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return found.Load(), err
	}
	return found.Load(), nil
}

// scanSection scans window starts in [secStart, secEnd).
func (m *Matcher) scanSection(ctx context.Context, ra io.ReaderAt, size int64, s *Scanner, buf []byte, secStart, secEnd int64, progress func(int64)) error {
	win := m.Window()
	s.Reset()
	pos := secStart
	for pos < secEnd {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.known.Full() {
			return nil
		}
		limit := int(min(int64(len(buf)-win), secEnd-pos))
		// Read limit-1+win bytes, zero-padded past the end of the seed.
		want := limit - 1 + win
		avail := int(max(0, min(int64(want), size-pos)))
		n, err := ra.ReadAt(buf[:avail], pos)
		if err != nil && !(errors.Is(err, io.EOF) && n == avail) {
			return fmt.Errorf("read seed at offset %d: %w", pos, err)
		}
		clear(buf[avail:want])
		adv, err := s.Scan(buf[:want], limit)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(int64(min(adv, limit)))
		}
		pos += int64(adv)
	}
	return nil
}
