package patch

import (
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkSeedIndex measures building the anchor table of a 32 MiB seed
// (two shards, built in parallel).
func BenchmarkSeedIndex(b *testing.B) {
	old := make([]byte, 32<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range old {
		old[i] = byte(r.Uint32())
	}
	b.SetBytes(int64(len(old)))
	for b.Loop() {
		if _, err := newSeedIndex(context.Background(), old, defaultAnchorBits, false); err != nil {
			b.Fatal(err)
		}
	}
}
