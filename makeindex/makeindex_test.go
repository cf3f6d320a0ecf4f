package makeindex

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/zyncio/zync/index"
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
