package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a real web server (nginx, Apache, lighttpd or Caddy) serving a
// directory as static files over HTTP/1.1 on 127.0.0.1, started by one of
// StartNginx, StartApache, StartLighttpd or StartCaddy and stopped when the
// test ends.
//
// Each runs in the foreground with its config, pid file, logs and state in a
// t.TempDir(). It listens on loopback only, on a free port. nginx and
// lighttpd take the listening socket from the test process (nginx through
// its NGINX variable, lighttpd through systemd socket activation), so they
// are ready as soon as they run: connections wait in the kernel's accept
// queue. Apache and Caddy cannot inherit a socket: the port is chosen free,
// then the server binds it; start-up waits (bounded) until it answers and
// starts again on another port if the port was taken meanwhile.
//
// Every server writes an access log that Log parses into Requests.
type Server struct {
	t         testing.TB
	kind      *serverKind
	root      string
	addr      string
	dir       string
	accessLog string
	errorLog  string
	cmd       *exec.Cmd
	out       lockedBuffer  // the process's stdout and stderr
	done      chan struct{} // closed when the process has exited
	waitErr   error

	mu   sync.Mutex
	mark int // number of (non-internal) log entries before the last Reset
	seq  int // sync token counter
}

// Request is one entry of a server's access log.
type Request struct {
	Method string // request method, e.g. GET
	Path   string // URI path, without the query
	Status int    // response status
	Bytes  int64  // body bytes sent: payload plus multipart framing
	Range  string // the Range request header, "" if none

	Line  string // the request line, e.g. "GET /x HTTP/1.1"
	Args  string // the query string, without "?"
	Sent  int64  // all bytes sent, headers included (0 for Caddy, which does not log it)
	Conn  int64  // connection identifier: a serial number (nginx) or the client's port (others)
	ConnN int64  // number of this request on its connection, from 1 (0 for Caddy: not logged)
}

// internal locations: not part of what Log returns.
const (
	internalPrefix = "/__testenv/"
	syncPath       = internalPrefix + "sync"
	readyPath      = internalPrefix + "ready"
)

// serverKind is what differs between the servers.
type serverKind struct {
	name string // "nginx", "apache2", "lighttpd", "caddy": the program
	// inherit: the server takes the listening socket as fd 3.
	inherit bool
	// setup writes the server's config into s.dir and returns the command
	// that runs it in the foreground (not started).
	setup func(t testing.TB, s *Server, bin string) *exec.Cmd
	// parse reads one access-log line.
	parse func(line []byte) (Request, error)
	// unordered: the server handles requests on several threads, so a
	// request's log line may be written after a later request's (Apache,
	// Caddy). Log then syncs twice, giving earlier requests a whole round
	// trip more to be logged. (nginx and lighttpd are single-threaded event
	// loops: their logs are in order.)
	unordered bool
	// idle, if set, waits until the server has no request between sending
	// its reply and logging it (Apache: its status page's scoreboard), so
	// that every answered request is in the access log before the sync.
	idle func(ctx context.Context, s *Server) error
}

// WebServer names a real web server the tests can run against.
type WebServer struct {
	Name    string // "nginx", "apache2", "lighttpd" or "caddy"
	Package string // the Debian package that provides it
	Start   func(t testing.TB, root string) *Server
}

// WebServers lists every real web server testenv can start, for table tests.
var WebServers = []WebServer{
	{"nginx", packages["nginx"], StartNginx},
	{"apache2", packages["apache2"], StartApache},
	{"lighttpd", packages["lighttpd"], StartLighttpd},
	{"caddy", packages["caddy"], StartCaddy},
}

const maxStartAttempts = 5

// startServer starts a server of kind k serving root.
func startServer(t testing.TB, root string, k *serverKind) *Server {
	t.Helper()
	bin := Tool(t, k.name)
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("starting %s: root %q is not a directory (%v)", k.name, root, err)
	}
	for attempt := 1; ; attempt++ {
		s, portTaken := tryStart(t, bin, root, k, attempt == maxStartAttempts)
		if s != nil {
			return s
		}
		if !portTaken {
			t.Fatalf("starting %s: failed", k.name) // tryStart has said why
		}
		t.Logf("%s: the port was taken before it could bind it; trying another", k.name)
	}
}

