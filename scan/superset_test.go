package scan

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
)

// reachable returns, by brute force, every target block that a zsync-rule
// matcher can find in seed: block k is reachable if the seed holds the run
// starting at k, or (seq 2) the run ending at k, at any position.
func reachable(x *index.Index, seed []byte) map[int64]bool {
	bs := x.Blocksize
	padded := append(bytes.Clone(seed), make([]byte, 2*bs)...)
	h := x.Algo.New()
	at := map[int64]map[int]bool{} // block -> seed positions holding it
	for p := 0; p < len(seed); p++ {
		w := rollsum.Sum(padded[p:p+bs]) & x.WeakMask()
		for k := int64(0); k < x.NumBlocks(); k++ {
			if x.Weak[k] != w {
				continue
			}
			h.Reset()
			h.Write(padded[p : p+bs])
			if bytes.Equal(h.Sum(nil)[:x.StrongLen], x.StrongSum(k)) {
				if at[k] == nil {
					at[k] = map[int]bool{}
				}
				at[k][p] = true
			}
		}
	}
	got := map[int64]bool{}
	for k, ps := range at {
		if x.SeqMatches == 1 {
			got[k] = true
			continue
		}
		for p := range ps {
			if at[k+1][p+bs] || (k > 0 && at[k-1][p-bs]) {
				got[k] = true
			}
		}
	}
	return got
}

// TestFindsEveryReachableBlock builds targets out of pieces of a seed pasted
// at random alignments, several times over (the way a tar holds the same file
// twice), and checks that the scan with a sweep finds every block zsync's
// rules could find, whatever the buffer and section sizes.
func TestFindsEveryReachableBlock(t *testing.T) {
	const bs = 256
	for seed := uint64(1); seed <= 12; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		src := randBytes(r, 40*bs)
		target := pasted(r, src, bs, 60*bs)
		for _, seq := range []int{1, 2} {
			x := buildIndex(t, target, bs, seq, 4, 8)
			want := reachable(x, src)
			for _, opts := range []Options{{Workers: 1, BufferSize: 1 << 20, Sweep: true}, {Workers: 3, BufferSize: 3 * bs, Sweep: true}} {
				_, known := scanAll(t, x, src, opts)
				missed := 0
				for k := range want {
					if !known.Has(k) {
						missed++
					}
				}
				if missed > 0 {
					t.Errorf("seed %d seq %d %+v: missed %d of %d reachable blocks", seed, seq, opts, missed, len(want))
				}
			}
		}
	}
}
