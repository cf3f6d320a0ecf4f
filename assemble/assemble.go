// Package assemble builds a target in a temporary file beside its final
// path: blocks found in seeds, then missing blocks fetched from a source and
// verified one by one, then the whole file checked, fsynced and renamed over
// the final path. The final path only ever holds a verified target or what
// was there before; seeds are opened read-only.
package assemble

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/internal/md4"
	"github.com/zyncio/zync/rollsum"
	"github.com/zyncio/zync/scan"
	"github.com/zyncio/zync/source"
)

// Errors a caller decides on.
var (
	// ErrBlockMismatch: fetched bytes did not match their block's sums.
	ErrBlockMismatch = errors.New("fetched block does not match its checksum")
	// ErrVerify: the assembled file failed its whole-file hash.
	ErrVerify = errors.New("whole-file checksum mismatch")
	// ErrIncomplete: blocks are still missing after fetching.
	ErrIncomplete = errors.New("target incomplete")
	// ErrSeedUnusable: a seed could not be opened or is not a regular file;
	// the caller may go on without it.
	ErrSeedUnusable = errors.New("seed unusable")
)

// PartSuffix names the file an interrupted run leaves beside the output; the
// next run reads it as a seed, so verified blocks are not fetched again.
const PartSuffix = ".zync-part"

// Assembly is one target under construction.
type Assembly struct {
	x       *index.Index
	m       *scan.Matcher
	known   *scan.Bitmap // claimed: found or fetched (possibly still being written)
	written *scan.Bitmap // written to the file (what a checkpoint may record)
	final   string
	tmpPath string
	f       *os.File // nil for a dry run
	// fresh: the file was created (and sized) by this run, so every byte not
	// yet written reads as zero. All-zero blocks are then left as holes.
	fresh   bool
	id      Identity
	resumed int64 // blocks taken over from an interrupted run

	reused  atomic.Int64 // target bytes taken from seeds
	fetched atomic.Int64 // target bytes fetched and verified

	hashing atomic.Pointer[wholeHash] // the whole-file hash, once started
	// synced receives the result of the fsync Verify starts once every
	// block is written (nil: none started).
	synced chan error
}

// Begin creates a temporary file beside final, sized for the target.
func Begin(final string, x *index.Index) (*Assembly, error) {
	if err := x.Validate(); err != nil {
		return nil, err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := final + ".zync-tmp-" + hex.EncodeToString(rnd[:])
	// 0666 so the umask decides the mode of a new output, as for any new file.
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create temporary file beside the output: %w", err)
	}
	if err := f.Truncate(x.Length); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("size temporary file %s: %w", tmp, err)
	}
	a := newAssembly(final, x, tmp, f)
	a.fresh = true
	return a, nil
}

func newAssembly(final string, x *index.Index, tmp string, f *os.File) *Assembly {
	return &Assembly{
		x: x, m: scan.NewMatcher(x), final: final, tmpPath: tmp, f: f,
		known: scan.NewBitmap(x.NumBlocks()), written: scan.NewBitmap(x.NumBlocks()),
	}
}

// BeginDry returns an Assembly that only plans: seeds are scanned and blocks
// counted, nothing is written.
func BeginDry(x *index.Index) (*Assembly, error) {
	if err := x.Validate(); err != nil {
		return nil, err
	}
	return newAssembly("", x, "", nil), nil
}

// Resume takes over the part file an interrupted run left beside final, if
// its journal belongs to the same target (id's control file hash, length and
// blocksize). The blocks the journal records are known at once, without
// reading them again. It returns an error wrapping ErrJournal when there is
// nothing to resume; the caller then calls Begin (and scans the part file as
// a seed, which recovers its blocks the slow way).
func Resume(final string, x *index.Index, id Identity) (*Assembly, *Journal, error) {
	part := final + PartSuffix
	j, err := ReadJournal(part + JournalSuffix)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	if j.Control != id.Control || j.Length != x.Length || j.Blocksize != x.Blocksize || j.Blocks != x.NumBlocks() {
		return nil, nil, fmt.Errorf("%w: it belongs to another control file", ErrJournal)
	}
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != x.Length {
		f.Close()
		return nil, nil, fmt.Errorf("%w: part file has the wrong size", ErrJournal)
	}
	a := newAssembly(final, x, part, f)
	a.id = id
	for k := int64(0); k < j.Blocks; k++ {
		if j.Has(k) {
			a.known.Claim(k)
			a.written.Claim(k)
		}
	}
	a.resumed = a.known.Count()
	return a, j, nil
}

// ResumedBytes returns the target bytes taken over from an interrupted run.
func (a *Assembly) ResumedBytes() int64 {
	return min(a.resumed*int64(a.x.Blocksize), a.x.Length)
}

