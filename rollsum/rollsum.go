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

// Sum returns the weak sum of p, treating len(p) as the window length n.
func Sum(p []byte) uint32 {
	var a, b uint32
	n := uint32(len(p))
	for i, c := range p {
		a += uint32(c)
		b += (n - uint32(i)) * uint32(c)
	}
	return (a&0xffff)<<16 | b&0xffff
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
