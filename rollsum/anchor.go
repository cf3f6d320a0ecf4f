package rollsum

import "encoding/binary"

// Anchors are content-defined positions inside a block that let a scan find
// the block without testing every seed position against the block table.
//
// The anchor window at offset o of some data is its AnchorWindow bytes from
// o; the window is an anchor at density 2^-bits when IsAnchor holds for its
// weak sum (Sum of those 64 bytes). A block's anchor is its first anchor
// window followed by another 64 bytes of the block's data, and its key is
// the weak sum of those next 64 bytes. Since both sums depend on nothing but
// the bytes they cover, wherever the block's content appears in a seed, at
// any alignment, its anchor window appears at the same offset from the
// block's start, followed by the same key. A scan therefore needs to look up
// only the seed's anchor windows (one position in 2^bits) in a table of the
// blocks' keys, and each hit names a block and the one seed position where
// it could start.
//
// The key is the next window's sum, not the anchor window's own: the anchor
// test leaves the anchor's own sum only a 2^-bits share of the values a sum
// takes (and A, the sum of 64 bytes, clusters around 64 times the mean
// byte), so among 65,536 blocks a seed anchor would match some block's
// anchor sum about one time in ten. The next window's sum is independent of
// the test.
//
// The sums are those of the rolling weak sum itself, so a scan computes them
// with the same kernel that rolls a block's window (RollInto). Constant
// windows (a run of one byte value) are never anchors, for any bits from
// MinAnchorBits up: otherwise every position of a run of zeros would be one.

// AnchorWindow is the width in bytes of the windows anchors are chosen by.
const AnchorWindow = 64

// AnchorShift is log2(AnchorWindow), the shift that rolls an anchor window.
const AnchorShift = 6

// The density limits: an anchor is a window whose mixed sum has its top bits
// zero, between 6 (one window in 64) and 16 of them.
const (
	MinAnchorBits = 6
	MaxAnchorBits = 16
)

// AnchorAdd and AnchorMul mix a window's sum before its top bits are tested.
// AnchorAdd is the smallest addend for which no constant window is an
// anchor (TestConstantWindowsNeverAnchor); AnchorMul is an odd constant
// whose product spreads every input bit into the top bits.
const (
	AnchorAdd = 2
	AnchorMul = 0x9E3779B1
)

// IsAnchor reports whether a window whose weak sum is sum is an anchor at
// density 2^-bits (MinAnchorBits <= bits <= MaxAnchorBits).
func IsAnchor(sum uint32, bits uint) bool {
	return (sum+AnchorAdd)*AnchorMul>>(32-bits&31) == 0
}

// AnchorBits returns the density zync make uses for blocks of blocksize
// bytes: about sixteen anchors a block, so that a block of random content
// has none with a probability of about e^-16 (1.4e-7 for 4 KiB blocks,
// whose density is 2^-8). It returns 0 for blocksizes too small (under 1
// KiB) or too large (over 64 KiB, whose offsets a record cannot hold) for
// anchors.
func AnchorBits(blocksize int) uint {
	if blocksize < 1<<10 || blocksize > 1<<16 {
		return 0
	}
	bits := uint(0)
	for 1<<(bits+1) <= blocksize {
		bits++
	}
	return bits - 4
}

// FindAnchor returns the offset of the first anchor window (density
// 2^-bits) in p that another AnchorWindow bytes of p follow, and the key:
// the weak sum of those bytes. ok is false when there is none. zync make
// runs it on every block; it stops at the anchor, about 2^bits bytes in, and
// passes over runs of one byte value (zero padding), whose windows are never
// anchors, without rolling through them.
func FindAnchor(p []byte, bits uint) (off int, key uint32, ok bool) {
	const stretch = 256 // windows rolled between looks for a run
	var buf [stretch]uint32
	last := len(p) - 2*AnchorWindow // the last offset an anchor may have
	found := func(o int) (int, uint32, bool) { return o, Sum(p[o+AnchorWindow : o+2*AnchorWindow]), true }
	for o := 0; o <= last; {
		if n := RunLen(p[o:], p[o]); n >= AnchorWindow {
			// Every window inside the run is constant: go on with the
			// first window that holds the byte after it.
			o += n - AnchorWindow + 1
			continue
		}
		s := Sum(p[o : o+AnchorWindow])
		if IsAnchor(s, bits) {
			return found(o)
		}
		// ws[i] is the sum of the window at o+1+i.
		end := min(last, o+stretch)
		ws := buf[:end-o]
		RollInto(ws, p[o:end], p[o+AnchorWindow:end+AnchorWindow], s>>16, s&0xffff, AnchorShift)
		if i := FirstAnchor(ws, bits); i < len(ws) {
			return found(o + 1 + i)
		}
		if end == last {
			break
		}
		o = end
	}
	return 0, 0, false
}

// RunLen returns how many leading bytes of p equal c, eight at a time.
func RunLen(p []byte, c byte) int {
	pat := uint64(c) * 0x0101010101010101
	n := 0
	for len(p)-n >= 8 && binary.LittleEndian.Uint64(p[n:]) == pat {
		n += 8
	}
	for n < len(p) && p[n] == c {
		n++
	}
	return n
}
