package zync

import (
	"bytes"
	"context"
	"errors"
	"github.com/zyncio/zync/source/httpsource"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/internal/testenv"
	"github.com/zyncio/zync/source"
)

type fixture struct {
	pub, work   string
	target, old []byte
	ng          *testenv.Nginx
	url         string
}

// publish serves a target of size bytes (and its control file) with nginx;
// old is the target with every 16th block of 2 KiB changed.
func publish(t *testing.T, size int) *fixture {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(size), 3))
	f := &fixture{pub: t.TempDir(), work: t.TempDir(), target: make([]byte, size)}
	for i := range f.target {
		f.target[i] = byte(r.Uint32())
	}
	f.old = bytes.Clone(f.target)
	for o := 0; o < size; o += 16 * 2048 {
		f.old[o] ^= 0xff
	}
	if err := os.WriteFile(filepath.Join(f.pub, "t.bin"), f.target, 0o644); err != nil {
		t.Fatal(err)
	}
	cf, err := MakeFile(context.Background(), filepath.Join(f.pub, "t.bin"), MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteControlFile(filepath.Join(f.pub, "t.bin.zsync"), cf); err != nil {
		t.Fatal(err)
	}
	f.ng = testenv.StartNginx(t, f.pub)
	f.url = f.ng.URL("t.bin.zsync")
	return f
}

