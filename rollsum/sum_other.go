//go:build !amd64 || purego

package rollsum

const hasAVX2 = false

func sumAVX2(p *byte, n int) (a, b uint32) { panic("unreachable") }
