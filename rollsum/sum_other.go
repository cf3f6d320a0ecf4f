//go:build !amd64 || purego

package rollsum

const hasAVX2 = false

func sumAVX2(p *byte, n int) (a, b uint32) { panic("unreachable") }

func rollAVX2(ws *uint32, out, in *byte, n int, ab uint32, shift uint64) uint32 {
	panic("unreachable")
}

func anchorAVX2(ws *uint32, n int, shift uint64) int { panic("unreachable") }
