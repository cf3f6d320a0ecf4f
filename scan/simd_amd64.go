//go:build !purego

package scan

import "golang.org/x/sys/cpu"

// hasAVX2 selects the assembly kernels; it is set once at start-up.
var hasAVX2 = cpu.X86.HasAVX2

// rollAVX2 is rollIntoGo for n positions, n a multiple of 16, with the sums
// packed as A<<16 | B&0xffff in and out.
//
//go:noescape
func rollAVX2(ws *uint32, out, in *byte, n int, ab uint32, shift uint64) uint32

// filterAVX2 is filterFirstGo on the first n&^7 keys: it returns the first
// index that passes, or n&^7. words must hold 1<<(32-wshift) words.
//
//go:noescape
func filterAVX2(w0s, w1s *uint32, n int, mask uint32, words *uint32, wshift uint64) int

func rollInto(ws []uint32, out, in []byte, a, b uint32, shift uint) (uint32, uint32) {
	if n := len(out) &^ 15; hasAVX2 && n > 0 {
		in = in[:len(out)]
		ws = ws[:len(out)]
		ab := rollAVX2(&ws[0], &out[0], &in[0], n, a<<16|b&0xffff, uint64(shift))
		a, b = ab>>16, ab&0xffff
		ws, out, in = ws[n:], out[n:], in[n:]
	}
	return rollIntoGo(ws, out, in, a, b, shift)
}

func filterFirst(w0s, w1s []uint32, mask uint32, words []uint32, wshift uint) int {
	i := 0
	if n := len(w0s) &^ 7; hasAVX2 && n > 0 {
		w1s = w1s[:len(w0s)]
		if i = filterAVX2(&w0s[0], &w1s[0], n, mask, &words[0], uint64(wshift)); i < n {
			return i
		}
	}
	return i + filterFirstGo(w0s[i:], w1s[i:], mask, words, wshift)
}

// anchorAVX2 is anchorFirstGo on the first n&^31 sums: it returns the first
// index whose window is an anchor, or n&^31.
//
//go:noescape
func anchorAVX2(ws *uint32, n int, shift uint64) int

func anchorFirst(ws []uint32, shift uint) int {
	i := 0
	if n := len(ws) &^ 31; hasAVX2 && n > 0 {
		if i = anchorAVX2(&ws[0], n, uint64(shift)); i < n {
			return i
		}
	}
	return i + anchorFirstGo(ws[i:], shift)
}
