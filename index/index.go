// Package index holds the block index of a target: per-block weak and strong
// sums, the target's length and blocksize, and the matching parameters of the
// zsync format (seq_matches, stored weak bytes, stored strong bytes).
//
// The package is pure: no I/O, no goroutines. Formats (package zsyncfile)
// decode into an Index; engines build and consume it.
package index

import (
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/zyncio/zync/internal/md4"
	"github.com/zyncio/zync/rollsum"
)

// StrongAlgo names the hash used for strong sums.
type StrongAlgo uint8

// The strong sum algorithms of the zsync format (SPEC 0.8). MD4 is the only one
// zsync 0.6.x understands.
const (
	MD4 StrongAlgo = iota
	MD5
	SHA224
)

// String returns the name used in the Strong-Hash-Algorithm header.
func (a StrongAlgo) String() string {
	switch a {
	case MD4:
		return "MD4"
	case MD5:
		return "MD5"
	case SHA224:
		return "SHA-224"
	}
	return fmt.Sprintf("StrongAlgo(%d)", uint8(a))
}

// ParseStrongAlgo parses a Strong-Hash-Algorithm header value (case-insensitive).
func ParseStrongAlgo(s string) (StrongAlgo, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "MD4":
		return MD4, nil
	case "MD5":
		return MD5, nil
	case "SHA-224", "SHA224":
		return SHA224, nil
	}
	return 0, fmt.Errorf("unknown strong hash algorithm %q (known: MD4, MD5, SHA-224)", s)
}

// Size is the full digest size of the algorithm in bytes.
func (a StrongAlgo) Size() int {
	switch a {
	case MD4, MD5:
		return 16
	case SHA224:
		return 28
	}
	return 0
}

// New returns a new hash.Hash for the algorithm.
func (a StrongAlgo) New() hash.Hash {
	switch a {
	case MD5:
		return md5.New()
	case SHA224:
		return sha256.New224()
	default:
		return md4.New()
	}
}

