package scan

import (
	"math/bits"
	"sync/atomic"
)

// Bitmap records which target blocks are known (found in a seed or fetched
// and verified). It is safe for concurrent use; claiming a block is atomic,
// so two scanners never both write the same block.
type Bitmap struct {
	words []uint64
	n     int64
	set   atomic.Int64
}

// NewBitmap returns a bitmap for n blocks, all unknown.
func NewBitmap(n int64) *Bitmap {
	return &Bitmap{words: make([]uint64, (n+63)/64), n: n}
}

// Len returns the number of blocks.
func (b *Bitmap) Len() int64 { return b.n }

// Has reports whether block i is known.
func (b *Bitmap) Has(i int64) bool {
	return atomic.LoadUint64(&b.words[i>>6])&(1<<(uint(i)&63)) != 0
}

// Claim marks block i known and reports whether this call changed it.
func (b *Bitmap) Claim(i int64) bool {
	bit := uint64(1) << (uint(i) & 63)
	if atomic.OrUint64(&b.words[i>>6], bit)&bit != 0 {
		return false
	}
	b.set.Add(1)
	return true
}

// Unclaim marks block i unknown again (used when writing a claimed block
// failed).
func (b *Bitmap) Unclaim(i int64) {
	bit := uint64(1) << (uint(i) & 63)
	if atomic.AndUint64(&b.words[i>>6], ^bit)&bit != 0 {
		b.set.Add(-1)
	}
}

// NextUnset returns the first block at or after i that is not known, or
// Len() if there is none.
func (b *Bitmap) NextUnset(i int64) int64 {
	for i < b.n {
		if w := ^atomic.LoadUint64(&b.words[i>>6]) >> (uint(i) & 63); w != 0 {
			return min(i+int64(bits.TrailingZeros64(w)), b.n)
		}
		i = i | 63 + 1
	}
	return b.n
}

// Count returns how many blocks are known.
func (b *Bitmap) Count() int64 { return b.set.Load() }

// Full reports whether every block is known.
func (b *Bitmap) Full() bool { return b.set.Load() == b.n }

// Missing calls fn for each maximal run [first, last] of unknown blocks, in order.
func (b *Bitmap) Missing(fn func(first, last int64)) {
	start := int64(-1)
	for i := int64(0); i < b.n; i++ {
		w := atomic.LoadUint64(&b.words[i>>6])
		if i&63 == 0 && w == ^uint64(0) && i+64 <= b.n {
			if start >= 0 {
				fn(start, i-1)
				start = -1
			}
			i += 63
			continue
		}
		if w&(1<<(uint(i)&63)) == 0 {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			fn(start, i-1)
			start = -1
		}
	}
	if start >= 0 {
		fn(start, b.n-1)
	}
}
