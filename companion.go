package zync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
	"github.com/zyncio/zync/source/retry"
	"github.com/zyncio/zync/zpack"
	"github.com/zyncio/zync/zsyncfile"
)

// CompanionSuffix is appended to the target's name to name its compressed
// companion.
const CompanionSuffix = ".zpack"

// CompanionOptions tune AddCompanion. The zero value is usable.
type CompanionOptions struct {
	// Tiers are the run sizes in blocks; nil means SmallTargetTiers for
	// targets under SmallTarget bytes, else zpack.DefaultTiers.
	Tiers []int
	// Level is the zstd level, 1 to 22; 0 means the best (a companion is
	// written once and fetched many times).
	Level int
	// NoDictionary leaves out the shared zstd dictionary. Without it, a
	// dictionary is trained and kept if it saves at least MinDictionaryGain
	// on the smallest frames (zpack.DictionaryGain): it makes writing about
	// four times slower, which pays on text (7% fewer bytes fetched on a
	// JavaScript package) but not on binaries (0.4% on a Go toolchain).
	NoDictionary bool
	// Workers is how many goroutines compress; 0 means all cores.
	Workers int
	// Progress, if set, is called with the number of target bytes just
	// compressed.
	Progress func(n int64)
}

// ErrIncompressible: the target does not compress, so a compressed
// companion could not save any transfer (AddCompanion writes none).
var ErrIncompressible = errors.New("target does not compress")

// Companion defaults (see CompanionOptions).
const (
	// SmallTarget is the size under which AddCompanion uses SmallTargetTiers.
	SmallTarget = 100_000_000
	// MinDictionaryGain is the least fraction of bytes a trained dictionary
	// must save on single-block frames to be kept. It saves 24% there on the
	// typescript tar (7% of all bytes fetched) but 6% on the Go toolchain
	// tar (0.4% of the bytes fetched, for four times the write time).
	MinDictionaryGain = 0.10
)

// SmallTargetTiers are the default tiers for targets under SmallTarget
// bytes. Six tiers make the companion about 1.3 to 1.9 times the target
// instead of about 0.7 to 1 time with zpack.DefaultTiers, and fetch 2 to 4%
// fewer bytes (docs/compressed-format.md): storage a small target can
// afford. Above SmallTarget (zsyncmake's threshold for 4 KiB blocks) the
// three default tiers keep the companion no bigger than the target.
var SmallTargetTiers = []int{1, 2, 8, 32, 128, 512}

// AddCompanion writes the compressed companion of the target at targetPath
// (zpack format, docs/compressed-format.md) into dir, named after the
// target with CompanionSuffix, and points f to it with a zpack.HeaderName
// header (announced in Safe:, so zsync clients ignore it and use the plain
// URL). A target that does not compress gets none: the error wraps
// ErrIncompressible and f is unchanged. f must be the control file of that
// target: the companion is
// written only if the bytes read now hash to f's SHA-256, so a target that
// changed since f was made is refused. It returns the companion's path.
func AddCompanion(ctx context.Context, f *zsyncfile.File, targetPath, dir string, opts CompanionOptions) (string, error) {
	path, err := addCompanion(ctx, f, targetPath, dir, opts)
	if err != nil {
		return "", fmt.Errorf("compressed companion of %s: %w", targetPath, err)
	}
	return path, nil
}

