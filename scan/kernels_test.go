package scan

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// checkKernels compares the dispatching prefilter kernel (assembly where the
// CPU has it) with the portable Go version on one input (package rollsum
// tests the rolling kernel the same way).
func checkKernels(t *testing.T, data []byte, shift uint, a, b, mask uint32, wbits uint) {
	t.Helper()
	n := len(data) / 2
	out, in := data[:n], data[n:2*n]
	want := make([]uint32, n) // the sums, from the kernel rollsum tests
	rollInto(want, out, in, a, b, shift)
	// The prefilter over the sums just rolled, against words filled from
	// the data so that some keys pass.
	words := make([]uint32, 1<<wbits)
	for i := range words {
		if 4*i+4 <= len(data) {
			words[i] = binary.LittleEndian.Uint32(data[4*i:])
		}
	}
	if wbits == 0 {
		words[0] = ^uint32(0) // every key passes
	}
	w1s := want
	if n > 0 {
		w1s = append(want[1:], want[0])
	}
	wshift := 32 - wbits
	for from := 0; from <= n; from++ {
		g := filterFirst(want[from:], w1s[from:], mask, words, wshift)
		w := filterFirstGo(want[from:], w1s[from:], mask, words, wshift)
		if g != w {
			t.Fatalf("filterFirst(from %d of %d, mask %#x, %d words) = %d, want %d", from, n, mask, len(words), g, w)
		}
	}
}

func TestKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 512, 1000} {
		for _, shift := range []uint{0, 1, 4, 11, 15, 16, 17, 31} {
			data := randBytes(r, 2*n)
			checkKernels(t, data, shift, r.Uint32(), r.Uint32(), 0xffffffff, 8)
			// One all-ones word (wbits 0): every key passes.
			checkKernels(t, data, shift, 0xffff, 0xffff, 0xffff, 0)
			// Bytes of extreme values, where 16-bit wrapping matters.
			for i := range data {
				data[i] = 0xff * byte(i&1)
			}
			checkKernels(t, data, shift, 0, 0xffffffff, 0xffffff, 4)
		}
	}
}

func FuzzKernels(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef!"), uint8(11), uint32(1), uint32(2), uint32(0xffffffff), uint8(8))
	f.Add(make([]byte, 200), uint8(16), uint32(0), uint32(0), uint32(0xffff), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, shift uint8, a, b, mask uint32, wbits uint8) {
		checkKernels(t, data, uint(shift%40), a, b, mask, uint(wbits%12))
	})
}
