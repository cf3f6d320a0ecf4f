package scan

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkFilter measures the prefilter alone on random keys (which almost
// never pass), with filters from L1-sized to the 1 MiB maximum.
func BenchmarkFilter(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var w0, w1 [512]uint32
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
				b.SetBytes(int64(len(w0)))
				for b.Loop() {
					for i := 0; i < len(w0); i++ {
						i += k.f(w0[i:], w1[i:], 0xffffffff, words, 32-wbits)
					}
				}
			})
		}
	}
}
