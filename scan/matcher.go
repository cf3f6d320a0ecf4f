// Package scan finds target blocks in seed data.
//
// A Matcher is built once from an index. It holds a lookup table keyed on the
// weak sums of one block (seq_matches 1) or of a pair of consecutive blocks
// (seq_matches 2), a cache-resident bit prefilter in front of it, and groups
// of identical target blocks, so that one seed position fills every copy of a
// block (runs of zeros in disk images) and no chain is ever walked twice.
//
// Matching follows zsync's rules, so zync finds at least what zsync finds:
// a match starts where every block of a seq_matches run agrees on the weak
// and the strong sum; after a match the next target block is tried at the
// next seed block ("continuation") before the table is asked again.
//
// The scanning loop (Scanner.Scan) is pure and allocation-free; ScanReaderAt
// drives it over sections of a seed on several goroutines.
package scan

import (
	"bytes"
	"cmp"
	"hash"
	"math/bits"
	"slices"
	"sync/atomic"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/rollsum"
)

const noBlock = ^uint32(0)

// entry is one distinct run of seq_matches blocks in the lookup table.
type entry struct {
	w0, w1 uint32 // masked weak sums of the run's blocks (w1 is 0 when seq_matches is 1)
	blk    uint32 // first block of the run (the head of its group)
}

// Matcher is the lookup structure for one index. It is safe for concurrent
// use by several Scanners once built.
type Matcher struct {
	x     *index.Index
	bs    int
	shift uint
	seq   int
	mask  uint32
	n     int64

	bitShift    uint
	bits        []uint64 // prefilter: one bit per hash value's top bits
	bucketShift uint
	start       []uint32 // bucket b holds ents[start[b]:start[b+1]]
	ents        []entry
	dupNext     []uint32 // next block whose run is identical to this one's, or noBlock
	done        []uint64 // per entry: the whole group is known (atomic)
}

func hashKey(w0, w1 uint32) uint64 {
	return (uint64(w0)<<32 | uint64(w1)) * 0x9E3779B97F4A7C15
}

