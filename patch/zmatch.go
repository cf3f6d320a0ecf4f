package patch

import (
	"bytes"
	"cmp"
	"hash"
	"math/bits"
	"slices"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
)

// Matching against a seed's index (DiffFromControl): without the seed's
// bytes only whole seed blocks can be found. The target is rolled with
// zsync's weak sum over a window of one block (two with seq_matches 2, as
// the control file asks), and a window whose weak sums are those of a seed
// block (pair) and whose strong sums agree becomes a copy of that block;
// after a match the next seed block is tried right after it (zsync's
// continuation). The seed's short last block is never matched.

type zent struct {
	key uint64 // hashKey of the run's masked weak sums
	blk uint32
}

// zsyncTable is the lookup table of a seed's index.
type zsyncTable struct {
	x     *index.Index
	bs    int
	shift uint
	seq   int
	mask  uint32
	full  int64 // blocks that are whole (the last may be short)
	ents  []zent
	start []uint32 // bucket b holds ents[start[b]:start[b+1]]
	bsh   uint
}

func zkey(w0, w1 uint32) uint64 { return (uint64(w0)<<32 | uint64(w1)) * hashPrime }

func newZsyncTable(x *index.Index) *zsyncTable {
	t := &zsyncTable{x: x, bs: x.Blocksize, shift: uint(bits.TrailingZeros(uint(x.Blocksize))), seq: x.SeqMatches, mask: x.WeakMask()}
	t.full = x.Length / int64(x.Blocksize)
	if t.full < int64(t.seq) {
		t.seq = 1
	}
	for k := int64(0); k+int64(t.seq) <= t.full; k++ {
		t.ents = append(t.ents, zent{key: t.keyOf(k), blk: uint32(k)})
	}
	slices.SortFunc(t.ents, func(a, b zent) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.blk, b.blk)
	})
	nb := 16
	for nb < len(t.ents) {
		nb <<= 1
	}
	t.bsh = uint(64 - bits.TrailingZeros(uint(nb)))
	t.start = make([]uint32, nb+1)
	for _, e := range t.ents {
		t.start[e.key>>t.bsh+1]++
	}
	for b := 1; b <= nb; b++ {
		t.start[b] += t.start[b-1]
	}
	return t
}

func (t *zsyncTable) keyOf(k int64) uint64 {
	var w1 uint32
	if t.seq == 2 {
		w1 = t.x.Weak[k+1]
	}
	return zkey(t.x.Weak[k], w1)
}

// zsyncScanner is one goroutine's scanner over a zsyncTable.
type zsyncScanner struct {
	t   *zsyncTable
	h   hash.Hash
	sum [64]byte
}

func (s *zsyncScanner) strongIs(p []byte, k int64) bool {
	s.h.Reset()
	s.h.Write(p)
	return bytes.Equal(s.h.Sum(s.sum[:0])[:s.t.x.StrongLen], s.t.x.StrongSum(k))
}

func (s *zsyncScanner) scan(seg []byte, base int64, w *opWriter) {
	t := s.t
	bs := t.bs
	n := len(seg)
	lit := 0
	cont := int64(-1) // seed block expected at p after a match
	var a0, b0, a1, b1 uint32
	fresh := true
	p := 0
	emit := func(k int64, blocks int) {
		w.literal(seg[lit:p])
		w.copy(k*int64(bs)-(base+int64(p)), int64(blocks*bs))
		p += blocks * bs
		lit = p
		cont = k + int64(blocks)
		fresh = true
	}
	for p+bs <= n {
		if fresh {
			s0 := rollsum.Sum(seg[p : p+bs])
			a0, b0 = s0>>16, s0&0xffff
			if t.seq == 2 && p+2*bs <= n {
				s1 := rollsum.Sum(seg[p+bs : p+2*bs])
				a1, b1 = s1>>16, s1&0xffff
			}
			fresh = false
		}
		w0 := (a0<<16 | b0&0xffff) & t.mask
		if cont >= 0 {
			k := cont
			cont = -1
			if k < t.full && w0 == t.x.Weak[k] && s.strongIs(seg[p:p+bs], k) {
				emit(k, 1)
				continue
			}
		}
		if t.seq == 1 || p+2*bs <= n {
			var w1 uint32
			if t.seq == 2 {
				w1 = (a1<<16 | b1&0xffff) & t.mask
			}
			key := zkey(w0, w1)
			bk := key >> t.bsh
			found := int64(-1)
			for e := t.start[bk]; e < t.start[bk+1]; e++ {
				ent := t.ents[e]
				if ent.key != key {
					continue
				}
				k := int64(ent.blk)
				if t.x.Weak[k] != w0 || (t.seq == 2 && t.x.Weak[k+1] != w1) {
					continue
				}
				if s.strongIs(seg[p:p+bs], k) && (t.seq == 1 || s.strongIs(seg[p+bs:p+2*bs], k+1)) {
					found = k
					break
				}
			}
			if found >= 0 {
				emit(found, t.seq)
				continue
			}
		}
		// Roll one byte.
		if p+bs >= n {
			break
		}
		out, in := uint32(seg[p]), uint32(seg[p+bs])
		a0 += in - out
		b0 += a0 - out<<t.shift
		if t.seq == 2 && p+2*bs < n {
			out1, in1 := in, uint32(seg[p+2*bs])
			a1 += in1 - out1
			b1 += a1 - out1<<t.shift
		} else if t.seq == 2 && p+2*bs == n {
			// The second window no longer fits: the next position only
			// tries continuations.
			a1, b1 = 0, 0
		}
		p++
	}
	w.literal(seg[lit:])
}
