package scan

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkRoll2 measures the rolling loop alone on one core: an unrelated
// seed, so the prefilter almost never passes.
func BenchmarkRoll2(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x := buildIndex(b, randBytes(r, 16<<20), 4096, 2, 2, 5)
	m := NewMatcher(x)
	buf := randBytes(r, 8<<20+2*4096)
	ring := &sumRing{s: make([]uint32, 8192)}
	b.SetBytes(8 << 20)
	b.ResetTimer()
	for b.Loop() {
		pos, a0, b0, a1, b1 := 0, uint32(0), uint32(0), uint32(0), uint32(0)
		ring.lo, ring.hi = 0, -1
		for pos < 8<<20-1 {
			pos, a0, b0, a1, b1 = m.roll2(buf, pos, 8<<20-1, a0, b0, a1, b1, deadNone, ring)
		}
	}
}
