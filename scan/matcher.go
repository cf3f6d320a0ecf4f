// Package scan finds target blocks in seed data.
//
// A Matcher is built once from an index. It holds a lookup table keyed on the
// weak sums of one block (seq_matches 1) or of a pair of consecutive blocks
// (seq_matches 2), a cache-resident bit prefilter in front of it, and groups
// of identical target blocks, so that one seed position fills every copy of a
// block (runs of zeros in disk images) and no group is walked twice.
//
// Matching follows zsync's rules: a match starts where every block of a
// seq_matches run agrees on the weak and the strong sum and the run's first
// block is not yet known; after a match the next target block is tried at
// the next seed block ("continuation") before the table is asked again, and
// the scan jumps over the matched bytes. Jumps are what make a mostly
// matching seed fast, but they can step over seed bytes that hold a missing
// block at another alignment (a file stored twice in a tar). On request
// (Options.Sweep), when blocks are still missing after the main pass, a
// sweep re-examines exactly the skipped positions, with a table of the runs
// that still lack a block and without jumping: the scan then finds every
// block zsync's rules can find, which zsync itself does not. The sweep is
// off by default because it costs about a second pass over the matched seed
// data (0.15 s on the go benchmark corpus, where it finds 49 more blocks of
// 52,277): on a fast link that is more than fetching what it finds.
//
// An index made by zync make carries anchors (index.Anchors): then, where
// every block the scan looks for has one, the rolling loop tests only the
// seed's anchor windows instead of every position's key (anchors.go),
// about 1.6 times as fast on seed data unrelated to the target.
//
// The scanning loop (Scanner.Scan) is pure and allocation-free; ScanReaderAt
// drives it over sections of a seed on several goroutines. Its two inner
// kernels, rolling the window's sums over a stretch of positions and testing
// their keys against the prefilter, have portable Go versions and, on amd64
// with AVX2, assembly versions (simd_amd64.s) that do 16 positions and 8
// keys at a time; build with -tags purego to use Go alone. FuzzKernels
// checks that both give the same results.
package scan

import (
	"bytes"
	"cmp"
	"hash"
	"math/bits"
	"slices"
	"sync/atomic"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/internal/md4"
	"github.com/zyncio/zync/rollsum"
)

const noBlock = ^uint32(0)

// deadNone is a hash value no key produces in practice; it marks "no dead hash".
const deadNone = ^uint64(0)

// entry is one distinct run of seq_matches blocks in the lookup table.
type entry struct {
	w0, w1 uint32 // masked weak sums of the run's blocks (w1 is 0 when seq_matches is 1)
	blk    uint32 // first block of the run
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
	sweep bool // a sweep matcher: never jumps, runs may start at known blocks

	filter      []uint32 // prefilter: a blocked Bloom filter (see buildTable)
	fshift      uint     // the word of a key is its word hash >> fshift
	bucketShift uint
	start       []uint32 // bucket b holds ents[start[b]:start[b+1]]
	ents        []entry

	// Groups of identical blocks (same weak and strong sums): group[k] is
	// the first block of k's group, next[k] the following member or noBlock.
	// gdone has a bit per group head, set once every member is known.
	group []uint32
	next  []uint32
	gdone []uint64

	// The anchor scan (anchors.go), nil when the index cannot use it, and
	// the constant blocks that it leaves to fillConstant.
	anch   *anchorTable
	consts []constBlock
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
	if m.n > 0 && m.n < int64(m.seq) {
		// A one-block target with seq_matches 2 (zsyncmake never writes
		// one): match single blocks.
		m.seq = 1
	}
	// The table's runs reuse buildGroups' scratch array, which holds the
	// blocks ordered by weak sum: at 4 bytes a block, a second array would
	// be most of the matcher's peak memory on a target of millions of
	// blocks. A run starts at every block but the last seq-1.
	order := m.buildGroups()
	runs := order[:0]
	for _, k := range order {
		if int64(k)+int64(m.seq) <= m.n {
			runs = append(runs, k)
		}
	}
	m.buildTable(runs, true)
	return m
}

