package zpack

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/zyncio/zync/source"
)

// Map says where each frame of a companion is and which target bytes it
// holds. A Map is immutable and safe for concurrent use.
//
// Tier t cuts the target into runs of RunSize(t) bytes (the last one may be
// shorter); frame i of tier t holds target bytes [i·RunSize(t),
// min((i+1)·RunSize(t), Length())). Run sizes grow from tier to tier, each a
// multiple of the one before.
type Map struct {
	length    int64
	tiers     []tier
	dict      []byte
	framesEnd int64 // compressed bytes of all frames: where the map section starts
}

type tier struct {
	runSize int64
	off     []int64  // companion offset of each frame
	clen    []uint32 // compressed length of each frame
}

// Length returns the target length.
func (m *Map) Length() int64 { return m.length }

// Tiers returns the number of tiers.
func (m *Map) Tiers() int { return len(m.tiers) }

// RunSize returns the target bytes per frame of tier t.
func (m *Map) RunSize(t int) int64 { return m.tiers[t].runSize }

// Frames returns the number of frames of tier t.
func (m *Map) Frames(t int) int { return len(m.tiers[t].off) }

// Frame returns the target bytes that frame i of tier t holds and the
// companion bytes it is stored in.
func (m *Map) Frame(t, i int) (target, compressed source.Range) {
	tr := &m.tiers[t]
	off := int64(i) * tr.runSize
	return source.Range{Off: off, Len: min(tr.runSize, m.length-off)},
		source.Range{Off: tr.off[i], Len: int64(tr.clen[i])}
}

// Dictionary returns the zstd dictionary the frames were compressed with,
// or nil. The caller must not modify it.
func (m *Map) Dictionary() []byte { return m.dict }

// FramesSize returns the compressed bytes of all frames together: the frames
// fill the companion from offset 0 up to there, and the map section follows.
func (m *Map) FramesSize() int64 { return m.framesEnd }

// CompressedSize returns the compressed bytes of the frames of tier t.
func (m *Map) CompressedSize(t int) int64 {
	var n int64
	for _, c := range m.tiers[t].clen {
		n += int64(c)
	}
	return n
}

// layoutRun calls fn for each frame of each tier inside top-tier run k, in
// the order they are stored: tier 0's frames first, the top tier's frame
// last.
func (m *Map) layoutRun(k int64, fn func(t int, i int64)) {
	top := m.tiers[len(m.tiers)-1].runSize
	for t := range m.tiers {
		rs := m.tiers[t].runSize
		n := numRuns(m.length, rs)
		first := k * (top / rs)
		last := min(first+top/rs, n)
		for i := first; i < last; i++ {
			fn(t, i)
		}
	}
}

func numRuns(length, runSize int64) int64 {
	if length <= 0 {
		return 0
	}
	return (length-1)/runSize + 1
}

// newMap returns a map for the given tiers with frame tables allocated and
// unfilled. The caller has checked the parameters.
func newMap(length int64, runSizes []int64, dict []byte) *Map {
	m := &Map{length: length, dict: dict}
	for _, rs := range runSizes {
		n := numRuns(length, rs)
		m.tiers = append(m.tiers, tier{runSize: rs, off: make([]int64, n), clen: make([]uint32, n)})
	}
	return m
}

// checkParams validates a target length and tier run sizes.
func checkParams(length int64, runSizes []int64) error {
	if length < 0 || length > MaxLength {
		return fmt.Errorf("%w: target length %d is not between 0 and %d", ErrFormat, length, int64(MaxLength))
	}
	if len(runSizes) < 1 || len(runSizes) > MaxTiers {
		return fmt.Errorf("%w: %d tiers, not between 1 and %d", ErrFormat, len(runSizes), MaxTiers)
	}
	var frames int64
	for t, rs := range runSizes {
		if rs < 1 || rs > MaxRunSize {
			return fmt.Errorf("%w: tier %d: run size %d is not between 1 and %d", ErrFormat, t, rs, MaxRunSize)
		}
		if t > 0 && (rs <= runSizes[t-1] || rs%runSizes[t-1] != 0) {
			return fmt.Errorf("%w: tier %d: run size %d is not a larger multiple of tier %d's %d", ErrFormat, t, rs, t-1, runSizes[t-1])
		}
		frames += numRuns(length, rs)
		if frames > MaxFrames {
			return fmt.Errorf("%w: more than %d frames", ErrFormat, MaxFrames)
		}
	}
	return nil
}