// tryStart makes one attempt. It returns nil and true when the server could
// not bind its port (another process took it after it was found free) and
// last is false; on other failures it fails the test.
func tryStart(t testing.TB, bin, root string, k *serverKind, last bool) (*Server, bool) {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{root, dir} {
		if strings.ContainsAny(p, "\"'$\\;{}#\n\r\t ") {
			t.Fatalf("starting %s: path %q has characters its config syntax would misread", k.name, p)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting %s: listen: %v", k.name, err)
	}
	var lf *os.File
	if k.inherit {
		lf, err = ln.(*net.TCPListener).File() // a blocking dup of the socket
		if err != nil {
			ln.Close()
			t.Fatalf("starting %s: listener fd: %v", k.name, err)
		}
	}
	ln.Close() // with inherit, lf keeps the socket open

	s := &Server{
		t:         t,
		kind:      k,
		root:      root,
		addr:      ln.Addr().String(),
		dir:       dir,
		accessLog: filepath.Join(dir, "access.log"),
		errorLog:  filepath.Join(dir, "error.log"),
		done:      make(chan struct{}),
	}
	cmd := k.setup(t, s, bin)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), cmd.Env...)
	if lf != nil {
		cmd.ExtraFiles = []*os.File{lf} // fd 3 in the child
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // to kill the server and its helpers together
		Pdeathsig: syscall.SIGTERM, // do not outlive a crashed test binary
	}
	cmd.Stdout = &s.out
	cmd.Stderr = &s.out
	err = cmd.Start()
	if lf != nil {
		lf.Close() // the server has its copy; when it exits, the socket closes
	}
	if err != nil {
		t.Fatalf("starting %s: %v", k.name, err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()

	// Readiness. An inherited socket needs one request: it waits in the
	// accept queue until the server serves it, or fails when the server
	// exits (its exit closes the last copy of the socket). Otherwise, poll
	// (bounded) until the server answers or exits.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err = s.get(ctx, readyPath)
		if err == nil {
			t.Cleanup(s.stop)
			return s, false
		}
		if !k.inherit && ctx.Err() == nil {
			select {
			case <-s.done:
			case <-time.After(delay): // bounded poll for a port the server is about to bind
				continue
			}
		}
		exited := false
		select {
		case <-s.done:
			exited = true
		default:
		}
		s.kill()
		text := s.out.String() + "\n" + s.errorLogText()
		if exited && !last && strings.Contains(strings.ToLower(text), "address already in use") {
			return nil, true
		}
		if exited {
			t.Fatalf("%s exited at start-up (%v): %v\noutput and error log:\n%s", k.name, s.waitErr, err, clip(text))
		}
		t.Fatalf("%s did not answer at start-up: %v\noutput and error log:\n%s", k.name, err, clip(text))
		return nil, false
	}
}

// get makes one request to an internal location. nginx answers 204 there,
// the others 404; both mean the server is up.
func (s *Server) get(ctx context.Context, path string) error {
	status, _, err := s.request(ctx, path)
	if err != nil {
		return err
	}
	if status != http.StatusNoContent && status != http.StatusNotFound {
		return fmt.Errorf("GET %s: status %d", path, status)
	}
	return nil
}

// request GETs path on a connection of its own and returns the status and
// the body.
func (s *Server) request(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// kill stops the process group at once and waits for the server to exit.
func (s *Server) kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

func (s *Server) stop() {
	t := s.t
	select {
	case <-s.done:
		t.Errorf("%s exited before the test ended: %v\noutput and error log:\n%s", s.kind.name, s.waitErr, clip(s.out.String()+"\n"+s.errorLogText()))
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM) // fast shutdown
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		t.Errorf("%s did not stop within 15s of SIGTERM; killed it", s.kind.name)
	}
	// Helpers the server started in its process group (lighttpd's log pipe)
	// go with it.
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	if t.Failed() {
		t.Logf("%s error log (%s):\n%s", s.kind.name, s.addr, s.errorLogText())
	}
}

func (s *Server) errorLogText() string {
	b, err := os.ReadFile(s.errorLog)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return clip(string(b))
}

// Name returns the server's program name: nginx, apache2, lighttpd or caddy.
func (s *Server) Name() string { return s.kind.name }

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Root returns the served directory.
func (s *Server) Root() string { return s.root }

// URL returns the absolute URL of path (with or without a leading slash).
func (s *Server) URL(path string) string {
	return "http://" + s.addr + "/" + strings.TrimPrefix(path, "/")
}

