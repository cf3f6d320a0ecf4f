package zpack

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/zyncio/zync/source"
)

// Defaults for the zero values of SourceOptions.
const (
	DefaultBatches   = 4
	DefaultBatchSize = 4 << 20
	// DefaultPartCost is about what nginx adds for each part of a
	// multipart/byteranges answer (boundary, Content-Type, Content-Range).
	DefaultPartCost = 128
)

// SourceOptions tune a Source. The zero value is usable.
type SourceOptions struct {
	// Batches is how many batches of compressed bytes a Fetch fetches at
	// once, ahead of the one it decompresses (default 4). Each batch is one
	// Fetch of the inner Source, which may itself send several requests.
	Batches int
	// BatchSize is the compressed bytes per batch (default 4 MiB); a frame
	// larger than that is a batch of its own. Memory is about
	// (Batches+1)·BatchSize per Fetch.
	BatchSize int64
	// PartCost is what one more companion range costs beyond its bytes: the
	// part headers of a multipart answer, or a request (default
	// DefaultPartCost; negative means 0). Frames at most PartCost bytes
	// apart in the companion are fetched as one range, gap included, and
	// the choice of frames counts PartCost for each range.
	PartCost int64
}

// Source is a source.Source of a target's bytes that fetches them from the
// target's compressed companion (see NewSource). It is safe for concurrent
// use.
type Source struct {
	inner source.Source
	m     *Map
	dec   *zstd.Decoder
	opts  SourceOptions
}

var _ source.Source = (*Source)(nil)

