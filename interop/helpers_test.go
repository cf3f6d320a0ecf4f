// Package interop tests zync against the real programs: the zsync 0.6.2
// client and zsyncmake (Debian package zsync) and a real nginx (Debian
// package nginx-light), all on loopback. .ci/run installs them; a missing
// program fails the tests (they never skip for that).
//
// The zync CLI is built once per test binary (testenv.Zync) and driven
// through its command-line contract: `zync make`, `zync get --json` and the
// exit codes 0 ok, 1 other, 2 usage, 3 network/source, 4 bad control file,
// 5 verification failed, 6 control file and target differ, 130 interrupted.
//
// Data is random but reproducible: every generator takes a seed for
// math/rand/v2.
package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// ---- data generators ----

// randBytes returns n reproducible pseudo-random bytes for seed. The data
// never starts with the gzip magic (zsyncmake would switch to its gzip
// look-inside mode).
func randBytes(seed uint64, n int) []byte {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	if n >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		b[0] = 0
	}
	return b
}

// textBytes returns n bytes of low-entropy, line-structured text (many
// similar lines) for seed.
func textBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x7e47))
	words := []string{"alpha", "beta", "gamma", "delta", "zsync", "block", "seed", "target", "the", "a", "of"}
	var b bytes.Buffer
	for line := 0; b.Len() < n; line++ {
		b.WriteString("line ")
		b.WriteString(strings.Repeat("0", 1+line%3))
		for range 3 + rng.IntN(8) {
			b.WriteByte(' ')
			b.WriteString(words[rng.IntN(len(words))])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

// edit returns a changed copy of src: `flips` scattered overwrites of 1-64
// random bytes, then (if src is big enough) an insertion of ins random bytes
// at about a third and a deletion of del bytes at about two thirds.
func edit(seed uint64, src []byte, flips, ins, del int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0xed17))
	out := slices.Clone(src)
	for range flips {
		if len(out) == 0 {
			break
		}
		n := 1 + rng.IntN(64)
		off := rng.IntN(len(out))
		for i := off; i < min(off+n, len(out)); i++ {
			out[i] ^= byte(1 + rng.IntN(255))
		}
	}
	if ins > 0 && len(out) > 3*ins {
		at := len(out)/3 + rng.IntN(len(out)/10+1)
		out = slices.Insert(out, at, randBytes(seed^0x1115, ins)...)
	}
	if del > 0 && len(out) > 3*del {
		at := 2*len(out)/3 + rng.IntN(len(out)/10+1)
		at = min(at, len(out)-del)
		out = slices.Delete(out, at, at+del)
	}
	return out
}

// ---- files ----

func writeFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fileSHA256 hashes a file as a stream (for files too big to read at once).
func fileSHA256(t testing.TB, path string) (sum string, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// assertFile fails unless path holds exactly want.
func assertFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("output %s: %v", path, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output %s differs from the target: %d bytes (sha256 %.16s…), want %d bytes (sha256 %.16s…), first difference at %d",
			path, len(got), sha256Hex(got), len(want), sha256Hex(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// existingOutput puts a recognisable file at path, as a user's previous
// version of the output, and returns its content.
func existingOutput(t testing.TB, path string) []byte {
	t.Helper()
	data := append([]byte("pre-existing output, must survive a failed run\n"), randBytes(0xdead, 5000)...)
	writeFile(t, path, data)
	return data
}

// assertUntouched fails unless path still holds exactly before (nil: path
// must not exist). It logs the other new files in path's directory, since
// zync may keep resumable state there (".zync-*" / "*.zync-part").
func assertUntouched(t testing.TB, path string, before []byte, dirBefore []string) {
	t.Helper()
	got, err := os.ReadFile(path)
	switch {
	case before == nil && err == nil:
		t.Errorf("a failed run created the output %s (%d bytes)", path, len(got))
	case before == nil && !os.IsNotExist(err):
		t.Errorf("output %s: %v", path, err)
	case before != nil && err != nil:
		t.Errorf("a failed run removed the pre-existing output %s: %v", path, err)
	case before != nil && !bytes.Equal(got, before):
		t.Errorf("a failed run changed the pre-existing output %s (%d bytes, was %d)", path, len(got), len(before))
	}
	if dirBefore != nil {
		for _, name := range listDir(t, filepath.Dir(path)) {
			if !slices.Contains(dirBefore, name) {
				t.Logf("note: new file beside the output after a failed run: %s", name)
			}
		}
	}
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// ---- programs ----

// zsyncmake runs the real zsyncmake in dir and fails the test unless it
// succeeds.
func zsyncmake(t testing.TB, dir string, args ...string) {
	t.Helper()
	_, stderr, code := testenv.Run(t, dir, testenv.Tool(t, "zsyncmake"), args...)
	if code != 0 {
		t.Fatalf("zsyncmake %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
}

// zsyncGet runs the real zsync client (quietly) in dir, where it puts its
// temporary file, and returns its exit code.
func zsyncGet(t testing.TB, dir string, args ...string) (code int, stderr string) {
	t.Helper()
	_, stderr, code = testenv.Run(t, dir, testenv.Tool(t, "zsync"), append([]string{"-q"}, args...)...)
	return code, stderr
}

// zyncMake runs `zync make` in dir and fails the test unless it succeeds
// silently.
func zyncMake(t testing.TB, dir string, args ...string) {
	t.Helper()
	stdout, stderr, code := testenv.Run(t, dir, testenv.Zync(t), append([]string{"make"}, args...)...)
	if code != 0 {
		t.Fatalf("zync make %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	if stdout != "" {
		t.Errorf("zync make printed %q on stdout; the contract is silence without --json", stdout)
	}
}

// getResult is the --json object of `zync get`.
type getResult struct {
	Output       string `json:"output"`
	Length       int64  `json:"length"`
	ReusedBytes  int64  `json:"reused_bytes"`
	FetchedBytes int64  `json:"fetched_bytes"`
	Requests     int64  `json:"requests"`
	ElapsedMS    int64  `json:"elapsed_ms"`
	SHA256       string `json:"sha256"`
}

var getResultKeys = []string{"output", "length", "reused_bytes", "fetched_bytes", "requests", "elapsed_ms", "sha256"}

// zyncGet runs `zync get --json args...` in dir. On exit 0 it parses and
// checks the JSON object (all keys present, nothing else on stdout).
func zyncGet(t testing.TB, dir string, args ...string) (res getResult, stderr string, code int) {
	t.Helper()
	stdout, stderr, code := testenv.Run(t, dir, testenv.Zync(t), append([]string{"get", "--json"}, args...)...)
	if code != 0 {
		return res, stderr, code
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	var keys map[string]json.RawMessage
	if err := dec.Decode(&keys); err != nil {
		t.Fatalf("zync get --json: stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Errorf("zync get --json: more than one JSON value on stdout:\n%s", stdout)
	}
	for _, k := range getResultKeys {
		if _, ok := keys[k]; !ok {
			t.Errorf("zync get --json: key %q missing in %s", k, strings.TrimSpace(stdout))
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("zync get --json: %v\n%s", err, stdout)
	}
	return res, stderr, code
}

// checkResult checks a successful `zync get` against the target it should
// have written to out (run in dir).
func checkResult(t testing.TB, dir string, res getResult, out string, target []byte) {
	t.Helper()
	assertFile(t, out, target)
	p := res.Output
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if filepath.Clean(p) != filepath.Clean(out) {
		t.Errorf("json output = %q, want %q", res.Output, out)
	}
	if res.Length != int64(len(target)) {
		t.Errorf("json length = %d, want %d", res.Length, len(target))
	}
	if res.SHA256 != sha256Hex(target) {
		t.Errorf("json sha256 = %q, want %q", res.SHA256, sha256Hex(target))
	}
	if res.ReusedBytes < 0 || res.ReusedBytes > res.Length || res.FetchedBytes < 0 || res.Requests < 0 || res.ElapsedMS < 0 {
		t.Errorf("json counters out of range: %+v", res)
	}
	if res.FetchedBytes > 0 && res.Requests == 0 {
		t.Errorf("json: %d bytes fetched in 0 requests", res.FetchedBytes)
	}
}

// checkAgainstLog checks zync's own counters against what nginx saw: zync
// cannot have received more payload than nginx sent, nor made more requests.
func checkAgainstLog(t testing.TB, res getResult, log []testenv.Request) {
	t.Helper()
	total, n := testenv.Totals(log, "")
	if res.FetchedBytes > total {
		t.Errorf("zync reports %d bytes fetched, nginx sent only %d body bytes in %d requests", res.FetchedBytes, total, n)
	}
	if res.Requests > int64(n) {
		t.Errorf("zync reports %d requests, nginx logged %d", res.Requests, n)
	}
}

// rangeRequests returns the requests for path and fails the test unless each
// was a successful Range request (206).
func rangeRequests(t testing.TB, log []testenv.Request, path string) (bytes int64, count int) {
	t.Helper()
	for _, r := range log {
		if r.Path != path {
			continue
		}
		if r.Status != 206 || r.Range == "" {
			t.Errorf("request for %s: status %d, Range %q; want 206 to a Range request", path, r.Status, r.Range)
		}
		bytes += r.Bytes
		count++
	}
	return bytes, count
}

// rangePayload parses the Range headers of the requests for path and returns
// how many byte ranges were asked for and how many target bytes they cover
// (clipped to size), i.e. the payload without multipart framing.
func rangePayload(t testing.TB, log []testenv.Request, path string, size int64) (ranges int, payload int64) {
	t.Helper()
	for _, r := range log {
		if r.Path != path || r.Range == "" {
			continue
		}
		spec, ok := strings.CutPrefix(r.Range, "bytes=")
		if !ok {
			t.Errorf("odd Range header %q", r.Range)
			continue
		}
		for _, part := range strings.Split(spec, ",") {
			a, b, _ := strings.Cut(strings.TrimSpace(part), "-")
			var first, last int64
			switch {
			case a == "": // suffix range
				n, err := strconv.ParseInt(b, 10, 64)
				if err != nil {
					t.Errorf("odd Range header %q", r.Range)
					continue
				}
				first, last = max(size-n, 0), size-1
			default:
				var err error
				if first, err = strconv.ParseInt(a, 10, 64); err != nil {
					t.Errorf("odd Range header %q", r.Range)
					continue
				}
				last = size - 1
				if b != "" {
					if last, err = strconv.ParseInt(b, 10, 64); err != nil {
						t.Errorf("odd Range header %q", r.Range)
						continue
					}
				}
			}
			last = min(last, size-1)
			ranges++
			if last >= first {
				payload += last - first + 1
			}
		}
	}
	return ranges, payload
}
