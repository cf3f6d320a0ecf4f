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
