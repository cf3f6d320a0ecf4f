package interop

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

// TestGetFailures: `zync get` fails with the contract's exit code, says what
// failed, and leaves the output path as it was (a pre-existing file
// byte-identical, a missing one still missing). zync may keep resumable
// state beside the output; such files are only logged.
func TestGetFailures(t *testing.T) {
	t.Parallel()
	served := t.TempDir()
	a := randBytes(40, 200<<10)
	b := randBytes(41, 200<<10)      // same length, other content
	short := randBytes(42, 150<<10)  // other length
	good := edit(43, a, 5, 100, 100) // a target whose control file gets a wrong SHA-1
	writeFile(t, filepath.Join(served, "a.bin"), a)
	writeFile(t, filepath.Join(served, "target.bin"), b)
	writeFile(t, filepath.Join(served, "short.bin"), short)
	writeFile(t, filepath.Join(served, "good.bin"), good)
	// Control files describing a.bin but pointing at other files.
	zsyncmake(t, served, "-u", "target.bin", "-o", "other-content.zsync", "a.bin")
	zsyncmake(t, served, "-u", "short.bin", "-o", "other-length.zsync", "a.bin")
	// A control file with right block sums and a wrong whole-file SHA-1.
	zsyncmake(t, served, "-u", "good.bin", "-o", "good.zsync", "good.bin")
	ctl := readFile(t, filepath.Join(served, "good.zsync"))
	sha1Line := regexp.MustCompile(`(?m)^SHA-1: [0-9a-f]{40}$`)
	if !sha1Line.Match(ctl) {
		t.Fatalf("good.zsync has no SHA-1 line:\n%s", ctl)
	}
	head, _, _ := bytes.Cut(ctl, []byte("\n\n"))
	bad := bytes.Replace(ctl, sha1Line.Find(head), []byte("SHA-1: "+strings.Repeat("0123456789", 4)), 1)
	writeFile(t, filepath.Join(served, "bad-sha1.zsync"), bad)
	ng := testenv.StartNginx(t, served)

	cases := []struct {
		name     string
		ctl      string
		seed     []byte
		existing bool
		code     int // 0: any non-zero code
		mention  string
	}{
		{name: "404/existing-output", ctl: "missing.zsync", existing: true, code: 3, mention: ng.URL("missing.zsync")},
		{name: "404/no-output", ctl: "missing.zsync", code: 3, mention: ng.URL("missing.zsync")},
		{name: "other-target/same-length", ctl: "other-content.zsync", existing: true},
		{name: "other-target/same-length/no-output", ctl: "other-content.zsync"},
		{name: "other-target/other-length", ctl: "other-length.zsync", existing: true},
		{name: "whole-file-check/fetched", ctl: "bad-sha1.zsync", existing: true, code: 5},
		{name: "whole-file-check/from-seed", ctl: "bad-sha1.zsync", seed: good, existing: true, code: 5},
		{name: "whole-file-check/no-output", ctl: "bad-sha1.zsync", code: 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			out := filepath.Join(work, "out.bin")
			var before []byte
			if c.existing {
				before = existingOutput(t, out)
			}
			args := []string{"-o", out, ng.URL(c.ctl)}
			if c.seed != nil {
				args = append([]string{"-i", writeFile(t, filepath.Join(work, "seed.bin"), c.seed)}, args...)
			}
			dirBefore := listDir(t, work)
			_, stderr, code := zyncGet(t, work, args...)
			switch {
			case code == 0:
				t.Errorf("zync get %s succeeded", c.ctl)
			case c.code != 0 && code != c.code:
				t.Errorf("zync get %s: exit %d, want %d; stderr: %s", c.ctl, code, c.code, stderr)
			case code == 2:
				t.Errorf("zync get %s: exit 2 (usage error) for a failure that is not a usage error; stderr: %s", c.ctl, stderr)
			}
			if strings.TrimSpace(stderr) == "" {
				t.Errorf("zync get failed without a message on stderr")
			}
			if c.mention != "" && !strings.Contains(stderr, c.mention) {
				t.Errorf("the error does not name %s: %q", c.mention, stderr)
			}
			assertUntouched(t, out, before, dirBefore)
		})
	}
}