// SetIdentity sets what checkpoints record the part file as (see Checkpoint).
func (a *Assembly) SetIdentity(id Identity) { a.id = id }

// Checkpoint makes the blocks written so far durable (fsync) and records
// them in the journal beside the part file, so an interrupted run resumes
// without fetching them again. It does nothing before Park or for a dry run.
func (a *Assembly) Checkpoint() error {
	if a.f == nil || a.tmpPath != a.final+PartSuffix || a.id == (Identity{}) {
		return nil
	}
	// Snapshot first: only blocks written before the fsync are recorded.
	snap := scan.NewBitmap(a.x.NumBlocks())
	for k := int64(0); k < a.x.NumBlocks(); k++ {
		if a.written.Has(k) {
			snap.Claim(k)
		}
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", a.tmpPath, err)
	}
	data := encodeJournal(a.id, a.x.NumBlocks(), snap)
	jp := a.tmpPath + JournalSuffix
	tmp := jp + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if f, err := os.Open(tmp); err == nil {
		_ = f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, jp); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

// Index returns the target's index.
func (a *Assembly) Index() *index.Index { return a.x }

// Known returns the bitmap of blocks present in the temporary file.
func (a *Assembly) Known() *scan.Bitmap { return a.known }

// Reused returns the target bytes taken from seeds so far.
func (a *Assembly) Reused() int64 { return a.reused.Load() }

// Fetched returns the target bytes fetched and verified so far.
func (a *Assembly) Fetched() int64 { return a.fetched.Load() }

// TempPath returns the path of the temporary file.
func (a *Assembly) TempPath() string { return a.tmpPath }

// writeBlocks writes the consecutive blocks first, first+1, … whose bytes
// are data (the last target block may end it short).
func (a *Assembly) writeBlocks(first int64, data []byte) error {
	if a.f == nil || len(data) == 0 {
		return nil
	}
	bs := int64(a.x.Blocksize)
	if a.fresh && allZero(data) {
		// A hole of the new file already reads as these bytes.
		for k := first; k*bs < first*bs+int64(len(data)); k++ {
			a.written.Claim(k)
		}
		a.wrote()
		return nil
	}
	if _, err := a.f.WriteAt(data, first*bs); err != nil {
		// Not written, so not known: a retry must be able to write them.
		for k := first; k*bs < first*bs+int64(len(data)); k++ {
			a.known.Unclaim(k)
		}
		return fmt.Errorf("write blocks %d to %s: %w", first, a.tmpPath, err)
	}
	for k := first; k*bs < first*bs+int64(len(data)); k++ {
		a.written.Claim(k)
	}
	a.wrote()
	return nil
}

// batchWriter collects the consecutive blocks one scanning goroutine finds
// and writes them with one call.
type batchWriter struct {
	a     *Assembly
	found *atomic.Int64
	buf   []byte
	first int64
	next  int64
}

const batchBytes = 1 << 20

func (w *batchWriter) Emit(k int64, data []byte) error {
	bs := w.a.x.Blocksize
	if len(w.buf) > 0 && (k != w.next || len(w.buf)+bs > batchBytes) {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(w.buf) == 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, max(batchBytes, bs))
		}
		w.first = k
	}
	n := w.a.x.BlockLen(k)
	w.buf = append(w.buf, data[:n]...)
	w.next = k + 1
	w.found.Add(int64(n))
	return nil
}

func (w *batchWriter) Flush() error {
	err := w.a.writeBlocks(w.first, w.buf)
	w.buf = w.buf[:0]
	return err
}

// allZero reports whether p holds only zero bytes.
func allZero(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p) != 0 {
			return false
		}
		p = p[8:]
	}
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

func (a *Assembly) writeBlock(k int64, data []byte) error {
	if a.f == nil {
		return nil
	}
	n := a.x.BlockLen(k)
	if a.fresh && allZero(data[:n]) {
		a.written.Claim(k)
		a.wrote()
		return nil
	}
	if _, err := a.f.WriteAt(data[:n], k*int64(a.x.Blocksize)); err != nil {
		return fmt.Errorf("write block %d to %s: %w", k, a.tmpPath, err)
	}
	a.written.Claim(k)
	a.wrote()
	return nil
}

