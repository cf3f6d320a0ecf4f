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
