package md4

import (
	"encoding/binary"
	"math/bits"
)

// roundK holds the round 2 and round 3 additive constants of RFC 1320.
//
// They live in a variable rather than in constants on purpose: the compiler
// moves constant additions to the outermost position of a sum, which would
// put an extra add after F/G/H on every step's dependency chain. Loaded from
// a variable, x+K+a is summed first, off the critical path.
var roundK = [2]uint32{0x5a827999, 0x6ed9eba1}

// block runs the MD4 compression function over every whole 64-byte block of
// p, updating s. A trailing partial block is ignored.
//
// The 48 steps are fully unrolled with shifts and message indices written
// out, and the 16 message words are loaded once per block into locals.
// Renaming a, b, c, d per step replaces the rotation of the four state words
// that a looped version does. The chaining values stay in *s between blocks
// instead of in locals, which leaves more registers for the message words.
func block(s *[4]uint32, p []byte) {
	k2, k3 := roundK[0], roundK[1]
	for len(p) >= BlockSize {
		q := p[:BlockSize:BlockSize]
		x0 := binary.LittleEndian.Uint32(q[0:])
		x1 := binary.LittleEndian.Uint32(q[4:])
		x2 := binary.LittleEndian.Uint32(q[8:])
		x3 := binary.LittleEndian.Uint32(q[12:])
		x4 := binary.LittleEndian.Uint32(q[16:])
		x5 := binary.LittleEndian.Uint32(q[20:])
		x6 := binary.LittleEndian.Uint32(q[24:])
		x7 := binary.LittleEndian.Uint32(q[28:])
		x8 := binary.LittleEndian.Uint32(q[32:])
		x9 := binary.LittleEndian.Uint32(q[36:])
		x10 := binary.LittleEndian.Uint32(q[40:])
		x11 := binary.LittleEndian.Uint32(q[44:])
		x12 := binary.LittleEndian.Uint32(q[48:])
		x13 := binary.LittleEndian.Uint32(q[52:])
		x14 := binary.LittleEndian.Uint32(q[56:])
		x15 := binary.LittleEndian.Uint32(q[60:])

		a, b, c, d := s[0], s[1], s[2], s[3]

		// Round 1: F(b, c, d) = (b & c) | (^b & d), computed as ((c ^ d) & b) ^ d.
		a = bits.RotateLeft32(a+x0+(((c^d)&b)^d), 3)
		d = bits.RotateLeft32(d+x1+(((b^c)&a)^c), 7)
		c = bits.RotateLeft32(c+x2+(((a^b)&d)^b), 11)
		b = bits.RotateLeft32(b+x3+(((d^a)&c)^a), 19)
		a = bits.RotateLeft32(a+x4+(((c^d)&b)^d), 3)
		d = bits.RotateLeft32(d+x5+(((b^c)&a)^c), 7)
		c = bits.RotateLeft32(c+x6+(((a^b)&d)^b), 11)
		b = bits.RotateLeft32(b+x7+(((d^a)&c)^a), 19)
		a = bits.RotateLeft32(a+x8+(((c^d)&b)^d), 3)
		d = bits.RotateLeft32(d+x9+(((b^c)&a)^c), 7)
		c = bits.RotateLeft32(c+x10+(((a^b)&d)^b), 11)
		b = bits.RotateLeft32(b+x11+(((d^a)&c)^a), 19)
		a = bits.RotateLeft32(a+x12+(((c^d)&b)^d), 3)
		d = bits.RotateLeft32(d+x13+(((b^c)&a)^c), 7)
		c = bits.RotateLeft32(c+x14+(((a^b)&d)^b), 11)
		b = bits.RotateLeft32(b+x15+(((d^a)&c)^a), 19)

		// Round 2: G(b, c, d) = majority(b, c, d). c&d and (c^d)&b never share a
		// set bit, so they are added instead of ORed, leaving b (the word computed
		// by the previous step) one AND away from the sum.
		a = bits.RotateLeft32(a+x0+k2+(c&d)+((c^d)&b), 3)
		d = bits.RotateLeft32(d+x4+k2+(b&c)+((b^c)&a), 5)
		c = bits.RotateLeft32(c+x8+k2+(a&b)+((a^b)&d), 9)
		b = bits.RotateLeft32(b+x12+k2+(d&a)+((d^a)&c), 13)
		a = bits.RotateLeft32(a+x1+k2+(c&d)+((c^d)&b), 3)
		d = bits.RotateLeft32(d+x5+k2+(b&c)+((b^c)&a), 5)
		c = bits.RotateLeft32(c+x9+k2+(a&b)+((a^b)&d), 9)
		b = bits.RotateLeft32(b+x13+k2+(d&a)+((d^a)&c), 13)
		a = bits.RotateLeft32(a+x2+k2+(c&d)+((c^d)&b), 3)
		d = bits.RotateLeft32(d+x6+k2+(b&c)+((b^c)&a), 5)
		c = bits.RotateLeft32(c+x10+k2+(a&b)+((a^b)&d), 9)
		b = bits.RotateLeft32(b+x14+k2+(d&a)+((d^a)&c), 13)
		a = bits.RotateLeft32(a+x3+k2+(c&d)+((c^d)&b), 3)
		d = bits.RotateLeft32(d+x7+k2+(b&c)+((b^c)&a), 5)
		c = bits.RotateLeft32(c+x11+k2+(a&b)+((a^b)&d), 9)
		b = bits.RotateLeft32(b+x15+k2+(d&a)+((d^a)&c), 13)

		// Round 3: H(b, c, d) = b ^ c ^ d, with c ^ d first since b is the newest word.
		a = bits.RotateLeft32(a+x0+k3+((c^d)^b), 3)
		d = bits.RotateLeft32(d+x8+k3+((b^c)^a), 9)
		c = bits.RotateLeft32(c+x4+k3+((a^b)^d), 11)
		b = bits.RotateLeft32(b+x12+k3+((d^a)^c), 15)
		a = bits.RotateLeft32(a+x2+k3+((c^d)^b), 3)
		d = bits.RotateLeft32(d+x10+k3+((b^c)^a), 9)
		c = bits.RotateLeft32(c+x6+k3+((a^b)^d), 11)
		b = bits.RotateLeft32(b+x14+k3+((d^a)^c), 15)
		a = bits.RotateLeft32(a+x1+k3+((c^d)^b), 3)
		d = bits.RotateLeft32(d+x9+k3+((b^c)^a), 9)
		c = bits.RotateLeft32(c+x5+k3+((a^b)^d), 11)
		b = bits.RotateLeft32(b+x13+k3+((d^a)^c), 15)
		a = bits.RotateLeft32(a+x3+k3+((c^d)^b), 3)
		d = bits.RotateLeft32(d+x11+k3+((b^c)^a), 9)
		c = bits.RotateLeft32(c+x7+k3+((a^b)^d), 11)
		b = bits.RotateLeft32(b+x15+k3+((d^a)^c), 15)

		s[0] += a
		s[1] += b
		s[2] += c
		s[3] += d
		p = p[BlockSize:]
	}
}