// ScanSeed looks for target blocks in the seed at path, which is opened
// read-only. It returns the number of target bytes the seed supplied.
func (a *Assembly) ScanSeed(ctx context.Context, path string, opts scan.Options) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSeedUnusable, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSeedUnusable, err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%w: %s is not a regular file", ErrSeedUnusable, path)
	}
	if a.f != nil {
		if tst, err := a.f.Stat(); err == nil && os.SameFile(st, tst) {
			return 0, nil
		}
	}
	var bytesFound atomic.Int64
	opts.NewSink = func() scan.Sink { return &batchWriter{a: a, found: &bytesFound} }
	_, err = a.m.ScanReaderAt(ctx, f, st.Size(), a.known, func(k int64, data []byte) error {
		if err := a.writeBlock(k, data); err != nil {
			return err
		}
		bytesFound.Add(int64(a.x.BlockLen(k)))
		return nil
	}, opts)
	a.reused.Add(bytesFound.Load())
	if err != nil {
		return bytesFound.Load(), fmt.Errorf("scan seed %s: %w", path, err)
	}
	return bytesFound.Load(), nil
}

// Missing returns the byte ranges of the blocks still unknown: each run of
// consecutive missing blocks is one range, the last clipped to the target's
// length.
func (a *Assembly) Missing() []source.Range {
	var rs []source.Range
	bs := int64(a.x.Blocksize)
	a.known.Missing(func(first, last int64) {
		end := min((last+1)*bs, a.x.Length)
		rs = append(rs, source.Range{Off: first * bs, Len: end - first*bs})
	})
	return rs
}

// MissingBytes returns the total length of Missing.
func (a *Assembly) MissingBytes() int64 {
	var n int64
	for _, r := range a.Missing() {
		n += r.Len
	}
	return n
}

// Fetch gets the missing blocks from src. Every block is checked against its
// weak and strong sums before it is written.
func (a *Assembly) Fetch(ctx context.Context, src source.Source) error {
	rs := a.Missing()
	if len(rs) == 0 {
		return nil
	}
	return src.Fetch(ctx, rs, a.Receive)
}

