//go:build unix

package scan

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/zyncio/zync/internal/mapfile"
)

// TestScanMappedSeedShrinks: a mapped seed truncated under the scan gives
// ErrSeedFault, not a crash. (One worker and 64 KiB reads: the first window
// is read from the mapping; a window at the seed's end would be read with
// ReadAt and report the end of the file instead.)
func TestScanMappedSeedShrinks(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	target := randBytes(r, 256*1024)
	x := buildIndex(t, target, 1024, 2, 2, 5)
	path := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(path, randBytes(r, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, unmap, err := mapfile.Map(f, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(x)
	_, err = m.scanSeed(context.Background(), &seedReader{ra: f, size: 1 << 20, data: data}, NewBitmap(x.NumBlocks()),
		func(int64, []byte) error { return nil }, Options{Workers: 1, BufferSize: 64 << 10})
	if !errors.Is(err, ErrSeedFault) {
		t.Fatalf("err = %v, want ErrSeedFault", err)
	}
	t.Log(err)
}
