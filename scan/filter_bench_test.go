package scan

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkFilter measures the prefilter alone on random keys (which almost
// never pass), with filters from L1-sized to the 1 MiB maximum. The keys
// come from a 1 Mi-key stream, as in a scan, so they touch the whole filter:
// the cost of a key is the cost of one load from wherever the filter fits
// (a stream of a few hundred keys would keep only those words in L1).
func BenchmarkFilter(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1 << 20
	w0, w1 := make([]uint32, n), make([]uint32, n)
	for i := range w0 {
		w0[i], w1[i] = r.Uint32(), r.Uint32()
	}
	for _, wbits := range []uint{13, 17, 18} {
		words := make([]uint32, 1<<wbits)
		for i := range words {
			words[i] = 1 << (r.Uint32() & 31) // one bit set in most words: few hits
		}
		for _, k := range []struct {
			name string
			f    func(w0s, w1s []uint32, mask uint32, words []uint32, wshift uint) int
		}{{"go", filterFirstGo}, {"dispatch", filterFirst}} {
			b.Run(fmt.Sprintf("%s/%dKiB", k.name, 4<<wbits>>10), func(b *testing.B) {
				const chunk = rollChunk
				b.SetBytes(chunk)
				j := 0
				for b.Loop() {
					w0s, w1s := w0[j:j+chunk], w1[j:j+chunk]
					for i := 0; i < len(w0s); i++ {
						i += k.f(w0s[i:], w1s[i:], 0xffffffff, words, 32-wbits)
					}
					j = (j + chunk) & (n - 1)
				}
			})
		}
	}
}
