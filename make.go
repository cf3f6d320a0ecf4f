package zync

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zyncio/zync/index"
	"github.com/zyncio/zync/makeindex"
	"github.com/zyncio/zync/rollsum"
	"github.com/zyncio/zync/zsyncfile"
)

// MakeOptions describe the control file Make writes.
type MakeOptions struct {
	// Blocksize is a power of two; 0 chooses zsyncmake's default for the size.
	Blocksize int
	// URLs of the target, absolute or relative to the control file.
	URLs []string
	// Filename suggested to clients; MakeFile defaults it to the file's base name.
	Filename string
	// MTime recorded for clients; MakeFile defaults it to the file's mtime.
	MTime time.Time
	// Strong is the strong sum algorithm. MD4 (the default) is the only one
	// zsync 0.6.x clients accept; MD5 and SHA-224 need a SPEC 0.8 client.
	Strong index.StrongAlgo
	// NoAnchors leaves out the anchor records (zsyncfile.AnchorsHeader),
	// which let zync clients scan seeds faster where they differ from the
	// target (about 1.6 times on random data), for 6 bytes a block. Without
	// them the control file is byte for byte zsyncmake's (for MD4 and
	// zsyncmake's blocksize). Blocksizes under 1 KiB or over 64 KiB never
	// get anchors, nor do targets with a block that has none (see
	// makeindex.Options.AnchorBits).
	NoAnchors bool
	// Workers is how many goroutines hash blocks; 0 means all cores.
	Workers int
	// Progress, if set, is called with the number of bytes just read.
	Progress func(n int64)
}

// Params returns the index parameters Make uses for a target of the given
// length: zsyncmake 0.6.2's formulas for MD4 (so records are byte-identical
// to zsyncmake's), and zsync 0.7's choice (full weak sum, full strong sum,
// pairs only above 400 MB) for the other algorithms.
func Params(length int64, blocksize int, algo index.StrongAlgo) (seq, weak, strong int) {
	if algo == index.MD4 {
		return zsyncfile.Params(length, blocksize)
	}
	seq = 1
	if length > 400_000_000 {
		seq = 2
	}
	return seq, 4, algo.Size()
}

// Bounds of the automatic blocksize (see DefaultBlocksize).
const (
	autoMaxBlocks    = 1 << 22 // 4 Mi blocks: about 100 MB of index and tables
	autoMaxBlocksize = 32 << 10
)

// DefaultBlocksize is the blocksize Make chooses for a target of size bytes:
// zsyncmake's (2048 below 100,000,000 bytes, else 4096), so control files
// match zsyncmake's byte for byte, until the target would have more than 4 Mi
// blocks (16 GiB); above that the blocksize doubles until the count is
// bounded again, up to 32 KiB, as syncthing bounds its block count. It stops
// below 64 KiB, where zsync's weak sum degenerates (the first byte of a
// window gets weight 0).
func DefaultBlocksize(size int64) int {
	bs := zsyncfile.DefaultBlocksize(size)
	for bs < autoMaxBlocksize && size/int64(bs) > autoMaxBlocks {
		bs *= 2
	}
	return bs
}

// Make reads size bytes from r and returns the control file describing them.
func Make(ctx context.Context, r io.Reader, size int64, opts MakeOptions) (*zsyncfile.File, error) {
	bs := opts.Blocksize
	if bs == 0 {
		bs = DefaultBlocksize(size)
	}
	if bs < index.MinBlocksize || bs > index.MaxBlocksize || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("blocksize %d is not a power of two between %d and %d", bs, index.MinBlocksize, index.MaxBlocksize)
	}
	if len(opts.URLs) == 0 {
		return nil, fmt.Errorf("no URL for the target: give at least one")
	}
	seq, weak, strong := Params(size, bs, opts.Strong)
	var anchorBits uint
	if !opts.NoAnchors {
		anchorBits = rollsum.AnchorBits(bs)
	}
	res, err := makeindex.Build(ctx, r, size, makeindex.Options{
		Blocksize: bs, SeqMatches: seq, WeakBytes: weak, StrongLen: strong, Algo: opts.Strong,
		AnchorBits: anchorBits, Workers: opts.Workers, Progress: opts.Progress,
	})
	if err != nil {
		return nil, err
	}
	f := &zsyncfile.File{
		Version:  "0.6.2",
		Filename: opts.Filename,
		URLs:     opts.URLs,
		SHA1:     res.SHA1,
		SHA256:   res.SHA256,
		Index:    *res.Index,
	}
	if !opts.MTime.IsZero() {
		f.MTime = opts.MTime.UTC().Truncate(time.Second)
	}
	return f, nil
}

// MakeFile makes the control file of the file at path. Filename, MTime and
// URLs default to the file's base name, its mtime and its base name.
func MakeFile(ctx context.Context, path string, opts MakeOptions) (*zsyncfile.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open input: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat input: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("input %s is not a regular file", path)
	}
	base := filepath.Base(path)
	if opts.Filename == "" {
		opts.Filename = base
	}
	if opts.MTime.IsZero() {
		opts.MTime = st.ModTime()
	}
	if len(opts.URLs) == 0 {
		opts.URLs = []string{base}
	}
	f, err := Make(ctx, fh, st.Size(), opts)
	if err != nil {
		return nil, fmt.Errorf("make index of %s: %w", path, err)
	}
	return f, nil
}

// WriteControlFile encodes f to path atomically (temporary file, fsync, rename).
func WriteControlFile(path string, f *zsyncfile.File) error {
	return writeFileAtomic(path, func(w io.Writer) error { return f.Encode(w) })
}

func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}
