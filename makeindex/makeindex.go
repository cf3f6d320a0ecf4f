// Package makeindex builds the block index of a target from a stream: it
// reads the data once, sums blocks on every core, and computes the
// whole-file hashes alongside. Memory is the index plus a fixed number of
// read buffers, whatever the target's size.
package makeindex

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/internal/md4"
	"github.com/zyncio/zync/rollsum"
)

// Options are the index parameters and tuning knobs.
type Options struct {
	Blocksize  int // a power of two
	SeqMatches int
	WeakBytes  int
	StrongLen  int
	Algo       index.StrongAlgo
	// AnchorBits, if not 0, adds the blocks' anchors at that density
	// (index.Anchors; rollsum.AnchorBits gives zync make's choice), if they
	// can serve a scan: not if a block that is neither constant nor the
	// short last block has none (too little variety in its bytes: a short
	// repeated pattern, a few bytes of data among zeros), which makes zync
	// clients scan without them, so they would only add to the index.
	AnchorBits uint
	// KeepUselessAnchors keeps the anchors even then (for tests).
	KeepUselessAnchors bool
	// Workers is how many goroutines sum blocks; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called with the number of bytes just read, from
	// one goroutine at a time.
	Progress func(n int64)
}

// Result is a built index and the whole-file hashes of the data.
type Result struct {
	Index  *index.Index
	SHA1   []byte
	SHA256 []byte
}

// ErrSizeChanged means the stream was not as long as the size it was
// announced with (a file that changed while it was read).
var ErrSizeChanged = errors.New("input size changed while reading")

type chunk struct {
	buf  []byte
	n    int
	off  int64
	refs atomic.Int32
}

