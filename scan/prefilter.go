package scan

import "github.com/zyncio/zync/rollsum"

// The prefilter and the rolling loop's inner kernels. Both have a portable
// Go version (the reference, used on every platform and for short tails)
// and, on amd64 with AVX2, an assembly version that must produce the same
// results (simd_amd64.s; FuzzKernels checks the two against each other).

// Multipliers of the prefilter's two 32-bit hashes of a key (w0, w1): odd
// constants whose products spread every input bit into the top bits.
const (
	fk1 = 0x9E3779B1
	fk2 = 0x85EBCA77
	fk3 = 0xC2B2AE3D
)

// filterHashes returns the prefilter's two hashes of masked key (w0, w1):
// the first picks the word (its top bits), the second the four bits in it.
// Two 32-bit multiply-adds per hash, because that is what eight SIMD lanes
// do cheaply.
func filterHashes(w0, w1 uint32) (hw, hb uint32) {
	hw = w0*fk1 + w1*fk2
	return hw, hw * fk3
}

// filterBits returns the bits of the prefilter word that hash hb sets: one
// in each byte, the byte's bit number taken from bits 5-7 of the same byte
// of hb. Four bits, not three anywhere in the word: in SIMD lanes that is
// one byte shuffle instead of three variable shifts, and with about 64 bits
// per entry its false positives are fewer (about 0.05% against 0.09%).
func filterBits(hb uint32) uint32 {
	t := hb >> 5
	return uint32(byteBit[t&7]) | uint32(byteBit[t>>8&7])<<8 |
		uint32(byteBit[t>>16&7])<<16 | uint32(byteBit[t>>24&7])<<24
}

// byteBit[i] is 1<<i (read-only). Table loads, not variable shifts: on
// amd64 before BMI2 (GOAMD64=v1, the default) every variable shift needs
// the CX register, which made the compiler spill the loop's other values.
var byteBit = [8]byte{1, 2, 4, 8, 16, 32, 64, 128}

// filterFirstGo returns the first i whose key (w0s[i]&mask, w1s[i]&mask)
// passes the prefilter words (a power of two of them, indexed by the top
// 32-wshift bits of the word hash), or len(w0s).
func filterFirstGo(w0s, w1s []uint32, mask uint32, words []uint32, wshift uint) int {
	w1s = w1s[:len(w0s)]
	wmask := uint32(len(words) - 1)
	for i, w0 := range w0s {
		hw, hb := filterHashes(w0&mask, w1s[i]&mask)
		bm := filterBits(hb)
		if words[hw>>wshift&wmask]&bm == bm {
			return i
		}
	}
	return len(w0s)
}

// rollInto is rollsum.RollInto: the scan's rolling kernel.
func rollInto(ws []uint32, out, in []byte, a, b uint32, shift uint) (uint32, uint32) {
	return rollsum.RollInto(ws, out, in, a, b, shift)
}

// anchorFirst returns the first i whose window sum ws[i] is an anchor, the
// anchor density being 2^-(32-shift) (rollsum.FirstAnchor).
func anchorFirst(ws []uint32, shift uint) int {
	return rollsum.FirstAnchor(ws, 32-shift)
}
