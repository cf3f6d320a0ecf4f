package scan

import (
	"runtime"
	"testing"

	"github.com/zyncio/zync/index"
)

// TestMatcherMemory: a matcher for a target of millions of blocks, almost
// all identical (a sparse disk image), keeps its group links (8 bytes a
// block) and a table of the distinct runs only, not one sized for every
// run.
func TestMatcherMemory(t *testing.T) {
	const n = 2_000_000
	x := &index.Index{Blocksize: 32768, Length: n * 32768, SeqMatches: 2, WeakBytes: 3, StrongLen: 5, Algo: index.MD4,
		Weak: make([]uint32, n), Strong: make([]byte, 5*n)}
	for i := int64(0); i < n; i += 100_000 {
		x.Weak[i] = uint32(i)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before, total := ms.HeapAlloc, ms.TotalAlloc
	m := NewMatcher(x)
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc - total
	runtime.GC()
	runtime.ReadMemStats(&ms)
	live := int64(ms.HeapAlloc) - int64(before)
	runtime.KeepAlive(m)
	t.Logf("%d blocks, %d distinct runs: %.1f bytes a block allocated while building, %.1f live", n, len(m.ents),
		float64(allocated)/n, float64(live)/n)
	if live > 10*n {
		t.Errorf("matcher keeps %d bytes for %d blocks (%.1f a block); want about 8", live, n, float64(live)/n)
	}
	if allocated > 16*n {
		t.Errorf("building the matcher allocated %d bytes for %d blocks (%.1f a block); want about 12", allocated, n, float64(allocated)/n)
	}
}