// sweeper returns a matcher for the sweep: it shares m's groups, and its
// table holds only the runs that still lack a block.
func (m *Matcher) sweeper(known *Bitmap) *Matcher {
	s := *m
	s.sweep = true
	s.anch, s.consts = nil, nil
	var runs []uint32
	for k := int64(0); k+int64(m.seq) <= m.n; k++ {
		if !known.Has(k) || (m.seq == 2 && !known.Has(k+1)) {
			runs = append(runs, uint32(k))
		}
	}
	s.buildTable(runs, false)
	return &s
}

func (m *Matcher) w1(k uint32) uint32 {
	if m.seq == 2 {
		return m.x.Weak[k+1]
	}
	return 0
}

// buildTable fills the lookup table and prefilter with one entry per
// distinct run among runs (runs whose blocks are in the same groups have the
// same content). byWeak says runs are already ordered by their first
// block's weak sum, as buildGroups leaves them; then only runs of equal weak
// sums are sorted further, which on a target of distinct blocks is nearly
// nothing.
func (m *Matcher) buildTable(runs []uint32, byWeak bool) {
	x := m.x
	// Order: weak sums, then groups (content), then block number. Only
	// what it makes adjacent matters, runs of the same content; the
	// buckets are filled by a counting sort below.
	cmpRuns := func(a, b uint32) int {
		if c := cmp.Compare(x.Weak[a], x.Weak[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(m.w1(a), m.w1(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(m.group[a], m.group[b]); c != 0 {
			return c
		}
		if m.seq == 2 {
			if c := cmp.Compare(m.group[a+1], m.group[b+1]); c != 0 {
				return c
			}
		}
		return cmp.Compare(a, b)
	}
	if !byWeak {
		slices.SortFunc(runs, cmpRuns)
	} else {
		sortTies(runs, x.Weak, cmpRuns)
	}
	// Runs of the same content are adjacent now: keep the first of each,
	// in place, then copy the distinct ones into a table of their exact
	// size (an image of mostly zero blocks has millions of runs and a
	// handful of distinct ones).
	distinct := runs[:0]
	for i, k := range runs {
		if i > 0 {
			p := distinct[len(distinct)-1] // the same content as runs[i-1]
			if m.group[p] == m.group[k] && (m.seq == 1 || m.group[p+1] == m.group[k+1]) {
				continue
			}
		}
		distinct = append(distinct, k)
	}
	if !m.sweep {
		m.buildAnchors(distinct)
	}
	nb := 16
	for nb < len(distinct) {
		nb <<= 1
	}
	m.bucketShift = uint(64 - bits.TrailingZeros(uint(nb)))
	m.start = make([]uint32, nb+1)
	for _, k := range distinct {
		m.start[(hashKey(x.Weak[k], m.w1(k))>>m.bucketShift)+1]++
	}
	for b := 1; b <= nb; b++ {
		m.start[b] += m.start[b-1]
	}
	// A counting sort into the buckets; start[b] is bucket b's next free
	// slot until the end, when each has moved on to the next bucket's start.
	ents := make([]entry, len(distinct))
	for _, k := range distinct {
		e := entry{w0: x.Weak[k], w1: m.w1(k), blk: k}
		b := hashKey(e.w0, e.w1) >> m.bucketShift
		ents[m.start[b]] = e
		m.start[b]++
	}
	copy(m.start[1:], m.start[:nb])
	m.start[0] = 0
	m.ents = ents

	// Prefilter: a blocked Bloom filter, four bits (one per byte, see
	// filterBits) in one 32-bit word per entry, about 64 bits per entry,
	// between 2^13 and 2^23 bits (1 MiB), so it stays in cache while the
	// table need not. Four bits cut the false positives (each one a table
	// miss, see present) to about 0.05%.
	nbits := min(max(nb*64, 1<<13), 1<<23)
	m.filter = make([]uint32, nbits/32)
	m.fshift = uint(32 - bits.TrailingZeros(uint(nbits/32)))
	for _, e := range ents {
		hw, hb := filterHashes(e.w0, e.w1)
		m.filter[hw>>m.fshift] |= filterBits(hb)
	}
}

// maybe reports whether masked key (w0, w1) passes the prefilter.
func (m *Matcher) maybe(w0, w1 uint32) bool {
	hw, hb := filterHashes(w0, w1)
	bm := filterBits(hb)
	return m.filter[hw>>m.fshift]&bm == bm
}

// buildGroups links blocks with identical sums into groups. It returns its
// scratch array (one uint32 a block): every block, ordered by weak sum, then
// strong sum, then block number, for the caller to reuse.
func (m *Matcher) buildGroups() []uint32 {
	x := m.x
	order := make([]uint32, m.n)
	for i := range order {
		order[i] = uint32(i)
	}
	// Weak sums by a radix sort, which is stable (equal sums stay in block
	// order) and, unlike a comparison sort, takes a few milliseconds for
	// 65,536 blocks rather than ten; m.group is its other buffer until it
	// is filled below. Equal weak sums are then put in strong-sum order.
	m.group = make([]uint32, m.n)
	radixByWeak(order, m.group, x.Weak)
	sortTies(order, x.Weak, func(a, b uint32) int {
		if c := bytes.Compare(x.StrongSum(int64(a)), x.StrongSum(int64(b))); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	m.next = make([]uint32, m.n)
	m.gdone = make([]uint64, (m.n+63)/64)
	for i, k := range order {
		m.next[k] = noBlock
		m.group[k] = k
		if i > 0 {
			p := order[i-1]
			if x.Weak[p] == x.Weak[k] && bytes.Equal(x.StrongSum(int64(p)), x.StrongSum(int64(k))) {
				m.group[k] = m.group[p]
				m.next[p] = k
			}
		}
	}
	return order
}

// sortTies sorts each stretch of blocks with equal weak[block] by compare.
func sortTies(blocks, weak []uint32, compare func(a, b uint32) int) {
	for i := 0; i < len(blocks); {
		j := i + 1
		for j < len(blocks) && weak[blocks[j]] == weak[blocks[i]] {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(blocks[i:j], compare)
		}
		i = j
	}
}

// radixByWeak sorts blocks by weak[block], stably, 16 bits at a time, with
// tmp (as long as blocks) as the other buffer. A pass whose digit is the
// same for every block (the high half, when the weak sums have two bytes)
// is skipped.
func radixByWeak(blocks, tmp []uint32, weak []uint32) {
	if len(blocks) == 0 {
		return
	}
	count := make([]uint32, 1<<16)
	src, dst := blocks, tmp[:len(blocks)]
	for shift := uint(0); shift < 32; shift += 16 {
		clear(count)
		for _, k := range src {
			count[weak[k]>>shift&0xffff]++
		}
		if int(count[weak[src[0]]>>shift&0xffff]) == len(src) {
			continue
		}
		sum := uint32(0)
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range src {
			d := weak[k] >> shift & 0xffff
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &blocks[0] {
		copy(blocks, src)
	}
}

// Index returns the index the matcher was built from.
func (m *Matcher) Index() *index.Index { return m.x }

// Window returns how many seed bytes one match position needs:
// seq_matches × blocksize.
func (m *Matcher) Window() int { return m.seq * m.bs }

// groupDone reports whether every block with the content of block k is known.
func (m *Matcher) groupDone(k uint32) bool {
	g := m.group[k]
	return atomic.LoadUint64(&m.gdone[g>>6])&(1<<(g&63)) != 0
}

// EmitFunc receives a found block: target block number and Blocksize bytes of
// seed data (for the last target block, the data is zero-padded like its
// sums, and only the target's bytes should be written). data is only valid
// during the call.
type EmitFunc func(block int64, data []byte) error

// span is a half-open range of absolute seed positions.
type span struct{ from, to int64 }

// Scanner scans seed bytes against a Matcher. A Scanner is not safe for
// concurrent use; make one per goroutine.
type Scanner struct {
	m      *Matcher
	known  *Bitmap
	emit   EmitFunc
	h      hash.Hash
	d0, d1 [64]byte
	cont   int64 // next target block to try by continuation, or -1
	contAt int64 // the absolute seed position where cont is tried
	found  int64 // blocks claimed by this scanner
	skips  []span
	// dead is a hash whose table entries are all known: runs of one byte
	// value (zeros in disk images) give the same hash at every position, and
	// once their blocks are found the rolling loop passes over them without
	// a lookup. (Entries only ever become known, so a dead hash stays dead.)
	dead uint64
	// ring holds weak sums of recent positions for roll2 (see sumRing).
	ring sumRing
	// ahead holds the MD4 sums of the windows following a continuation,
	// hashed together with it (see strongCont).
	ahead aheadSums
	// filled: the constant blocks were claimed (fillConstant).
	filled bool
}

// aheadSums are the strong sums of n consecutive windows, the first at
// absolute seed position at (n is 0 when there are none).
type aheadSums struct {
	at   int64
	n    int
	sums [8][md4.Size]byte
}

// sumRing holds the weak sums of the windows at positions lo to hi of the
// buffer being scanned (A<<16 | B&0xffff, as rollInto stores them): the sum
// at p is in s[p&(len(s)-1)]. roll2 fills it as it rolls; the second window
// of a pair at p is the first window at p+bs, so once the ring holds the
// block of positions ahead, only one window needs rolling. It survives
// roll2's returns at keys of the table that turn out not to match (on an
// unrelated seed, thousands: a 32-bit key of two 16-bit weak sums), which
// are far more frequent than a block apart.
type sumRing struct {
	s      []uint32 // nil: no ring (blocks above maxRingBlock)
	lo, hi int      // empty when hi < lo
	// w holds roll2's and roll1's chunks of sums where the ring is not in
	// use: kept here, not in locals that would be cleared on every call.
	w [2][rollChunk]uint32
}

// maxRingBlock is the largest blocksize for which roll2 keeps a ring of
// weak sums (a ring of about twice the blocksize in uint32s: 512 KiB).
const maxRingBlock = 64 << 10

// NewScanner returns a scanner that claims found blocks in known and hands
// them to emit.
func NewScanner(m *Matcher, known *Bitmap, emit EmitFunc) *Scanner {
	return &Scanner{m: m, known: known, emit: emit, h: m.x.Algo.New(), cont: -1, dead: deadNone}
}

// Found returns how many blocks this scanner has claimed.
func (s *Scanner) Found() int64 { return s.found }

// Reset forgets the continuation state (call before scanning unrelated data).
func (s *Scanner) Reset() { s.cont = -1 }

func (s *Scanner) strong(dst *[64]byte, p []byte) []byte {
	s.h.Reset()
	s.h.Write(p)
	return s.h.Sum(dst[:0])[:s.m.x.StrongLen]
}

// claim marks block k and every block identical to it known, emitting data
// for each block this scanner won.
func (s *Scanner) claim(k int64, data []byte) error {
	m := s.m
	if m.groupDone(uint32(k)) {
		return nil
	}
	g := m.group[k]
	for b := g; b != noBlock; b = m.next[b] {
		if !s.known.Claim(int64(b)) {
			continue
		}
		if err := s.emit(int64(b), data); err != nil {
			s.known.Unclaim(int64(b))
			return err
		}
		s.found++
	}
	atomic.OrUint64(&m.gdone[g>>6], 1<<(g&63))
	return nil
}

// continues reports whether the window at absolute seed position at, the
// first Blocksize bytes of p (whose weak sum is w0), holds target block k.
// It is tried whatever is already known, so a run of matches is followed to
// its end by whichever scanner finds it.
func (s *Scanner) continues(k int64, at int64, w0 uint32, p []byte) bool {
	m := s.m
	return k < m.n && w0&m.mask == m.x.Weak[k] &&
		bytes.Equal(s.strongCont(k, at, p), m.x.StrongSum(k))
}

// strongCont returns the strong sum of the window at absolute seed position
// at, the first Blocksize bytes of p, for continuation to block k. A run of
// continuations hashes one window per block, so with MD4 (zsync's strong
// sum) the windows after it in p, up to seven, are hashed along with it by
// md4.Sum8, which takes less time for eight blocks than md4.Sum for one;
// the run's next steps find their sums ready. A run that breaks early wastes
// only that.
func (s *Scanner) strongCont(k int64, at int64, p []byte) []byte {
	m := s.m
	bs := int64(m.bs)
	sl := m.x.StrongLen
	if d := at - s.ahead.at; s.ahead.n > 0 && d >= 0 && d%bs == 0 && d/bs < int64(s.ahead.n) {
		return s.ahead.sums[d/bs][:sl]
	}
	n := int(min(8, int64(len(p))/bs, m.n-k))
	if m.x.Algo != index.MD4 || sl > md4.Size || n < 2 {
		return s.strong(&s.d0, p[:bs])
	}
	var msgs [8][]byte
	for i := range msgs {
		j := int64(min(i, n-1))
		msgs[i] = p[j*bs : (j+1)*bs]
	}
	md4.Sum8(&s.ahead.sums, &msgs)
	s.ahead.at, s.ahead.n = at, n
	return s.ahead.sums[0][:sl]
}

// skipped records that positions [from, to) were jumped over. Spans less
// than a window apart are joined (a match is followed by a lookup at one
// position, then another jump): the sweep then reads long stretches instead
// of re-reading a window around every block, and looking again at the few
// positions in between costs nothing worth mentioning.
func (s *Scanner) skipped(from, to int64) {
	if n := len(s.skips); n > 0 && from-s.skips[n-1].to <= int64(s.m.Window()) {
		s.skips[n-1].to = max(s.skips[n-1].to, to)
		return
	}
	s.skips = append(s.skips, span{from, to})
}

// Extend tries the pending continuation at window (Blocksize bytes of the
// seed at the continuation's position, zero-padded past the seed's end) and
// reports whether it supplied a block that was not yet known. A section
// calls it past its end, so a run of matches is not cut where the next
// section begins.
func (s *Scanner) Extend(window []byte) (bool, error) {
	k := s.cont
	s.cont = -1
	if k < 0 || k >= s.m.n || s.known.Has(k) {
		return false, nil
	}
	if !s.continues(k, s.contAt, rollsum.Sum(window[:s.m.bs]), window) {
		return false, nil
	}
	if err := s.claim(k, window[:s.m.bs]); err != nil {
		return false, err
	}
	s.cont, s.contAt = k+1, s.contAt+int64(s.m.bs)
	return true, nil
}

// Scan tries every window start x in [0, limit) of buf, whose first byte is
// at absolute seed position base. buf must hold at least limit-1+Window()
// bytes (pad with zeros past the end of the seed). It returns the position
// where scanning should resume: limit, or beyond it when a match ran past
// limit. Continuation state carries over to the next call.
func (s *Scanner) Scan(buf []byte, base int64, limit int) (int, error) {
	m := s.m
	bs := m.bs
	if limit <= 0 {
		return 0, nil
	}
	if len(buf) < limit-1+m.Window() {
		panic("scan: buffer shorter than limit-1+window")
	}
	if !s.filled {
		if err := s.fillConstant(); err != nil {
			return 0, err
		}
	}
	x := 0
	// The sums are kept unmasked in 32-bit halves: only their low 16 bits
	// matter, and masking is done once per position when the key is built.
	var a0, b0, a1, b1 uint32
	// fresh0/fresh1: the first/second window's sums must be computed anew.
	// The second is computed only when a table lookup needs it: a run of
	// continuations never does, and after one the second window becomes the
	// first.
	fresh0, fresh1 := true, m.seq == 2
	if m.seq == 2 && m.anch == nil && s.ring.s == nil && bs <= maxRingBlock {
		s.ring.s = make([]uint32, 1<<bits.Len(uint(bs+rollChunk)))
	}
	s.ring.lo, s.ring.hi = 0, -1 // positions are relative to buf
	// classic: the rest of buf is rolled by the classic roll (see
	// rollAnchors).
	classic := false
	for x < limit {
		if fresh0 {
			a0, b0 = sums(buf[x : x+bs])
			fresh0 = false
		}
		at := base + int64(x)
		w0 := (a0<<16 | b0&0xffff)
		if s.cont >= 0 && at >= s.contAt {
			k := s.cont
			s.cont = -1
			// The window repeats the previous one, whose block k-1 just
			// matched, and block k has the same content as k-1: a match
			// without hashing (runs of zeros in disk images).
			same := x >= bs && k > 0 && k < m.n && m.group[k] == m.group[k-1] &&
				bytes.Equal(buf[x:x+bs], buf[x-bs:x])
			if at == s.contAt && (same || s.continues(k, at, w0, buf[x:])) {
				if err := s.claim(k, buf[x:x+bs]); err != nil {
					return x, err
				}
				s.cont, s.contAt = k+1, at+int64(bs)
				if !m.sweep {
					s.skipped(at+1, at+int64(bs))
					x += bs
					if m.seq == 2 && !fresh1 {
						a0, b0 = a1, b1
					} else {
						fresh0 = true
					}
					fresh1 = m.seq == 2
					continue
				}
			}
		}
		if fresh1 {
			a1, b1 = sums(buf[x+bs : x+2*bs])
			fresh1 = false
		}
		w0m, w1m := w0&m.mask, (a1<<16|b1&0xffff)&m.mask
		h := hashKey(w0m, w1m)
		if h != s.dead && m.maybe(w0m, w1m) {
			k, err := s.lookup(buf, x, h, w0m, w1m)
			if err != nil {
				return x, err
			}
			if k >= 0 {
				run := int64(m.seq * bs)
				if s.cont < 0 {
					s.cont, s.contAt = k+int64(m.seq), at+run
				}
				if !m.sweep {
					s.skipped(at+1, at+run)
					x += int(run)
					fresh0, fresh1 = true, m.seq == 2
					continue
				}
			}
		}
		if x+1 >= limit {
			x++
			break
		}
		// In a run of one byte value every window has the key just looked
		// up; if that found nothing still wanted, skip the whole run.
		if w := m.Window(); buf[x] == buf[x+w-1] && buf[x] == buf[x+w] && (s.cont < 0 || m.sweep) {
			// The key first: the run is measured only when it can be
			// skipped, so each run is measured once.
			if hashKey(w0m, w1m) == s.dead || !m.maybe(w0m, w1m) {
				// Measure the run only as far as the scan may skip (up to a
				// pending continuation), so the work is what is skipped.
				bound := limit - 1
				if s.cont >= 0 && s.contAt-base < int64(bound) {
					bound = int(max(int64(x), s.contAt-base))
				}
				if n := rollsum.RunLen(buf[x:bound+w], buf[x]); x+n-w > x {
					x += n - w
					continue
				}
			}
		}
		// Roll to the next position whose key is in the table, or to
		// the last position, in a tight loop. A pending continuation stops
		// the roll where it is due.
		stop := limit - 1
		if s.cont >= 0 && s.contAt > at && s.contAt-base < int64(stop) {
			stop = int(s.contAt - base)
		}
		if m.anch != nil && !classic {
			if nx, na0, nb0, na1, nb1, ok := m.rollAnchors(buf, x, stop, &s.ring); ok {
				x, a0, b0, a1, b1 = nx, na0, nb0, na1, nb1
				fresh1 = false
				continue
			}
			classic = true // the anchor roll would check too much here
		}
		if m.seq == 2 {
			x, a0, b0, a1, b1 = m.roll2(buf, x, stop, a0, b0, a1, b1, s.dead, &s.ring)
		} else {
			x, a0, b0 = m.roll1(buf, x, stop, a0, b0, s.dead, &s.ring)
		}
	}
	return x, nil
}

// sums returns the unmasked A and B halves of the weak sum of p.
func sums(p []byte) (a, b uint32) {
	w := rollsum.Sum(p)
	return w >> 16, w & 0xffff
}

// roll2 rolls both windows of a pair from position x until the position
// whose key is in the table (firstHit), or until stop (stop > x). It
// returns the new position and sums. This loop is where an unrelated seed
// spends its time, almost all of it in the two kernels, rollInto and
// filterFirst (about 0.3 and 0.7 ns a byte a core with AVX2, the second
// bound by its loads from the cache-resident prefilter).
func (m *Matcher) roll2(buf []byte, x, stop int, a0, b0, a1, b1 uint32, dead uint64, r *sumRing) (int, uint32, uint32, uint32, uint32) {
	bs := m.bs
	ring := r.s
	rmask := len(ring) - 1
	if ring != nil && (r.hi < x+bs || r.lo > x+bs+1) {
		// The sums rolled from here on would not join those in the ring:
		// it starts anew a block ahead.
		r.lo, r.hi = x+bs+1, x+bs
	}
	// Three short passes per chunk instead of one long loop: roll the first
	// window storing its sums, roll the second, then hash and test the
	// prefilter. Each pass is small enough for Go to keep it in registers,
	// which more than pays for the stores.
	w0s, w1s := &r.w[0], &r.w[1]
	// Chunks start small and grow, so a hit soon after the start (runs of
	// zeros hit at every position) wastes little rolling.
	for chunk := 8; x < stop; chunk = min(2*chunk, len(w0s)) {
		if ring != nil && r.lo <= x+1 {
			return m.roll2Ring(buf, x, stop, dead, r)
		}
		cnt := min(stop-x, chunk)
		out := buf[x : x+cnt]
		mid := buf[x+bs : x+bs+cnt]
		end := buf[x+2*bs : x+2*bs+cnt]
		a0, b0 = rollInto(w0s[:cnt], out, mid, a0, b0, m.shift)
		a1, b1 = rollInto(w1s[:cnt], mid, end, a1, b1, m.shift)
		if ring != nil {
			for i, w := range w1s[:cnt] {
				ring[(x+bs+1+i)&rmask] = w
			}
			r.hi = x + bs + cnt
			r.lo = max(r.lo, r.hi-rmask)
		}
		if i := m.firstHit(w0s[:cnt], w1s[:cnt], dead); i >= 0 {
			// Only the low 16 bits of each half matter, and those are what
			// was stored for the position after i.
			return x + i + 1, w0s[i] >> 16, w0s[i] & 0xffff, w1s[i] >> 16, w1s[i] & 0xffff
		}
		x += cnt
	}
	return stop, a0, b0, a1, b1
}

// rollChunk is the most positions roll2 rolls before it tests them. Longer
// chunks spend less on the calls around the kernels; at 2,048 the ring of a
// 4 KiB block is still 8,192 sums (32 KiB). BenchmarkScanUnrelated, eight
// interleaved runs: median 45 ms at 512, 44 ms at 2,048.
const rollChunk = 2048

// roll2Ring is roll2 once the ring holds the sums of positions x+1 to
// x+bs: only the window a block ahead is rolled, its sums written to the
// ring, where they serve again a block later as the first window's. Sums
// the ring already holds beyond x+bs (rolled ahead before a return at a
// key that did not match) are not rolled again: rolling from a stored sum
// is exact, as only the low 16 bits of A and B matter and they depend on
// nothing else.
func (m *Matcher) roll2Ring(buf []byte, x, stop int, dead uint64, r *sumRing) (int, uint32, uint32, uint32, uint32) {
	bs := m.bs
	ring := r.s
	rmask := len(ring) - 1
	for x < stop {
		cnt := min(stop-x, rollChunk)
		// Sums up to x+bs+cnt, rolled on from the last one held.
		for r.hi < x+bs+cnt {
			w := ring[r.hi&rmask]
			q := (r.hi + 1) & rmask
			k := min(x+bs+cnt-r.hi, len(ring)-q)
			rollInto(ring[q:q+k], buf[r.hi:r.hi+k], buf[r.hi+bs:r.hi+bs+k], w>>16, w&0xffff, m.shift)
			r.hi += k
		}
		r.lo = max(r.lo, r.hi-rmask)
		// Test positions x+1 .. x+cnt: first-window sums at x+1.., second
		// at x+bs+1..; neither stretch may wrap around the ring's end.
		r0, r1 := (x+1)&rmask, (x+bs+1)&rmask
		cnt = min(cnt, len(ring)-r0, len(ring)-r1)
		w0s, w1s := ring[r0:r0+cnt], ring[r1:r1+cnt]
		if i := m.firstHit(w0s, w1s, dead); i >= 0 {
			return x + i + 1, w0s[i] >> 16, w0s[i] & 0xffff, w1s[i] >> 16, w1s[i] & 0xffff
		}
		x += cnt
	}
	w0, w1 := ring[x&rmask], ring[(x+bs)&rmask]
	return x, w0 >> 16, w0 & 0xffff, w1 >> 16, w1 & 0xffff
}

// firstHit returns the first i whose key (w0s[i], w1s[i]) is in the table,
// or -1: the prefilter first, then the table itself for the few keys that
// pass it. A position whose hash is dead (its entries are all known already)
// does not count.
func (m *Matcher) firstHit(w0s, w1s []uint32, dead uint64) int {
	for i := 0; i < len(w0s); i++ {
		i += filterFirst(w0s[i:], w1s[i:], m.mask, m.filter, m.fshift)
		if i >= len(w0s) {
			break
		}
		w0, w1 := w0s[i]&m.mask, w1s[i]&m.mask
		if h := hashKey(w0, w1); h != dead && m.present(h, w0, w1) {
			return i
		}
	}
	return -1
}

// present reports whether the table has an entry with masked key (w0, w1),
// whose hash is h. The prefilter's false positives (about 0.05% of keys)
// end here, in the rolling loop, instead of in a return to Scan and a
// lookup.
func (m *Matcher) present(h uint64, w0, w1 uint32) bool {
	b := h >> m.bucketShift
	for _, e := range m.ents[m.start[b]:m.start[b+1]] {
		if e.w0 == w0 && e.w1 == w1 {
			return true
		}
	}
	return false
}

// zeroSums stands for the second window's sums with seq_matches 1, whose
// keys have w1 = 0 (read-only).
var zeroSums [rollChunk]uint32

// roll1 is roll2 for single-block matching.
func (m *Matcher) roll1(buf []byte, x, stop int, a0, b0 uint32, dead uint64, r *sumRing) (int, uint32, uint32) {
	bs := m.bs
	ws := &r.w[0]
	for chunk := 8; x < stop; chunk = min(2*chunk, len(ws)) {
		cnt := min(stop-x, chunk)
		a0, b0 = rollInto(ws[:cnt], buf[x:x+cnt], buf[x+bs:x+bs+cnt], a0, b0, m.shift)
		if i := m.firstHit(ws[:cnt], zeroSums[:cnt], dead); i >= 0 {
			return x + i + 1, ws[i] >> 16, ws[i] & 0xffff
		}
		x += cnt
	}
	return stop, a0, b0
}

// lookup walks the bucket of hash h and claims every run that matches the
// window at x. It returns the first block of the first run that matched,
// or -1.
func (s *Scanner) lookup(buf []byte, x int, h uint64, w0m, w1m uint32) (int64, error) {
	m := s.m
	bs := m.bs
	b := h >> m.bucketShift
	var d0, d1 []byte
	first := int64(-1)
	live := false // an entry with this key is not yet known
	for e := int(m.start[b]); e < int(m.start[b+1]); e++ {
		ent := &m.ents[e]
		if ent.w0 != w0m || ent.w1 != w1m {
			continue
		}
		if m.groupDone(ent.blk) && (!m.sweep || m.seq == 1 || m.groupDone(ent.blk+1)) {
			// zsync's rule in the main pass: a run never starts at a block
			// already known (zsync unlinks known blocks from its hash).
			// Besides saving a strong sum, this keeps the scan from jumping
			// over seed data that may hold other, still missing blocks. The
			// sweep also takes runs whose later block is missing.
			continue
		}
		live = true
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
		for j := 0; j < m.seq; j++ {
			if err := s.claim(k+int64(j), buf[x+j*bs:x+(j+1)*bs]); err != nil {
				return -1, err
			}
		}
		if first < 0 {
			first = k
		}
	}
	if !live {
		s.dead = h
	}
	return first, nil
}