// NewSource returns a Source of the target that m describes, whose
// compressed bytes inner fetches: inner is a Source of the companion's
// bytes, such as an httpsource.Source for the companion's URL (with Length
// Ref.Size()) behind a retry.Source. m comes from Open.
func NewSource(inner source.Source, m *Map, opts SourceOptions) (*Source, error) {
	if inner == nil || m == nil {
		return nil, errors.New("zpack: NewSource needs a companion source and its map")
	}
	if opts.Batches <= 0 {
		opts.Batches = DefaultBatches
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	switch {
	case opts.PartCost == 0:
		opts.PartCost = DefaultPartCost
	case opts.PartCost < 0:
		opts.PartCost = 0
	}
	top := m.tiers[len(m.tiers)-1].runSize
	do := []zstd.DOption{
		// One decoder per concurrent Fetch: each decompresses one frame
		// at a time. More Fetches at once wait for a decoder.
		zstd.WithDecoderConcurrency(4),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(uint64(windowFor(top))),
		zstd.WithDecoderMaxWindow(uint64(windowFor(top))),
		zstd.WithDecodeAllCapLimit(true),
	}
	if len(m.dict) > 0 {
		do = append(do, zstd.WithDecoderDicts(m.dict))
	}
	dec, err := zstd.NewReader(nil, do...)
	if err != nil {
		return nil, fmt.Errorf("zpack: zstd decoder: %w", err)
	}
	return &Source{inner: inner, m: m, dec: dec, opts: opts}, nil
}

// String names the Source in messages: "zpack:" and the inner Source's name.
func (s *Source) String() string { return "zpack:" + source.Name(s.inner) }

// Map returns the companion's map.
func (s *Source) Map() *Map { return s.m }

// Open fetches the map section of a companion through companion (a Source of
// the companion's bytes) as ref locates it, checks its SHA-256 against ref
// and parses it. length is the target length the control file gives; a map
// for another length is refused with an error wrapping
// source.ErrLengthMismatch, a map whose hash differs with one wrapping
// source.ErrBadData (a stale or corrupt companion). Fetch errors are
// returned as they are (source.ErrNotFound for a missing companion).
func Open(ctx context.Context, companion source.Source, ref Ref, length int64) (*Map, error) {
	if ref.MapLength < int64(len(mapMagic))+1 || ref.MapLength > MaxMapSize || ref.MapOffset < 0 || ref.MapOffset > MaxLength {
		return nil, fmt.Errorf("zpack: %w: map at %d+%d is out of bounds", ErrFormat, ref.MapOffset, ref.MapLength)
	}
	buf := make([]byte, ref.MapLength)
	want := source.Range{Off: ref.MapOffset, Len: ref.MapLength}
	err := companion.Fetch(ctx, []source.Range{want}, func(r source.Range, data io.Reader) error {
		if r != want {
			return fmt.Errorf("zpack: asked for the map at %s, got %s: %w", want, r, source.ErrPermanent)
		}
		_, err := io.ReadFull(data, buf)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("zpack: fetch the map of %s: %w", source.Name(companion), err)
	}
	if sha256.Sum256(buf) != ref.MapSHA256 {
		return nil, fmt.Errorf("zpack: the map of %s is not the one the control file names (SHA-256 differs): %w", source.Name(companion), source.ErrBadData)
	}
	m, err := ParseMap(buf)
	if err != nil {
		return nil, fmt.Errorf("zpack: map of %s: %w", source.Name(companion), err)
	}
	if m.length != length {
		return nil, fmt.Errorf("zpack: the map of %s is for %d target bytes, the control file says %d: %w", source.Name(companion), m.length, length, source.ErrLengthMismatch)
	}
	if m.framesEnd != ref.MapOffset {
		return nil, fmt.Errorf("zpack: %w: the map of %s lists %d bytes of frames, but starts at %d", ErrFormat, source.Name(companion), m.framesEnd, ref.MapOffset)
	}
	return m, nil
}

// frameRef is one selected frame.
type frameRef struct {
	t      int
	target source.Range
	comp   source.Range
	bufOff int64 // where its bytes are in its batch's buffer
}

// Plan is what fetching some target ranges from a companion costs.
type Plan struct {
	// Frames is the number of frames fetched, Ranges the number of companion
	// ranges they make once frames close to each other are merged.
	Frames, Ranges int
	// Compressed is the companion bytes fetched: the frames and the gaps
	// between merged frames (the map not included).
	Compressed int64
	// Decoded is the target bytes those frames hold (at least the bytes
	// asked for).
	Decoded int64
}

// Plan returns what fetching ranges (sorted, non-empty, not overlapping,
// inside the target) costs, with partCost as SourceOptions.PartCost (0
// means no cost: the fewest bytes) and all frames in one batch.
func (m *Map) Plan(ranges []source.Range, partCost int64) (Plan, error) {
	partCost = max(partCost, 0)
	sel, err := m.choose(ranges, partCost)
	if err != nil {
		return Plan{}, err
	}
	return planOf(sel, makeBatches(sel, partCost, 1<<62)), nil
}

// Plan returns what fetching ranges through s costs, exactly: the same
// frames, batches and merged ranges as Fetch.
func (s *Source) Plan(ranges []source.Range) (Plan, error) {
	sel, err := s.m.choose(ranges, s.opts.PartCost)
	if err != nil {
		return Plan{}, err
	}
	return planOf(sel, makeBatches(sel, s.opts.PartCost, s.opts.BatchSize)), nil
}

func planOf(sel []frameRef, bs []*batch) Plan {
	var p Plan
	for _, f := range sel {
		p.Frames++
		p.Decoded += f.target.Len
	}
	for _, b := range bs {
		p.Ranges += len(b.ranges)
		p.Compressed += b.size
	}
	return p
}

// checkRanges validates the ranges a caller asks for.
func (m *Map) checkRanges(ranges []source.Range) error {
	var prev int64
	for i, r := range ranges {
		if r.Len <= 0 || r.Off < prev || (i > 0 && r.Off < ranges[i-1].End()) {
			return fmt.Errorf("zpack: ranges must be sorted, non-empty and not overlapping: %s after %d", r, prev)
		}
		if r.End() > m.length || r.End() < r.Off {
			return fmt.Errorf("zpack: range %s outside the %d-byte target: %w", r, m.length, source.ErrLengthMismatch)
		}
		prev = r.End()
	}
	return nil
}

// choose selects the frames to fetch for ranges, in target order, so that
// they cover every range at the least cost: for every frame that holds
// requested bytes, the frame itself or the cheapest cover of its requested
// bytes by frames of the tier below, whichever costs less. A frame costs its
// compressed bytes, plus partCost if it starts a new companion range, or the
// gap bytes if it follows the frame chosen before it within partCost bytes
// (a greedy estimate: the choice for one frame does not look ahead).
func (m *Map) choose(ranges []source.Range, partCost int64) ([]frameRef, error) {
	if err := m.checkRanges(ranges); err != nil {
		return nil, err
	}
	needed := func(a, b int64) bool {
		i := sort.Search(len(ranges), func(i int) bool { return ranges[i].End() > a })
		return i < len(ranges) && ranges[i].Off < b
	}
	var sel []frameRef
	lastEnd := int64(-1) // companion end of the last frame chosen
	extra := func(off, last int64) int64 {
		if last >= 0 && off >= last && off-last <= partCost {
			return off - last
		}
		return partCost
	}
	var visit func(t int, i int64) int64
	visit = func(t int, i int64) int64 {
		tr := &m.tiers[t]
		a := i * tr.runSize
		b := min(a+tr.runSize, m.length)
		if !needed(a, b) {
			return 0
		}
		clen := int64(tr.clen[i])
		own := clen + extra(tr.off[i], lastEnd)
		mark, last := len(sel), lastEnd
		if t > 0 {
			ratio := tr.runSize / m.tiers[t-1].runSize
			n := int64(len(m.tiers[t-1].off))
			var sum int64
			for c := i * ratio; c < min((i+1)*ratio, n) && sum < own; c++ {
				sum += visit(t-1, c)
			}
			if sum < own {
				return sum
			}
			sel, lastEnd = sel[:mark], last
		}
		sel = append(sel, frameRef{t: t,
			target: source.Range{Off: a, Len: b - a},
			comp:   source.Range{Off: tr.off[i], Len: clen}})
		lastEnd = tr.off[i] + clen
		return own
	}
	top := len(m.tiers) - 1
	rs := m.tiers[top].runSize
	next := int64(0)
	for _, r := range ranges {
		for k := max(r.Off/rs, next); k <= (r.End()-1)/rs; k++ {
			visit(top, k)
			next = k + 1
		}
	}
	return sel, nil
}

// mergeRanges sorts companion ranges and merges those at most gap bytes
// apart.
func mergeRanges(rs []source.Range, gap int64) []source.Range {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b source.Range) int { return cmp.Compare(a.Off, b.Off) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.Off >= out[n-1].End() && r.Off-out[n-1].End() <= gap {
			out[n-1].Len = r.End() - out[n-1].Off
			continue
		}
		out = append(out, r)
	}
	return out
}

// batch is a run of selected frames, in target order, fetched together.
type batch struct {
	frames []frameRef
	ranges []source.Range // merged companion ranges, sorted
	rbuf   []int64        // where each range's bytes go in buf
	size   int64          // compressed bytes, gaps between merged frames included
	buf    []byte
	err    error
	done   chan struct{}
}

// makeBatches cuts the selected frames into batches of about batchSize
// compressed bytes, merges the ranges of each that are at most gap bytes
// apart, and works out where each frame's bytes land.
func makeBatches(sel []frameRef, gap, batchSize int64) []*batch {
	var out []*batch
	var cur *batch
	for _, f := range sel {
		if cur == nil || (cur.size > 0 && cur.size+f.comp.Len > batchSize) {
			cur = &batch{done: make(chan struct{})}
			out = append(out, cur)
		}
		cur.frames = append(cur.frames, f)
		cur.size += f.comp.Len
	}
	for _, b := range out {
		comp := make([]source.Range, len(b.frames))
		for i, f := range b.frames {
			comp[i] = f.comp
		}
		b.ranges = mergeRanges(comp, gap)
		b.rbuf = make([]int64, len(b.ranges))
		var o int64
		for i, r := range b.ranges {
			b.rbuf[i] = o
			o += r.Len
		}
		b.size = o
		for i := range b.frames {
			f := &b.frames[i]
			j := sort.Search(len(b.ranges), func(j int) bool { return b.ranges[j].End() > f.comp.Off })
			f.bufOff = b.rbuf[j] + f.comp.Off - b.ranges[j].Off
		}
	}
	return out
}

// fetch fills b.buf with the compressed bytes of its frames.
func (s *Source) fetch(ctx context.Context, b *batch) error {
	b.buf = make([]byte, b.size)
	return s.inner.Fetch(ctx, b.ranges, func(r source.Range, data io.Reader) error {
		i := sort.Search(len(b.ranges), func(i int) bool { return b.ranges[i].Off >= r.Off })
		if i == len(b.ranges) || b.ranges[i] != r {
			return fmt.Errorf("zpack: %s delivered companion range %s, which was not asked for: %w", source.Name(s.inner), r, source.ErrPermanent)
		}
		_, err := io.ReadFull(data, b.buf[b.rbuf[i]:b.rbuf[i]+r.Len])
		return err
	})
}

// Fetch fetches the frames that hold ranges of the target (the cheapest
// ones, see Plan) through the inner Source, decompresses them and calls fn
// once for each range, in order, from the calling
// goroutine, with a reader of exactly its bytes. Batches of frames are
// fetched in parallel ahead of the one being decompressed. Ranges must be
// sorted, non-empty, not overlapping and inside the target.
//
// A frame that does not decompress to exactly its run's bytes (corrupt,
// truncated, a checksum mismatch) makes the reader fail with an error
// wrapping source.ErrBadData. Errors of the inner Source are returned as
// they are, and so are fn's.
func (s *Source) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	if len(ranges) == 0 {
		return nil
	}
	sel, err := s.m.choose(ranges, s.opts.PartCost)
	if err != nil {
		return err
	}
	bs := makeBatches(sel, s.opts.PartCost, s.opts.BatchSize)
	ctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.opts.Batches)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, b := range bs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for _, b := range bs[i:] {
					b.err = context.Cause(ctx)
					close(b.done)
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.err = s.fetch(ctx, b)
				close(b.done)
			}()
		}
	}()
	st := &stream{s: s, bs: bs, sem: sem, bi: -1}
	err = st.deliver(ranges, fn)
	cancel(errors.New("zpack: fetch ended"))
	wg.Wait()
	return err
}

