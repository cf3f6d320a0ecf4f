package patch

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/internal/mapfile"
	"github.com/zyncio/zync/zsyncfile"
)

// DiffOptions tune Diff and DiffFromControl. The zero value is the default.
type DiffOptions struct {
	// Level is the zstd level of the literal and instruction streams: 1
	// (fastest) to 4 (best); 0 means 3 (klauspost's SpeedBetterCompression).
	Level int
	// Workers is how many goroutines hash the seed's blocks, match and
	// compress; 0 means GOMAXPROCS.
	Workers int
	// SectionSize is the target bytes per section (each section is matched
	// and compressed on its own, so sections are the unit of parallelism
	// and bound Apply's memory); 0 means DefaultSectionSize, at most
	// MaxSectionSize.
	SectionSize int
	// MatchMin is the shortest copy Diff makes at a new seed displacement;
	// 0 means 32. Copies at one of the last three displacements need 8 bytes.
	MatchMin int
	// AnchorBits sets the seed index density: about one seed position in
	// 2^AnchorBits is indexed, and the index takes at most 8 bytes per
	// 2^AnchorBits seed bytes. 0 means 4 (at most half a byte per seed
	// byte), or more for seeds above 4 GiB, so the index stays within
	// MaxIndexBytes.
	AnchorBits int
	// Progress, if set, is called with the number of target bytes just
	// matched, from one goroutine.
	Progress func(n int64)
}

// Section sizes Diff uses: DefaultSectionSize target bytes per section
// unless DiffOptions.SectionSize says otherwise, at most MaxSectionSize (so
// that a section's instructions stay well within MaxInstrBytes).
const (
	DefaultSectionSize = 16 << 20
	MaxSectionSize     = 16 << 20
)

// DiffResult describes a patch Diff wrote.
type DiffResult struct {
	SeedLength   int64
	TargetLength int64
	// Copied is the number of target bytes copied from the seed; Literal the
	// number carried in the patch (before compression).
	Copied  int64
	Literal int64
	// Instructions is the number of copy/literal instructions.
	Instructions int64
	Sections     int
	// PatchSize is the number of bytes written.
	PatchSize    int64
	TargetSHA256 []byte
	Elapsed      time.Duration
}