// MarshalBinary encodes the map section: the magic, the version and the
// map's body as one zstd frame (docs/compressed-format.md). The encoding is
// deterministic.
func (m *Map) MarshalBinary() ([]byte, error) {
	body := make([]byte, 0, 64+len(m.dict)+3*m.numFrames())
	body = binary.AppendUvarint(body, uint64(m.length))
	body = binary.AppendUvarint(body, uint64(len(m.tiers)))
	for _, t := range m.tiers {
		body = binary.AppendUvarint(body, uint64(t.runSize))
	}
	body = binary.AppendUvarint(body, uint64(len(m.dict)))
	body = append(body, m.dict...)
	for k := range numRuns(m.length, m.tiers[len(m.tiers)-1].runSize) {
		m.layoutRun(k, func(t int, i int64) {
			body = binary.AppendUvarint(body, uint64(m.tiers[t].clen[i]))
		})
	}
	if len(body) > MaxMapSize {
		return nil, fmt.Errorf("zpack: map body of %d bytes exceeds the limit of %d: use larger tiers", len(body), MaxMapSize)
	}
	out := append([]byte(mapMagic), Version)
	out = mapEncoder().EncodeAll(body, out)
	if len(out) > MaxMapSize {
		return nil, fmt.Errorf("zpack: map of %d bytes exceeds the limit of %d: use larger tiers", len(out), MaxMapSize)
	}
	return out, nil
}

func (m *Map) numFrames() int {
	n := 0
	for _, t := range m.tiers {
		n += len(t.off)
	}
	return n
}

var (
	mapEncOnce sync.Once
	mapEnc     *zstd.Encoder
	mapDecOnce sync.Once
	mapDec     *zstd.Decoder
)

func mapEncoder() *zstd.Encoder {
	mapEncOnce.Do(func() {
		var err error
		mapEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
	})
	return mapEnc
}

func mapDecoder() *zstd.Decoder {
	mapDecOnce.Do(func() {
		var err error
		mapDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxMapSize),
			zstd.WithDecoderMaxWindow(MaxMapSize), zstd.WithDecoderLowmem(true))
		if err != nil {
			panic(err)
		}
	})
	return mapDec
}