// Log returns the access-log entries of the requests made since the server
// started or the last Reset, in the order the server finished them. Before
// reading, it makes a request of its own and waits (bounded) until the
// server has logged it: each server logs a request when it has finished it,
// so every request a client saw complete before Log was called is in the
// file by then.
func (s *Server) Log() []Request {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.syncedLog()
	if s.kind.unordered {
		all = s.syncedLog()
	}
	return append([]Request(nil), all[s.mark:]...)
}

// Reset makes later calls of Log return only requests made after it.
func (s *Server) Reset() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mark = len(s.syncedLog())
}

// syncedLog returns every non-internal entry; s.mu is held.
func (s *Server) syncedLog() []Request {
	t := s.t
	t.Helper()
	s.seq++
	token := "token=" + strconv.Itoa(s.seq)
	deadline := time.Now().Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if s.kind.idle != nil {
		if err := s.kind.idle(ctx, s); err != nil {
			t.Fatalf("%s: waiting for requests to be logged: %v", s.kind.name, err)
		}
	}
	if err := s.get(ctx, syncPath+"?"+token); err != nil {
		t.Fatalf("%s log sync request: %v", s.kind.name, err)
	}
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		entries, found, err := s.readLog(token)
		if err != nil {
			t.Fatalf("reading the %s access log: %v", s.kind.name, err)
		}
		if found {
			return entries
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log the sync request %q within 30s", s.kind.name, token)
		}
		time.Sleep(delay) // bounded poll for a log line the server is about to write
	}
}

// readLog parses the access log and reports whether the sync entry with the
// given token is in it.
func (s *Server) readLog(token string) ([]Request, bool, error) {
	b, err := os.ReadFile(s.accessLog)
	if err != nil && !os.IsNotExist(err) {
		return nil, false, err
	}
	var entries []Request
	found := false
	for len(b) > 0 {
		line, rest, complete := bytes.Cut(b, []byte("\n"))
		b = rest
		if !complete {
			break // a line still being written
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := s.kind.parse(line)
		if err != nil {
			return nil, false, fmt.Errorf("bad access log line %q: %v", line, err)
		}
		if strings.HasPrefix(e.Path, internalPrefix) {
			if e.Path == syncPath && e.Args == token {
				found = true
			}
			continue
		}
		entries = append(entries, e)
	}
	return entries, found, nil
}

// Totals sums the body bytes of the requests for path ("" for all) and
// counts them.
func Totals(reqs []Request, path string) (bytes int64, count int) {
	for _, r := range reqs {
		if path == "" || r.Path == path {
			bytes += r.Bytes
			count++
		}
	}
	return bytes, count
}

// parseTSV reads the tab-separated log format that the Apache and lighttpd
// configs write: method, path, query, status, body bytes, bytes sent, Range,
// request line, client port, keep-alive count. "-" stands for empty or 0.
func parseTSV(line []byte) (Request, error) {
	f := strings.Split(string(line), "\t")
	if len(f) != 10 {
		return Request{}, fmt.Errorf("%d fields, want 10", len(f))
	}
	for i, v := range f {
		if v == "-" {
			f[i] = ""
		}
	}
	num := func(s string) (int64, error) {
		if s == "" {
			return 0, nil
		}
		return strconv.ParseInt(s, 10, 64)
	}
	var r Request
	var err error
	var status, k int64
	r.Method, r.Path, r.Args, r.Range, r.Line = f[0], f[1], strings.TrimPrefix(f[2], "?"), f[6], f[7]
	for _, p := range []struct {
		s string
		v *int64
	}{{f[3], &status}, {f[4], &r.Bytes}, {f[5], &r.Sent}, {f[8], &r.Conn}, {f[9], &k}} {
		if *p.v, err = num(p.s); err != nil {
			return r, err
		}
	}
	r.Status = int(status)
	r.ConnN = k + 1 // both count the requests before this one
	return r, nil
}

// makeReadable lets an unprivileged server process (Apache's children, when
// the tests run as root) reach path: it adds o+x to the directories on the
// way that lack it, but only below the system temp dir (t.TempDir()'s are
// 0700), and o+rx to path itself.
func makeReadable(t testing.TB, path string) {
	t.Helper()
	tmp, err := filepath.Abs(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for p := path; strings.HasPrefix(p, tmp+string(filepath.Separator)); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := fi.Mode().Perm() | 0o001
		if p == path {
			want |= 0o004
		}
		if want != fi.Mode().Perm() {
			if err := os.Chmod(p, want); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's output while a test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
