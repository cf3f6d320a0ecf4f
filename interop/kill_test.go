package interop

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/internal/testenv"
)

// TestKillAndResume kills `zync get` with SIGKILL at 25%, 50% and 75% of a
// rate-limited transfer, running the same command again after each kill,
// then lets a last run finish. Each run must ask for none of the blocks the
// journal recorded as verified before it started, and the output must end
// exact.
func TestKillAndResume(t *testing.T) {
	const size = 24 << 20
	const bs = 2048
	pub, work := t.TempDir(), t.TempDir()
	target := randBytes(77, size)
	writeFile(t, filepath.Join(pub, "big.img"), target)
	zyncMake(t, pub, "-b", strconv.Itoa(bs), "big.img")
	ng := testenv.StartNginx(t, pub)
	out := filepath.Join(work, "big.img")
	journal := out + assemble.PartSuffix + assemble.JournalSuffix
	bin := testenv.Zync(t)
	// 4 MiB/s: a quarter of the target takes 1.5 s, so checkpoints (one a
	// second) happen between kills.
	args := []string{"get", "--progress", "json", "--limit-rate", "4M", "--min-savings", "0", "-j", "2", "-o", out, ng.URL("big.img.zsync")}

	prior := func() *assemble.Journal {
		j, err := assemble.ReadJournal(journal)
		if err != nil {
			return nil
		}
		return j
	}
	checkRun := func(name string, j *assemble.Journal) {
		t.Helper()
		if j == nil {
			return
		}
		for _, r := range ng.Log() {
			if r.Path != "/big.img" || r.Range == "bytes=0-0" {
				continue
			}
			for k := range parseRangeBlocks(r.Range, bs) {
				if j.Has(k) {
					t.Fatalf("%s: block %d was verified before this run and was requested again (%s)", name, k, r.Range)
				}
			}
		}
	}
	for _, frac := range []float64{0.25, 0.5, 0.75} {
		j := prior()
		var done int64
		if j != nil {
			done = j.Count() * bs
		}
		ng.Reset()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killed := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev struct {
				Event string `json:"event"`
				Bytes int64  `json:"bytes"` // running total fetched in this run
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Event != "fetch" {
				continue
			}
			if float64(done+ev.Bytes) >= frac*size {
				cmd.Process.Kill()
				killed = true
				break
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatalf("run finished before the kill at %.0f%%", 100*frac)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("output exists after a kill at %.0f%%", 100*frac)
		}
		name := "run killed at " + strconv.Itoa(int(100*frac)) + "%"
		checkRun(name, j)
		if nj := prior(); nj != nil {
			t.Logf("%s: journal records %d of %d blocks", name, nj.Count(), size/bs)
		}
	}
	j := prior()
	if j == nil || j.Count() == 0 {
		t.Fatal("no verified blocks recorded after three interrupted runs")
	}
	ng.Reset()
	res, stderr, code := zyncGet(t, work, "--min-savings", "0", "-o", out, ng.URL("big.img.zsync"))
	if code != 0 {
		t.Fatalf("final run: exit %d: %s", code, stderr)
	}
	checkRun("final run", j)
	assertFile(t, out, target)
	if res.FetchedBytes >= size/2 {
		t.Errorf("final run fetched %d bytes after 75%% had been done", res.FetchedBytes)
	}
	if _, err := os.Stat(journal); !os.IsNotExist(err) {
		t.Errorf("journal left after the final run: %v", err)
	}
}

func parseRangeBlocks(h string, bs int64) map[int64]bool {
	got := map[int64]bool{}
	for _, p := range strings.Split(strings.TrimPrefix(h, "bytes="), ",") {
		a, b, ok := strings.Cut(p, "-")
		if !ok {
			continue
		}
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		for k := x / bs; k <= y/bs; k++ {
			got[k] = true
		}
	}
	return got
}

// TestInterruptMessage sends SIGINT (Ctrl-C) to a running `zync get`: it
// must exit promptly with code 130, say that the same command resumes, and
// leave the part file and journal for that.
func TestInterruptMessage(t *testing.T) {
	const size = 8 << 20
	pub, work := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(pub, "big.img"), randBytes(78, size))
	zyncMake(t, pub, "big.img")
	ng := testenv.StartNginx(t, pub)
	out := filepath.Join(work, "big.img")
	cmd := exec.Command(testenv.Zync(t), "get", "--progress", "json", "--limit-rate", "1M", "--min-savings", "0", "-o", out, ng.URL("big.img.zsync"))
	cmd.Dir = work
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"event":"fetch"`) {
			cmd.Process.Signal(os.Interrupt)
			break
		}
	}
	for sc.Scan() {
	}
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want code 130; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "run the same command again to resume") {
		t.Errorf("stderr does not say how to resume: %s", stderr.String())
	}
	if _, err := os.Stat(out + assemble.PartSuffix + assemble.JournalSuffix); err != nil {
		t.Errorf("no journal left to resume from: %v", err)
	}
}