// Receive takes the bytes of range r of the target from data: every whole
// block in r is verified and written. r must start on a block boundary. It is
// safe for concurrent use, and is the callback Fetch hands to a source.
func (a *Assembly) Receive(r source.Range, data io.Reader) error {
	bs := int64(a.x.Blocksize)
	if r.Off%bs != 0 {
		return fmt.Errorf("range %s does not start on a block boundary", r)
	}
	// Read up to 64 blocks at a time, verify each, and write each run of
	// verified new blocks with one call.
	per := max(1, min(64, int((r.Len+bs-1)/bs)))
	buf := make([]byte, int64(per)*bs)
	pad := make([]byte, bs)
	h := a.x.Algo.New()
	var sum [64]byte
	msgs := make([][]byte, 0, per)
	idx := make([]int, 0, per)
	sums := make([][md4.Size]byte, per)
	have := make([]int, per) // have[i]: block i's sum is sums[have[i]], or -1
	batched := a.x.Algo == index.MD4 && a.x.StrongLen <= md4.Size
	off := r.Off
	for off < r.End() {
		k0 := off / bs
		// Whole blocks in this step (the last target block may be short).
		end := min(off+int64(per)*bs, r.End())
		if end != a.x.Length {
			end = off + (end-off)/bs*bs
		}
		if end <= off {
			// A range ending mid-block (never asked for): drain it.
			_, err := io.CopyN(io.Discard, data, r.End()-off)
			return err
		}
		p := buf[:end-off]
		if _, err := io.ReadFull(data, p); err != nil {
			return fmt.Errorf("read block %d: %w", k0, err)
		}
		// MD4 block sums (zsync's) of the full blocks not yet known are
		// computed eight at a time up front.
		nblk := (len(p) + int(bs) - 1) / int(bs)
		if batched {
			msgs, idx = msgs[:0], idx[:0]
			for i := range have {
				have[i] = -1
			}
			for i := range nblk {
				if blk := p[int64(i)*bs:]; int64(len(blk)) >= bs && !a.known.Has(k0+int64(i)) {
					msgs, idx = append(msgs, blk[:bs]), append(idx, i)
				}
			}
			md4.SumBlocks(sums[:len(msgs)], msgs)
			for j, i := range idx {
				have[i] = j
			}
		}
		runStart := -1
		flush := func(upto int) error {
			if runStart < 0 {
				return nil
			}
			err := a.writeBlocks(k0+int64(runStart), p[int64(runStart)*bs:min(int64(upto)*bs, int64(len(p)))])
			runStart = -1
			return err
		}
		for i := 0; int64(i)*bs < int64(len(p)); i++ {
			k := k0 + int64(i)
			blk := p[int64(i)*bs : min(int64(i+1)*bs, int64(len(p)))]
			if a.known.Has(k) {
				if err := flush(i); err != nil {
					return err
				}
				continue
			}
			full := blk
			if len(blk) < int(bs) {
				copy(pad, blk)
				clear(pad[len(blk):])
				full = pad
			}
			var strong []byte
			if j := have[i]; batched && j >= 0 {
				strong = sums[j][:a.x.StrongLen]
			} else {
				h.Reset()
				h.Write(full)
				strong = h.Sum(sum[:0])[:a.x.StrongLen]
			}
			if rollsum.Sum(full)&a.x.WeakMask() != a.x.Weak[k] || !bytes.Equal(strong, a.x.StrongSum(k)) {
				if err := flush(i); err != nil {
					return err
				}
				return fmt.Errorf("%w: %w: block %d (bytes %d-%d)", ErrBlockMismatch, source.ErrBadData, k, k*bs, k*bs+int64(len(blk))-1)
			}
			if !a.known.Claim(k) {
				if err := flush(i); err != nil {
					return err
				}
				continue
			}
			if runStart < 0 {
				runStart = i
			}
			a.fetched.Add(int64(len(blk)))
		}
		if err := flush(per + 1); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// Hashes are the whole-file hashes a target must have; nil fields are not checked.
type Hashes struct {
	SHA1   []byte
	SHA256 []byte
}

// Park moves the temporary file to final+PartSuffix, replacing any older
// one, so that an interrupted run leaves its verified blocks for the next.
// Call it after the seeds (including an old part file) have been scanned.
// The journal follows at the next Checkpoint: its fsync of the whole file
// need not hold up the caller, who can run it alongside the download.
func (a *Assembly) Park() error {
	if a.f == nil || a.tmpPath == a.final+PartSuffix {
		return nil
	}
	part := a.final + PartSuffix
	// The old journal describes the old part file: it must be gone before
	// the new part takes its name.
	if err := os.Remove(part + JournalSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove old journal: %w", err)
	}
	if err := os.Rename(a.tmpPath, part); err != nil {
		return fmt.Errorf("keep partial download: %w", err)
	}
	a.tmpPath = part
	return nil
}

// CommitOptions say what the final file looks like.
type CommitOptions struct {
	// Mode, if non-zero, sets the permission bits; otherwise an existing
	// output's bits are kept, or the umask's default applies to a new one.
	Mode fs.FileMode
	// MTime, if non-zero, becomes the file's modification time.
	MTime time.Time
}

// Commit fsyncs the temporary file and renames it over the final path.
func (a *Assembly) Commit(opts CommitOptions) error {
	mode := opts.Mode
	if mode == 0 {
		if st, err := os.Stat(a.final); err == nil && st.Mode().IsRegular() {
			mode = st.Mode().Perm()
		}
	}
	if mode != 0 {
		if err := a.f.Chmod(mode); err != nil {
			return fmt.Errorf("set mode of %s: %w", a.tmpPath, err)
		}
	}
	if err := a.sync(mode != 0); err != nil {
		return fmt.Errorf("fsync %s: %w", a.tmpPath, err)
	}
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", a.tmpPath, err)
	}
	a.f = nil
	if !opts.MTime.IsZero() {
		if err := os.Chtimes(a.tmpPath, opts.MTime, opts.MTime); err != nil {
			return fmt.Errorf("set mtime of %s: %w", a.tmpPath, err)
		}
	}
	if err := os.Rename(a.tmpPath, a.final); err != nil {
		return fmt.Errorf("move verified target into place: %w", err)
	}
	_ = os.Remove(a.tmpPath + JournalSuffix)
	syncDir(filepath.Dir(a.final))
	return nil
}

// startSync starts flushing the file to disk in the background, once no
// more blocks will be written: the flush then runs alongside the end of
// the whole-file hash instead of after it (about 40 ms for 200 MB here).
func (a *Assembly) startSync() {
	if a.f == nil || a.synced != nil {
		return
	}
	a.synced = make(chan error, 1)
	go func(f *os.File) { a.synced <- f.Sync() }(a.f)
}

// sync makes the file durable: it waits for the background flush, if one
// was started, and flushes again if the file's metadata changed since.
func (a *Assembly) sync(changed bool) error {
	if a.synced == nil {
		return a.f.Sync()
	}
	err := <-a.synced
	a.synced = nil
	if err == nil && changed {
		err = a.f.Sync()
	}
	return err
}

// Close releases the temporary file. With keep it stays for a later run to
// resume from (as final+PartSuffix once parked); otherwise it is removed.
// Close after Commit does nothing.
func (a *Assembly) Close(keep bool) error {
	if a.f == nil {
		return nil
	}
	a.stopHashing()
	if a.synced != nil {
		<-a.synced // the file is not closed under a running flush
		a.synced = nil
	}
	var err error
	if keep {
		err = a.Checkpoint()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	a.f = nil
	if !keep {
		_ = os.Remove(a.tmpPath + JournalSuffix)
		if rerr := os.Remove(a.tmpPath); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

// syncDir makes a rename durable. Some systems cannot fsync a directory;
// that is not an error worth failing a finished download for.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
