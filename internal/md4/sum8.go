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
