package interop

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// TestZsyncGetZyncMakeControl: a control file written by `zync make` is read
// by the real zsync 0.6.2 client, which rebuilds the target over nginx with a
// seed and without one. Control files with a strong hash that 0.6.2 cannot
// verify (--strong sha224, md5) must be refused by it.
func TestZsyncGetZyncMakeControl(t *testing.T) {
	t.Parallel()
	served, work := t.TempDir(), t.TempDir()
	old := randBytes(30, 3<<20)
	target := edit(31, old, 25, 7000, 5000)
	writeFile(t, filepath.Join(served, "new.bin"), target)
	seed := writeFile(t, filepath.Join(work, "old.bin"), old)
	zyncMake(t, served, "-u", "new.bin", "new.bin")
	if _, err := os.Stat(filepath.Join(served, "new.bin.zsync")); err != nil {
		t.Fatalf("zync make -u new.bin new.bin did not write new.bin.zsync: %v", err)
	}
	zyncMake(t, served, "--strong", "sha224", "-u", "new.bin", "-o", "new.bin.sha224.zsync", "new.bin")
	zyncMake(t, served, "--strong", "md5", "-u", "new.bin", "-o", "new.bin.md5.zsync", "new.bin")
	ng := testenv.StartNginx(t, served)

	t.Run("seed", func(t *testing.T) {
		ng.Reset()
		out := filepath.Join(work, "out-seed.bin")
		if code, stderr := zsyncGet(t, work, "-i", seed, "-o", out, ng.URL("new.bin.zsync")); code != 0 {
			t.Fatalf("zsync: exit %d: %s", code, stderr)
		}
		assertFile(t, out, target)
		body, n := rangeRequests(t, ng.Log(), "/new.bin")
		t.Logf("zsync with a seed: %d body bytes in %d requests, of %d", body, n, len(target))
		if body > int64(len(target))/10 {
			t.Errorf("zsync fetched %d of %d bytes: the seed was not used", body, len(target))
		}
	})
	t.Run("no-seed", func(t *testing.T) {
		out := filepath.Join(work, "out-noseed.bin")
		if code, stderr := zsyncGet(t, work, "-o", out, ng.URL("new.bin.zsync")); code != 0 {
			t.Fatalf("zsync: exit %d: %s", code, stderr)
		}
		assertFile(t, out, target)
	})
	for _, alg := range []string{"sha224", "md5"} {
		t.Run("refused-"+alg, func(t *testing.T) {
			out := filepath.Join(work, "out-"+alg+".bin")
			code, stderr := zsyncGet(t, work, "-i", seed, "-o", out, ng.URL("new.bin."+alg+".zsync"))
			if code == 0 {
				t.Fatalf("zsync 0.6.2 accepted a --strong %s control file; it cannot verify %s blocks", alg, alg)
			}
			t.Logf("zsync 0.6.2 refuses --strong %s: exit %d: %s", alg, code, stderr)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("zsync wrote %s", out)
			}
		})
	}
}
