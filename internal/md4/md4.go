// Package md4 implements the MD4 hash algorithm (RFC 1320) for zsync block
// sums.
//
// zsync control files carry an MD4 checksum for every block of the target
// file, so building or checking a control file hashes the whole file in
// small blocks and MD4 speed matters. This package replaces
// golang.org/x/crypto/md4 with a fully unrolled block function, a
// zero-allocation one-shot [Sum] for hashing single blocks, [Sum8] for
// hashing eight equal-length blocks at once (with AVX2 on amd64), and a
// drop-in streaming [New].
//
// MD4 is broken as a cryptographic hash: collisions are trivial to produce.
// It is used here only because the zsync format requires it; do not use it
// for anything that needs collision or preimage resistance.
package md4

import (
	"encoding/binary"
	"hash"
)

// Size is the size of an MD4 checksum in bytes.
const Size = 16

// BlockSize is the block size of MD4 in bytes.
const BlockSize = 64

// Initial state words from RFC 1320, section 3.3.
const (
	init0 = 0x67452301
	init1 = 0xefcdab89
	init2 = 0x98badcfe
	init3 = 0x10325476
)

// Sum returns the MD4 checksum of data. It does not allocate.
func Sum(data []byte) [Size]byte {
	s := [4]uint32{init0, init1, init2, init3}
	n := len(data) &^ (BlockSize - 1)
	block(&s, data[:n])
	return finish(&s, data[n:], uint64(len(data)))
}

// finish pads the final partial block tail (shorter than BlockSize) of a
// message of total length n bytes, runs it through block and returns the
// checksum of s.
func finish(s *[4]uint32, tail []byte, n uint64) [Size]byte {
	var buf [2 * BlockSize]byte
	t := copy(buf[:], tail)
	buf[t] = 0x80
	end := BlockSize
	if t >= BlockSize-8 {
		end = 2 * BlockSize
	}
	binary.LittleEndian.PutUint64(buf[end-8:end], n<<3)
	block(s, buf[:end])

	var out [Size]byte
	binary.LittleEndian.PutUint32(out[0:], s[0])
	binary.LittleEndian.PutUint32(out[4:], s[1])
	binary.LittleEndian.PutUint32(out[8:], s[2])
	binary.LittleEndian.PutUint32(out[12:], s[3])
	return out
}

// digest is the streaming MD4 state.
type digest struct {
	s   [4]uint32
	x   [BlockSize]byte // pending partial block
	nx  int             // bytes used in x
	len uint64          // total bytes written
}

// New returns a new hash.Hash computing the MD4 checksum. It is a drop-in
// replacement for golang.org/x/crypto/md4.New.
func New() hash.Hash {
	d := new(digest)
	d.Reset()
	return d
}

// Reset resets the digest to its initial state.
func (d *digest) Reset() {
	d.s = [4]uint32{init0, init1, init2, init3}
	d.nx = 0
	d.len = 0
}

// Size returns the checksum size, [Size].
func (d *digest) Size() int { return Size }

// BlockSize returns the MD4 block size, [BlockSize].
func (d *digest) BlockSize() int { return BlockSize }

// Write adds p to the running checksum. It never returns an error.
func (d *digest) Write(p []byte) (int, error) {
	nn := len(p)
	d.len += uint64(nn)
	if d.nx > 0 {
		n := copy(d.x[d.nx:], p)
		d.nx += n
		p = p[n:]
		if d.nx < BlockSize {
			return nn, nil
		}
		block(&d.s, d.x[:])
		d.nx = 0
	}
	if n := len(p) &^ (BlockSize - 1); n > 0 {
		block(&d.s, p[:n])
		p = p[n:]
	}
	d.nx = copy(d.x[:], p)
	return nn, nil
}

// Sum appends the checksum of the data written so far to in and returns the
// result. It does not change the state of the digest.
func (d *digest) Sum(in []byte) []byte {
	s := d.s
	sum := finish(&s, d.x[:d.nx], d.len)
	return append(in, sum[:]...)
}