// stream decompresses the selected frames in target order.
type stream struct {
	s   *Source
	bs  []*batch
	sem chan struct{}
	bi  int // current batch, -1 before the first
	fi  int // next frame in the current batch
	out []byte
	cur []byte // decoded bytes of the current frame
	off int64  // target offset of cur[0]
	err error  // sticky
}

// deliver calls fn for each range.
func (st *stream) deliver(ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	for _, r := range ranges {
		// Have the range's first bytes ready, so that fn is called only for
		// ranges that can start.
		if _, err := st.at(r.Off); err != nil {
			return err
		}
		if err := fn(r, &rangeReader{st: st, pos: r.Off, end: r.End()}); err != nil {
			return err
		}
	}
	return st.err
}

// at returns the decoded bytes from target offset pos to the end of the
// frame that holds pos, decompressing frames up to it.
func (st *stream) at(pos int64) ([]byte, error) {
	for {
		if st.err != nil {
			return nil, st.err
		}
		if pos >= st.off && pos < st.off+int64(len(st.cur)) {
			return st.cur[pos-st.off:], nil
		}
		if st.bi >= 0 && pos < st.off {
			st.err = fmt.Errorf("zpack: internal error: target offset %d before the current frame at %d", pos, st.off)
			continue
		}
		st.err = st.next()
	}
}

