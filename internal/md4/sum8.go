package md4

// Sum8 computes the MD4 checksums of eight messages of equal length at once,
// writing the checksum of msgs[i] to dst[i].
//
// On amd64 CPUs with AVX2 the eight messages are hashed together, one per
// 32-bit lane of the vector registers, several times faster than eight calls
// to [Sum]; elsewhere it is eight calls to [Sum]. To hash fewer than eight
// messages, repeat one of them. Sum8 panics if the messages differ in
// length. It does not allocate.
func Sum8(dst *[8][Size]byte, msgs *[8][]byte) {
	n := len(msgs[0])
	for i := 1; i < 8; i++ {
		if len(msgs[i]) != n {
			panic("md4: Sum8 messages differ in length")
		}
	}
	sum8(dst, msgs)
}

// sum8Generic is Sum8 with the portable block function, one message at a
// time. Tests call it directly to check the fallback on every machine.
func sum8Generic(dst *[8][Size]byte, msgs *[8][]byte) {
	for i := range msgs {
		dst[i] = Sum(msgs[i])
	}
}

// SumBlocks writes the MD4 checksum of msgs[i] to dst[i] for every i
// (len(dst) >= len(msgs)). The messages must have equal length; they go
// through [Sum8] eight at a time, and a last group of two to seven repeats
// its first message to fill the lanes (with AVX2, Sum8 on eight blocks takes
// less time than Sum on two). It does not allocate.
func SumBlocks(dst [][Size]byte, msgs [][]byte) {
	dst = dst[:len(msgs)]
	var in [8][]byte
	var out [8][Size]byte
	for len(msgs) > 0 {
		n := min(len(msgs), 8)
		if n == 1 {
			dst[0] = Sum(msgs[0])
			return
		}
		for i := range in {
			in[i] = msgs[0]
			if i < n {
				in[i] = msgs[i]
			}
		}
		Sum8(&out, &in)
		copy(dst, out[:n])
		dst, msgs = dst[n:], msgs[n:]
	}
}