func (o *DiffOptions) norm() error {
	if o.Level == 0 {
		o.Level = 3
	}
	if o.Level < 1 || o.Level > 4 {
		return fmt.Errorf("compression level %d is not between 1 and 4", o.Level)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.SectionSize == 0 {
		o.SectionSize = DefaultSectionSize
	}
	if o.SectionSize < 1<<10 || o.SectionSize > MaxSectionSize {
		return fmt.Errorf("section size %d is not between 1 KiB and %d", o.SectionSize, MaxSectionSize)
	}
	if o.MatchMin == 0 {
		o.MatchMin = defaultMatchMin
	}
	if o.MatchMin < 8 || o.MatchMin > 1<<16 {
		return fmt.Errorf("minimum match %d is not between 8 and 65536", o.MatchMin)
	}
	if o.AnchorBits < 0 || o.AnchorBits > 12 {
		return fmt.Errorf("anchor bits %d is not between 0 and 12", o.AnchorBits)
	}
	return nil
}

// MaxIndexBytes bounds the seed index Diff makes with the default
// AnchorBits: above 4 GiB of seed, fewer anchors are indexed.
const MaxIndexBytes = 2 << 30

// anchorBits returns the index density for a seed of n bytes.
func (o *DiffOptions) anchorBits(n int64) uint {
	if o.AnchorBits != 0 {
		return uint(o.AnchorBits)
	}
	ab := uint(defaultAnchorBits)
	for ab < 12 && indexBytes(n, ab) > MaxIndexBytes {
		ab++
	}
	return ab
}

// tableBlocksize is the blocksize of the block table Diff writes for a seed
// of n bytes: 64 KiB, or larger so the table has at most 16 Ki blocks.
func tableBlocksize(n int64) int {
	bs := 64 << 10
	for bs < MaxTableBlocksize && (n+int64(bs)-1)/int64(bs) > 1<<14 {
		bs *= 2
	}
	return bs
}

// tableSumLen is the length of the SHA-256 block sums Diff writes.
const tableSumLen = 16

// force64 makes tests exercise the 8-byte index of very large seeds.
var force64 = false

// Diff writes to w a patch that turns the seed old (oldSize bytes, read at
// random) into the target read from target (exactly targetSize bytes,
// read once, front to back). It returns what it wrote. A seed that is an
// *os.File is memory-mapped; any other io.ReaderAt is read into memory.
// Memory is the seed's index (see DiffOptions.AnchorBits) plus Workers+2
// sections of the target and a zstd encoder per worker.
func Diff(ctx context.Context, old io.ReaderAt, oldSize int64, target io.Reader, targetSize int64, w io.Writer, opts DiffOptions) (*DiffResult, error) {
	t0 := time.Now()
	if err := opts.norm(); err != nil {
		return nil, err
	}
	if oldSize < 0 || oldSize > MaxLength || targetSize < 0 || targetSize > MaxLength {
		return nil, fmt.Errorf("lengths %d and %d out of range", oldSize, targetSize)
	}
	data, release, err := seedBytes(old, oldSize)
	if err != nil {
		return nil, err
	}
	defer release()

	prep := func() (*Header, func() segScanner, error) {
		h := &Header{
			Version: Version, SeedLength: oldSize, SeedAlgo: SHA256,
			Blocks: BlockTable{Blocksize: tableBlocksize(oldSize), Algo: SHA256, StrongLen: tableSumLen},
		}
		// The seed's hash, its block sums and its index, all at once
		// (and the target is read meanwhile).
		t := &h.Blocks
		t.Sums = make([]byte, t.NumBlocks(oldSize)*int64(t.StrongLen))
		var ix *seedIndex
		err := parallel(
			func() error {
				hh := sha256.New()
				for off := 0; off < len(data); off += 1 << 20 {
					if err := ctx.Err(); err != nil {
						return err
					}
					hh.Write(data[off:min(off+1<<20, len(data))])
				}
				h.SeedSum = hh.Sum(nil)
				return nil
			},
			func() error { return blockSums(ctx, data, t, opts.Workers) },
			func() (err error) {
				ix, err = newSeedIndex(ctx, data, opts.anchorBits(oldSize), force64)
				return err
			},
		)
		return h, func() segScanner {
			return &dataScanner{ix: ix, matchMin: opts.MatchMin, repMin: defaultRepMin}
		}, err
	}
	res, err := encode(ctx, target, targetSize, w, opts, prep)
	if res != nil {
		res.Elapsed = time.Since(t0)
	}
	return res, err
}

// parallel runs fns on goroutines of their own, each guarded against
// faults in the mapped seed, and returns the first error.
func parallel(fns ...func() error) error {
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		go func() {
			var err error
			if ferr := mapfile.Guard(func() { err = fn() }); ferr != nil {
				err = ferr
			}
			errs <- err
		}()
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// blockSums fills t.Sums with the truncated SHA-256 of every block of data,
// on workers goroutines.
func blockSums(ctx context.Context, data []byte, t *BlockTable, workers int) error {
	nb := t.NumBlocks(int64(len(data)))
	bs := int64(t.Blocksize)
	per := max(1, (nb+int64(workers)-1)/int64(workers))
	var fns []func() error
	for k0 := int64(0); k0 < nb; k0 += per {
		fns = append(fns, func() error {
			var pad []byte
			for k := k0; k < min(k0+per, nb); k++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				blk := data[k*bs : min((k+1)*bs, int64(len(data)))]
				if int64(len(blk)) < bs {
					pad = make([]byte, bs)
					copy(pad, blk)
					blk = pad
				}
				s := sha256.Sum256(blk)
				copy(t.Sums[k*int64(t.StrongLen):], s[:t.StrongLen])
			}
			return nil
		})
	}
	return parallel(fns...)
}

// DiffFromControl writes to w a patch that turns the seed described by the
// control file seed into the target, without the seed's data: target
// windows are matched against the seed's block sums, so only whole seed
// blocks are copied (coarser than Diff). The patch identifies the seed by
// the control file's length and SHA-256 (SHA-1 when it has no SHA-256) and
// carries its block sums, which Apply checks.
func DiffFromControl(ctx context.Context, seed *zsyncfile.File, target io.Reader, targetSize int64, w io.Writer, opts DiffOptions) (*DiffResult, error) {
	t0 := time.Now()
	if err := opts.norm(); err != nil {
		return nil, err
	}
	x := &seed.Index
	if err := x.Validate(); err != nil {
		return nil, err
	}
	if targetSize < 0 || targetSize > MaxLength {
		return nil, fmt.Errorf("target length %d out of range", targetSize)
	}
	h := &Header{Version: Version, SeedLength: x.Length}
	switch {
	case len(seed.SHA256) == 32:
		h.SeedAlgo, h.SeedSum = SHA256, seed.SHA256
	case len(seed.SHA1) == 20:
		h.SeedAlgo, h.SeedSum = SHA1, seed.SHA1
	default:
		return nil, errors.New("the control file has no whole-file hash (SHA-256 or SHA-1) to identify the seed by")
	}
	if x.Blocksize < MinTableBlocksize || x.Blocksize > MaxTableBlocksize {
		return nil, fmt.Errorf("control file blocksize %d is outside %d-%d", x.Blocksize, MinTableBlocksize, MaxTableBlocksize)
	}
	algo := map[index.StrongAlgo]HashAlgo{index.MD4: MD4, index.MD5: MD5, index.SHA224: SHA224}[x.Algo]
	if algo == 0 {
		return nil, fmt.Errorf("unknown strong sum algorithm %v", x.Algo)
	}
	h.Blocks = BlockTable{Blocksize: x.Blocksize, Algo: algo, StrongLen: x.StrongLen, Sums: x.Strong}
	if int64(len(x.Strong)) > MaxTableBytes {
		return nil, fmt.Errorf("the control file's %d bytes of block sums exceed the patch format's limit of %d", len(x.Strong), MaxTableBytes)
	}
	res, err := encode(ctx, target, targetSize, w, opts, func() (*Header, func() segScanner, error) {
		zt := newZsyncTable(x)
		return h, func() segScanner { return &zsyncScanner{t: zt, h: x.Algo.New()} }, nil
	})
	if res != nil {
		res.Elapsed = time.Since(t0)
	}
	return res, err
}

// DiffFile writes the patch from the seed oldPath to the target newPath at
// outPath, atomically: a temporary file beside outPath, fsynced and renamed
// over it. The seed and target are opened read-only.
func DiffFile(ctx context.Context, oldPath, newPath, outPath string, opts DiffOptions) (*DiffResult, error) {
	of, ost, err := openRegular(oldPath, "seed")
	if err != nil {
		return nil, err
	}
	defer of.Close()
	return diffFile(newPath, outPath, func(nf *os.File, size int64, w io.Writer) (*DiffResult, error) {
		return Diff(ctx, of, ost.Size(), nf, size, w, opts)
	})
}

// DiffFileFromControl is DiffFromControl for a control file at
// controlPath, the target at newPath and the patch at outPath (written as
// DiffFile writes it).
func DiffFileFromControl(ctx context.Context, controlPath, newPath, outPath string, opts DiffOptions) (*DiffResult, error) {
	cf, err := os.Open(controlPath)
	if err != nil {
		return nil, err
	}
	zf, err := zsyncfile.Parse(bufio.NewReader(cf))
	cf.Close()
	if err != nil {
		return nil, fmt.Errorf("read control file %s: %w", controlPath, err)
	}
	return diffFile(newPath, outPath, func(nf *os.File, size int64, w io.Writer) (*DiffResult, error) {
		return DiffFromControl(ctx, zf, nf, size, w, opts)
	})
}

func openRegular(path, what string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s %s is not a regular file", what, path)
	}
	return f, st, nil
}

