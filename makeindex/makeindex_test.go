package makeindex

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/internal/md4"
	"github.com/zyncio/zync/rollsum"
)

func TestBuildMatchesSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{0, 1, 1023, 1024, 1025, 5<<20 + 77} {
		data := make([]byte, size)
		for i := range data {
			// Long zero stretches too: zero blocks take a shortcut.
			if i/3000%3 != 0 {
				data[i] = byte(r.Uint32())
			}
		}
		for _, algo := range []index.StrongAlgo{index.MD4, index.SHA224} {
			res, err := Build(context.Background(), bytes.NewReader(data), int64(size), Options{
				Blocksize: 1024, SeqMatches: 2, WeakBytes: 3, StrongLen: 7, Algo: algo, Workers: 3,
			})
			if err != nil {
				t.Fatal(err)
			}
			x := res.Index
			if err := x.Validate(); err != nil {
				t.Fatal(err)
			}
			for k := int64(0); k < x.NumBlocks(); k++ {
				blk := make([]byte, 1024)
				copy(blk, data[k*1024:])
				if w := rollsum.Sum(blk) & x.WeakMask(); w != x.Weak[k] {
					t.Fatalf("size %d block %d: weak %#x, want %#x", size, k, x.Weak[k], w)
				}
				h := algo.New()
				h.Write(blk)
				if !bytes.Equal(h.Sum(nil)[:7], x.StrongSum(k)) {
					t.Fatalf("size %d block %d: strong sum differs", size, k)
				}
			}
			if s1 := sha1.Sum(data); !bytes.Equal(res.SHA1, s1[:]) {
				t.Fatalf("size %d: SHA-1 differs", size)
			}
			if s2 := sha256.Sum256(data); !bytes.Equal(res.SHA256, s2[:]) {
				t.Fatalf("size %d: SHA-256 differs", size)
			}
		}
	}
}

// TestBuildMD4Batches checks the MD4 sums, which are computed eight blocks
// at a time, across blocksizes, chunk boundaries (chunks are 4 MiB) and zero
// blocks that leave batches part-filled.
func TestBuildMD4Batches(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, bs := range []int{16, 64, 2048, 65536} {
		t.Run(strconv.Itoa(bs), func(t *testing.T) { testBuildMD4Batches(t, r, bs) })
	}
}

