//go:build !amd64 || purego

package md4

func sum8(dst *[8][Size]byte, msgs *[8][]byte) { sum8Generic(dst, msgs) }
