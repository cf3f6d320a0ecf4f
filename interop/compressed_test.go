package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// TestCompressedTransfer: `zync make --compress` writes a compressed
// companion and names it in the control file. zync get fetches the missing
// blocks from the companion only, in fewer bytes than the plain blocks
// take; the real zsync 0.6.2 still accepts the control file and uses the
// plain target; a damaged or missing companion makes zync fall back to the
// plain target with a warning, and the output is still exact.
func TestCompressedTransfer(t *testing.T) {
	pub, work := t.TempDir(), t.TempDir()
	old := textBytes(71, 6<<20)
	target := edit(72, old, 60, 4, 3)
	oldPath := writeFile(t, filepath.Join(work, "old.txt"), old)
	writeFile(t, filepath.Join(pub, "app.txt"), target)
	zyncMake(t, pub, "--compress", "app.txt")
	ctl := string(readFile(t, filepath.Join(pub, "app.txt.zsync")))
	if !strings.Contains(ctl, "Safe: X-Zync-Zpack\nX-Zync-Zpack: url=app.txt.zpack ") {
		t.Fatalf("control file names no companion:\n%s", ctl[:strings.Index(ctl, "\n\n")])
	}
	ng := testenv.StartNginx(t, pub)
	ctlURL := ng.URL("app.txt.zsync")

	// The plain transfer, for comparison.
	ng.Reset()
	plainOut := filepath.Join(work, "plain.txt")
	res, stderr, code := zyncGet(t, work, "--plain", "-i", oldPath, "-o", plainOut, ctlURL)
	if code != 0 {
		t.Fatalf("zync get --plain: exit %d: %s", code, stderr)
	}
	checkResult(t, work, res, plainOut, target)
	log := ng.Log()
	checkAgainstLog(t, res, log)
	plainBytes, _ := rangeRequests(t, log, "/app.txt")
	if zb, zn := testenv.Totals(log, "/app.txt.zpack"); zn != 0 {
		t.Errorf("--plain fetched %d bytes of the companion in %d requests", zb, zn)
	}

	// Compressed: nothing from the plain target.
	ng.Reset()
	out := filepath.Join(work, "out.txt")
	res, stderr, code = zyncGet(t, work, "-i", oldPath, "-o", out, ctlURL)
	if code != 0 {
		t.Fatalf("zync get: exit %d: %s", code, stderr)
	}
	checkResult(t, work, res, out, target)
	log = ng.Log()
	checkAgainstLog(t, res, log)
	// The plain target is asked only for its length and validator.
	for _, r := range log {
		if r.Path == "/app.txt" && r.Range != "bytes=0-0" {
			t.Errorf("zync fetched %s of the plain target (%d bytes); want all from the companion", r.Range, r.Bytes)
		}
	}
	zpBytes, zpReqs := rangeRequests(t, log, "/app.txt.zpack")
	if zpReqs == 0 {
		t.Fatal("no request for the companion")
	}
	if res.FetchedBytes != zpBytes+1 {
		t.Errorf("zync reports %d bytes fetched; nginx sent %d bytes of the companion and 1 of the target", res.FetchedBytes, zpBytes)
	}
	if zpBytes*2 > plainBytes {
		t.Errorf("companion: %d bytes over the wire; plain blocks took %d: want at most half", zpBytes, plainBytes)
	}
	t.Logf("plain blocks: %d bytes; compressed: %d bytes in %d requests (map included)", plainBytes, zpBytes, zpReqs)
	if strings.Contains(stderr, "compressed companion") {
		t.Errorf("warning on a good companion: %s", stderr)
	}

	// The real zsync 0.6.2 ignores the companion and uses the plain URL.
	ng.Reset()
	zout := filepath.Join(work, "zsync-out.txt")
	if code, stderr := zsyncGet(t, work, "-i", oldPath, "-o", zout, ctlURL); code != 0 {
		t.Fatalf("zsync 0.6.2 refused the control file with a companion header: exit %d: %s", code, stderr)
	}
	assertFile(t, zout, target)
	if b, n := testenv.Totals(ng.Log(), "/app.txt.zpack"); n != 0 {
		t.Errorf("zsync fetched %d bytes of the companion", b)
	}

	// A damaged frame: zync falls back to the plain target.
	zp := filepath.Join(pub, "app.txt.zpack")
	good := readFile(t, zp)
	bad := append([]byte(nil), good...)
	for i := 100; i < len(bad)/2; i += 997 {
		bad[i] ^= 0x5a
	}
	if err := os.WriteFile(zp, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	ng.Reset()
	out2 := filepath.Join(work, "out2.txt")
	res, stderr, code = zyncGet(t, work, "-i", oldPath, "-o", out2, ctlURL)
	if code != 0 {
		t.Fatalf("zync get with a damaged companion: exit %d: %s", code, stderr)
	}
	checkResult(t, work, res, out2, target)
	if !strings.Contains(stderr, "compressed companion failed; fetching plain blocks") {
		t.Errorf("no warning about the damaged companion: %s", stderr)
	}
	if _, n := testenv.Totals(ng.Log(), "/app.txt"); n == 0 {
		t.Error("no fallback request for the plain target")
	}

	// A missing companion: zync warns and fetches plain blocks.
	if err := os.Remove(zp); err != nil {
		t.Fatal(err)
	}
	out3 := filepath.Join(work, "out3.txt")
	res, stderr, code = zyncGet(t, work, "-i", oldPath, "-o", out3, ctlURL)
	if code != 0 {
		t.Fatalf("zync get without the companion: exit %d: %s", code, stderr)
	}
	checkResult(t, work, res, out3, target)
	if !strings.Contains(stderr, "compressed companion unusable") {
		t.Errorf("no warning about the missing companion: %s", stderr)
	}
}