// ParseMap decodes a map section (as MarshalBinary writes it and a Ref
// locates it). Every count and length is checked against the package's
// limits and against the bytes actually present before anything is
// allocated from it; errors wrap ErrFormat or ErrUnsupported.
func ParseMap(b []byte) (*Map, error) {
	if len(b) > MaxMapSize {
		return nil, fmt.Errorf("%w: map of %d bytes exceeds the limit of %d", ErrFormat, len(b), MaxMapSize)
	}
	if len(b) < len(mapMagic)+1 || string(b[:len(mapMagic)]) != mapMagic {
		return nil, fmt.Errorf("%w: the map does not start with %q", ErrFormat, mapMagic)
	}
	if v := b[len(mapMagic)]; v != Version {
		return nil, fmt.Errorf("%w: map version %d (this zync reads version %d)", ErrUnsupported, v, Version)
	}
	body, err := mapDecoder().DecodeAll(b[len(mapMagic)+1:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: map body: %v", ErrFormat, err)
	}
	return parseBody(body)
}

// parseBody decodes the decompressed body of a map.
func parseBody(body []byte) (*Map, error) {
	p := body
	next := func(what string) (uint64, error) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, fmt.Errorf("%w: map truncated or garbled at %s (offset %d)", ErrFormat, what, len(body)-len(p))
		}
		if n > 1 && p[n-1] == 0 {
			return 0, fmt.Errorf("%w: non-canonical varint at %s (offset %d)", ErrFormat, what, len(body)-len(p))
		}
		p = p[n:]
		return v, nil
	}
	length, err := next("target length")
	if err != nil {
		return nil, err
	}
	if length > MaxLength {
		return nil, fmt.Errorf("%w: target length %d exceeds the limit of %d", ErrFormat, length, int64(MaxLength))
	}
	nt, err := next("tier count")
	if err != nil {
		return nil, err
	}
	if nt < 1 || nt > MaxTiers {
		return nil, fmt.Errorf("%w: %d tiers, not between 1 and %d", ErrFormat, nt, MaxTiers)
	}
	runSizes := make([]int64, nt)
	for t := range runSizes {
		rs, err := next("run size")
		if err != nil {
			return nil, err
		}
		if rs < 1 || rs > MaxRunSize {
			return nil, fmt.Errorf("%w: tier %d: run size %d is not between 1 and %d", ErrFormat, t, rs, MaxRunSize)
		}
		runSizes[t] = int64(rs)
	}
	if err := checkParams(int64(length), runSizes); err != nil {
		return nil, err
	}
	dl, err := next("dictionary length")
	if err != nil {
		return nil, err
	}
	if dl > MaxDictSize || dl > uint64(len(p)) {
		return nil, fmt.Errorf("%w: dictionary of %d bytes (limit %d, %d bytes left)", ErrFormat, dl, MaxDictSize, len(p))
	}
	var dict []byte
	if dl > 0 {
		dict = bytes.Clone(p[:dl])
		if _, err := zstd.InspectDictionary(dict); err != nil {
			return nil, fmt.Errorf("%w: dictionary: %v", ErrFormat, err)
		}
	}
	p = p[dl:]
	// Each frame takes at least one byte: no allocation beyond what the
	// body holds.
	var frames int64
	for _, rs := range runSizes {
		frames += numRuns(int64(length), rs)
	}
	if frames > int64(len(p)) {
		return nil, fmt.Errorf("%w: map truncated: %d frames, %d bytes of frame lengths", ErrFormat, frames, len(p))
	}
	m := newMap(int64(length), runSizes, dict)
	var off int64
	for k := range numRuns(m.length, runSizes[len(runSizes)-1]) {
		m.layoutRun(k, func(t int, i int64) {
			if err != nil {
				return
			}
			var c uint64
			c, err = next("frame length")
			if err != nil {
				return
			}
			want := min(runSizes[t], m.length-i*runSizes[t])
			if c < 1 || c > uint64(frameBound(want)) {
				err = fmt.Errorf("%w: tier %d frame %d: %d compressed bytes for %d target bytes", ErrFormat, t, i, c, want)
				return
			}
			m.tiers[t].off[i] = off
			m.tiers[t].clen[i] = uint32(c)
			off += int64(c)
		})
		if err != nil {
			return nil, err
		}
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last frame length", ErrFormat, len(p))
	}
	m.framesEnd = off
	return m, nil
}

// ReadMap reads the map of a whole companion of size bytes, located by its
// trailer (for local companions and tools; a client fetching over HTTP uses
// the Ref of the control file, which spares the trailer's round trip).
func ReadMap(r io.ReaderAt, size int64) (*Map, error) {
	off, n, err := readTrailer(r, size)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("zpack: read map: %w", err)
	}
	m, err := ParseMap(b)
	if err != nil {
		return nil, err
	}
	if m.framesEnd != off {
		return nil, fmt.Errorf("%w: the map lists %d bytes of frames, the map starts at %d", ErrFormat, m.framesEnd, off)
	}
	return m, nil
}

// appendTrailer appends the trailer for a map of n bytes.
func appendTrailer(b []byte, n int64) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(n))
	return append(b, trailerMagic...)
}

// readTrailer returns the offset and length of the map of a companion.
func readTrailer(r io.ReaderAt, size int64) (off, n int64, err error) {
	if size < TrailerSize {
		return 0, 0, fmt.Errorf("%w: %d bytes is too short for a companion", ErrFormat, size)
	}
	var t [TrailerSize]byte
	if _, err := r.ReadAt(t[:], size-TrailerSize); err != nil {
		return 0, 0, fmt.Errorf("zpack: read trailer: %w", err)
	}
	if string(t[8:]) != trailerMagic {
		return 0, 0, fmt.Errorf("%w: the file does not end with %q", ErrFormat, trailerMagic)
	}
	ml := binary.LittleEndian.Uint64(t[:8])
	if ml > MaxMapSize || int64(ml) > size-TrailerSize {
		return 0, 0, fmt.Errorf("%w: map length %d in a %d-byte file (limit %d)", ErrFormat, ml, size, MaxMapSize)
	}
	return size - TrailerSize - int64(ml), int64(ml), nil
}
