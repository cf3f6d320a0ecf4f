package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// TestRoundTripSmall: `zync make` + `zync get` through nginx for sizes around
// one block (bs = 2048), with and without a seed; the real zsync client on
// the same control files for the sizes it supports.
//
// Size 0: zync must handle an empty target. zsync 0.6.2 cannot ("Not a zsync
// file (looked for Blocksize and Length lines)": it requires Length != 0), so
// zsync is not run on it.
func TestRoundTripSmall(t *testing.T) {
	t.Parallel()
	const bs = 2048
	served := t.TempDir()
	ng := testenv.StartNginx(t, served)
	for _, size := range []int{0, 1, bs - 1, bs, bs + 1} {
		name := fmt.Sprintf("f%d.bin", size)
		target := randBytes(uint64(200+size), size)
		writeFile(t, filepath.Join(served, name), target)
		zyncMake(t, served, "-b", fmt.Sprint(bs), "-u", name, name)
		url := ng.URL(name + ".zsync")
		// A seed: the target with a few bytes changed, or for tiny targets
		// unrelated data that happens to contain it.
		seedData := edit(uint64(300+size), target, 2, 0, 0)
		if size < 100 {
			seedData = append(randBytes(7, 3000), target...)
		}

		t.Run(fmt.Sprintf("zync/%d", size), func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			out := filepath.Join(work, "out.bin")
			res, stderr, code := zyncGet(t, work, "-o", out, url)
			if code != 0 {
				t.Fatalf("zync get: exit %d: %s", code, stderr)
			}
			checkResult(t, work, res, out, target)

			seed := writeFile(t, filepath.Join(work, "seed.bin"), seedData)
			out2 := filepath.Join(work, "out2.bin")
			res, stderr, code = zyncGet(t, work, "-i", seed, "-o", out2, url)
			if code != 0 {
				t.Fatalf("zync get with a seed: exit %d: %s", code, stderr)
			}
			checkResult(t, work, res, out2, target)
		})
		if size == 1 || size == bs+1 {
			t.Run(fmt.Sprintf("zsync/%d", size), func(t *testing.T) {
				t.Parallel()
				work := t.TempDir()
				out := filepath.Join(work, "out.bin")
				if code, stderr := zsyncGet(t, work, "-o", out, url); code != 0 {
					t.Fatalf("zsync: exit %d: %s", code, stderr)
				}
				assertFile(t, out, target)
				seed := writeFile(t, filepath.Join(work, "seed.bin"), seedData)
				out2 := filepath.Join(work, "out2.bin")
				if code, stderr := zsyncGet(t, work, "-i", seed, "-o", out2, url); code != 0 {
					t.Fatalf("zsync with a seed: exit %d: %s", code, stderr)
				}
				assertFile(t, out2, target)
			})
		}
	}
}

// sparseFile creates a sparse file of size bytes with chunks of random data
// written at the given offsets (a chunk is cut at the end of the file).
func sparseFile(t testing.TB, path string, size int64, chunks map[int64]uint64, chunkLen int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, seed := range chunks {
		data := randBytes(seed, chunkLen)
		if rest := size - off; rest < int64(len(data)) {
			data = data[:rest]
		}
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRoundTripSparseLarge: a target above 1 GiB with an odd tail (sparse:
// mostly zero blocks, with scattered random data), updated from a seed that
// is the same kind of file with a few different writes.
func TestRoundTripSparseLarge(t *testing.T) {
	testenv.SkipIfShort(t, "a 1 GiB round trip")
	const size = 1<<30 + 12345
	const chunk = 64 << 10
	served, work := t.TempDir(), t.TempDir()
	offsets := []int64{0, 3 << 20, 100<<20 + 7, 257<<20 + 999, 511 << 20, 700<<20 + 1, 901<<20 + 3, 1<<30 - 40000, size - 5000}
	targetChunks := map[int64]uint64{}
	seedChunks := map[int64]uint64{}
	for i, off := range offsets {
		targetChunks[off] = uint64(1000 + i)
		seedChunks[off] = uint64(1000 + i)
	}
	// The seed differs: three chunks with other data, one chunk missing
	// (zeros in the seed), one chunk the target does not have.
	seedChunks[offsets[2]] = 2002
	seedChunks[offsets[5]] = 2005
	seedChunks[offsets[8]] = 2008
	delete(seedChunks, offsets[6])
	seedChunks[300<<20] = 2100
	target := filepath.Join(served, "big.bin")
	seed := filepath.Join(work, "seed.bin")
	sparseFile(t, target, size, targetChunks, chunk)
	sparseFile(t, seed, size, seedChunks, chunk)

	zyncMake(t, served, "-u", "big.bin", "big.bin")
	ng := testenv.StartNginx(t, served)
	out := filepath.Join(work, "out.bin")
	res, stderr, code := zyncGet(t, work, "-i", seed, "-o", out, ng.URL("big.bin.zsync"))
	if code != 0 {
		t.Fatalf("zync get: exit %d: %s", code, stderr)
	}
	wantSum, _ := fileSHA256(t, target)
	gotSum, gotSize := fileSHA256(t, out)
	if gotSum != wantSum || gotSize != size {
		t.Fatalf("output: %d bytes, sha256 %s; want %d bytes, sha256 %s", gotSize, gotSum, int64(size), wantSum)
	}
	if res.Length != size || res.SHA256 != wantSum {
		t.Errorf("json: length %d sha256 %s", res.Length, res.SHA256)
	}
	log := ng.Log()
	checkAgainstLog(t, res, log)
	body, n := rangeRequests(t, log, "/big.bin")
	t.Logf("1 GiB sparse: zync fetched %d payload bytes (nginx: %d body bytes in %d requests), reused %d, in %d ms",
		res.FetchedBytes, body, n, res.ReusedBytes, res.ElapsedMS)
	// 4 chunks of 64 KiB differ; allow block rounding and some slack.
	if limit := int64(2 << 20); res.FetchedBytes > limit || body > limit {
		t.Errorf("fetched %d bytes (nginx: %d); want under %d", res.FetchedBytes, body, limit)
	}
}
