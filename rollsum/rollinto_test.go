package rollsum

import (
	"math/rand/v2"
	"testing"
)

// checkRollInto compares RollInto and FirstAnchor (assembly where the CPU
// has it) with the Go versions on one input.
func checkRollInto(t *testing.T, data []byte, shift uint, a, b uint32) {
	t.Helper()
	n := len(data) / 2
	out, in := data[:n], data[n:2*n]
	want := make([]uint32, n)
	got := make([]uint32, n)
	wa, wb := rollIntoGo(want, out, in, a, b, shift)
	ga, gb := RollInto(got, out, in, a, b, shift)
	if ga&0xffff != wa&0xffff || gb&0xffff != wb&0xffff {
		t.Fatalf("RollInto(n=%d, shift=%d) returned A,B %#x,%#x, want %#x,%#x", n, shift, ga&0xffff, gb&0xffff, wa&0xffff, wb&0xffff)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("RollInto(n=%d, shift=%d): sum %d is %#x, want %#x", n, shift, i, got[i], want[i])
		}
	}
	for _, bits := range []uint{MinAnchorBits, 8, 12, MaxAnchorBits} {
		for from := 0; from <= n; from++ {
			if g, w := FirstAnchor(want[from:], bits), firstAnchorGo(want[from:], 32-bits); g != w {
				t.Fatalf("FirstAnchor(from %d of %d, bits %d) = %d, want %d", from, n, bits, g, w)
			}
		}
	}
}

func TestRollInto(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 512, 1000} {
		for _, shift := range []uint{0, 1, 4, 6, 11, 15, 16, 17, 31} {
			data := randData(r, 2*n)
			checkRollInto(t, data, shift, r.Uint32(), r.Uint32())
			// Bytes of extreme values, where 16-bit wrapping matters.
			for i := range data {
				data[i] = 0xff * byte(i&1)
			}
			checkRollInto(t, data, shift, 0, 0xffffffff)
		}
	}
}

func FuzzRollInto(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef!"), uint8(11), uint32(1), uint32(2))
	f.Add(make([]byte, 200), uint8(16), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, shift uint8, a, b uint32) {
		checkRollInto(t, data, uint(shift%40), a, b)
	})
}