func addCompanion(ctx context.Context, f *zsyncfile.File, targetPath, dir string, opts CompanionOptions) (string, error) {
	if f.SHA256 == nil {
		return "", errors.New("the control file has no SHA-256 to check the target against")
	}
	for _, h := range f.Extra {
		if h.Name == zpack.HeaderName {
			return "", errors.New("the control file already names a companion")
		}
	}
	in, err := os.Open(targetPath)
	if err != nil {
		return "", err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return "", err
	}
	if st.Size() != f.Index.Length {
		return "", fmt.Errorf("the target has %d bytes, its control file says %d: it changed, make the control file again", st.Size(), f.Index.Length)
	}
	// A quick look first, so that a target that does not compress is not
	// written out several times only to be thrown away (the check after
	// Write below stays the judge).
	if ok, err := zpack.Compressible(ctx, in, st.Size()); err != nil {
		return "", err
	} else if !ok && st.Size() > 0 {
		return "", fmt.Errorf("%w: samples spread over it do not shrink at zstd's fastest level; no companion written", ErrIncompressible)
	}
	tiers := opts.Tiers
	if tiers == nil && st.Size() < SmallTarget {
		tiers = SmallTargetTiers
	}
	var dict []byte
	if !opts.NoDictionary {
		// The dictionary is an optimisation (and its builder experimental):
		// any failure only leaves it out.
		if dict, err = zpack.TrainDictionary(ctx, in, st.Size(), zpack.DictOptions{}); err != nil {
			dict = nil
		}
		if dict != nil {
			gain, err := zpack.DictionaryGain(ctx, in, st.Size(), f.Index.Blocksize, opts.Level, dict)
			if err != nil || gain < MinDictionaryGain {
				dict = nil
			}
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
	}
	name := filepath.Base(targetPath) + CompanionSuffix
	var res *zpack.Result
	err = writeFileAtomic(filepath.Join(dir, name), func(w io.Writer) error {
		h := sha256.New()
		r := io.TeeReader(ctxReaderOf(ctx, io.NewSectionReader(in, 0, st.Size())), h)
		var err error
		res, err = zpack.Write(ctx, r, st.Size(), f.Index.Blocksize, w, zpack.Options{
			Tiers: tiers, Level: opts.Level, Dictionary: dict, Workers: opts.Workers, Progress: opts.Progress,
		})
		if err != nil {
			return err
		}
		if !bytes.Equal(h.Sum(nil), f.SHA256) {
			return errors.New("the target's SHA-256 differs from its control file's: it changed, make the control file again")
		}
		// Even its largest frames saving under 5%, the companion (several
		// copies of the target) would only cost storage.
		if m := res.Map; st.Size() > 0 && m.CompressedSize(m.Tiers()-1)*20 > st.Size()*19 {
			return fmt.Errorf("%w: its largest frames take %d bytes for %d; no companion written", ErrIncompressible, m.CompressedSize(m.Tiers()-1), st.Size())
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	f.Extra = append(f.Extra, zsyncfile.Header{
		Name:  zpack.HeaderName,
		Value: res.Ref(url.PathEscape(name)).String(),
	})
	return filepath.Join(dir, name), nil
}

// companionRef returns the companion the control file names, if any.
func (c *Control) companionRef() (zpack.Ref, bool, error) {
	for _, h := range c.File.Extra {
		if h.Name == zpack.HeaderName {
			ref, err := zpack.ParseRef(h.Value)
			return ref, err == nil, err
		}
	}
	return zpack.Ref{}, false, nil
}

// openCompanionAsync starts opening the compressed companion the control
// file names, if any, while the caller checks the plain URLs; the function
// it returns waits for that and puts the companion in front of plain: the
// missing blocks then come compressed, and from plain if the companion
// turns out to be missing or broken. Any problem with the companion is a
// warning, never the end of the run. Given a nil plain (no URL of the target
// is usable), the function returns the companion alone, or nil.
func (u *updater) openCompanionAsync(ctx context.Context) func(plain source.Source) source.Source {
	none := func(plain source.Source) source.Source { return plain }
	if u.opts.Plain {
		return none
	}
	ref, ok, err := u.c.companionRef()
	if err != nil {
		u.warn("ignoring the compressed companion", "", err)
		return none
	}
	if !ok {
		return none
	}
	type opened struct {
		zs  *zpack.Source
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		zs, err := u.openCompanion(ctx, ref)
		ch <- opened{zs, err}
	}()
	return func(plain source.Source) source.Source {
		o := <-ch
		if o.err != nil {
			if ctx.Err() == nil && plain != nil {
				u.warn("compressed companion unusable; fetching plain blocks", ref.URL, o.err)
			} else if ctx.Err() == nil {
				u.warn("compressed companion unusable", ref.URL, o.err)
			}
			return plain
		}
		u.logger.Debug("fetching through the compressed companion", "url", ref.URL)
		if plain == nil {
			return o.zs
		}
		return zpack.Fallback(o.zs, plain, func(err error) {
			u.warn("compressed companion failed; fetching plain blocks", ref.URL, err)
		})
	}
}

func (u *updater) openCompanion(ctx context.Context, ref zpack.Ref) (*zpack.Source, error) {
	loc, err := u.c.resolve(ref.URL)
	if err != nil {
		return nil, err
	}
	hs, err := httpsource.New(loc.String(), httpsource.Options{
		Client:       u.opts.Client,
		Header:       u.opts.Header,
		Concurrency:  u.concurrency(),
		Length:       ref.Size(),
		WasteBudget:  u.opts.WasteBudget,
		Logger:       u.logger,
		StallTimeout: u.opts.StallTimeout,
		OnRequest:    u.countRequest,
	})
	if err != nil {
		return nil, err
	}
	inner := retry.New(hs, u.retryOptions())
	m, err := zpack.Open(ctx, inner, ref, u.x.Length)
	if err != nil {
		return nil, err
	}
	return zpack.NewSource(inner, m, zpack.SourceOptions{})
}

// resolve resolves a URL the control file gives against its base.
func (c *Control) resolve(ref string) (*url.URL, error) {
	loc, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	if !loc.IsAbs() {
		if c.Base == nil {
			return nil, fmt.Errorf("relative URL %q and no base URL to resolve it against (give one with --base-url)", ref)
		}
		loc = c.Base.ResolveReference(loc)
	}
	return loc, nil
}

func (u *updater) countRequest(ri httpsource.RequestInfo) {
	u.requests.Add(1)
	u.wire.Add(ri.Bytes)
}

func (u *updater) warn(msg, path string, err error) {
	u.logger.Warn(msg, "url", path, "err", err)
	u.progress(Event{Phase: "warning", Path: path, Message: msg + ": " + err.Error()})
}
