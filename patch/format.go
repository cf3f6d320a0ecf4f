package patch

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/bits"
	"slices"

	"github.com/zyncio/zync/internal/md4"
)

// Magic is the first eight bytes of every patch. The non-ASCII first byte
// catches a transfer that mangled the file as text.
const Magic = "\x89ZPATCH\n"

// Version is the format version this package writes and the newest it reads.
const Version = 1

// Limits of the reader. They bound what a patch can make Apply allocate,
// whatever it declares: at most about 2·MaxSectionSpan + MaxInstrBytes per
// section, plus the seed's block table (MaxTableBytes) and the verified-block
// cache of ApplyOptions.
const (
	// MaxLength bounds the seed and target lengths (2^60 bytes).
	MaxLength = 1 << 60
	// MaxSectionSpan bounds the target bytes one section produces.
	MaxSectionSpan = 32 << 20
	// MaxInstrBytes bounds the decoded instruction stream of one section.
	MaxInstrBytes = 32 << 20
	// MinTableBlocksize and MaxTableBlocksize bound the blocksize of the
	// seed's block table (a power of two).
	MinTableBlocksize = 16
	MaxTableBlocksize = 64 << 20
	// MaxTableBytes bounds the seed's block table (block count × sum length).
	MaxTableBytes = 256 << 20
)

// Errors a caller decides on. Every error Apply, ApplyFile and ReadHeader
// return for a bad patch wraps ErrCorrupt or ErrUnsupported; a seed that is
// not the one the patch was made for gives ErrWrongSeed.
var (
	// ErrWrongSeed: the seed is not the file the patch was made from (length,
	// whole-file hash or a block sum differ). Nothing was written.
	ErrWrongSeed = errors.New("seed is not the file this patch applies to")
	// ErrCorrupt: the patch is truncated, damaged or not a patch at all
	// (bad magic, a length out of bounds, a failed checksum, an instruction
	// reaching outside the seed), or the result failed the target's SHA-256.
	ErrCorrupt = errors.New("patch is corrupt or truncated")
	// ErrUnsupported: a well-formed patch of a newer format version, or one
	// using a feature this package does not know.
	ErrUnsupported = errors.New("unsupported patch format")
)

// HashAlgo names a hash used in a patch.
type HashAlgo uint8

// Hash algorithms. The seed's identity is SHA256 (or SHA1 for a patch made
// against a control file that has no SHA-256); block sums use SHA256 (patches
// made from seed data) or the control file's MD4, MD5 or SHA224 (patches made
// from a control file, see DiffFromControl).
const (
	SHA256 HashAlgo = 1
	SHA1   HashAlgo = 2
	MD4    HashAlgo = 3
	MD5    HashAlgo = 4
	SHA224 HashAlgo = 5
)

// String returns the algorithm's usual name.
func (a HashAlgo) String() string {
	switch a {
	case SHA256:
		return "SHA-256"
	case SHA1:
		return "SHA-1"
	case MD4:
		return "MD4"
	case MD5:
		return "MD5"
	case SHA224:
		return "SHA-224"
	}
	return fmt.Sprintf("HashAlgo(%d)", uint8(a))
}

// Size returns the digest size in bytes, or 0 for an unknown algorithm.
func (a HashAlgo) Size() int {
	switch a {
	case SHA256:
		return 32
	case SHA1:
		return 20
	case MD4, MD5:
		return 16
	case SHA224:
		return 28
	}
	return 0
}

// New returns a new hash for the algorithm (nil for an unknown one).
func (a HashAlgo) New() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SHA1:
		return sha1.New()
	case MD4:
		return md4.New()
	case MD5:
		return md5.New()
	case SHA224:
		return sha256.New224()
	}
	return nil
}

// BlockTable holds a strong sum of every block of the seed: the sum of
// block k is the first StrongLen bytes of Algo over seed bytes
// [k·Blocksize, (k+1)·Blocksize), the last block zero-padded to Blocksize
// (as zsync sums its last block). Apply checks every block it copies from
// against its sum before using its bytes.
type BlockTable struct {
	Blocksize int
	Algo      HashAlgo
	StrongLen int
	// Sums holds StrongLen bytes per block, block after block.
	Sums []byte
}

// NumBlocks returns the number of blocks of a seed of the given length.
func (t *BlockTable) NumBlocks(seedLength int64) int64 {
	return (seedLength + int64(t.Blocksize) - 1) / int64(t.Blocksize)
}