func diffFile(newPath, outPath string, run func(nf *os.File, size int64, w io.Writer) (*DiffResult, error)) (*DiffResult, error) {
	nf, nst, err := openRegular(newPath, "target")
	if err != nil {
		return nil, err
	}
	defer nf.Close()
	tmp, err := createTemp(outPath)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(tmp.f, 1<<20)
	res, err := run(nf, nst.Size(), bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		tmp.abort()
		return nil, err
	}
	if err := tmp.commit(0); err != nil {
		return nil, err
	}
	return res, nil
}

// segScanner emits the instructions for one section of the target.
type segScanner interface {
	scan(seg []byte, base int64, w *opWriter)
}

// hashWriter writes through to w, hashing and counting.
type hashWriter struct {
	w   io.Writer
	h   hash.Hash
	n   int64
	err error
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	if hw.err != nil {
		return 0, hw.err
	}
	hw.h.Write(p)
	n, err := hw.w.Write(p)
	hw.n += int64(n)
	hw.err = err
	return n, err
}

type job struct {
	base int64
	buf  []byte
	sec  []byte // the encoded section record
	st   DiffResult
	err  error
	done chan struct{}
}

func zstdLevel(l int) zstd.EncoderLevel {
	return [...]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}[l]
}

// encode writes the patch: the header, one section per SectionSize bytes
// of the target (matched and compressed on Workers goroutines, written in
// order), the end record and the trailer. The target is read (and hashed)
// from the start, while prep makes the header and the scanners.
func encode(ctx context.Context, target io.Reader, targetSize int64, out io.Writer, opts DiffOptions, prep func() (*Header, func() segScanner, error)) (*DiffResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := opts.Workers
	if n := (targetSize + int64(opts.SectionSize) - 1) / int64(opts.SectionSize); n < int64(workers) {
		workers = max(1, int(n))
	}
	// Sections in flight: read, being matched, or waiting to be written.
	inflight := workers + 2
	jobs := make(chan *job, inflight)
	order := make(chan *job, inflight)
	free := make(chan []byte, inflight)
	for range inflight {
		free <- nil
	}
	var targetSum []byte
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // read the target, in order
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		th := sha256.New()
		for base := int64(0); base < targetSize; {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			n := int(min(int64(opts.SectionSize), targetSize-base))
			if cap(buf) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			if _, err := io.ReadFull(target, buf); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					err = fmt.Errorf("the target ended before its length of %d bytes (did it change?)", targetSize)
				}
				cancel(fmt.Errorf("read target: %w", err))
				return
			}
			th.Write(buf)
			j := &job{base: base, buf: buf, done: make(chan struct{})}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
			base += int64(n)
		}
		var one [1]byte
		if n, _ := io.ReadFull(target, one[:]); n > 0 {
			cancel(fmt.Errorf("the target is longer than its length of %d bytes (did it change?)", targetSize))
			return
		}
		targetSum = th.Sum(nil)
	}()

	h, newScanner, err := prep()
	if err != nil {
		cancel(err)
		wg.Wait()
		return nil, err
	}
	h.TargetLength = targetSize
	res := &DiffResult{SeedLength: h.SeedLength, TargetLength: h.TargetLength}
	hw := &hashWriter{w: out, h: sha256.New()}
	if _, err := hw.Write(appendHeader(nil, h)); err != nil {
		cancel(err)
		wg.Wait()
		return nil, err
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstdLevel(opts.Level)), zstd.WithEncoderConcurrency(1),
				zstd.WithWindowSize(max(zstd.MinWindowSize, min(opts.SectionSize, zstd.MaxWindowSize))))
			if err != nil {
				cancel(err)
				for j := range jobs {
					j.err = err
					close(j.done)
				}
				return
			}
			defer enc.Close()
			sc := newScanner()
			var ow opWriter
			for j := range jobs {
				if j.err = ctx.Err(); j.err == nil {
					ow.reset()
					j.err = mapfile.Guard(func() { sc.scan(j.buf, j.base, &ow) })
					ow.finish()
				}
				if j.err == nil && len(ow.instr) > MaxInstrBytes {
					j.err = fmt.Errorf("section at target offset %d: %d bytes of instructions exceed the format's limit", j.base, len(ow.instr))
				}
				if j.err == nil {
					j.sec = encodeSection(enc, &ow, int64(len(j.buf)))
					j.st = DiffResult{Copied: ow.copied, Literal: ow.litBytes, Instructions: ow.ops}
				}
				free <- j.buf[:0]
				j.buf = nil
				close(j.done)
			}
		}()
	}
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if j.err != nil {
			err = j.err
			break
		}
		if _, err = hw.Write(j.sec); err != nil {
			break
		}
		res.Copied += j.st.Copied
		res.Literal += j.st.Literal
		res.Instructions += j.st.Instructions
		res.Sections++
		if opts.Progress != nil {
			opts.Progress(j.st.Copied + j.st.Literal)
		}
	}
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	end := append([]byte{tagEnd}, targetSum...)
	if _, err := hw.Write(end); err != nil {
		return nil, err
	}
	if _, err := hw.Write(hw.h.Sum(nil)); err != nil {
		return nil, err
	}
	res.PatchSize = hw.n
	res.TargetSHA256 = targetSum
	return res, nil
}

// encodeSection compresses a section's streams (a stream zstd does not
// shrink is stored raw) and returns the section record.
func encodeSection(enc *zstd.Encoder, ow *opWriter, span int64) []byte {
	pack := func(p []byte) (byte, []byte) {
		if len(p) > 0 {
			if c := enc.EncodeAll(p, make([]byte, 0, len(p)/2+64)); len(c) < len(p) {
				return codecZstd, c
			}
		}
		return codecRaw, p
	}
	ic, instr := pack(ow.instr)
	lc, lits := pack(ow.lits)
	sh := sectionHeader{
		span: span, instrCodec: ic, instrRaw: int64(len(ow.instr)), instrStored: int64(len(instr)),
		litCodec: lc, litRaw: int64(len(ow.lits)), litStored: int64(len(lits)),
	}
	b := appendSectionHeader(make([]byte, 0, 32+len(instr)+len(lits)), &sh)
	b = append(b, instr...)
	return append(b, lits...)
}
