//go:build !purego

package rollsum

import "golang.org/x/sys/cpu"

// hasAVX2 selects sumAVX2; it is set once at start-up.
var hasAVX2 = cpu.X86.HasAVX2

// sumAVX2 returns A and B (modulo 2^32; only their low 16 bits are
// meaningful) of the n bytes at p, n a multiple of 32. It requires AVX2.
//
//go:noescape
func sumAVX2(p *byte, n int) (a, b uint32)

// rollAVX2 is rollIntoGo for n positions, n a multiple of 16, with the sums
// packed as A<<16 | B&0xffff in and out.
//
//go:noescape
func rollAVX2(ws *uint32, out, in *byte, n int, ab uint32, shift uint64) uint32

// anchorAVX2 is firstAnchorGo on the first n&^31 sums: it returns the first
// index whose window is an anchor, or n&^31.
//
//go:noescape
func anchorAVX2(ws *uint32, n int, shift uint64) int