// NewMatcher builds the lookup table for x. x must be valid (index.Index.Validate).
func NewMatcher(x *index.Index) *Matcher {
	m := &Matcher{
		x:     x,
		bs:    x.Blocksize,
		shift: uint(bits.TrailingZeros(uint(x.Blocksize))),
		seq:   x.SeqMatches,
		mask:  x.WeakMask(),
		n:     x.NumBlocks(),
	}
	runs := m.n - int64(m.seq) + 1
	if runs < 0 {
		runs = 0
	}
	if m.n > 0 && runs == 0 {
		// A one-block target with seq_matches 2 (never written by zsyncmake):
		// fall back to single-block matching.
		m.seq, runs = 1, m.n
	}
	w1 := func(k uint32) uint32 {
		if m.seq == 2 {
			return x.Weak[k+1]
		}
		return 0
	}
	order := make([]uint32, runs)
	for i := range order {
		order[i] = uint32(i)
	}
	strongRun := func(k uint32) []byte {
		o := int64(k) * int64(x.StrongLen)
		return x.Strong[o : o+int64(m.seq*x.StrongLen)]
	}
	slices.SortFunc(order, func(a, b uint32) int {
		ha, hb := hashKey(x.Weak[a], w1(a)), hashKey(x.Weak[b], w1(b))
		if c := cmp.Compare(ha, hb); c != 0 {
			return c
		}
		if c := bytes.Compare(strongRun(a), strongRun(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})

	m.dupNext = make([]uint32, m.n)
	for i := range m.dupNext {
		m.dupNext[i] = noBlock
	}
	ents := make([]entry, 0, runs)
	for i := 0; i < len(order); {
		head := order[i]
		j := i + 1
		prev := head
		for ; j < len(order); j++ {
			k := order[j]
			if x.Weak[k] != x.Weak[head] || w1(k) != w1(head) || !bytes.Equal(strongRun(k), strongRun(head)) {
				break
			}
			m.dupNext[prev] = k
			prev = k
		}
		ents = append(ents, entry{w0: x.Weak[head], w1: w1(head), blk: head})
		i = j
	}
	m.ents = ents

	nb := 1
	for nb < len(ents) {
		nb <<= 1
	}
	if nb < 16 {
		nb = 16
	}
	m.bucketShift = uint(64 - bits.TrailingZeros(uint(nb)))
	m.start = make([]uint32, nb+1)
	for _, e := range ents {
		m.start[(hashKey(e.w0, e.w1)>>m.bucketShift)+1]++
	}
	for b := 1; b <= nb; b++ {
		m.start[b] += m.start[b-1]
	}
	// Prefilter: about 16 bits per entry, between 2^13 and 2^23 bits (1 MiB),
	// so it stays in cache while the table need not.
	nbits := nb * 16
	nbits = max(nbits, 1<<13)
	nbits = min(nbits, 1<<23)
	m.bitShift = uint(64 - bits.TrailingZeros(uint(nbits)))
	m.bits = make([]uint64, nbits/64)
	for _, e := range ents {
		h := hashKey(e.w0, e.w1) >> m.bitShift
		m.bits[h>>6] |= 1 << (h & 63)
	}
	m.done = make([]uint64, (len(ents)+63)/64)
	return m
}

// Index returns the index the matcher was built from.
func (m *Matcher) Index() *index.Index { return m.x }

// Window returns how many seed bytes one match position needs:
// seq_matches × blocksize.
func (m *Matcher) Window() int { return m.seq * m.bs }

func (m *Matcher) isDone(e int) bool {
	return atomic.LoadUint64(&m.done[e>>6])&(1<<(uint(e)&63)) != 0
}

func (m *Matcher) setDone(e int) {
	atomic.OrUint64(&m.done[e>>6], 1<<(uint(e)&63))
}

// EmitFunc receives a found block: target block number and Blocksize bytes of
// seed data (for the last target block, the data is zero-padded like its
// sums, and only the target's bytes should be written). data is only valid
// during the call.
type EmitFunc func(block int64, data []byte) error

// Scanner scans seed bytes against a Matcher. A Scanner is not safe for
// concurrent use; make one per goroutine.
type Scanner struct {
	m     *Matcher
	known *Bitmap
	emit  EmitFunc
	h     hash.Hash
	d0    [64]byte
	d1    [64]byte
	cont  int64 // next target block to try by continuation, or -1
	found int64 // blocks claimed by this scanner
}

// NewScanner returns a scanner that claims found blocks in known and hands
// them to emit.
func NewScanner(m *Matcher, known *Bitmap, emit EmitFunc) *Scanner {
	return &Scanner{m: m, known: known, emit: emit, h: m.x.Algo.New(), cont: -1}
}

// Found returns how many blocks this scanner has claimed.
func (s *Scanner) Found() int64 { return s.found }

// Reset forgets the continuation state (call between unrelated buffers).
func (s *Scanner) Reset() { s.cont = -1 }

func (s *Scanner) strong(dst *[64]byte, p []byte) []byte {
	s.h.Reset()
	s.h.Write(p)
	return s.h.Sum(dst[:0])[:s.m.x.StrongLen]
}

// claim marks block k known and emits data for it if this scanner won it.
func (s *Scanner) claim(k int64, data []byte) error {
	if !s.known.Claim(k) {
		return nil
	}
	if err := s.emit(k, data); err != nil {
		s.known.Unclaim(k)
		return err
	}
	s.found++
	return nil
}

// Scan tries every window start x in [0, limit) of buf. buf must hold at least
// limit-1+Window() bytes (pad with zeros past the end of the seed). It returns
// the position where scanning should resume: limit, or beyond it when a match
// ran past limit. Continuation state carries over to the next call, which
// should start at buf offset (returned position - limit) of the next buffer.
func (s *Scanner) Scan(buf []byte, limit int) (int, error) {
	m := s.m
	bs := m.bs
	if limit <= 0 {
		return 0, nil
	}
	if len(buf) < limit-1+m.Window() {
		panic("scan: buffer shorter than limit-1+window")
	}
	x := 0
	var w0, w1 uint32
	fresh := true
	for x < limit {
		if fresh {
			w0 = rollsum.Sum(buf[x : x+bs])
			if m.seq == 2 {
				w1 = rollsum.Sum(buf[x+bs : x+2*bs])
			}
			fresh = false
		}
		if k := s.cont; k >= 0 {
			s.cont = -1
			if k < m.n && !s.known.Has(k) && w0&m.mask == m.x.Weak[k] &&
				bytes.Equal(s.strong(&s.d0, buf[x:x+bs]), m.x.StrongSum(k)) {
				if err := s.claim(k, buf[x:x+bs]); err != nil {
					return x, err
				}
				s.cont = k + 1
				x += bs
				fresh = true
				continue
			}
		}
		w0m, w1m := w0&m.mask, w1&m.mask
		h := hashKey(w0m, w1m)
		if b := h >> m.bitShift; m.bits[b>>6]&(1<<(b&63)) != 0 {
			matched, err := s.lookup(buf, x, h, w0m, w1m)
			if err != nil {
				return x, err
			}
			if matched {
				x += m.seq * bs
				fresh = true
				continue
			}
		}
		if x+1 >= limit {
			x++
			break
		}
		c := buf[x+bs]
		w0 = rollsum.Roll(w0, buf[x], c, m.shift)
		if m.seq == 2 {
			w1 = rollsum.Roll(w1, c, buf[x+2*bs], m.shift)
		}
		x++
	}
	return x, nil
}

// lookup walks the bucket of hash h and claims every group whose run matches
// the window at x. It reports whether anything matched.
func (s *Scanner) lookup(buf []byte, x int, h uint64, w0m, w1m uint32) (bool, error) {
	m := s.m
	bs := m.bs
	b := h >> m.bucketShift
	var d0, d1 []byte
	matched := false
	for e := int(m.start[b]); e < int(m.start[b+1]); e++ {
		ent := &m.ents[e]
		if ent.w0 != w0m || ent.w1 != w1m || m.isDone(e) {
			continue
		}
		k := int64(ent.blk)
		if d0 == nil {
			d0 = s.strong(&s.d0, buf[x:x+bs])
		}
		if !bytes.Equal(d0, m.x.StrongSum(k)) {
			continue
		}
		if m.seq == 2 {
			if d1 == nil {
				d1 = s.strong(&s.d1, buf[x+bs:x+2*bs])
			}
			if !bytes.Equal(d1, m.x.StrongSum(k+1)) {
				continue
			}
		}
		// The whole group matches: claim every block of every run in it.
		for g := ent.blk; g != noBlock; g = m.dupNext[g] {
			for j := 0; j < m.seq; j++ {
				if err := s.claim(int64(g)+int64(j), buf[x+j*bs:x+(j+1)*bs]); err != nil {
					return false, err
				}
			}
		}
		m.setDone(e)
		if !matched {
			s.cont = k + int64(m.seq)
			matched = true
		}
	}
	return matched, nil
}
