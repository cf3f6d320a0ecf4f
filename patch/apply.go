package patch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ApplyOptions tune Apply and ApplyFile. The zero value is the default.
type ApplyOptions struct {
	// CacheBytes bounds the verified seed blocks kept in memory; 0 means 32
	// MiB. At least one block is kept whatever the bound.
	CacheBytes int
	// Mode, if non-zero, sets the permission bits of ApplyFile's output;
	// otherwise an existing output's bits are kept, or the umask's default
	// applies to a new one.
	Mode fs.FileMode
	// Progress, if set, is called with the number of target bytes just
	// written.
	Progress func(n int64)
}

// ApplyResult describes a target Apply produced.
type ApplyResult struct {
	TargetLength int64
	// Copied is the number of target bytes copied from the seed; Literal the
	// number taken from the patch.
	Copied  int64
	Literal int64
	// SHA256 is the target's SHA-256, as checked.
	SHA256  []byte
	Elapsed time.Duration
}

// ReadHeader reads and checks a patch's header: what seed it applies to and
// the length of the target it makes. Errors wrap ErrCorrupt or
// ErrUnsupported, or are r's.
func ReadHeader(r io.Reader) (*Header, error) {
	return newReader(r).readHeader()
}

// Apply writes to out the target that patch makes from seed (seedSize
// bytes, read at random). Before writing anything it checks that the seed
// is the one the patch was made for: its length, then its whole-file hash
// (ErrWrongSeed). It then streams: instructions and literals are read one
// section at a time, every seed block a copy uses is checked against the
// patch's block table before its bytes are used, and at the end the patch's
// trailer checksum and the target's SHA-256 are checked. Memory is a
// section's streams plus ApplyOptions.CacheBytes, whatever the file sizes.
//
// Apply writes before it has seen the end of the patch: when it fails
// (ErrCorrupt for a truncated or damaged patch), what it wrote to out must
// be thrown away. ApplyFile does that, and commits only a verified target.
func Apply(ctx context.Context, seed io.ReaderAt, seedSize int64, patch io.Reader, out io.Writer, opts ApplyOptions) (*ApplyResult, error) {
	t0 := time.Now()
	r := newReader(patch)
	h, err := r.readHeader()
	if err != nil {
		return nil, err
	}
	if err := checkSeed(ctx, h, seed, seedSize); err != nil {
		return nil, err
	}
	res, err := apply(ctx, r, h, seed, out, opts)
	if res != nil {
		res.Elapsed = time.Since(t0)
	}
	return res, err
}

// ApplyFile applies the patch at patchPath to the seed at seedPath and
// commits the target at outPath as `zync get` does: the target is built in
// a temporary file beside outPath, verified, fsynced and renamed over it, so
// outPath only ever holds the verified target or what it held before. The
// seed and patch are opened read-only; outPath may be the seed's path.
// Before anything is created, the patch's trailer checksum is checked (a
// truncated or damaged patch gives ErrCorrupt) and so is the seed
// (ErrWrongSeed).
func ApplyFile(ctx context.Context, seedPath, patchPath, outPath string, opts ApplyOptions) (*ApplyResult, error) {
	t0 := time.Now()
	pf, pst, err := openRegular(patchPath, "patch")
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	r := newReader(pf)
	h, err := r.readHeader()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", patchPath, err)
	}
	if err := checkTrailer(ctx, pf, pst.Size()); err != nil {
		return nil, fmt.Errorf("%s: %w", patchPath, err)
	}
	sf, sst, err := openRegular(seedPath, "seed")
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	if err := checkSeed(ctx, h, sf, sst.Size()); err != nil {
		return nil, fmt.Errorf("%s: %w", seedPath, err)
	}
	tmp, err := createTemp(outPath)
	if err != nil {
		return nil, err
	}
	res, err := apply(ctx, r, h, sf, tmp.f, opts)
	if err != nil {
		tmp.abort()
		return nil, err
	}
	if err := tmp.commit(opts.Mode); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(t0)
	return res, nil
}

// checkTrailer checks the last 32 bytes of the patch file f against the
// SHA-256 of everything before them. It reads with ReadAt and leaves f's
// offset alone.
func checkTrailer(ctx context.Context, f io.ReaderAt, size int64) error {
	if size < int64(len(Magic))+1+sha256.Size {
		return corrupt("truncated: %d bytes", size)
	}
	h := sha256.New()
	if err := hashSection(ctx, h, f, size-sha256.Size); err != nil {
		return fmt.Errorf("read patch: %w", err)
	}
	var tr [sha256.Size]byte
	if _, err := f.ReadAt(tr[:], size-sha256.Size); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read patch: %w", err)
	}
	if !bytes.Equal(h.Sum(nil), tr[:]) {
		return corrupt("checksum mismatch: the patch is truncated or damaged")
	}
	return nil
}

