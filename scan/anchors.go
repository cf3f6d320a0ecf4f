package scan

import (
	"bytes"
	"cmp"
	"hash"
	"math/bits"
	"slices"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
)

// The anchor scan. An index with anchors (index.Anchors, made by zync make)
// names, for each block, the offset of its anchor window and its key, the
// weak sum of the 64 bytes after that window (package rollsum). Where the
// seed holds a block at position p, it holds that window at p + offset,
// followed by the key. So instead of testing every seed position's weak
// sums against the prefilter, rollAnchors rolls the sums of the seed's
// 64-byte windows and looks up only the anchors among them (one in 2^bits,
// 1/256 for 4 KiB blocks), by the sum of the window after each, in a table
// of the blocks' keys; each hit names a block and the one position where it
// could start, whose weak sums are then computed and compared. The rolling
// is the kernel the classic scan uses, and the anchor test costs a multiply
// a position, no memory load: on an unrelated seed the scan takes about 0.6
// of the time.
//
// The anchor scan finds what the classic one finds: a block whose content
// is in the seed is found through its anchor, and a position the classic
// scan would stop at for a weak-sum collision with no content behind it is
// one the strong sum would reject anyway. Blocks without an anchor are
// either constant (a run of one byte value; a constant window is never an
// anchor), which need no seed at all and are filled from their byte value
// once their strong sum confirms it (fillConstant), or so regular that none
// of their windows is an anchor (a short pattern repeated), or a short last
// block with too few windows. The anchor scan serves an index only if every
// run of blocks it looks for starts at an anchored or constant block, or at
// a short last block (found by continuation only), and if no key is shared
// by more than maxAnchorOffsets different offsets; otherwise the classic
// scan runs. Where a seed makes the anchor scan check candidates more often
// than once per checkEvery bytes, the classic scan takes over for the rest
// of the buffer being scanned.

// maxAnchorOffsets bounds the distinct offsets that one key may have among
// the runs of the table. Text repeats itself: on the typescript corpus one
// anchor window's sum was at 24 offsets, a handful at 8 to 11.
const maxAnchorOffsets = 64

// checkEvery is the fewest seed bytes per candidate check that rollAnchors
// accepts before it leaves the rest of the buffer to the classic scan: a
// check sums one or two blocks, and a seed of one anchor window repeated
// (text quoted over and over, or a crafted index) could otherwise make
// every anchor a check at many offsets.
const checkEvery = 4096

// anchorEntry is a run of the table under its first block's key.
type anchorEntry struct {
	key uint32 // the weak sum of the window after the anchor window
	off uint32 // the anchor window's offset in the block
	blk uint32 // the run's first block
}

// anchorTable finds runs by their keys.
type anchorTable struct {
	shift  uint // a window is an anchor when its mixed sum >> shift is 0
	maxOff int  // the largest offset in the table
	bshift uint // a key's bucket is its hash >> bshift
	start  []uint32
	ents   []anchorEntry
}

// constBlock is a block whose content is one byte value repeated (zero-
// padded past the target's end, for the last block).
type constBlock struct {
	blk uint32
	c   byte
}

func anchorHash(key uint32) uint32 { return key * 0x85EBCA77 }

// buildAnchors sets up the anchor scan for the distinct runs of the table,
// if the index has anchors that can serve it (see above).
func (m *Matcher) buildAnchors(distinct []uint32) {
	a := m.x.Anchors
	if a == nil || len(distinct) == 0 {
		return
	}
	var consts []constBlock
	n := 0
	for _, k := range distinct {
		if a.Off[k] != index.NoAnchor {
			n++
			continue
		}
		c, ok := m.constant(int64(k))
		switch {
		case ok:
			consts = append(consts, constBlock{k, c})
		case int64(k) == m.n-1 && m.x.BlockLen(int64(k)) < m.bs:
			// A short last block (seq_matches 1) often has too few
			// windows for an anchor. The anchor scan leaves it to
			// continuation, which finds it after the block before it,
			// as it sits in a seed that is an older version; it is at
			// most one block to fetch otherwise.
		default:
			return // a block only the classic scan can find
		}
	}
	nb := 16
	for nb < n {
		nb <<= 1
	}
	t := &anchorTable{
		shift:  uint(32 - a.Bits),
		bshift: uint(32 - bits.TrailingZeros(uint(nb))),
		start:  make([]uint32, nb+1),
		ents:   make([]anchorEntry, n),
	}
	for _, k := range distinct {
		if a.Off[k] != index.NoAnchor {
			t.start[anchorHash(a.Key[k])>>t.bshift+1]++
		}
	}
	for b := 1; b <= nb; b++ {
		t.start[b] += t.start[b-1]
	}
	for _, k := range distinct {
		if o := a.Off[k]; o != index.NoAnchor {
			b := anchorHash(a.Key[k]) >> t.bshift
			t.ents[t.start[b]] = anchorEntry{key: a.Key[k], off: uint32(o), blk: k}
			t.start[b]++
			t.maxOff = max(t.maxOff, int(o))
		}
	}
	copy(t.start[1:], t.start[:nb])
	t.start[0] = 0
	// Bound the checks one seed window can cause: in each bucket, ordered
	// by key and offset, count each key's distinct offsets.
	for b := range nb {
		ents := t.ents[t.start[b]:t.start[b+1]]
		slices.SortFunc(ents, func(e, f anchorEntry) int {
			return cmp.Or(cmp.Compare(e.key, f.key), cmp.Compare(e.off, f.off), cmp.Compare(e.blk, f.blk))
		})
		offs := 0
		for i, e := range ents {
			switch {
			case i == 0 || e.key != ents[i-1].key:
				offs = 1
			case e.off != ents[i-1].off:
				offs++
			}
			if offs > maxAnchorOffsets {
				return
			}
		}
	}
	m.anch = t
	m.consts = consts
}

