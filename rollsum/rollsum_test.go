package rollsum

import (
	"math/rand/v2"
	"testing"
)

func TestWorkedExample(t *testing.T) {
	// The worked example of the format notes: hello.txt, block 0 and the
	// window rolled one byte.
	var data []byte
	for i := 0; i < 100; i++ {
		data = append(data, []byte(lineFor(i))...)
	}
	if len(data) != 5500 {
		t.Fatalf("worked example is %d bytes, want 5500", len(data))
	}
	tests := []struct {
		name string
		got  uint32
		a, b uint16
	}{
		{"block 0", Sum(data[0:2048]), 0xbadb, 0xbef7},
		{"block 1", Sum(data[2048:4096]), 0xbc35, 0xe1f2},
		{"block 2 padded", SumPadded(data[4096:], 2048), 0xe0a0, 0x522c},
		{"rolled one byte", Roll(Sum(data[0:2048]), data[0], data[2048], 11), 0xba8f, 0x1986},
	}
	for _, tt := range tests {
		if A(tt.got) != tt.a || B(tt.got) != tt.b {
			t.Errorf("%s: got A=%#04x B=%#04x, want A=%#04x B=%#04x", tt.name, A(tt.got), B(tt.got), tt.a, tt.b)
		}
	}
}

func lineFor(i int) string {
	return "line " + pad3(i) + ": The quick brown fox jumps over the lazy dog.\n"
}

func pad3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

func TestRollMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, shift := range []uint{0, 1, 4, 11, 16, 17} {
		n := 1 << shift
		data := make([]byte, n+3000)
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		sum := Sum(data[:n])
		for x := 0; x+n < len(data); x++ {
			sum = Roll(sum, data[x], data[x+n], shift)
			if want := Sum(data[x+1 : x+1+n]); sum != want {
				t.Fatalf("n=%d x=%d: rolled %#08x, direct %#08x", n, x, sum, want)
			}
		}
	}
}

func TestSumMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for n := 0; n < 600; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.IntN(256))
			if n >= 300 {
				p[i] = 0xff - byte(i%3) // the largest lanes
			}
		}
		var a, bb uint32
		for i, c := range p {
			a += uint32(c)
			bb += uint32(n-i) * uint32(c)
		}
		if want := (a&0xffff)<<16 | bb&0xffff; Sum(p) != want {
			t.Fatalf("n=%d: Sum %#x, definition %#x", n, Sum(p), want)
		}
		for pad := n; pad < n+70; pad += 7 {
			q := append(append([]byte(nil), p...), make([]byte, pad-n)...)
			if SumPadded(p, pad) != Sum(q) {
				t.Fatalf("n=%d pad=%d: SumPadded differs from Sum of padded data", n, pad)
			}
		}
	}
}

func BenchmarkSum(b *testing.B) {
	data := make([]byte, 4096)
	b.SetBytes(4096)
	for b.Loop() {
		Sum(data)
	}
}

func BenchmarkRoll(b *testing.B) {
	data := make([]byte, 1<<20+2048)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.SetBytes(1 << 20)
	for b.Loop() {
		s := Sum(data[:2048])
		for x := 0; x < 1<<20; x++ {
			s = Roll(s, data[x], data[x+2048], 11)
		}
		_ = s
	}
}

// FuzzSum checks Sum (with its vector loop where the CPU has one) against
// the definition, on the fuzzer's bytes repeated to lengths that exercise
// every split between the vector loop and the scalar tail.
func FuzzSum(f *testing.F) {
	f.Add([]byte{0xff}, uint16(4096))
	f.Add([]byte("zsync"), uint16(100))
	f.Add([]byte{1, 2, 3}, uint16(65535))
	f.Fuzz(func(t *testing.T, pat []byte, n uint16) {
		if len(pat) == 0 {
			return
		}
		p := make([]byte, n)
		for i := range p {
			p[i] = pat[i%len(pat)]
		}
		var a, b uint32
		for i, c := range p {
			a += uint32(c)
			b += uint32(len(p)-i) * uint32(c)
		}
		if want := (a&0xffff)<<16 | b&0xffff; Sum(p) != want {
			t.Fatalf("n=%d: Sum %#x, definition %#x", n, Sum(p), want)
		}
	})
}
