// Package rollsum implements zsync's rolling weak sum ("rsum").
//
// For a window c_0 … c_{n-1} the sum is the pair
//
//	A = Σ c_i           (mod 2^16)
//	B = Σ (n−i)·c_i     (mod 2^16)
//
// packed as A<<16 | B, which is the big-endian order in which the four bytes
// appear in a .zsync record (see the format notes in docs/zsync-format.md).
// Rolling the window one byte forward costs a handful of integer operations
// and never allocates.
package rollsum

import "encoding/binary"

// Sum returns the weak sum of p, treating len(p) as the window length n.
//
// B is the sum of the running values of A (after each byte, A is added to
// B), which Sum computes eight bytes at a time: over bytes c_0 … c_7, A
// grows by Σ c_j and B by 8·A + Σ (8−j)·c_j. Both sums come from the bytes
// spread into 16-bit lanes and one multiplication each, whose top lane
// collects the lanes times the weights (no lane exceeds 16 bits, so
// nothing carries into it). About three times the byte-by-byte loop.
func Sum(p []byte) uint32 {
	var a, b uint32
	if n := len(p) &^ 31; hasAVX2 && n >= 64 {
		a, b = sumAVX2(&p[0], n)
		p = p[n:]
	}
	a, b = sumGo(a, b, p)
	return (a&0xffff)<<16 | b&0xffff
}

// sumGo continues the sums A and B (of the bytes before p) over p.
func sumGo(a, b uint32, p []byte) (uint32, uint32) {
	const (
		lanes = 0x00ff00ff00ff00ff
		ones  = 0x0001000100010001
		// Weights 8, 6, 4, 2 for bytes 0, 2, 4, 6 (the even lanes, lowest
		// first) and 7, 5, 3, 1 for bytes 1, 3, 5, 7: the multiplier's
		// 16-bit words are the weights in reverse order.
		wEven = 2 | 4<<16 | 6<<32 | 8<<48
		wOdd  = 1 | 3<<16 | 5<<32 | 7<<48
	)
	for len(p) >= 8 {
		x := binary.LittleEndian.Uint64(p)
		even, odd := x&lanes, x>>8&lanes
		b += a<<3 + uint32((even*wEven)>>48) + uint32((odd*wOdd)>>48)
		a += uint32(((even + odd) * ones) >> 48)
		p = p[8:]
	}
	for _, c := range p {
		a += uint32(c)
		b += a
	}
	return a, b
}

// SumPadded returns the weak sum of p zero-padded to a window of n bytes,
// which is how zsync sums the short final block of a target. It panics if
// len(p) > n.
func SumPadded(p []byte, n int) uint32 {
	if len(p) > n {
		panic("rollsum: data longer than window")
	}
	// The zero padding adds nothing to A and adds A once per padding byte to B.
	s := Sum(p)
	a, b := s>>16, s&0xffff
	b += a * uint32(n-len(p))
	return a<<16 | b&0xffff
}

// Roll moves a window of length 1<<shift one byte forward: out leaves at the
// front, in enters at the back. It returns the new packed sum.
func Roll(sum uint32, out, in byte, shift uint) uint32 {
	a := sum >> 16
	b := sum
	a = (a - uint32(out) + uint32(in)) & 0xffff
	b = (b + a - uint32(out)<<shift) & 0xffff
	return a<<16 | b
}

// A returns the A half of a packed sum.
func A(sum uint32) uint16 { return uint16(sum >> 16) }

// B returns the B half of a packed sum.
func B(sum uint32) uint16 { return uint16(sum) }