// constant reports whether block k holds one byte value repeated (zeros
// past the target's end), and which: its weak sum must be that of such a
// block, and its strong sum too.
func (m *Matcher) constant(k int64) (byte, bool) {
	x := m.x
	bs := uint32(x.Blocksize)
	l := uint32(x.BlockLen(k))
	var h hash.Hash
	var sum [64]byte
	var blk []byte
	for c := range uint32(256) {
		// A = c·l, B = c·l(l+1)/2, and the zero padding adds A to B once
		// per padding byte (rollsum.SumPadded).
		a := c * l
		b := c*(l*(l+1)/2) + a*(bs-l)
		if (a&0xffff<<16|b&0xffff)&m.mask != x.Weak[k] {
			continue
		}
		if h == nil {
			h, blk = x.Algo.New(), make([]byte, bs)
		}
		constContent(blk, byte(c), int(l))
		h.Reset()
		h.Write(blk)
		if bytes.Equal(h.Sum(sum[:0])[:x.StrongLen], x.StrongSum(k)) {
			return byte(c), true
		}
	}
	return 0, false
}

// constContent fills blk with l bytes of value c, then zeros: a constant
// block of l target bytes, padded as its sums are.
func constContent(blk []byte, c byte, l int) {
	for i := range blk {
		blk[i] = 0
		if i < l {
			blk[i] = c
		}
	}
}

// fillConstant claims the constant blocks not yet known, their content made
// from their byte value, before the scanner's first scan: the anchor scan
// does not look for them (a run of one byte value has no anchor).
func (s *Scanner) fillConstant() error {
	m := s.m
	s.filled = true
	var buf []byte
	for _, cb := range m.consts {
		if m.groupDone(cb.blk) {
			continue
		}
		if buf == nil {
			buf = make([]byte, m.bs)
		}
		constContent(buf, cb.c, m.x.BlockLen(int64(cb.blk)))
		if err := s.claim(int64(cb.blk), buf); err != nil {
			return err
		}
	}
	return nil
}

// rollAnchors is roll2 and roll1 for a matcher with anchors: it returns the
// first position in (x, stop) where a run still wanted has its weak sums,
// found through the run's anchor, with the sums there; or stop and the sums
// at stop. It returns false instead when it would check candidates more
// often than once per checkEvery bytes: the classic roll then takes over.
// A position whose weak sums are a run's is found only if the seed holds
// the run's anchor window and key there too, which a block of the run's
// content does.
func (m *Matcher) rollAnchors(buf []byte, x, stop int, r *sumRing) (int, uint32, uint32, uint32, uint32, bool) {
	t := m.anch
	best := stop
	ws := r.w[0][:]
	// The sums of the window at pos; ws[i] then holds the window at
	// pos+1+i. A run at p has its anchor window at p+off, so windows from
	// x+1 to best-1+maxOff are tested.
	pos := x
	w := rollsum.Sum(buf[pos : pos+rollsum.AnchorWindow])
	a, b := w>>16, w&0xffff
	lastP, w0, w1 := -1, uint32(0), uint32(0) // the last candidate position and its sums
	// The last key found not to be in the table: in periodic data the same
	// anchor and key come back every period, and are not looked up again.
	// (0xffffffff is not a window's sum: A of 64 bytes is at most 16,320.)
	miss := ^uint32(0)
	checks := 0
	for {
		end := best - 1 + t.maxOff // the last window worth testing
		if pos >= end {
			break
		}
		cnt := min(len(ws), end-pos)
		a, b = rollInto(ws[:cnt], buf[pos:pos+cnt], buf[pos+rollsum.AnchorWindow:pos+rollsum.AnchorWindow+cnt], a, b, rollsum.AnchorShift)
		for i := 0; i < cnt; i++ {
			i += anchorFirst(ws[i:cnt], t.shift)
			if i >= cnt || pos+1+i > best-1+t.maxOff {
				break
			}
			win := pos + 1 + i
			key := uint32(0)
			if i+rollsum.AnchorWindow < cnt {
				key = ws[i+rollsum.AnchorWindow]
			} else {
				key = rollsum.Sum(buf[win+rollsum.AnchorWindow : win+2*rollsum.AnchorWindow])
			}
			if key == miss {
				continue // periodic data repeats its anchors' keys
			}
			bk := anchorHash(key) >> t.bshift
			ents := t.ents[t.start[bk]:t.start[bk+1]]
			if !slices.ContainsFunc(ents, func(e anchorEntry) bool { return e.key == key }) {
				miss = key
				continue
			}
			for _, e := range ents {
				p := win - int(e.off)
				if e.key != key || p <= x || p >= best || m.groupDone(e.blk) {
					continue
				}
				if p != lastP {
					if checks++; checks > 8 && checks*checkEvery > win-x {
						return x, 0, 0, 0, 0, false
					}
					lastP, w0, w1 = p, rollsum.Sum(buf[p:p+m.bs])&m.mask, 0
					if m.seq == 2 {
						w1 = rollsum.Sum(buf[p+m.bs:p+2*m.bs]) & m.mask
					}
				}
				if w0 == m.x.Weak[e.blk] && (m.seq == 1 || w1 == m.x.Weak[e.blk+1]) {
					best = p
				}
			}
		}
		pos += cnt
	}
	a0, b0 := sums(buf[best : best+m.bs])
	var a1, b1 uint32
	if m.seq == 2 {
		a1, b1 = sums(buf[best+m.bs : best+2*m.bs])
	}
	return best, a0, b0, a1, b1, true
}
