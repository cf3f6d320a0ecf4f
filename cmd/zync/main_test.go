package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zyncio/zync"
	"github.com/zyncio/zync/assemble"
	"github.com/zyncio/zync/source"
)

// zync runs the CLI in-process.
func zyncRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	t.Logf("zync %s -> exit %d\nstderr: %s", strings.Join(args, " "), code, e.String())
	return o.String(), e.String(), code
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string // in stderr
	}{
		{nil, "a command is needed"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"get"}, "accepts 1 arg(s), received 0"},
		{[]string{"get", "a", "b"}, "received 2"},
		{[]string{"make"}, "accepts 1 arg(s)"},
		{[]string{"get", "--no-such-flag", "x"}, "unknown flag: --no-such-flag"},
		{[]string{"get", "--limit-rate", "garbage", "x"}, `--limit-rate: rate "garbage"`},
		{[]string{"get", "--limit-rate", "-5K", "x"}, "--limit-rate"},
		{[]string{"get", "--limit-rate", "1e9", "x"}, "--limit-rate"},
		{[]string{"get", "--connect-timeout", "soon", "x"}, "--connect-timeout"},
		{[]string{"get", "--stall-timeout", "-1s", "x"}, "--stall-timeout"},
		{[]string{"get", "-j", "0", "x"}, "-j 0"},
		{[]string{"get", "-j", "1000", "x"}, "-j 1000"},
		{[]string{"get", "--min-savings", "1.5", "x"}, "--min-savings"},
		{[]string{"get", "--progress", "fancy", "x"}, `--progress "fancy"`},
		{[]string{"get", "--url", "ftp://mirror/x", "x"}, "--url"},
		{[]string{"get", "--url", "/relative", "x"}, "--url"},
		{[]string{"get", "-A", "example.com", "x"}, "want host=user:pass"},
		{[]string{"get", "-A", "example.com=nopassword", "x"}, "want host=user:pass"},
		{[]string{"get", "-A", "https://example.com=u:p", "x"}, "not a URL"},
		{[]string{"get", "-H", "no colon", "x"}, `want "Name: value"`},
		{[]string{"get", "-H", "Range: bytes=0-1", "x"}, "zync sets this header itself"},
		{[]string{"get", "--cacert", "/nonexistent/ca.pem", "x"}, "CA file"},
		{[]string{"get", "--cacert", "ca.pem", "--insecure", "x"}, "contradict"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := zyncRun(t, c.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not contain %q", stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"make", "get", "demo"}},
		{[]string{"help"}, []string{"make", "get"}},
		{[]string{"get", "--help"}, []string{"-A, --auth", "-H, --header", "--cacert", "--insecure", "--limit-rate", "--connect-timeout",
			"-j, --jobs", "--url", "--dry-run", "--stall-timeout", "--min-savings", "--progress", "-q, --quiet", "--json"}},
		{[]string{"make", "--help"}, []string{"--blocksize", "--strong"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := zyncRun(t, c.args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("help does not mention %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"65536", 65536, true},
		{"500K", 500 << 10, true},
		{"500k", 500 << 10, true},
		{"2M", 2 << 20, true},
		{"1G", 1 << 30, true},
		{"1.5M", 3 << 19, true},
		{"2MB", 2 << 20, true},
		{"2MiB", 2 << 20, true},
		{"100K/s", 100 << 10, true},
		{"", 0, false},
		{"K", 0, false},
		{"garbage", 0, false},
		{"-1", 0, false},
		{"1e6", 0, false},
		{"inf", 0, false},
		{"0x10", 0, false},
		{"0.5", 0, false},
		{"5X", 0, false},
	} {
		got, err := parseRate(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseRate(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"15s", 15 * time.Second, true},
		{"1m30s", 90 * time.Second, true},
		{"15", 15 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"0", 0, true},
		{"-1s", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
		{"1e3", 0, false},
	} {
		got, err := parseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseHeadersAndAuth(t *testing.T) {
	t.Parallel()
	h, err := parseHeaders([]string{"X-Token: abc", "user-agent:  zync-test ", "X-Token: def"})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Values("X-Token"); len(got) != 2 || got[0] != "abc" || got[1] != "def" || h.Get("User-Agent") != "zync-test" {
		t.Errorf("headers = %v", h)
	}
	a, err := parseAuth([]string{"Example.COM=u:p:with:colons", "host:8443=x:"})
	if err != nil {
		t.Fatal(err)
	}
	if a["example.com"] != "u:p:with:colons" || a["host:8443"] != "x:" || len(a) != 2 {
		t.Errorf("auth = %v", a)
	}
	if _, err := parseAuth([]string{"h=user-only"}); err == nil || strings.Contains(err.Error(), "user-only") && !strings.Contains(err.Error(), "…") {
		t.Errorf("parseAuth: err = %v", err)
	}
	// A password never appears in a message.
	if _, err := parseAuth([]string{"/x=u:secret"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("parseAuth leaks or accepts: %v", err)
	}
}

// TestClassifyAndHint: exit codes and hints for the errors zync meets.
func TestClassifyAndHint(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		name string
		err  error
		code int
		hint string
	}{
		{"changed", fmt.Errorf("fetch: %w", source.ErrChanged), exitDiffer, "changed during the run; run again"},
		{"length", fmt.Errorf("x: %w", source.ErrLengthMismatch), exitDiffer, "fresh control file"},
		{"verify", fmt.Errorf("x: %w", assemble.ErrVerify), exitVerify, "left untouched"},
		{"unsafe name", fmt.Errorf("x: %w", zync.ErrUnsafeName), exitControl, "-o"},
		{"control 401", errors.New("fetch control file https://h/x.zsync: HTTP 401 Unauthorized"), exitNetwork, "-A host=user:pass"},
		{"range 403", fmt.Errorf("httpsource: GET https://h/x: 403 Forbidden: %w: access refused", source.ErrPermanent), exitNetwork, "signed URL may have expired"},
		{"control 404", fmt.Errorf("fetch control file http://h/x.zsync: %w (HTTP 404 Not Found)", source.ErrNotFound), exitNetwork, "check the URL"},
		{"503", errors.New("fetch control file http://h/x.zsync: HTTP 503 Service Unavailable"), exitNetwork, "--url"},
		{"407", errors.New("fetch control file http://h/x.zsync: HTTP 407 Proxy Authentication Required"), exitNetwork, "https_proxy=http://user:pass@"},
		{"unknown CA", &urlError{x509.UnknownAuthorityError{}}, exitNetwork, "--cacert"},
		{"verification", &urlError{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, exitNetwork, "--cacert"},
		{"hostname", &urlError{x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}}, exitNetwork, "another name"},
		{"expired", &urlError{x509.CertificateInvalidError{Reason: x509.Expired}}, exitNetwork, "expired"},
		{"not TLS", &urlError{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}}, exitNetwork, "does not speak TLS"},
		{"refused", &urlError{refused}, exitNetwork, "nothing accepts connections"},
		{"dns", &urlError{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nope.invalid"}}}, exitNetwork, "does not resolve"},
		{"connect timeout", &urlError{&net.OpError{Op: "dial", Err: timeoutErr{}}}, exitNetwork, "--connect-timeout"},
		{"handshake timeout", &urlError{errors.New("net/http: TLS handshake timeout")}, exitNetwork, "--connect-timeout"},
		{"local", &os.PathError{Op: "open", Path: "/x", Err: os.ErrPermission}, exitFailure, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(c.err); got != c.code {
				t.Errorf("exit code %d, want %d (%v)", got, c.code, c.err)
			}
			h := hintFor(c.err)
			if c.hint == "" && h != "" || !strings.Contains(h, c.hint) {
				t.Errorf("hint %q, want one with %q", h, c.hint)
			}
		})
	}
}

// urlError stands for *url.Error: it has Timeout and unwraps.
type urlError struct{ err error }

func (e *urlError) Error() string { return `Get "https://h/x": ` + e.err.Error() }
func (e *urlError) Unwrap() error { return e.err }
func (e *urlError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

// TestJSONReporterThrottle: at most one line per 100 ms per stream, but
// the first, the one reaching the total and the last state before a new
// phase are always written.
func TestJSONReporterThrottle(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := newJSONReporter(&buf)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.now = func() time.Time { return clock }
	step := func(d time.Duration) { clock = clock.Add(d) }

	for range 100 { // 100 events in 500 ms: 6 lines at most
		r.Event(zync.Event{Phase: "scan", Path: "old.img", Bytes: 10, Total: 2000})
		step(5 * time.Millisecond)
	}
	r.Event(zync.Event{Phase: "plan", Total: 300, Message: "reuse 1700 bytes"})
	for range 30 {
		r.Event(zync.Event{Phase: "fetch", Bytes: 10, Total: 300})
		step(time.Millisecond)
	}
	r.Event(zync.Event{Phase: "warning", Message: "careful"})
	r.Close(true)
	r.final(map[string]string{"event": "summary"})

	var lines []jsonEvent
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var e jsonEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e)
	}
	count := map[string]int{}
	last := map[string]int64{}
	for _, e := range lines {
		count[e.Event]++
		if e.Bytes < last[e.Event] {
			t.Errorf("%s bytes went down: %d after %d", e.Event, e.Bytes, last[e.Event])
		}
		last[e.Event] = e.Bytes
	}
	if count["scan"] < 2 || count["scan"] > 7 {
		t.Errorf("%d scan lines for 500 ms of events", count["scan"])
	}
	if last["scan"] != 1000 {
		t.Errorf("last scan line says %d bytes, want 1000 (flushed before the plan)", last["scan"])
	}
	if count["fetch"] != 2 || last["fetch"] != 300 {
		t.Errorf("fetch: %d lines, last %d bytes; want the first and the one reaching the total", count["fetch"], last["fetch"])
	}
	if count["plan"] != 1 || count["warning"] != 1 || lines[len(lines)-1].Event != "summary" {
		t.Errorf("lines: %+v", lines)
	}
	if lines[0].Time != "2026-01-02T03:04:05Z" || lines[0].Path != "old.img" || lines[0].Total != 2000 {
		t.Errorf("first line %+v", lines[0])
	}
}

// ---- end to end, in-process, against httptest servers ----

type published struct {
	dir    string // served folder: app.img and app.img.zsync
	target []byte
	seed   string // an older version
}

func publish(t *testing.T, size int) *published {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(size), 7))
	old := make([]byte, size)
	for i := range old {
		old[i] = byte(r.Uint32())
	}
	target := bytes.Clone(old)
	for i := 0; i < len(target); i += len(target) / 8 {
		target[i] ^= 0xff // 8 changed blocks
	}
	p := &published{dir: t.TempDir(), target: target}
	tp := filepath.Join(p.dir, "app.img")
	if err := os.WriteFile(tp, target, 0o644); err != nil {
		t.Fatal(err)
	}
	cf, err := zync.MakeFile(context.Background(), tp, zync.MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := zync.WriteControlFile(tp+".zsync", cf); err != nil {
		t.Fatal(err)
	}
	p.seed = filepath.Join(t.TempDir(), "old.img")
	if err := os.WriteFile(p.seed, old, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// counting wraps a handler and counts requests by path.
type counting struct {
	h  http.Handler
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.URL.Path]++
	c.mu.Unlock()
	c.h.ServeHTTP(w, r)
}

func (c *counting) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

func checkOutput(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("output %s: %d bytes, err %v; want the %d-byte target", path, len(got), err, len(want))
	}
}

func TestGetProgressModes(t *testing.T) {
	// Not parallel: one case replaces isTerminal.
	p := publish(t, 1<<20)
	srv := httptest.NewServer(http.FileServer(http.Dir(p.dir)))
	defer srv.Close()
	url := srv.URL + "/app.img.zsync"

	for _, c := range []struct {
		name     string
		args     []string
		terminal bool
		check    func(t *testing.T, stdout, stderr string)
	}{
		{"json", []string{"--progress", "json"}, false, func(t *testing.T, stdout, stderr string) {
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			phases := map[string]bool{}
			for i, l := range lines {
				var e map[string]any
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("line %d %q: %v", i, l, err)
				}
				ev, _ := e["event"].(string)
				phases[ev] = true
				if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e["time"])); err != nil {
					t.Errorf("line %d: time %v: %v", i, e["time"], err)
				}
				if i == len(lines)-1 {
					if ev != "summary" || e["sha256"] == nil || e["fetched_bytes"] == nil || e["elapsed_ms"] == nil {
						t.Errorf("last line is not the summary: %s", l)
					}
				} else if ev == "summary" {
					t.Errorf("summary before the end: line %d", i)
				}
			}
			for _, ph := range []string{"scan", "fetch", "summary"} {
				if !phases[ph] {
					t.Errorf("no %q line in:\n%s", ph, stdout)
				}
			}
			if strings.Contains(stderr, "zync: ") {
				t.Errorf("stderr has a summary line in json mode: %q", stderr)
			}
		}},
		{"none", []string{"--progress", "none"}, true, func(t *testing.T, stdout, stderr string) {
			if stdout != "" || !strings.HasPrefix(stderr, "zync: ") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("want only the summary line on stderr: stdout %q, stderr %q", stdout, stderr)
			}
		}},
		{"auto, not a terminal", nil, false, func(t *testing.T, stdout, stderr string) {
			if stdout != "" || !strings.HasPrefix(stderr, "zync: ") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("want only the summary line on stderr: stdout %q, stderr %q", stdout, stderr)
			}
		}},
		{"auto, terminal", nil, true, func(t *testing.T, stdout, stderr string) {
			if stdout != "" || !strings.Contains(stderr, "fetch            [") || !strings.Contains(stderr, "] ") {
				t.Errorf("want a bar on stderr: stdout %q, stderr %q", stdout, stderr)
			}
		}},
		{"bar, forced", []string{"--progress", "bar"}, false, func(t *testing.T, stdout, stderr string) {
			if stdout != "" || !strings.Contains(stderr, "fetch            [") {
				t.Errorf("want a bar on stderr: stdout %q, stderr %q", stdout, stderr)
			}
		}},
		{"quiet", []string{"-q"}, true, func(t *testing.T, stdout, stderr string) {
			if stdout != "" || stderr != "" {
				t.Errorf("-q printed: stdout %q, stderr %q", stdout, stderr)
			}
		}},
		{"json summary", []string{"--json"}, false, func(t *testing.T, stdout, stderr string) {
			var e map[string]any
			if err := json.Unmarshal([]byte(stdout), &e); err != nil || e["event"] != nil || e["reused_bytes"] == nil {
				t.Errorf("--json: %q (%v)", stdout, err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			isTerminal = func(io.Writer) bool { return c.terminal }
			defer func() { isTerminal = defaultIsTerminal }()
			out := filepath.Join(t.TempDir(), "app.img")
			args := append([]string{"get", "-i", p.seed, "-o", out}, c.args...)
			stdout, stderr, code := zyncRun(t, append(args, url)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkOutput(t, out, p.target)
			c.check(t, stdout, stderr)
		})
	}
}

var defaultIsTerminal = isTerminal

func TestGetDryRun(t *testing.T) {
	t.Parallel()
	p := publish(t, 1<<20)
	h := &counting{h: http.FileServer(http.Dir(p.dir))}
	srv := httptest.NewServer(h)
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "app.img")
	stdout, stderr, code := zyncRun(t, "get", "--dry-run", "-i", p.seed, "-o", out, srv.URL+"/app.img.zsync")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"dry run", "reuse", "fetch", "ranges", "requests", "nothing was fetched or written"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("plan does not mention %q:\n%s", w, stdout)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run wrote the output (%v)", err)
	}
	if n := h.count("/app.img"); n != 0 {
		t.Errorf("dry run made %d requests for the target", n)
	}
}

// TestGetServerErrors: what the user sees when the server says no.
func TestGetServerErrors(t *testing.T) {
	t.Parallel()
	p := publish(t, 64<<10)
	files := http.FileServer(http.Dir(p.dir))
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "user" || pw != "pass" {
			w.Header().Set("WWW-Authenticate", `Basic realm="zync"`)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(auth.Close)
	tlsSrv := httptest.NewTLSServer(files)
	t.Cleanup(tlsSrv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/app.img.zsync"
	ln.Close()
	authHost := strings.TrimPrefix(auth.URL, "http://")

	for _, c := range []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"401 without -A", []string{auth.URL + "/app.img.zsync"}, exitNetwork, []string{auth.URL + "/app.img.zsync", "401", "-A host=user:pass"}},
		{"401 with -A", []string{"-A", authHost + "=user:pass", auth.URL + "/app.img.zsync"}, exitOK, []string{"SHA-256"}},
		{"wrong -A host", []string{"-A", "example.com=user:pass", auth.URL + "/app.img.zsync"}, exitNetwork, []string{"401"}},
		{"404", []string{auth.URL + "/missing.zsync", "-A", authHost + "=user:pass"}, exitNetwork, []string{"missing.zsync", "404", "check the URL"}},
		{"TLS, unknown CA", []string{tlsSrv.URL + "/app.img.zsync"}, exitNetwork, []string{tlsSrv.URL, "certificate", "--cacert"}},
		{"TLS, --cacert", []string{"--cacert", ca, tlsSrv.URL + "/app.img.zsync"}, exitOK, []string{"SHA-256"}},
		{"TLS, --insecure -q", []string{"--insecure", "-q", tlsSrv.URL + "/app.img.zsync"}, exitOK, []string{"TLS certificate verification is OFF"}},
		{"refused", []string{closedURL}, exitNetwork, []string{closedURL, "nothing accepts connections"}},
		{"json progress error line", []string{"--progress", "json", auth.URL + "/app.img.zsync"}, exitNetwork, []string{"401"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "app.img")
			stdout, stderr, code := zyncRun(t, append([]string{"get", "-o", out}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if c.code == exitOK {
				checkOutput(t, out, p.target)
			}
			if strings.Contains(strings.Join(c.args, " "), "--progress json") {
				var e jsonError
				lines := strings.Split(strings.TrimSpace(stdout), "\n")
				if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || e.Event != "error" || e.ExitCode != c.code || e.Hint == "" {
					t.Errorf("last json line %q (%v)", lines[len(lines)-1], err)
				}
			}
		})
	}
}

// TestGetLimitRate: --limit-rate reaches the wire (a lower bound only).
func TestGetLimitRate(t *testing.T) {
	t.Parallel()
	p := publish(t, 1<<20)
	var served atomic.Int64
	files := http.FileServer(http.Dir(p.dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "app.img")
	start := time.Now()
	// No seed: the whole MiB at 2 MiB/s takes about 0.5 s.
	_, stderr, code := zyncRun(t, "get", "--limit-rate", "2M", "-o", out, srv.URL+"/app.img.zsync")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkOutput(t, out, p.target)
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("1 MiB at --limit-rate 2M took %v, want at least 0.4 s", el)
	}
}