// hashSection hashes the first n bytes of ra.
func hashSection(ctx context.Context, h hash.Hash, ra io.ReaderAt, n int64) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := int(min(int64(len(buf)), n-off))
		k, err := ra.ReadAt(buf[:m], off)
		if k < m {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		h.Write(buf[:m])
		off += int64(m)
	}
	return nil
}

// checkSeed checks the seed's length, then its whole-file hash.
func checkSeed(ctx context.Context, h *Header, seed io.ReaderAt, size int64) error {
	if size != h.SeedLength {
		return fmt.Errorf("%w: it has %d bytes, the patch applies to a file of %d bytes", ErrWrongSeed, size, h.SeedLength)
	}
	hh := h.SeedAlgo.New()
	if err := hashSection(ctx, hh, seed, size); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: it is shorter than %d bytes", ErrWrongSeed, size)
		}
		return fmt.Errorf("read seed: %w", err)
	}
	if got := hh.Sum(nil); !bytes.Equal(got, h.SeedSum) {
		return fmt.Errorf("%w: its %s is %x, the patch applies to %x", ErrWrongSeed, h.SeedAlgo, got, h.SeedSum)
	}
	return nil
}

// blockCache holds seed blocks that matched the patch's block table,
// direct-mapped by block number.
type blockCache struct {
	seed  io.ReaderAt
	size  int64
	t     *BlockTable
	bs    int64
	slots []cslot
	h     hash.Hash
	sum   []byte
}

type cslot struct {
	k    int64
	data []byte
}

func newBlockCache(seed io.ReaderAt, h *Header, cacheBytes int) *blockCache {
	if cacheBytes <= 0 {
		cacheBytes = 32 << 20
	}
	t := &h.Blocks
	n := max(1, min(int64(cacheBytes)/int64(t.Blocksize), t.NumBlocks(h.SeedLength)))
	c := &blockCache{seed: seed, size: h.SeedLength, t: t, bs: int64(t.Blocksize), slots: make([]cslot, n), h: t.Algo.New()}
	for i := range c.slots {
		c.slots[i].k = -1
	}
	return c
}

// block returns the verified bytes of seed block k.
func (c *blockCache) block(k int64) ([]byte, error) {
	s := &c.slots[k%int64(len(c.slots))]
	n := min(c.bs, c.size-k*c.bs)
	if s.k == k {
		return s.data[:n], nil
	}
	s.k = -1
	if s.data == nil {
		s.data = make([]byte, c.bs)
	}
	m, err := c.seed.ReadAt(s.data[:n], k*c.bs)
	if int64(m) < n {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: it ended before block %d (did it change?)", ErrWrongSeed, k)
		}
		return nil, fmt.Errorf("read seed: %w", err)
	}
	clear(s.data[n:])
	c.h.Reset()
	c.h.Write(s.data)
	c.sum = c.h.Sum(c.sum[:0])
	if !bytes.Equal(c.sum[:c.t.StrongLen], c.t.Sum(k)) {
		return nil, fmt.Errorf("%w: block %d (bytes %d-%d) does not match the patch's block sum (did the seed change?)", ErrWrongSeed, k, k*c.bs, k*c.bs+n-1)
	}
	s.k = k
	return s.data[:n], nil
}

// copyTo writes n seed bytes from off to w, from verified blocks.
func (c *blockCache) copyTo(w io.Writer, off, n int64) error {
	for n > 0 {
		k := off / c.bs
		d, err := c.block(k)
		if err != nil {
			return err
		}
		i := off - k*c.bs
		m := min(n, int64(len(d))-i)
		if _, err := w.Write(d[i : i+m]); err != nil {
			return err
		}
		off += m
		n -= m
	}
	return nil
}

// streamBufs are one section's buffers, reused from section to section.
type streamBufs struct {
	stored, instr, lits []byte
}

// stream reads one stored stream and returns its raw bytes. Buffers grow
// only as bytes arrive (a truncated patch allocates no more than it holds)
// and the decoded bytes are bounded by the declared raw length.
func (r *reader) stream(dec *zstd.Decoder, what string, codec byte, raw, stored int64, stBuf, rawBuf *[]byte) ([]byte, error) {
	st := (*stBuf)[:0]
	for int64(len(st)) < stored {
		n := min(stored-int64(len(st)), 1<<20)
		st = slices.Grow(st, int(n))[:int64(len(st))+n]
		if err := r.full(st[int64(len(st))-n:], what); err != nil {
			return nil, err
		}
	}
	*stBuf = st
	if codec == codecRaw {
		return st, nil
	}
	if int64(cap(*rawBuf)) < raw {
		*rawBuf = make([]byte, raw)
	}
	out, err := dec.DecodeAll(st, (*rawBuf)[:0:raw])
	if err != nil {
		return nil, corrupt("%s: %v", what, err)
	}
	if int64(len(out)) != raw {
		return nil, corrupt("%s: %d bytes decoded, %d declared", what, len(out), raw)
	}
	return out, nil
}

