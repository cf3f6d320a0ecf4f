//go:build amd64 && !purego

package md4

import (
	"encoding/binary"

	"golang.org/x/sys/cpu"
)

// useAVX2 selects the 8-lane assembly block function; it is set once at
// start-up.
var useAVX2 = cpu.X86.HasAVX2

// state8 is the state of eight interleaved MD4 computations, laid out for
// block8: word j of lane i of the chaining value is h[j][i].
type state8 struct {
	h [4][8]uint32
	// x is block8's scratch space for the message words of the current
	// block, transposed so that x[j][i] is word j of lane i. Keeping it
	// here rather than in an assembly frame lets block8 be NOSPLIT.
	x [16][8]uint32
}

// block8 runs the MD4 compression function over n consecutive 64-byte
// blocks of each of eight messages: lane i reads n*64 bytes from p[i] and
// updates column i of s.h. It requires AVX2.
//
//go:noescape
func block8(s *state8, p *[8]*byte, n int)

func sum8(dst *[8][Size]byte, msgs *[8][]byte) {
	if !useAVX2 {
		sum8Generic(dst, msgs)
		return
	}
	sum8AVX2(dst, msgs)
}

// sum8AVX2 is Sum8 with block8. The messages have equal length, so the tail
// and the padding are the same shape in every lane: each lane's tail is
// copied into its own one- or two-block padding buffer and those buffers
// go through block8 together.
func sum8AVX2(dst *[8][Size]byte, msgs *[8][]byte) {
	var s state8
	for i := range 8 {
		s.h[0][i], s.h[1][i], s.h[2][i], s.h[3][i] = init0, init1, init2, init3
	}
	n := len(msgs[0])
	whole := n / BlockSize
	var p [8]*byte
	// At most maxBlocks per call: assembly cannot be preempted, and a
	// goroutine stuck in it for long would hold up garbage collection.
	const maxBlocks = 1024
	for done := 0; done < whole; {
		k := min(whole-done, maxBlocks)
		for i := range msgs {
			p[i] = &msgs[i][done*BlockSize]
		}
		block8(&s, &p, k)
		done += k
	}

	var pad [8][2 * BlockSize]byte
	t := n - whole*BlockSize
	end := BlockSize
	if t >= BlockSize-8 {
		end = 2 * BlockSize
	}
	for i := range pad {
		b := pad[i][:end]
		copy(b, msgs[i][whole*BlockSize:])
		b[t] = 0x80
		binary.LittleEndian.PutUint64(b[end-8:], uint64(n)<<3)
		p[i] = &b[0]
	}
	block8(&s, &p, end/BlockSize)

	for i := range dst {
		binary.LittleEndian.PutUint32(dst[i][0:], s.h[0][i])
		binary.LittleEndian.PutUint32(dst[i][4:], s.h[1][i])
		binary.LittleEndian.PutUint32(dst[i][8:], s.h[2][i])
		binary.LittleEndian.PutUint32(dst[i][12:], s.h[3][i])
	}
}