func (f *fixture) seed(t *testing.T) string {
	p := filepath.Join(f.work, "old.bin")
	if err := os.WriteFile(p, f.old, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fetchedBlocks lists the 2 KiB blocks of t.bin that nginx served since the
// last Reset.
func (f *fixture) fetchedBlocks(t *testing.T) map[int64]bool {
	got := map[int64]bool{}
	for _, r := range f.ng.Log() {
		// bytes=0-0 is the length probe made before fetching, not data.
		if r.Path != "/t.bin" || !strings.HasPrefix(r.Range, "bytes=") || r.Range == "bytes=0-0" {
			continue
		}
		for _, p := range strings.Split(strings.TrimPrefix(r.Range, "bytes="), ",") {
			a, b, _ := strings.Cut(p, "-")
			x, _ := strconv.ParseInt(a, 10, 64)
			y, _ := strconv.ParseInt(b, 10, 64)
			for k := x / 2048; k <= y/2048; k++ {
				got[k] = true
			}
		}
	}
	return got
}

// TestInterruptAndResume cancels a get part way through fetching (as Ctrl-C
// does), then runs it again: the second run takes over the verified blocks
// the journal records and fetches none of them again.
func TestInterruptAndResume(t *testing.T) {
	f := publish(t, 8<<20)
	out := filepath.Join(f.work, "out.bin")
	ctx, cancel := context.WithCancel(context.Background())
	var fetched atomic.Int64
	_, err := Get(ctx, f.url, GetOptions{
		Output: out, Concurrency: 1, MinSavings: -1,
		Progress: func(e Event) {
			if e.Phase == "fetch" && fetched.Add(e.Bytes) > 2<<20 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: got %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "resume") {
		t.Errorf("error %q does not say the run can be resumed", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("output exists after an interrupted run: %v", err)
	}
	j, err := assemble.ReadJournal(out + assemble.PartSuffix + assemble.JournalSuffix)
	if err != nil {
		t.Fatalf("no journal after interruption: %v", err)
	}
	if j.Count() == 0 {
		t.Fatal("journal records no verified blocks")
	}
	f.ng.Reset()
	res, err := Get(context.Background(), f.url, GetOptions{Output: out, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed {
		t.Error("second run did not resume")
	}
	for k := range f.fetchedBlocks(t) {
		if j.Has(k) {
			t.Fatalf("block %d was verified before the interruption and fetched again", k)
		}
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, f.target) {
		t.Fatal("resumed output differs from the target")
	}
	for _, leftover := range []string{out + assemble.PartSuffix, out + assemble.PartSuffix + assemble.JournalSuffix} {
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind", leftover)
		}
	}
}

func TestUpToDate(t *testing.T) {
	f := publish(t, 300_000)
	out := filepath.Join(f.work, "t.bin")
	os.WriteFile(out, f.target, 0o600)
	f.ng.Reset()
	res, err := Get(context.Background(), f.url, GetOptions{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if !res.UpToDate || res.Fetched != 0 {
		t.Fatalf("result %+v: want up to date, nothing fetched", res)
	}
	for _, r := range f.ng.Log() {
		if r.Path == "/t.bin" {
			t.Fatalf("target requested although the output was up to date: %+v", r)
		}
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Error("up-to-date output was rewritten")
	}
}

func TestDryRun(t *testing.T) {
	f := publish(t, 1<<20)
	out := filepath.Join(f.work, "out.bin")
	f.ng.Reset()
	res, err := Get(context.Background(), f.url, GetOptions{Output: out, Seeds: []string{f.seed(t)}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Plan
	if p == nil || p.Length != 1<<20 || p.ToFetch == 0 || p.Reused+p.ToFetch != p.Length || p.Ranges == 0 || p.Requests == 0 {
		t.Fatalf("plan %+v", p)
	}
	entries, _ := os.ReadDir(f.work)
	if len(entries) != 1 {
		t.Fatalf("dry run wrote files: %v", entries)
	}
	for _, r := range f.ng.Log() {
		if r.Path == "/t.bin" {
			t.Fatalf("dry run requested the target: %+v", r)
		}
	}
	// The real run fetches what the plan said.
	res, err = Get(context.Background(), f.url, GetOptions{Output: out, Seeds: []string{f.seed(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reused != p.Reused {
		t.Errorf("run reused %d bytes, plan said %d", res.Reused, p.Reused)
	}
}

// TestLengthMismatchBeforeDownload replaces the published target with one of
// another length: the run stops before fetching, with ErrLengthMismatch.
func TestLengthMismatchBeforeDownload(t *testing.T) {
	f := publish(t, 200_000)
	os.WriteFile(filepath.Join(f.pub, "t.bin"), f.target[:150_000], 0o644)
	out := filepath.Join(f.work, "out.bin")
	os.WriteFile(out, []byte("precious"), 0o644)
	f.ng.Reset()
	_, err := Get(context.Background(), f.url, GetOptions{Output: out})
	if !errors.Is(err, source.ErrLengthMismatch) {
		t.Fatalf("got %v, want ErrLengthMismatch", err)
	}
	var bodies int64
	for _, r := range f.ng.Log() {
		if r.Path == "/t.bin" {
			bodies += r.Bytes
		}
	}
	if bodies > 16 {
		t.Errorf("%d target bytes fetched before the length check", bodies)
	}
	if got, _ := os.ReadFile(out); string(got) != "precious" {
		t.Error("output changed")
	}
}

// TestWholeDownloadWhenDeltaDoesNotPay: with an unrelated seed the target is
// fetched with one plain request.
func TestWholeDownloadWhenDeltaDoesNotPay(t *testing.T) {
	f := publish(t, 1<<20)
	out := filepath.Join(f.work, "out.bin")
	f.ng.Reset()
	res, err := Get(context.Background(), f.url, GetOptions{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	var data int
	for _, r := range f.ng.Log() {
		if r.Path == "/t.bin" && r.Bytes > 1 {
			data++
		}
	}
	if !res.Plan.Whole || data != 1 {
		t.Fatalf("plan %+v, %d data requests: want one whole download", res.Plan, data)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, f.target) {
		t.Fatal("output differs")
	}
}

// TestWasteBudget serves the target from a server that ignores Range (as
// some CDNs and proxies do): within the budget the whole body is read and the
// unneeded bytes thrown away; over it the run stops and says why.
func TestWasteBudget(t *testing.T) {
	f := publish(t, 1<<20)
	body, _ := os.ReadFile(filepath.Join(f.pub, "t.bin"))
	ctl, _ := os.ReadFile(filepath.Join(f.pub, "t.bin.zsync"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".zsync") {
			w.Write(ctl)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body) // Range ignored: always 200 and the whole file
	}))
	defer srv.Close()
	seed := f.seed(t)
	for _, tt := range []struct {
		budget int64
		ok     bool
	}{{0, true}, {2 << 20, true}, {10_000, false}, {-1, false}} {
		out := filepath.Join(t.TempDir(), "out")
		_, err := Get(context.Background(), srv.URL+"/t.bin.zsync", GetOptions{Output: out, Seeds: []string{seed}, WasteBudget: tt.budget})
		if tt.ok {
			if err != nil {
				t.Fatalf("budget %d: %v", tt.budget, err)
			}
			if got, _ := os.ReadFile(out); !bytes.Equal(got, f.target) {
				t.Fatalf("budget %d: output differs", tt.budget)
			}
			continue
		}
		if !errors.Is(err, httpsource.ErrWasteBudget) {
			t.Fatalf("budget %d: got %v, want ErrWasteBudget", tt.budget, err)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("budget %d: output written", tt.budget)
		}
	}
}
