package zpack

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/zyncio/zync/source"
)

// FallbackSource fetches from a primary Source until it fails, then from a
// secondary one (see Fallback).
type FallbackSource struct {
	primary, secondary source.Source
	onFallback         func(error)
	failed             atomic.Bool
	once               sync.Once
}

var _ source.Source = (*FallbackSource)(nil)

// Fallback returns a Source that fetches from primary (a companion's Source)
// and, once primary fails, from secondary (the plain target, usually
// mirrors behind retries) for the ranges primary did not deliver and for
// every later Fetch. Primary fails when its Fetch returns an error other
// than the cancellation of the caller's context, or when fn rejects its
// bytes with an error wrapping source.ErrBadData (a stale or corrupt
// companion: the blocks' strong sums do not match). An error of fn that is
// neither (a full disk) ends the Fetch without a fallback, as does any
// error of secondary. onFallback, if set, is called once, with primary's
// error, when the fallback happens.
//
// fn must accept a range again after it rejected it or its reader failed
// part-way, as assemble's Receive does: the secondary delivers such a range
// in full.
func Fallback(primary, secondary source.Source, onFallback func(error)) *FallbackSource {
	return &FallbackSource{primary: primary, secondary: secondary, onFallback: onFallback}
}

// FellBack reports whether the Source has switched to the secondary.
func (f *FallbackSource) FellBack() bool { return f.failed.Load() }

// String names the Source in messages.
func (f *FallbackSource) String() string {
	return source.Name(f.primary) + " (else " + source.Name(f.secondary) + ")"
}

// trackedReader remembers whether the reader it wraps failed.
type trackedReader struct {
	r      io.Reader
	failed bool
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.failed = true
	}
	return n, err
}

// Fetch implements source.Source.
func (f *FallbackSource) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	if f.failed.Load() {
		return f.secondary.Fetch(ctx, ranges, fn)
	}
	var mu sync.Mutex
	done := make(map[int64]bool, len(ranges))
	var fatal error // an error of fn's own
	err := f.primary.Fetch(ctx, ranges, func(r source.Range, data io.Reader) error {
		tr := &trackedReader{r: data}
		err := fn(r, tr)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			done[r.Off] = true
		case !tr.failed && !errors.Is(err, source.ErrBadData):
			if fatal == nil {
				fatal = err
			}
		}
		return err
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	mu.Lock()
	own := fatal
	var rest []source.Range
	for _, r := range ranges {
		if !done[r.Off] {
			rest = append(rest, r)
		}
	}
	mu.Unlock()
	if own != nil {
		return err
	}
	f.once.Do(func() {
		f.failed.Store(true)
		if f.onFallback != nil {
			f.onFallback(err)
		}
	})
	if len(rest) == 0 {
		return nil
	}
	return f.secondary.Fetch(ctx, rest, fn)
}