// next decompresses the next frame, moving on to the next batch when the
// current one is used up (and releasing it).
func (st *stream) next() error {
	for st.bi < 0 || st.fi == len(st.bs[st.bi].frames) {
		if st.bi >= 0 {
			st.bs[st.bi].buf = nil
			<-st.sem
		}
		st.bi++
		st.fi = 0
		if st.bi == len(st.bs) {
			return errors.New("zpack: internal error: ran out of frames")
		}
		b := st.bs[st.bi]
		<-b.done
		if b.err != nil {
			return b.err
		}
	}
	b := st.bs[st.bi]
	f := b.frames[st.fi]
	st.fi++
	if int64(cap(st.out)) < f.target.Len {
		st.out = make([]byte, 0, st.s.m.tiers[len(st.s.m.tiers)-1].runSize)
	}
	out, err := st.s.dec.DecodeAll(b.buf[f.bufOff:f.bufOff+f.comp.Len], st.out[:0:f.target.Len])
	if err == nil && int64(len(out)) != f.target.Len {
		err = fmt.Errorf("decoded %d bytes", len(out))
	}
	if err != nil {
		return fmt.Errorf("zpack: %s: frame of tier %d (target bytes %s, companion bytes %s): %w: %v",
			source.Name(st.s.inner), f.t, f.target, f.comp, source.ErrBadData, err)
	}
	st.cur, st.off = out, f.target.Off
	return nil
}

// rangeReader reads one requested range from the stream.
type rangeReader struct {
	st       *stream
	pos, end int64
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.pos >= r.end {
		return 0, io.EOF
	}
	b, err := r.st.at(r.pos)
	if err != nil {
		return 0, err
	}
	n := copy(p[:min(int64(len(p)), r.end-r.pos)], b)
	r.pos += int64(n)
	return n, nil
}
