//go:build !amd64 || purego

package scan

func filterFirst(w0s, w1s []uint32, mask uint32, words []uint32, wshift uint) int {
	return filterFirstGo(w0s, w1s, mask, words, wshift)
}
