package rollsum

// RollInto rolls a window of 1<<shift bytes over out and in: for each i it
// removes out[i], adds in[i] and stores the window's sum at ws[i] (packed
// as Sum packs it). a and b are the A and B of the window before; it
// returns those of the last window. Only the low 16 bits of A and B are
// meaningful (and only those are stored), so a and b may be passed with any
// high bits. On amd64 with AVX2 it does 16 positions at a time (about 0.3
// ns a position), as the seed scan's rolling loop and FindAnchor need.
func RollInto(ws []uint32, out, in []byte, a, b uint32, shift uint) (uint32, uint32) {
	if n := len(out) &^ 15; hasAVX2 && n > 0 {
		in = in[:len(out)]
		ws = ws[:len(out)]
		ab := rollAVX2(&ws[0], &out[0], &in[0], n, a<<16|b&0xffff, uint64(shift))
		a, b = ab>>16, ab&0xffff
		ws, out, in = ws[n:], out[n:], in[n:]
	}
	return rollIntoGo(ws, out, in, a, b, shift)
}

// rollIntoGo is RollInto in Go, the reference for the assembly.
func rollIntoGo(ws []uint32, out, in []byte, a, b uint32, shift uint) (uint32, uint32) {
	in = in[:len(out)]
	ws = ws[:len(out)]
	shift &= 63
	for i, o := range out {
		c := uint32(in[i])
		a += c - uint32(o)
		b += a - uint32(o)<<shift
		ws[i] = a<<16 | b&0xffff
	}
	return a, b
}

// FirstAnchor returns the first i whose window sum ws[i] is an anchor at
// density 2^-bits (IsAnchor), or len(ws). On amd64 with AVX2 it tests 32
// sums at a time.
func FirstAnchor(ws []uint32, bits uint) int {
	shift := 32 - bits&31
	i := 0
	if n := len(ws) &^ 31; hasAVX2 && n > 0 {
		if i = anchorAVX2(&ws[0], n, uint64(shift)); i < n {
			return i
		}
	}
	return i + firstAnchorGo(ws[i:], shift)
}

// firstAnchorGo is FirstAnchor in Go, with the shift 32-bits.
func firstAnchorGo(ws []uint32, shift uint) int {
	shift &= 31
	for i, w := range ws {
		if (w+AnchorAdd)*AnchorMul>>shift == 0 {
			return i
		}
	}
	return len(ws)
}
