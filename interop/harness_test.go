package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// TestHarnessZsyncOverNginx checks the harness without zync: real zsyncmake
// writes the control file, real zsync rebuilds the target from a seed over
// real nginx, and the access log shows Range requests.
func TestHarnessZsyncOverNginx(t *testing.T) {
	t.Parallel()
	served, work := t.TempDir(), t.TempDir()
	old := randBytes(1, 1<<20)
	target := edit(2, old, 20, 3000, 2500)
	writeFile(t, filepath.Join(served, "new.bin"), target)
	seed := writeFile(t, filepath.Join(work, "old.bin"), old)
	zsyncmake(t, served, "-u", "new.bin", "-o", "new.bin.zsync", "new.bin")
	ng := testenv.StartNginx(t, served)

	out := filepath.Join(work, "out.bin")
	if code, stderr := zsyncGet(t, work, "-i", seed, "-o", out, ng.URL("new.bin.zsync")); code != 0 {
		t.Fatalf("zsync: exit %d: %s", code, stderr)
	}
	assertFile(t, out, target)
	log := ng.Log()
	if len(log) == 0 || log[0].Path != "/new.bin.zsync" || log[0].Status != 200 || log[0].Range != "" {
		t.Fatalf("first request should be a plain GET of the control file: %+v", log)
	}
	fetched, n := rangeRequests(t, log, "/new.bin")
	multi := false
	for _, r := range log {
		multi = multi || strings.Contains(r.Range, ",")
	}
	t.Logf("zsync with a seed: %d requests for the target, %d body bytes of %d", n, fetched, len(target))
	if n == 0 || fetched >= int64(len(target))/4 || !multi {
		t.Errorf("want a few multi-range requests fetching well under the size: %d requests, %d bytes, multi-range %v", n, fetched, multi)
	}
	// zsync keeps no temp files once it succeeded.
	if names := listDir(t, work); len(names) != 2 {
		t.Errorf("work dir after zsync: %v", names)
	}

	// No seed: everything comes over HTTP.
	ng.Reset()
	out2 := filepath.Join(work, "out2.bin")
	if code, stderr := zsyncGet(t, work, "-o", out2, ng.URL("new.bin.zsync")); code != 0 {
		t.Fatalf("zsync without seed: exit %d: %s", code, stderr)
	}
	assertFile(t, out2, target)
	fetched, n = rangeRequests(t, ng.Log(), "/new.bin")
	t.Logf("zsync without a seed: %d requests, %d body bytes of %d", n, fetched, len(target))
	if fetched < int64(len(target)) {
		t.Errorf("without a seed, nginx sent %d bytes of the %d-byte target", fetched, len(target))
	}
}

// TestHarnessZsyncUpstreamFixtures records how the real zsync 0.6.2 treats
// the upstream control files that zync must read (testdata/zsync-upstream).
func TestHarnessZsyncUpstreamFixtures(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "zsync-upstream")
	target := readFile(t, filepath.Join(dir, "target.dat"))
	ng := testenv.StartNginx(t, dir)
	for _, c := range []struct {
		file string
		code int // zsync 0.6.2's exit status
	}{
		{"target.dat.zsync", 0}, // MD4 and Safe: File-Hash,Strong-Hash-Algorithm
		{"target.dat.0.6.zsync", 0},
		{"target.dat.sm2.zsync", 0},
		{"target.dat.md5.zsync", 1},          // "unrecognised tag Strong-Hash-Algorithm"
		{"target.dat.sha224.zsync", 1},       // "nonsensical hash lengths line 1,4,28"
		{"target.dat3.zsync", 2},             // 404, then the whole-file check fails
		{"target.dat.bad.zsync", 2},          // blocks fail their sums
		{"target.dat.bad-checksum.zsync", 2}, // SHA-1 mismatch
	} {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			out := filepath.Join(work, "out")
			code, stderr := zsyncGet(t, work, "-o", out, ng.URL(c.file))
			if code != c.code {
				t.Fatalf("zsync: exit %d, want %d: %s", code, c.code, stderr)
			}
			if code == 0 {
				assertFile(t, out, target)
				return
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("zsync created %s after failing", out)
			}
		})
	}
}
