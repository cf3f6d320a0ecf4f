package assemble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/zyncio/zync/rollsum"
	"hash/crc32"
	"io"
	"os"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/scan"
)

// JournalSuffix names the journal kept beside the part file: which blocks of
// the part file are verified and durable, and what they are blocks of.
const JournalSuffix = ".zync-journal"

const journalMagic = "ZYNCJNL1"

// maxValidator bounds the validator string stored in a journal.
const maxValidator = 1024

// Identity ties a journal to one target: the control file's SHA-256 and the
// target's length and blocksize. Validator (an ETag or Last-Modified value)
// is what the server said the target was when the data was fetched; it is
// sent as If-Range on resume.
type Identity struct {
	Control   [32]byte
	Length    int64
	Blocksize int
	Validator string
}

// Journal is a decoded journal file.
type Journal struct {
	Identity
	Blocks int64
	bitmap []byte
}

// Has reports whether block i was recorded as verified.
func (j *Journal) Has(i int64) bool { return j.bitmap[i>>3]&(1<<(i&7)) != 0 }

// Count returns how many blocks the journal records.
func (j *Journal) Count() int64 {
	var n int64
	for _, b := range j.bitmap {
		for ; b != 0; b &= b - 1 {
			n++
		}
	}
	return n
}

// ErrJournal is wrapped by errors reading a journal that is damaged or
// belongs to another target; the caller starts afresh.
var ErrJournal = errors.New("unusable journal")

func encodeJournal(id Identity, blocks int64, written *scan.Bitmap) []byte {
	var b bytes.Buffer
	b.WriteString(journalMagic)
	b.Write(id.Control[:])
	binary.Write(&b, binary.BigEndian, uint64(id.Length))
	binary.Write(&b, binary.BigEndian, uint32(id.Blocksize))
	binary.Write(&b, binary.BigEndian, uint64(blocks))
	v := id.Validator
	if len(v) > maxValidator {
		v = ""
	}
	binary.Write(&b, binary.BigEndian, uint16(len(v)))
	b.WriteString(v)
	bm := make([]byte, (blocks+7)/8)
	for i := int64(0); i < blocks; i++ {
		if written.Has(i) {
			bm[i>>3] |= 1 << (i & 7)
		}
	}
	b.Write(bm)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(b.Bytes()))
	return b.Bytes()
}

// ReadJournal decodes the journal at path.
func ReadJournal(path string) (*Journal, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeJournal(data)
}

func decodeJournal(data []byte) (*Journal, error) {
	const fixed = len(journalMagic) + 32 + 8 + 4 + 8 + 2
	if len(data) < fixed+4 || string(data[:len(journalMagic)]) != journalMagic {
		return nil, fmt.Errorf("%w: not a zync journal", ErrJournal)
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrJournal)
	}
	r := bytes.NewReader(body[len(journalMagic):])
	var j Journal
	io.ReadFull(r, j.Control[:])
	var length uint64
	var bs uint32
	var blocks uint64
	var vlen uint16
	binary.Read(r, binary.BigEndian, &length)
	binary.Read(r, binary.BigEndian, &bs)
	binary.Read(r, binary.BigEndian, &blocks)
	binary.Read(r, binary.BigEndian, &vlen)
	if int64(length) < 0 || bs == 0 || blocks > index.MaxBlocks || int(vlen) > r.Len() {
		return nil, fmt.Errorf("%w: bad header", ErrJournal)
	}
	v := make([]byte, vlen)
	io.ReadFull(r, v)
	j.Length, j.Blocksize, j.Blocks, j.Validator = int64(length), int(bs), int64(blocks), string(v)
	if uint64(r.Len()) != (blocks+7)/8 {
		return nil, fmt.Errorf("%w: bitmap of %d bytes for %d blocks", ErrJournal, r.Len(), blocks)
	}
	j.bitmap = make([]byte, r.Len())
	io.ReadFull(r, j.bitmap)
	return &j, nil
}

// Recover checks, in place, the blocks of a resumed part file that its
// journal does not record: blocks written after the last checkpoint, before
// a kill or a full disk, are verified where they stand and kept. It reads
// only those blocks, at their own offsets: no rolling search.
func (a *Assembly) Recover(ctx context.Context) (int64, error) {
	if a.f == nil {
		return 0, nil
	}
	bs := int64(a.x.Blocksize)
	buf := make([]byte, bs)
	h := a.x.Algo.New()
	var sum [64]byte
	var found int64
	for k := int64(0); k < a.x.NumBlocks(); k++ {
		if a.known.Has(k) {
			continue
		}
		if k%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return found, err
			}
		}
		n := a.x.BlockLen(k)
		if _, err := a.f.ReadAt(buf[:n], k*bs); err != nil && !errors.Is(err, io.EOF) {
			return found, fmt.Errorf("read back %s: %w", a.tmpPath, err)
		}
		clear(buf[n:])
		if rollsum.Sum(buf)&a.x.WeakMask() != a.x.Weak[k] {
			continue
		}
		h.Reset()
		h.Write(buf)
		if !bytes.Equal(h.Sum(sum[:0])[:a.x.StrongLen], a.x.StrongSum(k)) {
			continue
		}
		a.known.Claim(k)
		a.written.Claim(k)
		found++
	}
	a.resumed += found
	return found, nil
}
