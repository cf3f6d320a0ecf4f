//go:build !amd64 || purego

package scan

func rollInto(ws []uint32, out, in []byte, a, b uint32, shift uint) (uint32, uint32) {
	return rollIntoGo(ws, out, in, a, b, shift)
}

func filterFirst(w0s, w1s []uint32, mask uint32, words []uint32, wshift uint) int {
	return filterFirstGo(w0s, w1s, mask, words, wshift)
}

func anchorFirst(ws []uint32, shift uint) int {
	return anchorFirstGo(ws, shift)
}