// Check reads a whole patch and checks it without its seed: the header, the
// bounds of every section and instruction (copies must lie within the seed's
// length) and the trailer checksum. It cannot check the target's SHA-256,
// which needs the seed. Errors wrap ErrCorrupt or ErrUnsupported, or are
// r's.
func Check(ctx context.Context, r io.Reader) (*Header, error) {
	pr := newReader(r)
	h, err := pr.readHeader()
	if err != nil {
		return nil, err
	}
	if _, err := apply(ctx, pr, h, nil, nil, ApplyOptions{}); err != nil {
		return nil, err
	}
	return h, nil
}

// apply reads the patch's records after its header and writes the target
// to out. With a nil seed it only checks the patch (see Check).
func apply(ctx context.Context, r *reader, h *Header, seed io.ReaderAt, out io.Writer, opts ApplyOptions) (*ApplyResult, error) {
	dry := seed == nil
	if dry {
		out = io.Discard
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(MaxSectionSpan+MaxInstrBytes), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	var cache *blockCache
	if !dry {
		cache = newBlockCache(seed, h, opts.CacheBytes)
	}
	th := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, th), 1<<20)
	res := &ApplyResult{TargetLength: h.TargetLength}
	var bufs streamBufs
	var pos int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tag, err := r.byte("record tag")
		if err != nil {
			return nil, err
		}
		if tag == tagEnd {
			break
		}
		if tag != tagSection {
			return nil, corrupt("unknown record tag %d at byte %d", tag, r.n-1)
		}
		sh, err := r.readSectionHeader(h.TargetLength - pos)
		if err != nil {
			return nil, err
		}
		instr, err := r.stream(dec, "instructions", sh.instrCodec, sh.instrRaw, sh.instrStored, &bufs.stored, &bufs.instr)
		if err != nil {
			return nil, err
		}
		if sh.instrCodec == codecRaw {
			// The literal stream reuses the stored buffer: keep these.
			instr = append(bufs.instr[:0], instr...)
			bufs.instr = instr
		}
		lits, err := r.stream(dec, "literals", sh.litCodec, sh.litRaw, sh.litStored, &bufs.stored, &bufs.lits)
		if err != nil {
			return nil, err
		}
		ops := opReader{b: instr}
		spanLeft, lit := sh.span, int64(0)
		for spanLeft > 0 {
			o, err := ops.next(spanLeft, int64(len(lits))-lit)
			if err != nil {
				return nil, err
			}
			if o.lit > 0 {
				if _, err := bw.Write(lits[lit : lit+o.lit]); err != nil {
					return nil, err
				}
				lit += o.lit
				pos += o.lit
				res.Literal += o.lit
			}
			if o.n > 0 {
				from := pos + o.disp
				if from < 0 || from > h.SeedLength-o.n {
					return nil, corrupt("copy of %d bytes from seed offset %d outside the seed of %d bytes", o.n, from, h.SeedLength)
				}
				if !dry {
					if err := cache.copyTo(bw, from, o.n); err != nil {
						return nil, err
					}
				}
				pos += o.n
				res.Copied += o.n
			}
			spanLeft -= o.lit + o.n
		}
		if len(ops.b) != 0 || lit != int64(len(lits)) {
			return nil, corrupt("section ending at target byte %d: %d instruction bytes and %d literal bytes left over", pos, len(ops.b), int64(len(lits))-lit)
		}
		if opts.Progress != nil {
			opts.Progress(sh.span)
		}
	}
	if pos != h.TargetLength {
		return nil, corrupt("the instructions make %d bytes, the target has %d", pos, h.TargetLength)
	}
	var want [sha256.Size]byte
	if err := r.full(want[:], "target hash"); err != nil {
		return nil, err
	}
	sum := r.h.Sum(nil)
	var tr [sha256.Size]byte
	if _, err := io.ReadFull(r.br, tr[:]); err != nil {
		return nil, r.readErr("trailer", err)
	}
	if !bytes.Equal(sum, tr[:]) {
		return nil, corrupt("checksum mismatch: the patch is damaged")
	}
	if _, err := r.br.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, corrupt("data after the trailer")
		}
		return nil, fmt.Errorf("read patch: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	res.SHA256 = th.Sum(nil)
	if dry {
		res.SHA256 = want[:]
	} else if !bytes.Equal(res.SHA256, want[:]) {
		return nil, corrupt("the target's SHA-256 is %x, the patch says %x", res.SHA256, want)
	}
	return res, nil
}
