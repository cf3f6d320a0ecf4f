package rollsum

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestConstantWindowsNeverAnchor(t *testing.T) {
	for bits := uint(MinAnchorBits); bits <= MaxAnchorBits; bits++ {
		for c := range 256 {
			w := bytes.Repeat([]byte{byte(c)}, AnchorWindow)
			if IsAnchor(Sum(w), bits) {
				t.Errorf("a window of byte %#x is an anchor at %d bits", c, bits)
			}
		}
	}
}

func TestAnchorBits(t *testing.T) {
	for _, tt := range []struct {
		bs   int
		bits uint
	}{{512, 0}, {1024, 6}, {2048, 7}, {4096, 8}, {65536, 12}, {131072, 0}} {
		if got := AnchorBits(tt.bs); got != tt.bits {
			t.Errorf("AnchorBits(%d) = %d, want %d", tt.bs, got, tt.bits)
		}
	}
}

// TestFindAnchor checks FindAnchor against the definition, window by window.
func TestFindAnchor(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		p := randData(r, r.IntN(3000))
		// Runs of one byte value, some longer than a window, some
		// shorter, some at the ends.
		for range r.IntN(4) {
			if len(p) == 0 {
				break
			}
			from := r.IntN(len(p))
			to := min(len(p), from+r.IntN(700))
			c := byte(r.IntN(3))
			for i := from; i < to; i++ {
				p[i] = c
			}
		}
		bits := uint(MinAnchorBits + r.IntN(5))
		off, key, ok := FindAnchor(p, bits)
		wantOK := false
		for o := 0; o+2*AnchorWindow <= len(p); o++ {
			if IsAnchor(Sum(p[o:o+AnchorWindow]), bits) {
				k := Sum(p[o+AnchorWindow : o+2*AnchorWindow])
				if !ok || off != o || key != k {
					t.Fatalf("len %d bits %d: FindAnchor = %d, %#x, %v; want %d, %#x", len(p), bits, off, key, ok, o, k)
				}
				wantOK = true
				break
			}
		}
		if ok != wantOK {
			t.Fatalf("len %d bits %d: FindAnchor found %d, the definition none", len(p), bits, off)
		}
	}
}

// TestAnchorDensity checks that random data has about one anchor in 2^bits
// windows.
func TestAnchorDensity(t *testing.T) {
	p := randData(rand.New(rand.NewPCG(5, 6)), 1<<20)
	const bits = 8
	n := 0
	s := Sum(p[:AnchorWindow])
	for o := 0; o+AnchorWindow < len(p); o++ {
		if IsAnchor(s, bits) {
			n++
		}
		s = Roll(s, p[o], p[o+AnchorWindow], AnchorShift)
	}
	if want := len(p) >> bits; n < want*8/10 || n > want*12/10 {
		t.Errorf("%d anchors in %d windows at %d bits, want about %d", n, len(p), bits, want)
	}
}

func BenchmarkFindAnchor(b *testing.B) {
	p := randData(rand.New(rand.NewPCG(7, 8)), 64<<10)
	const bs = 4096
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		for o := 0; o < len(p); o += bs {
			FindAnchor(p[o:o+bs], AnchorBits(bs))
		}
	}
}

// randData returns n random bytes from r.
func randData(r *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}
