// Package filesource serves target ranges from a local copy of the target
// (a mounted share, a local mirror, or any io.ReaderAt).
package filesource

import (
	"context"
	"fmt"
	"io"

	"github.com/zyncio/zync/source"
)

// Source reads ranges from an io.ReaderAt holding the target.
type Source struct {
	r    io.ReaderAt
	size int64
}

var _ source.Source = (*Source)(nil)

// New returns a Source over r, which holds size bytes.
func New(r io.ReaderAt, size int64) *Source { return &Source{r: r, size: size} }

// Fetch calls fn for each range in order, with a reader of exactly its bytes.
func (s *Source) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	for _, r := range ranges {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.Off < 0 || r.Len <= 0 || r.End() > s.size {
			return fmt.Errorf("range %s outside the %d-byte target: %w", r, s.size, source.ErrLengthMismatch)
		}
		if err := fn(r, io.NewSectionReader(s.r, r.Off, r.Len)); err != nil {
			return err
		}
	}
	return nil
}
