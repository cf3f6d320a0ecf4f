package scan

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkRollInto(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	buf := randBytes(r, 512+4096)
	var ws [512]uint32
	b.SetBytes(512)
	for b.Loop() {
		rollInto(ws[:], buf[:512], buf[4096:4096+512], 1, 2, 12)
	}
}

func BenchmarkFirstHit(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x := buildIndex(b, randBytes(r, 16<<20), 4096, 2, 2, 5)
	m := NewMatcher(x)
	var w0, w1 [512]uint32
	for i := range w0 {
		w0[i], w1[i] = r.Uint32(), r.Uint32()
	}
	b.SetBytes(512)
	for b.Loop() {
		m.firstHit(w0[:], w1[:], deadNone)
	}
}
