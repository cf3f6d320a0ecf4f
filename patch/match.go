package patch

import (
	"context"
	"encoding/binary"
	"math/bits"
)

// Matching against seed data (Diff).
//
// The seed is indexed at content-defined anchors: a position is an anchor
// when the multiplicative hash of the 8 bytes starting there has its top
// anchorBits bits zero, about one position in 2^anchorBits. The lookup
// table maps a hash of the keyLen bytes at an anchor to the first anchor of
// the seed with that hash (one entry per slot: a later anchor in the same
// slot is dropped). Seeds of 8 MiB and more are indexed in two shards, one
// per half, built in parallel; a lookup asks both. A shard's table has a
// power of two slots, at least the expected anchor count and at most twice
// it, of 4 bytes (8 bytes, and half as many, for seeds of 4 GiB and more),
// so the index costs at most 8 bytes per 2^anchorBits seed bytes: half a
// byte per seed byte for the default of one anchor in 16 (see tableParams).
//
// The target is scanned position by position. At each position the three
// most recent displacements are tried first (most differences between
// versions replace a few bytes and go on at the same displacement); then,
// if the position is an anchor, the table. A candidate is verified and
// extended forward and backward byte by byte, so matches are exact to the
// byte whatever the anchor spacing; the longest match becomes a copy when
// it is long enough (repMin bytes at a recent displacement, matchMin at a
// new one).

const (
	hashPrime = 0x9E3779B97F4A7C15
	slotPrime = 0xC2B2AE3D27D4EB4F
	prime3    = 0x165667B19E3779F9
	prime4    = 0x27D4EB2F165667C5
	// keyLen is how many bytes the table key covers: long enough that a
	// key is rare even in repetitive text (code, JSON), so the one
	// candidate a slot holds is usually the right one.
	keyLen = 32
	// Seeds this large need 8-byte table slots.
	bigSeed    = 1 << 32
	minAnchors = 1 << 10
)

// Default matching parameters (tuned on the go and typescript corpora).
const (
	defaultAnchorBits = 4
	defaultMatchMin   = 32
	defaultRepMin     = 8
)

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// anchorHash is the hash whose top bits decide whether p is an anchor: the
// 8 bytes at p, cheap enough to test at every position; only anchors pay
// for keyHash.
func anchorHash(b []byte, p int64) uint64 {
	return le64(b[p:]) * hashPrime
}

// keyHash is the table key of the keyLen bytes at p.
func keyHash(b []byte, p int64) uint64 {
	b = b[p : p+keyLen]
	return le64(b)*hashPrime ^ le64(b[8:])*slotPrime ^ le64(b[16:])*prime3 ^ le64(b[24:])*prime4
}

// seedIndex is the lookup table of a seed's anchors, in shards: each shard
// indexes the anchors of one contiguous part of the seed, so the shards are
// built in parallel without sharing a store, and a lookup asks every shard
// (the longest match wins).
type seedIndex struct {
	old         []byte
	anchorShift uint // anchor iff anchorHash>>anchorShift == 0
	shards      []*shard
}

// shard is the table of the anchors in seed positions [lo, hi).
type shard struct {
	lo, hi    int64
	slotShift uint // slot = mix(key) >> slotShift
	tab32     []uint32
	tab64     []uint64
}

// tableParams returns log2 of the number of table slots for n seed bytes
// with one anchor in 2^anchorBits positions: the expected anchor count
// (half of it with 8-byte slots) rounded up to a power of two. The table so
// takes at most 8 bytes per 2^anchorBits seed bytes.
func tableParams(n int64, anchorBits uint, wide bool) (slotBits uint) {
	want := n >> anchorBits
	if wide {
		want >>= 1
	}
	want = max(want, minAnchors)
	return uint(bits.Len64(uint64(want - 1)))
}

// wideIndex reports whether a seed of n bytes needs 8-byte slots.
func wideIndex(n int64) bool { return n >= bigSeed }

// indexShards returns the number of shards for a seed of n bytes: a
// function of the seed alone, so that patches do not depend on the number
// of cores.
func indexShards(n int64) int64 {
	if n < 8<<20 {
		return 1
	}
	return 2
}

// shardBounds returns the seed positions shard i of a seed of n bytes
// covers.
func shardBounds(n int64, i int64) (lo, hi int64) {
	per := (n + indexShards(n) - 1) / indexShards(n)
	return min(i*per, n), min((i+1)*per, n)
}

// indexBytes returns the memory the lookup table takes for a seed of n
// bytes.
func indexBytes(n int64, anchorBits uint) int64 {
	wide := wideIndex(n)
	per := int64(4)
	if wide {
		per = 8
	}
	var total int64
	for i := range indexShards(n) {
		lo, hi := shardBounds(n, i)
		total += per << tableParams(hi-lo, anchorBits, wide)
	}
	return total
}

func (sh *shard) slot(k uint64) uint64 {
	return ((k ^ k>>29) * slotPrime) >> sh.slotShift
}

// get returns the anchor recorded in slot s (stored plus one), or -1.
func (sh *shard) get(s uint64) int64 {
	if sh.tab32 != nil {
		return int64(sh.tab32[s]) - 1
	}
	return int64(sh.tab64[s]) - 1
}