// Sum returns the stored sum of block k.
func (t *BlockTable) Sum(k int64) []byte {
	o := k * int64(t.StrongLen)
	return t.Sums[o : o+int64(t.StrongLen)]
}

// Header is what a patch says before its instructions: the seed it applies
// to and the target's length. The target's SHA-256 comes at the end of the
// patch (Diff streams the target), see docs/patch-format.md.
type Header struct {
	Version    int
	SeedLength int64
	SeedAlgo   HashAlgo // SHA256 or SHA1
	SeedSum    []byte   // whole-seed hash
	Blocks     BlockTable
	// TargetLength is the length of the file the patch produces.
	TargetLength int64
}

// Codecs of a section's streams.
const (
	codecRaw  = 0
	codecZstd = 1
)

// Record tags.
const (
	tagEnd     = 0
	tagSection = 1
)

// appendHeader encodes h (everything before the first record).
func appendHeader(b []byte, h *Header) []byte {
	b = append(b, Magic...)
	b = append(b, Version)
	b = binary.AppendUvarint(b, 0) // flags
	b = binary.AppendUvarint(b, uint64(h.SeedLength))
	b = append(b, byte(h.SeedAlgo))
	b = append(b, h.SeedSum...)
	b = binary.AppendUvarint(b, uint64(h.Blocks.Blocksize))
	b = append(b, byte(h.Blocks.Algo), byte(h.Blocks.StrongLen))
	b = append(b, h.Blocks.Sums...)
	b = binary.AppendUvarint(b, uint64(h.TargetLength))
	return b
}

// sectionHeader is the fixed part of a section record.
type sectionHeader struct {
	span                  int64
	instrCodec, litCodec  byte
	instrRaw, instrStored int64
	litRaw, litStored     int64
}

func appendSectionHeader(b []byte, s *sectionHeader) []byte {
	b = append(b, tagSection)
	b = binary.AppendUvarint(b, uint64(s.span))
	b = append(b, s.instrCodec)
	b = binary.AppendUvarint(b, uint64(s.instrRaw))
	b = binary.AppendUvarint(b, uint64(s.instrStored))
	b = append(b, s.litCodec)
	b = binary.AppendUvarint(b, uint64(s.litRaw))
	b = binary.AppendUvarint(b, uint64(s.litStored))
	return b
}

// maxStored bounds the stored size of a stream of raw bytes: zstd's worst
// case expansion is far below this.
func maxStored(raw int64) int64 { return raw + raw/16 + 1024 }

// reader reads a patch and hashes exactly the bytes it consumes, for the
// trailer check.
type reader struct {
	br  *bufio.Reader
	h   hash.Hash
	n   int64 // bytes consumed
	one [1]byte
}

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 64<<10), h: sha256.New()}
}

// corrupt returns an error wrapping ErrCorrupt; a short read becomes
// "truncated".
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func (r *reader) readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt("truncated in %s at byte %d", what, r.n)
	}
	return fmt.Errorf("read patch (%s): %w", what, err)
}

func (r *reader) full(p []byte, what string) error {
	if _, err := io.ReadFull(r.br, p); err != nil {
		return r.readErr(what, err)
	}
	r.h.Write(p)
	r.n += int64(len(p))
	return nil
}

func (r *reader) byte(what string) (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, r.readErr(what, err)
	}
	r.one[0] = c
	r.h.Write(r.one[:])
	r.n++
	return c, nil
}

// uvarint reads a canonical uvarint no larger than max.
func (r *reader) uvarint(what string, max uint64) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; ; i++ {
		c, err := r.byte(what)
		if err != nil {
			return 0, err
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, corrupt("%s: varint overflows 64 bits", what)
		}
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, corrupt("%s: non-canonical varint", what)
			}
			x |= uint64(c) << s
			break
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	if x > max {
		return 0, corrupt("%s %d exceeds the limit %d", what, x, max)
	}
	return x, nil
}

