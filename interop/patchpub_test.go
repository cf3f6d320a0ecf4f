package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// TestPatchPublishing: `zync make --patch-from OLD` writes a patch and
// announces it in the control file. zync get with OLD as a seed fetches the
// patch in one request; the real zsync 0.6.2 still accepts the control file
// (the header is listed in Safe:); a damaged patch makes zync fall back to
// blocks.
func TestPatchPublishing(t *testing.T) {
	pub, work := t.TempDir(), t.TempDir()
	old := randBytes(91, 3<<20)
	target := edit(92, old, 40, 3, 2)
	oldPath := writeFile(t, filepath.Join(work, "old.img"), old)
	writeFile(t, filepath.Join(pub, "app.img"), target)
	zyncMake(t, pub, "--patch-from", oldPath, "app.img")
	ctl := string(readFile(t, filepath.Join(pub, "app.img.zsync")))
	if !strings.Contains(ctl, "X-Zync-Patch: app.img.from-") {
		t.Fatalf("control file announces no patch:\n%s", ctl[:strings.Index(ctl, "\n\n")])
	}
	ng := testenv.StartNginx(t, pub)

	out := filepath.Join(work, "out.img")
	ng.Reset()
	res, stderr, code := zyncGet(t, work, "-i", oldPath, "-o", out, ng.URL("app.img.zsync"))
	if code != 0 {
		t.Fatalf("zync get: exit %d: %s", code, stderr)
	}
	assertFile(t, out, target)
	var patchReqs, blockReqs int
	for _, r := range ng.Log() {
		switch {
		case strings.HasSuffix(r.Path, ".zpatch"):
			patchReqs++
		case r.Path == "/app.img":
			blockReqs++
		}
	}
	if patchReqs != 1 || blockReqs != 0 {
		t.Errorf("%d patch and %d target requests, want 1 and 0", patchReqs, blockReqs)
	}
	t.Logf("patch: %d bytes fetched for a %d-byte target", res.FetchedBytes, len(target))

	// The real zsync 0.6.2 ignores the announced patch.
	zout := filepath.Join(work, "zsync-out.img")
	if code, stderr := zsyncGet(t, work, "-i", oldPath, "-o", zout, ng.URL("app.img.zsync")); code != 0 {
		t.Fatalf("zsync 0.6.2 refused the control file with a patch header: exit %d: %s", code, stderr)
	}
	assertFile(t, zout, target)

	// A damaged patch: zync falls back to fetching blocks.
	ps, _ := filepath.Glob(filepath.Join(pub, "*.zpatch"))
	if len(ps) != 1 {
		t.Fatalf("patches on the server: %v", ps)
	}
	data := readFile(t, ps[0])
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(ps[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(work, "out2.img")
	_, stderr, code = zyncGet(t, work, "-i", oldPath, "-o", out2, ng.URL("app.img.zsync"))
	if code != 0 {
		t.Fatalf("zync get with a damaged patch: exit %d: %s", code, stderr)
	}
	assertFile(t, out2, target)
	if !strings.Contains(stderr, "patch failed") {
		t.Errorf("no warning about the damaged patch: %s", stderr)
	}
}
