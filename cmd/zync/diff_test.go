package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zyncio/zync/patch"
)

// patchFiles writes an old and a new version of a text-like file.
func patchFiles(t *testing.T) (dir, old, new string, newData []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(21, 22))
	var b bytes.Buffer
	for b.Len() < 300<<10 {
		fmt.Fprintf(&b, "%d %x\n", r.IntN(1000), r.Uint64())
	}
	oldData := b.Bytes()
	newData = append([]byte(nil), oldData...)
	for range 40 {
		at := r.IntN(len(newData) - 100)
		newData = append(newData[:at], append([]byte(fmt.Sprint("edit", r.IntN(100))), newData[at+r.IntN(20):]...)...)
	}
	dir = t.TempDir()
	old, new = filepath.Join(dir, "old.img"), filepath.Join(dir, "new.img")
	for p, d := range map[string][]byte{old: oldData, new: newData} {
		if err := os.WriteFile(p, d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, old, new, newData
}

func sameContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, not the expected %d", path, len(got), len(want))
	}
}

func TestDiffApplyCLI(t *testing.T) {
	t.Parallel()
	dir, old, new, newData := patchFiles(t)
	p, out := filepath.Join(dir, "p.zpatch"), filepath.Join(dir, "out.img")

	_, stderr, code := zyncRun(t, "diff", old, new, "-o", p)
	if code != exitOK || !strings.Contains(stderr, "copied from the seed") {
		t.Fatalf("diff: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = zyncRun(t, "apply", old, p, "-o", out)
	if code != exitOK || !strings.Contains(stderr, "SHA-256 OK") {
		t.Fatalf("apply: exit %d, stderr %q", code, stderr)
	}
	sameContent(t, out, newData)

	// --json, -q and the default patch name.
	stdout, stderr, code := zyncRun(t, "diff", "--json", "-q", old, new)
	if code != exitOK || stderr != "" {
		t.Fatalf("diff --json: exit %d, stderr %q", code, stderr)
	}
	var dj struct {
		Output     string `json:"output"`
		PatchSize  int64  `json:"patch_size"`
		TargetLen  int64  `json:"target_length"`
		Copied     int64  `json:"copied"`
		Literal    int64  `json:"literal"`
		SHA256     string `json:"sha256"`
		ElapsedMS  *int64 `json:"elapsed_ms"`
		Sections   int    `json:"sections"`
		Instr      int64  `json:"instructions"`
		SeedLength int64  `json:"seed_length"`
	}
	if err := json.Unmarshal([]byte(stdout), &dj); err != nil {
		t.Fatalf("diff --json: %v: %q", err, stdout)
	}
	if dj.Output != new+".zpatch" || dj.TargetLen != int64(len(newData)) || dj.Copied+dj.Literal != dj.TargetLen || dj.ElapsedMS == nil || len(dj.SHA256) != 64 {
		t.Errorf("diff --json: %+v", dj)
	}
	if st, err := os.Stat(new + ".zpatch"); err != nil || st.Size() != dj.PatchSize {
		t.Errorf("default patch: %v", err)
	}
	stdout, stderr, code = zyncRun(t, "apply", "-q", "--json", old, new+".zpatch", "-o", out)
	var aj struct {
		Output string `json:"output"`
		Length int64  `json:"length"`
		SHA256 string `json:"sha256"`
	}
	if code != exitOK || stderr != "" || json.Unmarshal([]byte(stdout), &aj) != nil || aj.Length != int64(len(newData)) || aj.SHA256 != dj.SHA256 || aj.Output != out {
		t.Fatalf("apply --json: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// In place: the output may be the seed.
	if _, stderr, code := zyncRun(t, "apply", "-q", old, p, "-o", old); code != exitOK {
		t.Fatalf("apply in place: exit %d, %s", code, stderr)
	}
	sameContent(t, old, newData)
}

func TestDiffFromControlCLI(t *testing.T) {
	t.Parallel()
	dir, old, new, newData := patchFiles(t)
	ctl, p, out := filepath.Join(dir, "old.img.zsync"), filepath.Join(dir, "p.zpatch"), filepath.Join(dir, "out.img")
	if _, stderr, code := zyncRun(t, "make", old); code != exitOK {
		t.Fatalf("make: %s", stderr)
	}
	if _, stderr, code := zyncRun(t, "diff", "--from", ctl, new, "-o", p); code != exitOK {
		t.Fatalf("diff --from: exit %d, %s", code, stderr)
	}
	if _, stderr, code := zyncRun(t, "apply", old, p, "-o", out); code != exitOK {
		t.Fatalf("apply: exit %d, %s", code, stderr)
	}
	sameContent(t, out, newData)
}

func TestPatchCLIErrors(t *testing.T) {
	t.Parallel()
	dir, old, new, _ := patchFiles(t)
	p, out := filepath.Join(dir, "p.zpatch"), filepath.Join(dir, "out.img")
	if _, stderr, code := zyncRun(t, "diff", "-q", old, new, "-o", p); code != exitOK {
		t.Fatal(stderr)
	}
	pd, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	trunc, flipped := filepath.Join(dir, "trunc.zpatch"), filepath.Join(dir, "flipped.zpatch")
	fd := append([]byte(nil), pd...)
	fd[len(fd)/2] ^= 4
	wrongSeed := filepath.Join(dir, "wrong.img")
	wd, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	wd[100] ^= 1
	for path, data := range map[string][]byte{trunc: pd[:len(pd)/2], flipped: fd, wrongSeed: wd} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The exit codes are those classify gives the patch sentinels: a wrong
	// seed is a failed verification, a corrupt patch a malformed input
	// (see the report: errors.go maps them).
	wrongSeedCode := exitCode(fmt.Errorf("x: %w", patch.ErrWrongSeed))
	corruptCode := exitCode(fmt.Errorf("x: %w", patch.ErrCorrupt))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"diff", old}, exitUsage, "diff needs OLD and NEW"},
		{[]string{"diff", old, new, "extra"}, exitUsage, "accepts between 1 and 2 arg(s)"},
		{[]string{"diff", "--from", "x.zsync", old, new}, exitUsage, "with --from, diff takes only NEW"},
		{[]string{"diff", old, new, "-o", old}, exitUsage, "would overwrite the input"},
		{[]string{"diff", "--level", "9", old, new}, exitUsage, "--level 9"},
		{[]string{"apply", old, p}, exitUsage, "give the output with -o"},
		{[]string{"apply", old}, exitUsage, "accepts 2 arg(s)"},
		{[]string{"apply", old, p, "-o", p}, exitUsage, "would overwrite the patch"},
		{[]string{"apply", filepath.Join(dir, "missing"), p, "-o", out}, exitFailure, "no such file"},
		{[]string{"apply", wrongSeed, p, "-o", out}, wrongSeedCode, "seed is not the file this patch applies to"},
		{[]string{"apply", new, p, "-o", out}, wrongSeedCode, "seed is not the file this patch applies to"},
		{[]string{"apply", old, trunc, "-o", out}, corruptCode, "patch is corrupt or truncated"},
		{[]string{"apply", old, flipped, "-o", out}, corruptCode, "patch is corrupt or truncated"},
		{[]string{"apply", old, old, "-o", out}, corruptCode, "not a zync patch"},
		{[]string{"diff", "--from", old, new, "-o", filepath.Join(dir, "p2")}, exitControl, "control file"},
	} {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			if err := os.WriteFile(out, []byte("previous content"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := zyncRun(t, c.args...)
			if code != c.code || code == exitOK || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.want)
			}
			if got, _ := os.ReadFile(out); string(got) != "previous content" {
				t.Error("the output changed")
			}
		})
	}
	if code := exitCode(fmt.Errorf("x: %w", patch.ErrUnsupported)); code == exitOK {
		t.Error("ErrUnsupported exits 0")
	}
	// No temporary file is left behind.
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		if strings.Contains(e.Name(), patch.TempInfix) {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
}