// Build reads exactly size bytes from r and returns their index.
func Build(ctx context.Context, r io.Reader, size int64, opts Options) (*Result, error) {
	x := &index.Index{
		Blocksize:  opts.Blocksize,
		Length:     size,
		SeqMatches: opts.SeqMatches,
		WeakBytes:  opts.WeakBytes,
		StrongLen:  opts.StrongLen,
		Algo:       opts.Algo,
	}
	bs := opts.Blocksize
	if bs <= 0 || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("blocksize %d is not a power of two", bs)
	}
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	nblocks := x.NumBlocks()
	if nblocks > index.MaxBlocks {
		return nil, fmt.Errorf("%d blocks of %d bytes is more than the limit of %d blocks: use a larger blocksize", nblocks, bs, int64(index.MaxBlocks))
	}
	x.Weak = make([]uint32, nblocks)
	x.Strong = make([]byte, nblocks*int64(opts.StrongLen))
	if b := opts.AnchorBits; b != 0 {
		if b < rollsum.MinAnchorBits || b > rollsum.MaxAnchorBits || bs > 1<<16 {
			return nil, fmt.Errorf("anchor density 2^-%d with blocksize %d: want %d to %d bits and blocks of at most 64 KiB", b, bs, rollsum.MinAnchorBits, rollsum.MaxAnchorBits)
		}
		x.Anchors = &index.Anchors{Bits: int(b), Off: make([]uint16, nblocks), Key: make([]uint32, nblocks)}
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunkSize := max(4<<20, bs)
	nbuf := workers*2 + 4
	free := make(chan *chunk, nbuf)
	for range nbuf {
		free <- &chunk{buf: make([]byte, chunkSize)}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c
		}
	}

	// Whole-file hashers, each fed every chunk in order.
	sha1h, sha256h := sha1.New(), sha256.New()
	wholes := []hash.Hash{sha1h, sha256h}
	wholeCh := make([]chan *chunk, len(wholes))
	for i, h := range wholes {
		ch := make(chan *chunk, nbuf)
		wholeCh[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				h.Write(c.buf[:c.n])
				release(c)
			}
		}()
	}

	blockCh := make(chan *chunk, nbuf)
	mask := x.WeakMask()
	var unanchored atomic.Bool // a block no scan can find by its anchor
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := opts.Algo.New()
			var sum [64]byte
			pad := make([]byte, bs)
			// The sums of an all-zero block, computed once: disk images and
			// sparse files are mostly such blocks.
			h.Write(pad)
			zeroWeak, zeroStrong := rollsum.Sum(pad)&mask, h.Sum(nil)
			var md4s md4Batch
			for c := range blockCh {
				for o := 0; o < c.n; o += bs {
					blk := (c.off + int64(o)) / int64(bs)
					p := c.buf[o:min(o+bs, c.n)]
					// Once a block rules the anchors out, no more are
					// searched for (nor their arrays' pages touched).
					if a := x.Anchors; a != nil && !unanchored.Load() {
						// Within the block's own bytes, never its padding.
						off, key, ok := rollsum.FindAnchor(p, opts.AnchorBits)
						if !ok {
							off = index.NoAnchor
							// A constant block needs no anchor, nor does a
							// short last block (see package scan); any other
							// block without one keeps zync clients from
							// using the anchors at all.
							if rollsum.RunLen(p, p[0]) != len(p) && len(p) == bs {
								unanchored.Store(true)
							}
						}
						a.Off[blk], a.Key[blk] = uint16(off), key
					}
					full := len(p) == bs
					if !full {
						copy(pad, p)
						clear(pad[len(p):])
						p = pad
					}
					if isZero(p) {
						x.Weak[blk] = zeroWeak
						copy(x.StrongSum(blk), zeroStrong)
						continue
					}
					x.Weak[blk] = rollsum.Sum(p) & mask
					if full && opts.Algo == index.MD4 {
						md4s.add(x, blk, p)
						continue
					}
					h.Reset()
					h.Write(p)
					copy(x.StrongSum(blk), h.Sum(sum[:0]))
				}
				// The batch refers to c.buf: it must be empty before c is
				// handed back.
				md4s.flush(x)
				release(c)
			}
		}()
	}

	readErr := func() error {
		defer func() {
			close(blockCh)
			for _, ch := range wholeCh {
				close(ch)
			}
		}()
		var off int64
		for off < size {
			var c *chunk
			select {
			case c = <-free:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			want := int(min(int64(chunkSize), size-off))
			n, err := io.ReadFull(r, c.buf[:want])
			if err != nil {
				free <- c
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return fmt.Errorf("%w: got %d bytes, expected %d", ErrSizeChanged, off+int64(n), size)
				}
				return fmt.Errorf("read at offset %d: %w", off, err)
			}
			c.n, c.off = n, off
			c.refs.Store(int32(1 + len(wholeCh)))
			blockCh <- c
			for _, ch := range wholeCh {
				ch <- c
			}
			off += int64(n)
			if opts.Progress != nil {
				opts.Progress(int64(n))
			}
		}
		return nil
	}()
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if unanchored.Load() && !opts.KeepUselessAnchors {
		x.Anchors = nil
	}
	return &Result{Index: x, SHA1: sha1h.Sum(nil), SHA256: sha256h.Sum(nil)}, nil
}

// md4Batch collects full blocks to hash eight at a time with
// md4.SumBlocks, several times faster than one at a time where the CPU has
// vector instructions for it.
type md4Batch struct {
	n    int
	msgs [8][]byte
	blks [8]int64
	sums [8][md4.Size]byte
}

// add queues block blk, whose data is p, and hashes the batch when it is
// full, storing the strong sums in x.
func (b *md4Batch) add(x *index.Index, blk int64, p []byte) {
	b.msgs[b.n], b.blks[b.n] = p, blk
	b.n++
	if b.n == len(b.msgs) {
		b.flush(x)
	}
}

// flush hashes the queued blocks, stores their strong sums in x and empties
// the batch.
func (b *md4Batch) flush(x *index.Index) {
	md4.SumBlocks(b.sums[:b.n], b.msgs[:b.n])
	for i := range b.n {
		copy(x.StrongSum(b.blks[i]), b.sums[i][:])
	}
	clear(b.msgs[:])
	b.n = 0
}

// isZero reports whether p holds only zero bytes.
func isZero(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p) != 0 {
			return false
		}
		p = p[8:]
	}
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}
