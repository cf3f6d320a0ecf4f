package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// TestZyncGetZsyncmakeControl: a control file written by the real zsyncmake,
// served by nginx, is used by `zync get` with a seed (and without one).
func TestZyncGetZsyncmakeControl(t *testing.T) {
	t.Parallel()
	served, work := t.TempDir(), t.TempDir()
	old := randBytes(10, 3<<20)
	target := edit(11, old, 25, 7000, 5000)
	writeFile(t, filepath.Join(served, "new.bin"), target)
	seed := writeFile(t, filepath.Join(work, "old.bin"), old)
	zsyncmake(t, served, "-u", "new.bin", "new.bin") // writes new.bin.zsync in served
	ng := testenv.StartNginx(t, served)

	out := filepath.Join(work, "out.bin")
	res, stderr, code := zyncGet(t, work, "-i", seed, "-o", out, ng.URL("new.bin.zsync"))
	if code != 0 {
		t.Fatalf("zync get: exit %d: %s", code, stderr)
	}
	checkResult(t, work, res, out, target)
	log := ng.Log()
	checkAgainstLog(t, res, log)
	body, n := rangeRequests(t, log, "/new.bin")
	t.Logf("with a seed: zync fetched %d payload bytes (nginx sent %d body bytes in %d requests for the target), reused %d, of %d",
		res.FetchedBytes, body, n, res.ReusedBytes, len(target))
	if limit := int64(len(target)) / 10; res.FetchedBytes > limit || body > limit {
		t.Errorf("fetched %d bytes (nginx: %d) of a %d-byte target that differs from its seed in a few places; want under %d",
			res.FetchedBytes, body, len(target), limit)
	}
	if res.ReusedBytes < int64(len(target))*8/10 {
		t.Errorf("reused only %d of %d bytes from the seed", res.ReusedBytes, len(target))
	}

	// Without a seed every byte comes from nginx.
	ng.Reset()
	out2 := filepath.Join(work, "out2.bin")
	res, stderr, code = zyncGet(t, work, "-o", out2, ng.URL("new.bin.zsync"))
	if code != 0 {
		t.Fatalf("zync get without seed: exit %d: %s", code, stderr)
	}
	checkResult(t, work, res, out2, target)
	checkAgainstLog(t, res, ng.Log())
	if res.ReusedBytes != 0 || res.FetchedBytes < int64(len(target)) {
		t.Errorf("without a seed: reused %d, fetched %d of %d", res.ReusedBytes, res.FetchedBytes, len(target))
	}
}

// upstreamDir holds the control files of upstream zsync's own test data
// (copied from shared/fixtures/zsync-upstream; see its README.md).
var upstreamDir = filepath.Join("testdata", "zsync-upstream")

// TestZyncGetUpstreamFixtures: control files written by upstream zsync
// (0.6.5 and 0.7.x/0.8 generators; MD4, MD5, SHA-224, seq_matches 2) all
// rebuild target.dat, and the broken ones fail with the contract's exit codes
// without touching an existing output file.
func TestZyncGetUpstreamFixtures(t *testing.T) {
	t.Parallel()
	target := readFile(t, filepath.Join(upstreamDir, "target.dat"))
	ng := testenv.StartNginx(t, upstreamDir)
	changed := edit(20, target, 12, 0, 0) // the target with some bytes changed

	for _, file := range []string{
		"target.dat.zsync",
		"target.dat.0.6.zsync",
		"target.dat.md5.zsync",
		"target.dat.sha224.zsync",
		"target.dat.sm2.zsync",
	} {
		for _, withSeed := range []bool{false, true} {
			name := file + "/no-seed"
			if withSeed {
				name = file + "/seed"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				work := t.TempDir()
				out := filepath.Join(work, "target.dat")
				args := []string{"-o", out, ng.URL(file)}
				if withSeed {
					args = append([]string{"-i", writeFile(t, filepath.Join(work, "seed.dat"), changed)}, args...)
				}
				res, stderr, code := zyncGet(t, work, args...)
				if code != 0 {
					t.Fatalf("zync get %s: exit %d: %s", file, code, stderr)
				}
				checkResult(t, work, res, out, target)
				if withSeed && (res.ReusedBytes == 0 || res.FetchedBytes >= int64(len(target))/2) {
					t.Errorf("with a seed differing in 12 places: reused %d, fetched %d of %d", res.ReusedBytes, res.FetchedBytes, len(target))
				}
			})
		}
	}

	for _, c := range []struct {
		file string
		seed bool
		code int // 0: any non-zero code
		why  string
	}{
		{"target.dat3.zsync", false, 3, "its URL target.dat3 is a 404"},
		{"target.dat.bad.zsync", false, 0, "it describes another target than the one served"},
		{"target.dat.bad-checksum.zsync", false, 5, "the whole-file SHA-1 does not match"},
		{"target.dat.bad-checksum.zsync", true, 5, "the whole-file SHA-1 does not match (all blocks from the seed)"},
	} {
		name := c.file + "/no-seed"
		if c.seed {
			name = c.file + "/seed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			out := filepath.Join(work, "target.dat")
			before := existingOutput(t, out)
			args := []string{"-o", out, ng.URL(c.file)}
			if c.seed {
				args = append([]string{"-i", writeFile(t, filepath.Join(work, "seed.dat"), target)}, args...)
			}
			dirBefore := listDir(t, work)
			_, stderr, code := zyncGet(t, work, args...)
			switch {
			case code == 0:
				t.Errorf("zync get succeeded although %s", c.why)
			case c.code != 0 && code != c.code:
				t.Errorf("zync get: exit %d, want %d (%s); stderr: %s", code, c.code, c.why, stderr)
			}
			if c.file == "target.dat3.zsync" && !strings.Contains(stderr, ng.URL("target.dat3")) {
				t.Errorf("the error does not name the failing URL %s: %q", ng.URL("target.dat3"), stderr)
			}
			assertUntouched(t, out, before, dirBefore)
		})
	}
}

// The fixtures must be in the repository (not only in shared/).
func TestZyncGetUpstreamFixturesPresent(t *testing.T) {
	for _, f := range []string{"target.dat", "target.dat.zsync", "target.dat.0.6.zsync", "target.dat.md5.zsync",
		"target.dat.sha224.zsync", "target.dat.sm2.zsync", "target.dat3.zsync", "target.dat.bad.zsync",
		"target.dat.bad-checksum.zsync"} {
		if _, err := os.Stat(filepath.Join(upstreamDir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(upstreamDir, "target.dat3")); err == nil {
		t.Error("target.dat3 must not exist: target.dat3.zsync tests a 404")
	}
	if got := sha256Hex(readFile(t, filepath.Join(upstreamDir, "target.dat"))); !strings.HasPrefix(got, "e342d5e3") {
		t.Errorf("target.dat sha256 %s, want e342d5e3…", got)
	}
}
