package md4

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	xmd4 "golang.org/x/crypto/md4" //nolint:staticcheck // reference implementation for the tests.
)

// RFC 1320, appendix A.5.
var rfcVectors = []struct {
	in, want string
}{
	{"", "31d6cfe0d16ae931b73c59d7e0c089c0"},
	{"a", "bde52cb31de33e46245e05fbdbd6fb24"},
	{"abc", "a448017aaf21d8525fc10ae87aa6729d"},
	{"message digest", "d9130a8164549fe818874806e1c7014b"},
	{"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"},
	{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"},
	{strings.Repeat("1234567890", 8), "e33b4ddc9c38f2199c3e7b164fcc0536"},
}

func TestRFC1320(t *testing.T) {
	for _, tc := range rfcVectors {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			sum := Sum([]byte(tc.in))
			if got := hex.EncodeToString(sum[:]); got != tc.want {
				t.Errorf("Sum = %s, want %s", got, tc.want)
			}

			h := New()
			h.Write([]byte(tc.in))
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.want {
				t.Errorf("New().Sum = %s, want %s", got, tc.want)
			}
			// Sum must not disturb the state: a second Sum is identical.
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.want {
				t.Errorf("second New().Sum = %s, want %s", got, tc.want)
			}
			h.Reset()
			for i := 0; i < len(tc.in); i++ {
				h.Write([]byte{tc.in[i]})
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.want {
				t.Errorf("byte-at-a-time Sum = %s, want %s", got, tc.want)
			}
		})
	}
}

func xcrypto(data []byte) []byte {
	h := xmd4.New()
	h.Write(data)
	return h.Sum(nil)
}

func testData(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 1320))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestAgainstXCrypto(t *testing.T) {
	sizes := []int{2048, 4096, 32768, 1<<20 + 13}
	for n := 0; n <= 300; n++ {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		data := testData(n)
		want := xcrypto(data)
		if got := Sum(data); !bytes.Equal(got[:], want) {
			t.Errorf("len %d: Sum = %x, want %x", n, got, want)
		}
		h := New()
		h.Write(data)
		if got := h.Sum(nil); !bytes.Equal(got, want) {
			t.Errorf("len %d: New().Sum = %x, want %x", n, got, want)
		}
	}
}

func TestStreaming(t *testing.T) {
	data := testData(5000)
	splits := [][]int{
		{1},
		{3, 61},
		{7, 13, 64, 1},
		{63, 65},
		{64},
		{100, 27, 5, 128, 9},
		{200, 1, 1, 1},
	}
	for _, split := range splits {
		t.Run("split="+joinInts(split), func(t *testing.T) {
			for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 5000} {
				h, x := New(), xmd4.New()
				p, i := data[:n], 0
				for len(p) > 0 {
					k := min(split[i%len(split)], len(p))
					h.Write(p[:k])
					x.Write(p[:k])
					p = p[k:]
					i++
					// Intermediate sums must agree and must not
					// disturb the running state.
					if got, want := h.Sum([]byte("prefix")), x.Sum([]byte("prefix")); !bytes.Equal(got, want) {
						t.Fatalf("len %d after %d writes: Sum = %x, want %x", n, i, got, want)
					}
				}
				if got, want := h.Sum(nil), x.Sum(nil); !bytes.Equal(got, want) {
					t.Errorf("len %d: Sum = %x, want %x", n, got, want)
				}
			}
		})
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func TestHashInterface(t *testing.T) {
	h := New()
	if h.Size() != Size || h.BlockSize() != BlockSize {
		t.Errorf("Size, BlockSize = %d, %d; want %d, %d", h.Size(), h.BlockSize(), Size, BlockSize)
	}
	if n, err := h.Write(make([]byte, 77)); n != 77 || err != nil {
		t.Errorf("Write = %d, %v; want 77, nil", n, err)
	}
	h.Reset()
	if got, want := h.Sum(nil), Sum(nil); !bytes.Equal(got, want[:]) {
		t.Errorf("Sum after Reset = %x, want %x", got, want)
	}
}

func TestSumAllocs(t *testing.T) {
	data := testData(4096)
	if n := testing.AllocsPerRun(100, func() { Sum(data) }); n != 0 {
		t.Errorf("Sum(4096 bytes) allocates %v times, want 0", n)
	}
	tail := testData(4096 + 57)
	if n := testing.AllocsPerRun(100, func() { Sum(tail) }); n != 0 {
		t.Errorf("Sum(4153 bytes) allocates %v times, want 0", n)
	}
}

func FuzzSum(f *testing.F) {
	for _, tc := range rfcVectors {
		f.Add([]byte(tc.in), uint64(0))
	}
	f.Add(testData(55), uint64(1))
	f.Add(testData(56), uint64(2))
	f.Add(testData(64), uint64(3))
	f.Add(testData(119), uint64(4))
	f.Add(testData(1000), uint64(5))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		want := xcrypto(data)
		if got := Sum(data); !bytes.Equal(got[:], want) {
			t.Fatalf("Sum = %x, want %x", got, want)
		}
		r := rand.New(rand.NewPCG(seed, 0))
		h := New()
		for p := data; len(p) > 0; {
			k := min(r.IntN(2*BlockSize+2), len(p))
			h.Write(p[:k])
			p = p[k:]
		}
		if got := h.Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("New().Sum with splits = %x, want %x", got, want)
		}
	})
}

var benchSizes = []int{64, 2048, 4096, 32768}

var sink [Size]byte

func BenchmarkSum(b *testing.B) {
	for _, n := range benchSizes {
		data := testData(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				sink = Sum(data)
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for _, n := range benchSizes {
		data := testData(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			h := New()
			buf := make([]byte, 0, Size)
			for b.Loop() {
				h.Reset()
				h.Write(data)
				buf = h.Sum(buf[:0])
			}
		})
	}
}

func BenchmarkXCrypto(b *testing.B) {
	for _, n := range benchSizes {
		data := testData(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			h := xmd4.New()
			buf := make([]byte, 0, Size)
			for b.Loop() {
				h.Reset()
				h.Write(data)
				buf = h.Sum(buf[:0])
			}
		})
	}
}
