//go:build !purego

package scan

import "golang.org/x/sys/cpu"

// hasAVX2 selects the assembly kernels; it is set once at start-up.
var hasAVX2 = cpu.X86.HasAVX2

// filterAVX2 is filterFirstGo on the first n&^7 keys: it returns the first
// index that passes, or n&^7. words must hold 1<<(32-wshift) words.
//
//go:noescape
func filterAVX2(w0s, w1s *uint32, n int, mask uint32, words *uint32, wshift uint64) int

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