// readHeader parses the header; it allocates the block table only as its
// bytes arrive.
func (r *reader) readHeader() (*Header, error) {
	var magic [len(Magic)]byte
	if err := r.full(magic[:], "magic"); err != nil {
		return nil, err
	}
	if string(magic[:]) != Magic {
		return nil, corrupt("not a zync patch (bad magic)")
	}
	v, err := r.byte("version")
	if err != nil {
		return nil, err
	}
	if v != Version {
		if v > Version {
			return nil, fmt.Errorf("%w: format version %d (this zync reads version %d): update zync", ErrUnsupported, v, Version)
		}
		return nil, corrupt("format version %d", v)
	}
	flags, err := r.uvarint("flags", 1<<62)
	if err != nil {
		return nil, err
	}
	if flags != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrUnsupported, flags)
	}
	h := &Header{Version: int(v)}
	sl, err := r.uvarint("seed length", MaxLength)
	if err != nil {
		return nil, err
	}
	h.SeedLength = int64(sl)
	a, err := r.byte("seed hash algorithm")
	if err != nil {
		return nil, err
	}
	h.SeedAlgo = HashAlgo(a)
	if h.SeedAlgo != SHA256 && h.SeedAlgo != SHA1 {
		return nil, fmt.Errorf("%w: seed hash algorithm %d", ErrUnsupported, a)
	}
	h.SeedSum = make([]byte, h.SeedAlgo.Size())
	if err := r.full(h.SeedSum, "seed hash"); err != nil {
		return nil, err
	}
	t := &h.Blocks
	bs, err := r.uvarint("block table blocksize", MaxTableBlocksize)
	if err != nil {
		return nil, err
	}
	if bs < MinTableBlocksize || bits.OnesCount64(bs) != 1 {
		return nil, corrupt("block table blocksize %d is not a power of two between %d and %d", bs, MinTableBlocksize, MaxTableBlocksize)
	}
	t.Blocksize = int(bs)
	if a, err = r.byte("block sum algorithm"); err != nil {
		return nil, err
	}
	t.Algo = HashAlgo(a)
	switch t.Algo {
	case SHA256, MD4, MD5, SHA224:
	default:
		return nil, fmt.Errorf("%w: block sum algorithm %d", ErrUnsupported, a)
	}
	sn, err := r.byte("block sum length")
	if err != nil {
		return nil, err
	}
	if int(sn) < 3 || int(sn) > t.Algo.Size() {
		return nil, corrupt("block sum length %d is not between 3 and %d", sn, t.Algo.Size())
	}
	t.StrongLen = int(sn)
	nb := t.NumBlocks(h.SeedLength)
	if nb > MaxTableBytes/int64(t.StrongLen) {
		return nil, corrupt("block table of %d blocks of %d bytes exceeds the limit of %d bytes", nb, t.StrongLen, MaxTableBytes)
	}
	// Read the sums in chunks, so a truncated patch claiming a huge table
	// allocates no more than it holds.
	total := nb * int64(t.StrongLen)
	for int64(len(t.Sums)) < total {
		n := min(total-int64(len(t.Sums)), 1<<20)
		t.Sums = slices.Grow(t.Sums, int(n))[:int64(len(t.Sums))+n]
		if err := r.full(t.Sums[int64(len(t.Sums))-n:], "block table"); err != nil {
			return nil, err
		}
	}
	tl, err := r.uvarint("target length", MaxLength)
	if err != nil {
		return nil, err
	}
	h.TargetLength = int64(tl)
	return h, nil
}

// readSectionHeader reads a section record's fixed part (after its tag).
// remaining is the target bytes not yet produced.
func (r *reader) readSectionHeader(remaining int64) (*sectionHeader, error) {
	s := &sectionHeader{}
	span, err := r.uvarint("section span", MaxSectionSpan)
	if err != nil {
		return nil, err
	}
	if span == 0 || int64(span) > remaining {
		return nil, corrupt("section of %d bytes with %d target bytes left", span, remaining)
	}
	s.span = int64(span)
	read := func(what string, maxRaw int64) (codec byte, raw, stored int64, err error) {
		if codec, err = r.byte(what + " codec"); err != nil {
			return
		}
		if codec != codecRaw && codec != codecZstd {
			err = fmt.Errorf("%w: %s codec %d", ErrUnsupported, what, codec)
			return
		}
		var u uint64
		if u, err = r.uvarint(what+" length", uint64(maxRaw)); err != nil {
			return
		}
		raw = int64(u)
		if u, err = r.uvarint(what+" stored length", uint64(maxStored(raw))); err != nil {
			return
		}
		stored = int64(u)
		if codec == codecRaw && stored != raw {
			err = corrupt("%s: raw stream of %d bytes stored in %d", what, raw, stored)
		}
		return
	}
	if s.instrCodec, s.instrRaw, s.instrStored, err = read("instructions", MaxInstrBytes); err != nil {
		return nil, err
	}
	if s.litCodec, s.litRaw, s.litStored, err = read("literals", s.span); err != nil {
		return nil, err
	}
	return s, nil
}