func testBuildMD4Batches(t *testing.T, r *rand.Rand, bs int) {
	const chunk = 4 << 20
	sizes := []int{bs - 1, bs, 8*bs + 1, 9 * bs}
	if bs < 2048 {
		sizes = append(sizes, 1000*bs+7)
	} else { // fewer, larger blocks: cheap enough to cross chunks
		sizes = append(sizes,
			chunk+bs+100,     // one full block, then a part, in the last chunk
			chunk+3*bs,       // three full blocks in the last chunk
			chunk+11*bs+bs/2, // a full batch and three more
		)
	}
	for _, size := range sizes {
		for zeros, strongLen := range []int{16, 3, 5} { // no zero blocks, about half, most
			data := make([]byte, size+8)
			for k := 0; k < size; k += bs {
				if zeros == 1 && r.IntN(2) == 0 || zeros == 2 && r.IntN(10) != 0 {
					continue
				}
				for i := k; i < min(k+bs, size); i += 8 {
					binary.LittleEndian.PutUint64(data[i:], r.Uint64())
				}
			}
			data = data[:size]
			res, err := Build(context.Background(), bytes.NewReader(data), int64(size), Options{
				Blocksize: bs, SeqMatches: 1, WeakBytes: 4, StrongLen: strongLen, Algo: index.MD4, Workers: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			x := res.Index
			blk := make([]byte, bs)
			for k := int64(0); k < x.NumBlocks(); k++ {
				clear(blk)
				copy(blk, data[k*int64(bs):])
				want := md4.Sum(blk)
				if !bytes.Equal(want[:strongLen], x.StrongSum(k)) {
					t.Fatalf("size %d zeros %d: block %d: strong sum %x, want %x",
						size, zeros, k, x.StrongSum(k), want[:strongLen])
				}
			}
		}
	}
}

func TestBuildShortInput(t *testing.T) {
	_, err := Build(context.Background(), bytes.NewReader(make([]byte, 100)), 5000, Options{
		Blocksize: 1024, SeqMatches: 2, WeakBytes: 2, StrongLen: 4,
	})
	if !errors.Is(err, ErrSizeChanged) {
		t.Fatalf("got %v, want ErrSizeChanged", err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrClosedPipe
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestBuildReadError(t *testing.T) {
	_, err := Build(context.Background(), &failingReader{n: 9 << 20}, 20<<20, Options{
		Blocksize: 2048, SeqMatches: 2, WeakBytes: 2, StrongLen: 4,
	})
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("got %v, want the read error", err)
	}
}

func TestBuildCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Build(ctx, bytes.NewReader(make([]byte, 64<<20)), 64<<20, Options{
		Blocksize: 2048, SeqMatches: 2, WeakBytes: 2, StrongLen: 4,
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// randomData returns n pseudo-random bytes.
func randomData(n int) []byte {
	data := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(data[i:], r.Uint64())
	}
	return data
}

func benchmarkBuild(b *testing.B, data []byte, bs int) {
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), Options{
			Blocksize: bs, SeqMatches: 2, WeakBytes: 3, StrongLen: 5,
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild2048 is BenchmarkBuild with zsync's usual blocksize, on
// 64 MiB.
func BenchmarkBuild2048(b *testing.B) {
	benchmarkBuild(b, randomData(64<<20), 2048)
}

// BenchmarkBuildSparse is a mostly-zero 64 MiB input with 2048-byte
// blocks: one block in ten holds data.
func BenchmarkBuildSparse(b *testing.B) {
	data := randomData(64 << 20)
	for k := 0; k < len(data); k += 2048 {
		if k/2048%10 != 0 {
			clear(data[k : k+2048])
		}
	}
	benchmarkBuild(b, data, 2048)
}

// BenchmarkBuild measures zync make's core: block sums on all cores with
// SHA-1 and SHA-256 of the whole input alongside.
func BenchmarkBuild(b *testing.B) {
	data := make([]byte, 128<<20)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Build(context.Background(), bytes.NewReader(data), int64(len(data)), Options{
			Blocksize: 4096, SeqMatches: 2, WeakBytes: 3, StrongLen: 5,
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuildAnchors: every block's anchor is rollsum.FindAnchor's, and the
// anchors are left out when a block that is neither constant nor the short
// last block has none.
func TestBuildAnchors(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	const bs = 2048
	random := make([]byte, 40*bs+100)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	withZeros := append(append(bytes.Clone(random[:10*bs]), make([]byte, 5*bs)...), bytes.Repeat([]byte{7}, bs)...)
	periodic := append(bytes.Clone(random[:10*bs]), bytes.Repeat([]byte("ab"), bs)...)
	for _, tt := range []struct {
		name    string
		data    []byte
		anchors bool
	}{
		{"random, short last block", random, true},
		{"constant blocks", withZeros, true},
		{"a repeated pattern", periodic, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bits := rollsum.AnchorBits(bs)
			res, err := Build(context.Background(), bytes.NewReader(tt.data), int64(len(tt.data)), Options{
				Blocksize: bs, SeqMatches: 2, WeakBytes: 3, StrongLen: 5, Algo: index.MD4, AnchorBits: bits,
			})
			if err != nil {
				t.Fatal(err)
			}
			a := res.Index.Anchors
			if (a != nil) != tt.anchors {
				t.Fatalf("anchors %v, want %v", a != nil, tt.anchors)
			}
			if a == nil {
				return
			}
			if err := res.Index.Validate(); err != nil {
				t.Fatal(err)
			}
			for k := range res.Index.NumBlocks() {
				p := tt.data[k*bs : min((k+1)*bs, int64(len(tt.data)))]
				off, key, ok := rollsum.FindAnchor(p, bits)
				if !ok {
					off = index.NoAnchor
				}
				if a.Off[k] != uint16(off) || a.Key[k] != key {
					t.Fatalf("block %d: anchor %d %#x, want %d %#x", k, a.Off[k], a.Key[k], off, key)
				}
			}
		})
	}
}
