package zsyncfile

import "math"

// DefaultBlocksize returns the blocksize zsyncmake 0.6.2 chooses for an
// input of size bytes: 2048 below 100,000,000 bytes, 4096 from there on.
func DefaultBlocksize(size int64) int {
	if size < 100_000_000 {
		return 2048
	}
	return 4096
}

// Params returns the Hash-Lengths zsyncmake 0.6.2 chooses for a target of
// length bytes cut into blocks of blocksize bytes: seq_matches, the number of
// weak sum bytes and the number of strong sum bytes per block.
//
// The formulas are zsyncmake's, evaluated in the same order in float64 with
// natural logarithms, so the results agree with it at every threshold:
//
//	seq    = 2 if length > blocksize, else 1
//	weak   = ceil(((ln L + ln bs)/ln 2 − 8.6) / seq / 8), clamped to 2..4
//	strong = max(ceil((20 + (ln L + ln(1 + L div bs))/ln 2) / seq / 8),
//	             trunc((7.9 + (20 + ln(1 + L div bs)/ln 2)) / 8))
//
// where L div bs is integer division. For length ≤ 0 it returns 1,2,3, which
// is what zsyncmake writes for an empty input. A blocksize ≤ 0 is replaced by
// DefaultBlocksize(length).
func Params(length int64, blocksize int) (seqMatches, weakBytes, strongLen int) {
	if blocksize <= 0 {
		blocksize = DefaultBlocksize(length)
	}
	if length <= 0 {
		// ln 0 = −inf: zsyncmake's first strong-length term is then an
		// undefined conversion and the second, 3, wins; weak clamps to 2.
		return 1, 2, 3
	}
	seqMatches = 1
	if length > int64(blocksize) {
		seqMatches = 2
	}
	l := float64(length)
	bs := float64(blocksize)
	seq := float64(seqMatches)
	ln2 := math.Log(2)

	weak := math.Ceil(((math.Log(l)+math.Log(bs))/ln2 - 8.6) / seq / 8)
	weakBytes = int(max(2, min(4, weak)))

	nb := float64(1 + length/int64(blocksize))
	strong1 := math.Ceil((20 + (math.Log(l)+math.Log(nb))/ln2) / seq / 8)
	strong2 := math.Trunc((7.9 + (20 + math.Log(nb)/ln2)) / 8)
	strongLen = int(max(strong1, strong2))
	return seqMatches, weakBytes, strongLen
}
