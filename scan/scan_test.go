package scan

import (
	"bytes"
	"context"
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/makeindex"
	"github.com/zyncio/zync/rollsum"
)

func buildIndex(t testing.TB, data []byte, bs, seq, weak, strong int) *index.Index {
	t.Helper()
	return buildIndexAnchors(t, data, bs, seq, weak, strong, 0)
}

// buildIndexAnchors is buildIndex with anchors at density 2^-anchorBits (0
// for none).
func buildIndexAnchors(t testing.TB, data []byte, bs, seq, weak, strong int, anchorBits uint) *index.Index {
	t.Helper()
	res, err := makeindex.Build(context.Background(), bytes.NewReader(data), int64(len(data)), makeindex.Options{
		Blocksize: bs, SeqMatches: seq, WeakBytes: weak, StrongLen: strong, Algo: index.MD4, AnchorBits: anchorBits,
		// The scan decides itself whether anchors serve.
		KeepUselessAnchors: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Index.Validate(); err != nil {
		t.Fatal(err)
	}
	return res.Index
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// scanAll scans seed and returns the output assembled from found blocks and the bitmap.
func scanAll(t testing.TB, x *index.Index, seed []byte, opts Options) ([]byte, *Bitmap) {
	t.Helper()
	m := NewMatcher(x)
	known := NewBitmap(x.NumBlocks())
	out := make([]byte, x.Length)
	var mu sync.Mutex
	_, err := m.ScanReaderAt(context.Background(), bytes.NewReader(seed), int64(len(seed)), known, func(k int64, data []byte) error {
		if len(data) != x.Blocksize {
			t.Errorf("emit got %d bytes, want %d", len(data), x.Blocksize)
		}
		mu.Lock()
		copy(out[k*int64(x.Blocksize):], data[:x.BlockLen(k)])
		mu.Unlock()
		return nil
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out, known
}

// checkFound asserts that every known block holds exactly the target's bytes.
func checkFound(t *testing.T, x *index.Index, target, out []byte, known *Bitmap) {
	t.Helper()
	bs := int64(x.Blocksize)
	for k := int64(0); k < x.NumBlocks(); k++ {
		if !known.Has(k) {
			continue
		}
		end := min((k+1)*bs, x.Length)
		if !bytes.Equal(out[k*bs:end], target[k*bs:end]) {
			t.Fatalf("block %d filled with wrong data", k)
		}
	}
}

func TestScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	base := randBytes(r, 300_000+123)
	edited := bytes.Clone(base)
	for i := 0; i < 10; i++ {
		edited[r.IntN(len(edited))] ^= 0xff
	}
	inserted := append(append(randBytes(r, 777), base[:150_000]...), append(randBytes(r, 5), base[150_000:]...)...)
	zeros := make([]byte, 1<<20)
	mostlyZeros := bytes.Clone(zeros)
	copy(mostlyZeros[500_000:], randBytes(r, 3000))

	tests := []struct {
		name          string
		target, seed  []byte
		bs, seq, weak int
		strong        int
		minFound      float64 // fraction of blocks that must be found
		opts          Options
	}{
		{"identical seq2", base, base, 2048, 2, 2, 4, 1, Options{}},
		{"identical seq1", base, base, 2048, 1, 4, 16, 1, Options{}},
		{"identical tiny buffers many workers", base, base, 1024, 2, 3, 5, 1, Options{Workers: 7, BufferSize: 4096}},
		{"edited", base, edited, 2048, 2, 2, 4, 0.85, Options{}},
		{"insertions", base, inserted, 2048, 2, 2, 4, 0.95, Options{Workers: 3, BufferSize: 10000}},
		{"insertions seq1", base, inserted, 4096, 1, 4, 8, 0.95, Options{}},
		{"unrelated", base, randBytes(r, 200_000), 2048, 2, 2, 3, 0, Options{}},
		{"all zeros", zeros, zeros, 2048, 2, 2, 4, 1, Options{}},
		{"zeros target, mostly zero seed", mostlyZeros, zeros, 2048, 2, 2, 4, 0.99, Options{}},
		{"64KiB blocks on zeros", mostlyZeros, mostlyZeros, 65536, 2, 4, 16, 1, Options{}},
		{"seed shorter than a block", base[:5000], base[:100], 2048, 2, 2, 4, 0, Options{}},
		{"target shorter than a block", base[:100], base[:100], 2048, 1, 2, 4, 1, Options{}},
	}
	for _, tt := range tests {
		for _, anchors := range []bool{false, true} {
			name := tt.name
			var bits uint
			if anchors {
				name += " anchors"
				bits = max(rollsum.AnchorBits(tt.bs), rollsum.MinAnchorBits)
			}
			t.Run(name, func(t *testing.T) {
				x := buildIndexAnchors(t, tt.target, tt.bs, tt.seq, tt.weak, tt.strong, bits)
				out, known := scanAll(t, x, tt.seed, tt.opts)
				checkFound(t, x, tt.target, out, known)
				got := float64(known.Count()) / float64(x.NumBlocks())
				if got < tt.minFound {
					t.Errorf("found %d of %d blocks (%.3f), want at least %.3f", known.Count(), x.NumBlocks(), got, tt.minFound)
				}
				if tt.minFound == 1 && !bytes.Equal(out, tt.target) {
					t.Error("all blocks found but output differs from target")
				}
			})
		}
	}
}

// TestDuplicateBlocksFilledFromOnePosition checks that a target made of many
// copies of one block is filled from a seed holding that block once.
func TestDuplicateBlocksFilledFromOnePosition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	blk := randBytes(r, 1024)
	var target []byte
	for range 200 {
		target = append(target, blk...)
	}
	seed := append(append(randBytes(r, 33), blk...), blk...)
	x := buildIndex(t, target, 1024, 2, 2, 4)
	out, known := scanAll(t, x, seed, Options{})
	if !known.Full() || !bytes.Equal(out, target) {
		t.Fatalf("found %d of %d blocks", known.Count(), x.NumBlocks())
	}
}

func TestBitmapMissing(t *testing.T) {
	b := NewBitmap(200)
	for i := int64(0); i < 200; i++ {
		if i < 10 || (i >= 64 && i < 128) || i == 150 {
			b.Claim(i)
		}
	}
	var got [][2]int64
	b.Missing(func(f, l int64) { got = append(got, [2]int64{f, l}) })
	want := [][2]int64{{10, 63}, {128, 149}, {151, 199}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if b.Count() != 10+64+1 {
		t.Fatalf("count %d", b.Count())
	}
}

func benchScan(b *testing.B, target, seed []byte, anchors bool) {
	var bits uint
	if anchors {
		bits = rollsum.AnchorBits(4096)
	}
	x := buildIndexAnchors(b, target, 4096, 2, 2, 5, bits)
	m := NewMatcher(x)
	b.SetBytes(int64(len(seed)))
	b.ResetTimer()
	for b.Loop() {
		known := NewBitmap(x.NumBlocks())
		if _, err := m.ScanReaderAt(context.Background(), bytes.NewReader(seed), int64(len(seed)), known, func(int64, []byte) error { return nil }, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanUnrelated is the worst case: nothing matches, every byte is rolled.
func BenchmarkScanUnrelated(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	benchScan(b, randBytes(r, 64<<20), randBytes(r, 64<<20), false)
}

// BenchmarkScanUnrelatedAnchors is BenchmarkScanUnrelated with anchors.
func BenchmarkScanUnrelatedAnchors(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	benchScan(b, randBytes(r, 64<<20), randBytes(r, 64<<20), true)
}

// BenchmarkScanTypical: the seed is the target with scattered edits.
func BenchmarkScanTypical(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	target := randBytes(r, 64<<20)
	seed := bytes.Clone(target)
	for range 1000 {
		seed[r.IntN(len(seed))]++
	}
	benchScan(b, target, seed, false)
}

// TestRoll2Ring: roll2 with its ring of sums (phase 2) stops at the same
// positions with the same sums as without, whatever the blocksize (smaller
// or larger than a chunk, the ring wrapping at every offset).
func TestRoll2Ring(t *testing.T) {
	for _, bs := range []int{16, 64, 256, 512, 1024, 4096} {
		r := rand.New(rand.NewPCG(uint64(bs), 9))
		target := randBytes(r, 64*bs)
		x := buildIndex(t, target, bs, 2, 2, 4)
		m := NewMatcher(x)
		// The seed: unrelated bytes with pieces of the target, so that the
		// prefilter passes now and then.
		seed := randBytes(r, 200*bs+2*bs)
		for range 40 {
			k := r.IntN(63)
			copy(seed[r.IntN(198*bs):], target[k*bs:(k+2)*bs])
		}
		limit := 200 * bs
		type stop struct {
			x              int
			a0, b0, a1, b1 uint32
		}
		run := func(ring []uint32) []stop {
			r := &sumRing{s: ring, lo: 0, hi: -1}
			var out []stop
			a0, b0 := sums(seed[:bs])
			a1, b1 := sums(seed[bs : 2*bs])
			jr := rand.New(rand.NewPCG(1, 2)) // the same jumps in both runs
			for x := 0; x < limit-1; {
				x, a0, b0, a1, b1 = m.roll2(seed, x, limit-1, a0, b0, a1, b1, deadNone, r)
				out = append(out, stop{x, a0 & 0xffff, b0 & 0xffff, a1 & 0xffff, b1 & 0xffff})
				// The ring holds the true sum of every position it claims.
				for q := r.lo; ring != nil && q <= r.hi; q += 1 + (r.hi-r.lo)/1024 {
					a, b := sums(seed[q : q+bs])
					if got, want := ring[q&(len(ring)-1)], a<<16|b&0xffff; got != want {
						t.Fatalf("bs %d: ring [%d, %d] after the stop at %d: sum at %d is %#x, want %#x", bs, r.lo, r.hi, x, q, got, want)
					}
				}
				// Now and then resume elsewhere, as Scan does after a match.
				if j := jr.IntN(bs + 4); jr.IntN(2) == 0 && x+j < limit-1 {
					x += j
					a0, b0 = sums(seed[x : x+bs])
					a1, b1 = sums(seed[x+bs : x+2*bs])
				}
			}
			return out
		}
		want := run(nil)
		got := run(make([]uint32, 1<<bits.Len(uint(bs+rollChunk))))
		if len(got) != len(want) {
			t.Fatalf("bs %d: %d stops with the ring, %d without", bs, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("bs %d: stop %d: %+v with the ring, %+v without", bs, i, got[i], want[i])
			}
		}
		if len(want) < 10 {
			t.Errorf("bs %d: only %d stops; the test wants prefilter hits", bs, len(want))
		}
	}
}

func TestBitmapNextUnset(t *testing.T) {
	b := NewBitmap(200)
	for i := int64(0); i < 200; i++ {
		if i != 70 && i != 130 && i < 190 {
			b.Claim(i)
		}
	}
	for _, c := range []struct{ from, want int64 }{{0, 70}, {70, 70}, {71, 130}, {131, 190}, {195, 195}, {200, 200}} {
		if got := b.NextUnset(c.from); got != c.want {
			t.Errorf("NextUnset(%d) = %d, want %d", c.from, got, c.want)
		}
	}
	full := NewBitmap(128)
	for i := int64(0); i < 128; i++ {
		full.Claim(i)
	}
	if got := full.NextUnset(0); got != 128 {
		t.Errorf("full: NextUnset(0) = %d, want 128", got)
	}
}

// BenchmarkNewMatcher builds the lookup structure for a 256 MiB target of
// 4 KiB blocks (65,536 of them): work every get does before scanning.
func BenchmarkNewMatcher(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x := buildIndex(b, randBytes(r, 256<<20), 4096, 2, 2, 5)
	b.ResetTimer()
	for b.Loop() {
		NewMatcher(x)
	}
}

// TestPrefilterFalsePositives: random keys that are not in the table pass
// the prefilter of a 65,536-block target rarely (each pass costs a table
// lookup). The rate is a property of the filter's layout, fixed by the seeds.
func TestPrefilterFalsePositives(t *testing.T) {
	const n = 1 << 16
	r := rand.New(rand.NewPCG(5, 6))
	x := &index.Index{Blocksize: 4096, Length: n * 4096, SeqMatches: 2, WeakBytes: 2, StrongLen: 5, Algo: index.MD4,
		Weak: make([]uint32, n), Strong: make([]byte, 5*n)}
	for i := range x.Weak {
		x.Weak[i] = r.Uint32() & x.WeakMask()
	}
	copy(x.Strong, randBytes(r, len(x.Strong)))
	m := NewMatcher(x)
	in := make(map[uint64]bool, n)
	for _, e := range m.ents {
		in[uint64(e.w0)<<32|uint64(e.w1)] = true
	}
	const q = 1 << 21
	var fw0, fw1 []uint32 // the false positives
	for range q {
		w0, w1 := r.Uint32()&x.WeakMask(), r.Uint32()&x.WeakMask()
		if !in[uint64(w0)<<32|uint64(w1)] && m.maybe(w0, w1) {
			fw0, fw1 = append(fw0, w0), append(fw1, w1)
		}
	}
	rate := float64(len(fw0)) / q
	t.Logf("%d of %d keys not in the table passed (%.3f%%)", len(fw0), q, 100*rate)
	if rate > 0.001 {
		t.Errorf("false-positive rate %.3f%%, want at most 0.1%%", 100*rate)
	}
	// The rolling loop passes over false positives (present) and stops at
	// a key of the table.
	if got := m.firstHit(fw0, fw1, deadNone); got != -1 {
		t.Errorf("firstHit stopped at false positive %d of %d", got, len(fw0))
	}
	e := m.ents[len(m.ents)/2]
	if got := m.firstHit(append(fw0, e.w0), append(fw1, e.w1), deadNone); got != len(fw0) {
		t.Errorf("firstHit = %d, want %d (the table's key after the false positives)", got, len(fw0))
	}
}
