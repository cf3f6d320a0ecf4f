package zpack

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"
)

// Options tune Write. The zero value is usable.
type Options struct {
	// Tiers are the run sizes, in blocks, finest first, each a multiple of
	// the one before (default DefaultTiers). Tiers whose runs would exceed
	// MaxRunSize are left out, and so are the tiers after the first whose
	// run holds the whole target.
	Tiers []int
	// Level is the zstd compression level, 1 to 22, mapped onto the four
	// speeds of the encoder (below 3 fastest, below 6 default, below 10
	// better, else best). 0 means best: a companion is written once and
	// fetched many times.
	Level int
	// Dictionary is a zstd dictionary (see TrainDictionary) that every frame
	// is compressed with; it is stored in the map. Nil means none.
	Dictionary []byte
	// Workers is how many goroutines compress; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called with the number of target bytes just
	// written, from one goroutine at a time.
	Progress func(n int64)
}

// Result describes a companion Write wrote.
type Result struct {
	// Map is the companion's map.
	Map *Map
	// Size is the number of bytes written: frames, map and trailer.
	Size int64
	// MapOffset and MapLength locate the map section; MapSHA256 is its hash.
	MapOffset, MapLength int64
	MapSHA256            [32]byte
}

// Ref returns the reference to the companion for the control file, for a
// companion published at url (absolute, or relative to the control file).
func (r *Result) Ref(url string) Ref {
	return Ref{URL: url, MapOffset: r.MapOffset, MapLength: r.MapLength, MapSHA256: r.MapSHA256}
}

// ErrSizeChanged means the target stream was shorter than the size Write was
// given (a file that changed while it was read).
var ErrSizeChanged = errors.New("target shorter than its announced size")

