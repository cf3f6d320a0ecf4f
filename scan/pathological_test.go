package scan

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/zyncio/zync/rollsum"
)

// TestPathologicalInputs are inputs that make naive scanners crawl: long
// runs of one byte value, where every position hits the lookup table (disk
// images), repeated identical blocks (VM images), and 64 KiB blocks, where
// zsync's weak sum gives the first byte of a window no weight. Each must
// finish quickly; a scanner without bounded lookups would take hours at
// these sizes, which the test binary's -timeout turns into a failure.
func TestPathologicalInputs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const size = 64 << 20
	zeros := make([]byte, size)
	ones := bytes.Repeat([]byte{0xff}, size)
	sparse := make([]byte, size) // zeros with islands of data
	for i := 0; i < size; i += 4 << 20 {
		copy(sparse[i:], randBytes(r, 10_000))
	}
	blk := randBytes(r, 4096)
	repeated := bytes.Repeat(blk, size/4096)
	repeated[size/2] ^= 1
	tests := []struct {
		name         string
		target, seed []byte
		bs           int
	}{
		{"zeros vs zeros", sparse, zeros, 4096},
		{"sparse vs sparse", sparse, sparse, 4096},
		{"ones vs zeros", sparse, ones, 4096},
		{"repeated block", repeated, repeated, 4096},
		{"64KiB blocks on zeros", sparse, zeros, 65536},
		{"64KiB blocks on repeated", repeated, sparse, 65536},
	}
	for _, tt := range tests {
		for _, bits := range []uint{0, rollsum.AnchorBits(tt.bs)} {
			name := tt.name
			if bits != 0 {
				name += " anchors"
			}
			t.Run(name, func(t *testing.T) {
				x := buildIndexAnchors(t, tt.target, tt.bs, 2, 3, 5, bits)
				m := NewMatcher(x)
				known := NewBitmap(x.NumBlocks())
				_, err := m.ScanReaderAt(context.Background(), bytes.NewReader(tt.seed), int64(len(tt.seed)), known,
					func(int64, []byte) error { return nil }, Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d of %d blocks found, anchor scan %v", known.Count(), x.NumBlocks(), m.anch != nil)
			})
		}
	}
}

// TestPeriodicAnchors: a seed of a two-byte pattern whose windows are
// anchors makes every other position an anchor; the anchor scan must pass
// over it at a steady pace, not look each one up.
func TestPeriodicAnchors(t *testing.T) {
	const bs = 4096
	bits := rollsum.AnchorBits(bs)
	var pat []byte
	for c := 0; c < 1<<16 && pat == nil; c++ {
		w := bytes.Repeat([]byte{byte(c), byte(c >> 8)}, rollsum.AnchorWindow/2)
		if c&0xff != c>>8 && rollsum.IsAnchor(rollsum.Sum(w), bits) {
			pat = w[:2]
		}
	}
	r := rand.New(rand.NewPCG(13, 14))
	target := randBytes(r, 8<<20)
	seed := append(bytes.Repeat(pat, 32<<20), target[:1<<20]...)
	x := buildIndexAnchors(t, target, bs, 2, 3, 5, bits)
	m := NewMatcher(x)
	if m.anch == nil {
		t.Fatal("the anchor scan is not used")
	}
	known := NewBitmap(x.NumBlocks())
	if _, err := m.ScanReaderAt(context.Background(), bytes.NewReader(seed), int64(len(seed)), known,
		func(int64, []byte) error { return nil }, Options{}); err != nil {
		t.Fatal(err)
	}
	if want := int64(1<<20/bs - 1); known.Count() < want {
		t.Errorf("found %d blocks, want at least %d", known.Count(), want)
	}
}

// TestRepeatedAnchorWindow: blocks that share their anchor window and key
// at many offsets, and a seed made of them over and over, so that every
// anchor of the seed is a candidate at every offset. The anchor scan hands
// such stretches to the classic scan instead of checking them all.
func TestRepeatedAnchorWindow(t *testing.T) {
	const bs = 4096
	bits := rollsum.AnchorBits(bs)
	r := rand.New(rand.NewPCG(15, 16))
	var w []byte // a window that is an anchor
	for w == nil {
		c := randBytes(r, rollsum.AnchorWindow)
		if rollsum.IsAnchor(rollsum.Sum(c), bits) {
			w = c
		}
	}
	w = append(w, randBytes(r, rollsum.AnchorWindow)...) // and the key's bytes
	var target []byte
	for k := range 40 {
		blk := append(make([]byte, 100+20*k), w...) // zeros, the windows, random bytes
		target = append(target, append(blk, randBytes(r, bs-len(blk))...)...)
	}
	x := buildIndexAnchors(t, target, bs, 1, 4, 8, bits)
	m := NewMatcher(x)
	if m.anch == nil {
		t.Fatal("the anchor scan is not used")
	}
	seed := bytes.Repeat(append(make([]byte, 100), w...), (16<<20)/228)
	seed = append(seed, target[5*bs:9*bs]...)
	known := NewBitmap(x.NumBlocks())
	if _, err := m.ScanReaderAt(context.Background(), bytes.NewReader(seed), int64(len(seed)), known,
		func(int64, []byte) error { return nil }, Options{}); err != nil {
		t.Fatal(err)
	}
	for k := int64(5); k < 9; k++ {
		if !known.Has(k) {
			t.Errorf("block %d not found", k)
		}
	}
}