// newSeedIndex builds the table for old, one goroutine per shard.
func newSeedIndex(ctx context.Context, old []byte, anchorBits uint, force64 bool) (*seedIndex, error) {
	n := int64(len(old))
	wide := wideIndex(n) || force64
	ix := &seedIndex{old: old, anchorShift: 64 - anchorBits}
	var fns []func() error
	for i := range indexShards(n) {
		lo, hi := shardBounds(n, i)
		sb := tableParams(hi-lo, anchorBits, wide)
		sh := &shard{lo: lo, hi: hi, slotShift: 64 - sb}
		if wide {
			sh.tab64 = make([]uint64, 1<<sb)
		} else {
			sh.tab32 = make([]uint32, 1<<sb)
		}
		ix.shards = append(ix.shards, sh)
		fns = append(fns, func() error { return ix.fill(ctx, sh) })
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	return ix, nil
}

// fill records the first anchor of the shard's part of the seed with each
// key: it walks the part backwards and stores every anchor, so the earliest
// one stays. Slots
// hold position+1; 0 is empty.
//
// The loop over positions is branch-free (anchors are random, so a branch
// would mispredict): every position is written to a small batch and only
// anchors advance it. Plain stores into the table, unlike reads, do not
// wait for their cache line.
func (ix *seedIndex) fill(ctx context.Context, sh *shard) error {
	old := ix.old
	shift := ix.anchorShift & 63
	const batch = 256
	var poss [2 * batch]int64
	flush := func(nb int) {
		if sh.tab32 != nil {
			for _, p := range poss[:nb] {
				sh.tab32[sh.slot(keyHash(old, p))] = uint32(p + 1)
			}
		} else {
			for _, p := range poss[:nb] {
				sh.tab64[sh.slot(keyHash(old, p))] = uint64(p + 1)
			}
		}
	}
	nb := 0
	for p := min(sh.hi, int64(len(old))-keyLen+1) - 1; p >= sh.lo; p-- {
		poss[nb&(2*batch-1)] = p
		// nb++ when p is an anchor, without a branch: (x-1)>>63 is 1 for
		// x == 0 and 0 for the small x > 0 here.
		nb += int((anchorHash(old, p)>>shift - 1) >> 63)
		if nb == batch {
			flush(nb)
			nb = 0
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	flush(nb)
	return nil
}

// fwdLen returns the length of the common prefix of a and b.
func fwdLen(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := le64(a[i:]) ^ le64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)>>3
		}
	}
	for ; i < n && a[i] == b[i]; i++ {
	}
	return i
}

// bwdLen returns the length of the common suffix of a and b.
func bwdLen(a, b []byte) int {
	i, j := len(a), len(b)
	for i >= 8 && j >= 8 {
		if x := le64(a[i-8:]) ^ le64(b[j-8:]); x != 0 {
			return len(a) - i + bits.LeadingZeros64(x)>>3
		}
		i, j = i-8, j-8
	}
	for i > 0 && j > 0 && a[i-1] == b[j-1] {
		i, j = i-1, j-1
	}
	return len(a) - i
}

// dataScanner matches target segments against a seed index.
type dataScanner struct {
	ix               *seedIndex
	matchMin, repMin int
}

// scan emits to w the instructions that produce seg, the target bytes
// starting at target offset base.
func (s *dataScanner) scan(seg []byte, base int64, w *opWriter) {
	ix := s.ix
	old := ix.old
	oldLen := int64(len(old))
	n := len(seg)
	shift := ix.anchorShift & 63
	matchMin, repMin := s.matchMin, s.repMin
	lit := 0
	p := 0
	var rp reps
	emit := func(o int64, f, b int) {
		start := p - b
		w.literal(seg[lit:start])
		d := o - (base + int64(p))
		rp.encode(d)
		w.copy(d, int64(f+b))
		p += f
		lit = p
	}
	for p+8 <= n {
		v := le64(seg[p:])
		// The recent displacements first: the longest match wins.
		bo, bf, bb := int64(-1), 0, 0
		for i := range rp {
			if i > 0 && (rp[i] == rp[0] || (i == 2 && rp[2] == rp[1])) {
				continue
			}
			o := base + int64(p) + rp[i]
			if o >= 0 && o <= oldLen-8 && le64(old[o:]) == v {
				f := 8 + fwdLen(old[o+8:], seg[p+8:])
				b := bwdLen(old[:o], seg[lit:p])
				if f+b > bf+bb {
					bo, bf, bb = o, f, b
				}
			}
		}
		if bf+bb >= repMin {
			emit(bo, bf, bb)
			continue
		}
		if p+keyLen <= n && anchorHash(seg, int64(p))>>shift == 0 {
			k := keyHash(seg, int64(p))
			bo, bf, bb = -1, 0, 0
			for _, sh := range ix.shards {
				if c := sh.get(sh.slot(k)); c >= 0 && le64(old[c:]) == v {
					f := 8 + fwdLen(old[c+8:], seg[p+8:])
					b := bwdLen(old[:c], seg[lit:p])
					if f+b > bf+bb {
						bo, bf, bb = c, f, b
					}
				}
			}
			if bf+bb >= matchMin {
				emit(bo, bf, bb)
				continue
			}
		}
		p++
	}
	w.literal(seg[lit:])
}
