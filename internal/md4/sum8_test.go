package md4

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
)

// sum8Impls are the Sum8 implementations to check: the exported one (the
// vector code where the CPU has it) and the portable fallback.
var sum8Impls = []struct {
	name string
	fn   func(dst *[8][Size]byte, msgs *[8][]byte)
}{
	{"Sum8", Sum8},
	{"generic", sum8Generic},
}

// eightMessages returns eight different random messages of length n, cut
// from one buffer at offsets that are not 8-byte aligned.
func eightMessages(n int, seed uint64) *[8][]byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	buf := make([]byte, 8*(n+3)+1)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	var msgs [8][]byte
	for i := range msgs {
		o := 1 + i*(n+3)
		msgs[i] = buf[o : o+n : o+n]
	}
	return &msgs
}

// checkSum8 compares every implementation of Sum8 on msgs with Sum and with
// golang.org/x/crypto/md4.
func checkSum8(t *testing.T, msgs *[8][]byte) {
	t.Helper()
	for _, impl := range sum8Impls {
		var dst [8][Size]byte
		impl.fn(&dst, msgs)
		for i, m := range msgs {
			want := Sum(m)
			if dst[i] != want {
				t.Fatalf("%s: len %d lane %d: %x, want %x", impl.name, len(m), i, dst[i], want)
			}
			if x := xcrypto(m); !bytes.Equal(dst[i][:], x) {
				t.Fatalf("%s: len %d lane %d: %x, x/crypto/md4 has %x", impl.name, len(m), i, dst[i], x)
			}
		}
	}
}

func TestSum8(t *testing.T) {
	sizes := []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1024, 2048, 4096, 65536, 1<<20 + 13}
	r := rand.New(rand.NewPCG(8, 8))
	for range 40 {
		sizes = append(sizes, r.IntN(5000))
	}
	for n := 0; n <= 200; n++ {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		checkSum8(t, eightMessages(n, 1))
	}
}

func TestSum8Lanes(t *testing.T) {
	// One message differs from seven equal ones, in every lane in turn: a
	// lane mix-up in the transpose or the output shows here.
	for _, n := range []int{2048, 100} {
		base := testData(n)
		for lane := range 8 {
			var msgs [8][]byte
			for i := range msgs {
				msgs[i] = base
			}
			odd := bytes.Clone(base)
			odd[lane*5%n]++
			msgs[lane] = odd
			checkSum8(t, &msgs)
		}
	}
	// Every lane the same message.
	var same [8][]byte
	for i := range same {
		same[i] = testData(4096)
	}
	checkSum8(t, &same)
}

func TestSum8Unequal(t *testing.T) {
	msgs := eightMessages(64, 2)
	msgs[5] = msgs[5][:63]
	defer func() {
		if recover() == nil {
			t.Error("Sum8 with messages of different lengths did not panic")
		}
	}()
	var dst [8][Size]byte
	Sum8(&dst, msgs)
}

func TestSum8Allocs(t *testing.T) {
	msgs := eightMessages(2048+57, 3)
	var dst [8][Size]byte
	if n := testing.AllocsPerRun(100, func() { Sum8(&dst, msgs) }); n != 0 {
		t.Errorf("Sum8 allocates %v times, want 0", n)
	}
}

func FuzzSum8(f *testing.F) {
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 2048} {
		f.Add(testData(8*n+3), uint8(3))
	}
	f.Add([]byte("abc"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, shift uint8) {
		// Eight equal-length messages from data, the last lanes starting
		// shift bytes into it, wrapping around.
		n := len(data) / 8
		var msgs [8][]byte
		for i := range msgs {
			o := i * n
			if i >= 4 && len(data) > 0 {
				o = (o + int(shift)) % (len(data) - n + 1)
			}
			msgs[i] = data[o : o+n]
		}
		checkSum8(t, &msgs)
	})
}

// BenchmarkSum8 compares hashing eight blocks with Sum8 against eight calls
// to Sum (the portable code). SetBytes counts all eight blocks.
func BenchmarkSum8(b *testing.B) {
	for _, n := range benchSizes {
		msgs := eightMessages(n, 4)
		for _, impl := range sum8Impls {
			b.Run(impl.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.SetBytes(int64(8 * n))
				b.ReportAllocs()
				var dst [8][Size]byte
				for b.Loop() {
					impl.fn(&dst, msgs)
				}
			})
		}
	}
}

// TestSumBlocks: every count from 0 to 20 (whole groups of eight, part-filled
// groups, a lone last message) gives each message its own checksum.
func TestSumBlocks(t *testing.T) {
	msgs := make([][]byte, 20)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte(i), byte(i * 7)}, 1024)
	}
	for n := 0; n <= len(msgs); n++ {
		dst := make([][Size]byte, n)
		SumBlocks(dst, msgs[:n])
		for i := range n {
			if want := Sum(msgs[i]); dst[i] != want {
				t.Fatalf("%d messages: sum %d is %x, want %x", n, i, dst[i], want)
			}
		}
	}
}