// RunSizes returns the run sizes in bytes that Write uses for a target of
// size bytes cut into blocks of blocksize bytes with the given tiers (nil
// means DefaultTiers), after leaving out the tiers Options.Tiers describes.
func RunSizes(size int64, blocksize int, tiers []int) ([]int64, error) {
	if blocksize < 1 || blocksize > MaxRunSize {
		return nil, fmt.Errorf("zpack: blocksize %d is not between 1 and %d", blocksize, MaxRunSize)
	}
	if tiers == nil {
		tiers = DefaultTiers
	}
	if len(tiers) == 0 || len(tiers) > MaxTiers {
		return nil, fmt.Errorf("zpack: %d tiers, not between 1 and %d", len(tiers), MaxTiers)
	}
	var out []int64
	for i, n := range tiers {
		if n < 1 || (i > 0 && (n <= tiers[i-1] || n%tiers[i-1] != 0)) {
			return nil, fmt.Errorf("zpack: tiers %v: each must be a positive multiple of the one before", tiers)
		}
		rs := int64(n) * int64(blocksize)
		if rs > MaxRunSize {
			break
		}
		out = append(out, rs)
		if rs >= size {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("zpack: tier of %d blocks of %d bytes exceeds the run size limit of %d", tiers[0], blocksize, MaxRunSize)
	}
	if err := checkParams(size, out); err != nil {
		return nil, fmt.Errorf("zpack: %w", err)
	}
	return out, nil
}

// encLevel maps a zstd level onto the encoder's speeds.
func encLevel(level int) zstd.EncoderLevel {
	if level <= 0 {
		return zstd.SpeedBestCompression
	}
	return zstd.EncoderLevelFromZstd(level)
}

// windowFor returns the zstd window for frames of n bytes: the power of two
// at or above n, within zstd's bounds.
func windowFor(n int64) int {
	w := 1 << bits.Len64(uint64(max(n, 1)-1))
	return min(max(w, zstd.MinWindowSize), zstd.MaxWindowSize)
}

type job struct {
	data []byte
	n    int      // target bytes in data
	out  []byte   // frames of all tiers, in layout order
	lens []uint32 // their compressed lengths
	err  error
	done chan struct{}
}

// Write reads exactly size bytes of a target from r and writes its
// companion to w: the frames of every tier, the map and the trailer
// (docs/compressed-format.md). blocksize is the target's blocksize; the
// tiers are multiples of it. Runs are compressed in parallel and written in
// order; memory is a few top-tier runs per worker, whatever the size.
func Write(ctx context.Context, r io.Reader, size int64, blocksize int, w io.Writer, opts Options) (*Result, error) {
	runSizes, err := RunSizes(size, blocksize, opts.Tiers)
	if err != nil {
		return nil, err
	}
	if len(opts.Dictionary) > MaxDictSize {
		return nil, fmt.Errorf("zpack: dictionary of %d bytes exceeds the limit of %d", len(opts.Dictionary), MaxDictSize)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// One encoder for every tier, with one state per worker: the best
	// level's tables take about 34 MB a state (twice that with a
	// dictionary), so an encoder per tier would multiply that by the tiers.
	// Its window fits the top tier's runs; every frame is no larger, so
	// frames are single-segment and a decoder needs only their own size.
	eo := []zstd.EOption{
		zstd.WithEncoderLevel(encLevel(opts.Level)),
		zstd.WithEncoderConcurrency(workers),
		zstd.WithWindowSize(windowFor(runSizes[len(runSizes)-1])),
		zstd.WithEncoderCRC(true),
	}
	if len(opts.Dictionary) > 0 {
		eo = append(eo, zstd.WithEncoderDict(opts.Dictionary))
	}
	enc, err := zstd.NewWriter(nil, eo...)
	if err != nil {
		return nil, fmt.Errorf("zpack: zstd encoder: %w", err)
	}
	defer enc.Close()
	var dictCopy []byte
	if len(opts.Dictionary) > 0 {
		dictCopy = append([]byte(nil), opts.Dictionary...)
	}
	m := newMap(size, runSizes, dictCopy)
	top := runSizes[len(runSizes)-1]
	nTop := numRuns(size, top)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	nbuf := 2*workers + 2
	free := make(chan *job, nbuf)
	for range nbuf {
		free <- &job{}
	}
	work := make(chan *job, nbuf)
	order := make(chan *job, nbuf)
	var wg sync.WaitGroup

	// Reader: one top-tier run per job.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(order)
		for k := range nTop {
			var j *job
			select {
			case j = <-free:
			case <-ctx.Done():
				return
			}
			n := min(top, size-k*top)
			if int64(cap(j.data)) < n {
				j.data = make([]byte, top)
			}
			j.n = int(n)
			j.err = nil
			j.done = make(chan struct{})
			if _, err := io.ReadFull(r, j.data[:n]); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					err = fmt.Errorf("zpack: %w: read %d of %d bytes", ErrSizeChanged, k*top, size)
				} else {
					err = fmt.Errorf("zpack: read target: %w", err)
				}
				cancel(err)
				return
			}
			work <- j
			order <- j
		}
	}()
	// Compressors.
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if ctx.Err() == nil {
					compressRun(j, runSizes, enc)
				}
				close(j.done)
			}
		}()
	}
	// Writer: this goroutine, in order.
	res := &Result{Map: m}
	var written int64
	werr := func() error {
		k := int64(0)
		for j := range order {
			select {
			case <-j.done:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			if j.err != nil {
				return j.err
			}
			if _, err := w.Write(j.out); err != nil {
				return fmt.Errorf("zpack: write companion: %w", err)
			}
			x := 0
			m.layoutRun(k, func(t int, i int64) {
				m.tiers[t].off[i] = written
				m.tiers[t].clen[i] = j.lens[x]
				written += int64(j.lens[x])
				x++
			})
			if opts.Progress != nil {
				opts.Progress(int64(j.n))
			}
			k++
			free <- j
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if k != nTop {
			return fmt.Errorf("zpack: %d of %d runs written", k, nTop)
		}
		return nil
	}()
	if werr != nil {
		cancel(werr)
		// Let the reader and compressors finish: drain what is queued.
		go func() {
			for range order {
			}
		}()
		wg.Wait()
		return nil, werr
	}
	wg.Wait()
	m.framesEnd = written
	mb, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	tail := appendTrailer(mb, int64(len(mb)))
	if _, err := w.Write(tail); err != nil {
		return nil, fmt.Errorf("zpack: write companion: %w", err)
	}
	res.Size = written + int64(len(tail))
	res.MapOffset, res.MapLength = written, int64(len(mb))
	res.MapSHA256 = sha256.Sum256(mb)
	return res, nil
}

// compressRun compresses the frames of every tier inside one top-tier run,
// in layout order.
func compressRun(j *job, runSizes []int64, enc *zstd.Encoder) {
	j.out = j.out[:0]
	j.lens = j.lens[:0]
	data := j.data[:j.n]
	for _, rs := range runSizes {
		for a := int64(0); a < int64(len(data)); a += rs {
			before := len(j.out)
			j.out = enc.EncodeAll(data[a:min(a+rs, int64(len(data)))], j.out)
			c := len(j.out) - before
			if int64(c) > frameBound(min(rs, int64(len(data))-a)) {
				j.err = fmt.Errorf("zpack: frame of %d bytes compressed to %d bytes, above the format's bound", min(rs, int64(len(data))-a), c)
				return
			}
			j.lens = append(j.lens, uint32(c))
		}
	}
}

// DictOptions tune TrainDictionary. The zero value is usable.
type DictOptions struct {
	// Size is the dictionary size aimed at (default DefaultDictSize).
	Size int
	// Samples is how many pieces of the target it learns from, spread evenly
	// over it (default 256: as good as 512 on a JavaScript package, in half
	// the time; the builder's time and memory grow with the samples).
	Samples int
	// SampleSize is the size of each piece (default 16 KiB).
	SampleSize int
}

// TrainDictionary builds a zstd dictionary for the frames of a target of size
// bytes that r reads, from pieces spread evenly over the target. A dictionary
// mostly helps the smallest frames: 7% fewer bytes fetched on a JavaScript
// package, 0.4% on a tar of Go binaries. It returns nil and no error for a
// target too small for a dictionary to pay (under 1 MiB) or whose samples
// do not compress, and an error if the (experimental) builder fails; Write
// works without one.
func TrainDictionary(ctx context.Context, r io.ReaderAt, size int64, opts DictOptions) (d []byte, err error) {
	if opts.Size <= 0 {
		opts.Size = DefaultDictSize
	}
	opts.Size = min(opts.Size, MaxDictSize)
	if opts.Samples <= 0 {
		opts.Samples = 256
	}
	if opts.SampleSize <= 0 {
		opts.SampleSize = 16 << 10
	}
	if size < 1<<20 {
		return nil, nil
	}
	samples, err := readSamples(ctx, r, size, opts.Samples, opts.SampleSize)
	if err != nil {
		return nil, err
	}
	if !compressible(samples) {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("zpack: dictionary builder failed: %v", p)
		}
	}()
	d, err = dict.BuildZstdDict(samples, dict.Options{
		MaxDictSize: opts.Size,
		HashBytes:   6,
		ZstdDictID:  dictID,
		ZstdLevel:   zstd.SpeedBestCompression,
	})
	if err != nil {
		return nil, fmt.Errorf("zpack: build dictionary: %w", err)
	}
	if len(d) > MaxDictSize {
		return nil, fmt.Errorf("zpack: dictionary of %d bytes exceeds the limit of %d", len(d), MaxDictSize)
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderDict(d))
	if err != nil {
		return nil, fmt.Errorf("zpack: built an unusable dictionary: %w", err)
	}
	e.Close()
	return d, nil
}

