package scan

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
)

// pasted returns a target of pieces of src at random alignments and some
// fresh bytes (the way a tar holds files at any offset).
func pasted(r *rand.Rand, src []byte, bs, n int) []byte {
	var target []byte
	for len(target) < n {
		if r.IntN(4) == 0 {
			target = append(target, randBytes(r, r.IntN(2*bs))...)
			continue
		}
		from := r.IntN(len(src) - bs)
		k := min(len(src)-from, bs+r.IntN(6*bs))
		target = append(target, src[from:from+k]...)
	}
	return target
}

// TestAnchorScanMatchesClassic checks that the anchor scan finds exactly the
// blocks the classic scan finds, on targets pasted together from a seed at
// every alignment, with one worker (so the order of finds is the same) and
// with several.
func TestAnchorScanMatchesClassic(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		for _, bs := range []int{1024, 4096} {
			src := randBytes(r, 60*bs)
			target := pasted(r, src, bs, 80*bs)
			for _, seq := range []int{1, 2} {
				plain := buildIndex(t, target, bs, seq, 3, 6)
				anch := buildIndexAnchors(t, target, bs, seq, 3, 6, rollsum.AnchorBits(bs))
				if m := NewMatcher(anch); m.anch == nil {
					t.Fatalf("seed %d bs %d seq %d: the anchor scan is not used", seed, bs, seq)
				}
				for _, opts := range []Options{{Workers: 1, BufferSize: 1 << 20}, {Workers: 3, BufferSize: 5 * bs}} {
					_, want := scanAll(t, plain, src, opts)
					out, got := scanAll(t, anch, src, opts)
					checkFound(t, anch, target, out, got)
					// With several workers the order of finds, and so the
					// jumps, differ from run to run.
					if opts.Workers == 1 && !sameBits(got, want) {
						t.Errorf("seed %d bs %d seq %d %+v: anchors found %d blocks, the classic scan %d", seed, bs, seq, opts, got.Count(), want.Count())
					}
				}
			}
		}
	}
}

// TestAnchorScanConstantBlocks: blocks of one byte value have no anchor;
// they are filled without a seed once their strong sums agree, and the
// anchor scan serves the rest.
func TestAnchorScanConstantBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const bs = 2048
	src := randBytes(r, 30*bs)
	var target []byte
	target = append(target, src[100:100+5*bs]...)
	target = append(target, make([]byte, 3*bs)...)             // zeros
	target = append(target, bytes.Repeat([]byte{0xab}, bs)...) // 0xab
	target = append(target, src[7*bs:20*bs]...)
	target = append(target, make([]byte, 777)...) // a short zero last block
	for _, seq := range []int{1, 2} {
		x := buildIndexAnchors(t, target, bs, seq, 4, 8, rollsum.AnchorBits(bs))
		m := NewMatcher(x)
		if m.anch == nil || len(m.consts) == 0 {
			t.Fatalf("seq %d: anchor scan %v, %d constant blocks", seq, m.anch != nil, len(m.consts))
		}
		out, known := scanAll(t, x, src, Options{})
		checkFound(t, x, target, out, known)
		for k := int64(0); k < x.NumBlocks(); k++ {
			start := int(k) * bs
			if bytes.Count(target[start:min(start+bs, len(target))], target[start:start+1]) == min(bs, len(target)-start) && !known.Has(k) {
				t.Errorf("seq %d: constant block %d not filled", seq, k)
			}
		}
		if known.Count() < x.NumBlocks()-3 {
			t.Errorf("seq %d: found %d of %d blocks", seq, known.Count(), x.NumBlocks())
		}
	}
}

// TestAnchorScanFallback: where the anchor scan cannot serve the index, the
// classic scan runs and finds the blocks.
func TestAnchorScanFallback(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const bs = 1024
	src := randBytes(r, 20*bs)
	periodic := bytes.Repeat([]byte("ab"), bs/2) // no window of it is an anchor
	if _, _, ok := rollsum.FindAnchor(periodic, rollsum.AnchorBits(bs)); ok {
		t.Fatal("the periodic block has an anchor; pick another pattern")
	}
	target := append(append(bytes.Clone(src[:8*bs]), periodic...), src[8*bs:16*bs]...)
	seed := append(append(randBytes(r, 100), target...), randBytes(r, 100)...)

	x := buildIndexAnchors(t, target, bs, 2, 4, 8, rollsum.AnchorBits(bs))
	if m := NewMatcher(x); m.anch != nil {
		t.Fatal("anchor scan used for an index with a block it cannot find")
	}
	out, known := scanAll(t, x, seed, Options{})
	checkFound(t, x, target, out, known)
	if !known.Full() {
		t.Errorf("found %d of %d blocks", known.Count(), x.NumBlocks())
	}

	// Hostile anchors: one key at many offsets would make each seed
	// window with that key cost many checks.
	big := randBytes(r, 100*bs)
	y := buildIndexAnchors(t, big, bs, 2, 4, 8, rollsum.AnchorBits(bs))
	for k := range y.Anchors.Off {
		y.Anchors.Off[k], y.Anchors.Key[k] = uint16(k), 12345
	}
	if m := NewMatcher(y); m.anch != nil {
		t.Error("anchor scan used with one key at 99 offsets")
	}
	// Wrong keys hide their blocks, nothing worse.
	z := buildIndexAnchors(t, src, bs, 2, 4, 8, rollsum.AnchorBits(bs))
	for k := range z.Anchors.Key {
		z.Anchors.Key[k]++
	}
	out, known = scanAll(t, z, src, Options{})
	checkFound(t, z, src, out, known)
}

// TestAnchorsLastBlock: the short last block is found through an anchor in
// its own bytes, with the seed ending where the target ends or going on.
func TestAnchorsLastBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	const bs = 1024
	target := randBytes(r, 10*bs+900)
	x := buildIndexAnchors(t, target, bs, 1, 4, 8, rollsum.AnchorBits(bs))
	if x.Anchors.Off[10] == index.NoAnchor {
		t.Fatal("no anchor in the last block: pick another random seed")
	}
	// Its sums are of its bytes zero-padded: it matches where the seed
	// ends or zeros follow.
	for _, seed := range [][]byte{target, append(randBytes(r, 333), target...), append(bytes.Clone(target[5*bs:]), make([]byte, 5000)...)} {
		out, known := scanAll(t, x, seed, Options{})
		checkFound(t, x, target, out, known)
		if !known.Has(10) {
			t.Errorf("last block not found in a seed of %d bytes", len(seed))
		}
	}
}

// sameBits reports whether a and b have the same bits set.
func sameBits(a, b *Bitmap) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		if a.Has(i) != b.Has(i) {
			return false
		}
	}
	return true
}
