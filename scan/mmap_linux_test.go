package scan

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// rssFile returns the process's resident file-backed memory (RssFile in
// /proc/self/status), in bytes.
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("RssFile:")); ok {
			f := bytes.Fields(v)
			kib, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kib << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestScanMappedSeedMemory: scanning a mapped 192 MiB seed gives its pages
// back behind the scan, so the file-backed part of the process's resident
// memory stays far below the seed's size.
func TestScanMappedSeedMemory(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := buildIndex(t, randBytes(r, 1<<20), 4096, 2, 2, 5)
	const size = 192 << 20
	path := filepath.Join(t.TempDir(), "seed")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := randBytes(r, 1<<20)
	for off := 0; off < size; off += len(chunk) {
		chunk[0]++ // no two chunks alike
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	base := rssFile(t)
	var mu sync.Mutex
	peak := int64(0)
	m := NewMatcher(x)
	_, err = m.ScanReaderAt(context.Background(), f, size, NewBitmap(x.NumBlocks()), func(int64, []byte) error { return nil },
		Options{Workers: 2, Progress: func(int64) {
			n := rssFile(t)
			mu.Lock()
			peak = max(peak, n)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("file-backed RSS: %d MiB before, at most %d MiB during the scan of a %d MiB seed", base>>20, peak>>20, size>>20)
	if peak-base > 48<<20 {
		t.Errorf("file-backed RSS grew by %d MiB during the scan; want the scanned pages given back", (peak-base)>>20)
	}
}