// Limits on what an Index may describe. They bound memory before anything is
// allocated from untrusted input.
const (
	MinBlocksize = 16
	MaxBlocksize = 1 << 26 // 64 MiB
	// MaxBlocks bounds the block count (2^31-1 in zsync 0.6.2; zync uses 64-bit
	// block numbers but keeps a count that fits any sane index in memory).
	MaxBlocks = 1 << 32
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid index")

// Index describes a target as a sequence of fixed-size blocks.
type Index struct {
	Blocksize  int   // a power of two
	Length     int64 // target length in bytes
	SeqMatches int   // 1 or 2: how many consecutive blocks must match to start a match
	WeakBytes  int   // 1..4: how many trailing bytes of the 4-byte weak sum are stored
	StrongLen  int   // bytes of the strong sum stored per block
	Algo       StrongAlgo

	// Weak holds one packed weak sum (A<<16|B, see package rollsum) per block,
	// already masked with WeakMask.
	Weak []uint32
	// Strong holds StrongLen bytes per block, block after block.
	Strong []byte

	// Anchors, if not nil, locate each block's anchor window and give its
	// key (see package rollsum): hints that let a scan skip most seed positions. They are
	// not checked against the data; a wrong one only hides its block from
	// the scan.
	Anchors *Anchors
}

// Anchors holds the anchor of every block of an index.
type Anchors struct {
	// Bits is the density: an anchor is one window in 2^Bits
	// (rollsum.IsAnchor), between rollsum.MinAnchorBits and MaxAnchorBits.
	Bits int
	// Off holds each block's anchor offset, NoAnchor for a block without one.
	Off []uint16
	// Key holds, for each block, the weak sum of the 64 bytes that follow
	// its anchor window (0 without one): what a scan looks the anchor up by.
	Key []uint32
}

// NoAnchor is the Anchors.Off of a block without an anchor.
const NoAnchor = 0xffff

// NumBlocks returns ceil(Length / Blocksize).
func (x *Index) NumBlocks() int64 {
	if x.Blocksize <= 0 {
		return 0
	}
	return (x.Length + int64(x.Blocksize) - 1) / int64(x.Blocksize)
}

// WeakMask returns the mask that keeps the stored bytes of a packed weak sum.
func (x *Index) WeakMask() uint32 { return WeakMask(x.WeakBytes) }

// WeakMask returns the mask that keeps the trailing n bytes of a packed weak sum.
func WeakMask(n int) uint32 {
	if n >= 4 {
		return 0xffffffff
	}
	if n <= 0 {
		return 0
	}
	return 1<<(8*uint(n)) - 1
}

// StrongSum returns the stored strong sum of block i.
func (x *Index) StrongSum(i int64) []byte {
	o := i * int64(x.StrongLen)
	return x.Strong[o : o+int64(x.StrongLen)]
}

// BlockLen returns the number of target bytes in block i (the last block may be short).
func (x *Index) BlockLen(i int64) int {
	start := i * int64(x.Blocksize)
	if rem := x.Length - start; rem < int64(x.Blocksize) {
		return int(rem)
	}
	return x.Blocksize
}

// Validate checks the parameters and that the sums cover every block.
func (x *Index) Validate() error {
	switch {
	case x.Blocksize < MinBlocksize || x.Blocksize > MaxBlocksize || x.Blocksize&(x.Blocksize-1) != 0:
		return fmt.Errorf("%w: blocksize %d is not a power of two between %d and %d", ErrInvalid, x.Blocksize, MinBlocksize, MaxBlocksize)
	case x.Length < 0:
		return fmt.Errorf("%w: negative length %d", ErrInvalid, x.Length)
	case x.NumBlocks() > MaxBlocks:
		return fmt.Errorf("%w: %d blocks is more than the limit of %d", ErrInvalid, x.NumBlocks(), int64(MaxBlocks))
	case x.SeqMatches < 1 || x.SeqMatches > 2:
		return fmt.Errorf("%w: seq_matches %d is not 1 or 2", ErrInvalid, x.SeqMatches)
	case x.WeakBytes < 1 || x.WeakBytes > 4:
		return fmt.Errorf("%w: weak sum length %d is not between 1 and 4", ErrInvalid, x.WeakBytes)
	case x.StrongLen < 3 || x.StrongLen > x.Algo.Size():
		return fmt.Errorf("%w: strong sum length %d is not between 3 and %d for %s", ErrInvalid, x.StrongLen, x.Algo.Size(), x.Algo)
	case int64(len(x.Weak)) != x.NumBlocks():
		return fmt.Errorf("%w: %d weak sums for %d blocks", ErrInvalid, len(x.Weak), x.NumBlocks())
	case int64(len(x.Strong)) != x.NumBlocks()*int64(x.StrongLen):
		return fmt.Errorf("%w: %d strong sum bytes for %d blocks of %d", ErrInvalid, len(x.Strong), x.NumBlocks(), x.StrongLen)
	}
	if a := x.Anchors; a != nil {
		switch {
		case a.Bits < rollsum.MinAnchorBits || a.Bits > rollsum.MaxAnchorBits:
			return fmt.Errorf("%w: anchor density 2^-%d is not between 2^-%d and 2^-%d", ErrInvalid, a.Bits, rollsum.MinAnchorBits, rollsum.MaxAnchorBits)
		case int64(len(a.Off)) != x.NumBlocks() || len(a.Key) != len(a.Off):
			return fmt.Errorf("%w: %d anchor offsets and %d anchor keys for %d blocks", ErrInvalid, len(a.Off), len(a.Key), x.NumBlocks())
		}
		for k, o := range a.Off {
			if o != NoAnchor && int(o)+2*rollsum.AnchorWindow > x.BlockLen(int64(k)) {
				return fmt.Errorf("%w: block %d's anchor window at offset %d and the window after it do not fit in its %d bytes", ErrInvalid, k, o, x.BlockLen(int64(k)))
			}
		}
	}
	return nil
}