// readSamples reads n pieces of sampleSize bytes spread evenly over a
// target of size bytes (fewer if the target is small).
func readSamples(ctx context.Context, r io.ReaderAt, size int64, n, sampleSize int) ([][]byte, error) {
	step := max(size/int64(n), int64(sampleSize))
	var samples [][]byte
	for off := int64(0); off < size; off += step {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := make([]byte, min(int64(sampleSize), size-off))
		if _, err := r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && off+int64(len(b)) == size) {
			return nil, fmt.Errorf("zpack: read target: %w", err)
		}
		samples = append(samples, b)
	}
	return samples, nil
}

// Compressible estimates whether a target of size bytes that r reads
// compresses at all: it reads 64 pieces of 16 KiB spread over it and
// reports whether zstd's fastest level brings them to 90% or less. Random,
// encrypted and already compressed data do not; a companion of such a
// target would be several copies of it and save nothing, so a caller can
// skip writing one.
func Compressible(ctx context.Context, r io.ReaderAt, size int64) (bool, error) {
	samples, err := readSamples(ctx, r, size, 64, 16<<10)
	if err != nil {
		return false, err
	}
	return compressible(samples), nil
}

// compressible reports whether the samples compress to at most 90% at
// zstd's fastest level. A dictionary cannot help data that does not
// compress (random, encrypted or already compressed), and the builder
// spends the most time and memory on it (800 MiB for 8 MB of random
// samples).
func compressible(samples [][]byte) bool {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return true
	}
	defer e.Close()
	var raw, packed int
	var dst []byte
	for _, b := range samples {
		dst = e.EncodeAll(b, dst[:0])
		raw += len(b)
		packed += len(dst)
	}
	return packed*10 <= raw*9
}

// DictionaryGain estimates what dict saves on the smallest frames of a
// target of size bytes that r reads: it compresses up to 256 pieces of
// runSize bytes (the finest tier's run), spread over the target away from
// the pieces TrainDictionary learns from, at the given level (as
// Options.Level) with and without dict, and returns the fraction of bytes
// the dictionary saves (negative if it costs). A dictionary also makes
// writing several times slower, so a caller may leave out one that saves
// little.
func DictionaryGain(ctx context.Context, r io.ReaderAt, size int64, runSize int, level int, dict []byte) (float64, error) {
	if len(dict) == 0 || size <= 0 || runSize <= 0 {
		return 0, nil
	}
	plain, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(encLevel(level)), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		return 0, err
	}
	defer plain.Close()
	withDict, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(encLevel(level)), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true), zstd.WithEncoderDict(dict))
	if err != nil {
		return 0, fmt.Errorf("zpack: unusable dictionary: %w", err)
	}
	defer withDict.Close()
	const pieces = 256
	step := max(size/pieces, int64(runSize))
	buf := make([]byte, runSize)
	var dst []byte
	var without, with int64
	for off := step / 2; off < size; off += step {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b := buf[:min(int64(runSize), size-off)]
		if _, err := r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && off+int64(len(b)) == size) {
			return 0, fmt.Errorf("zpack: read target: %w", err)
		}
		dst = plain.EncodeAll(b, dst[:0])
		without += int64(len(dst))
		dst = withDict.EncodeAll(b, dst[:0])
		with += int64(len(dst))
	}
	if without == 0 {
		return 0, nil
	}
	return float64(without-with) / float64(without), nil
}
