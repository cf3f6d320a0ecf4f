package testenv

import (
	"bytes"
	"context"
	"encoding/json"
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

// Nginx is a real nginx serving a directory over HTTP on 127.0.0.1.
//
// It runs in the foreground (daemon off, master_process off: one process
// that is also the only worker) with its config, pid file, logs and temp
// paths in a t.TempDir(). The listening socket is opened by the test process
// on a free port and handed to nginx through nginx's own socket-inheritance
// mechanism (the NGINX environment variable), so there is no race for the
// port and no polling for readiness: connections made before nginx runs its
// event loop wait in the kernel's accept queue.
type Nginx struct {
	t         testing.TB
	root      string
	addr      string
	dir       string
	accessLog string
	errorLog  string
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited
	waitErr   error

	mu   sync.Mutex
	mark int // number of (non-internal) log entries before the last Reset
	seq  int // sync token counter
}

// Request is one entry of nginx's access log.
type Request struct {
	Method string // request method, e.g. GET
	Path   string // normalised, decoded URI path ($uri), without the query
	Status int    // response status
	Bytes  int64  // body bytes sent ($body_bytes_sent): payload plus multipart framing
	Range  string // the Range request header, "" if none

	Line  string // the request line, e.g. "GET /x HTTP/1.1"
	Args  string // the query string
	Sent  int64  // all bytes sent, headers included ($bytes_sent)
	Conn  int64  // connection serial number ($connection)
	ConnN int64  // number of this request on its connection ($connection_requests)
}

// internal locations: not part of what Log returns.
const (
	syncPath  = "/__testenv/sync"
	readyPath = "/__testenv/ready"
)

const logFormat = `escape=json '{"method":"$request_method","path":"$uri","args":"$args",` +
	`"status":$status,"bytes":$body_bytes_sent,"sent":$bytes_sent,"range":"$http_range",` +
	`"request":"$request","conn":$connection,"connreq":$connection_requests}'`

// StartNginx starts nginx serving root (a directory) as static files and
// stops it when the test ends. It fails the test if nginx is not installed or
// does not start.
func StartNginx(t testing.TB, root string) *Nginx {
	t.Helper()
	bin := Tool(t, "nginx")
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("StartNginx: root %q is not a directory (%v)", root, err)
	}
	dir := t.TempDir()
	for _, p := range []string{root, dir} {
		if strings.ContainsAny(p, "\"$\\;{}\n\r") {
			t.Fatalf("StartNginx: path %q has characters nginx's config syntax would misread", p)
		}
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("StartNginx: listen: %v", err)
	}
	lf, err := ln.(*net.TCPListener).File() // a blocking dup of the socket
	ln.Close()
	if err != nil {
		t.Fatalf("StartNginx: listener fd: %v", err)
	}

	n := &Nginx{
		t:         t,
		root:      root,
		addr:      ln.Addr().String(),
		dir:       dir,
		accessLog: filepath.Join(dir, "access.log"),
		errorLog:  filepath.Join(dir, "error.log"),
		done:      make(chan struct{}),
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	// As root, the worker would run as "nobody" and could not read a
	// t.TempDir() (mode 0700): keep it root.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`# written by internal/testenv
%[10]s
daemon off;
master_process on;
worker_processes 1;
pid "%[1]s/nginx.pid";
lock_file "%[1]s/nginx.lock";
error_log "%[2]s" notice;
events {
    worker_connections 512;
}
http {
    default_type application/octet-stream;
    types { }
    server_tokens off;
    sendfile on;
    keepalive_requests 100000;
    log_format testenv %[5]s;
    access_log "%[3]s" testenv;
    client_body_temp_path "%[4]s/body";
    proxy_temp_path "%[4]s/proxy";
    fastcgi_temp_path "%[4]s/fastcgi";
    uwsgi_temp_path "%[4]s/uwsgi";
    scgi_temp_path "%[4]s/scgi";
    server {
        listen %[6]s;
        server_name localhost;
        root "%[7]s";
        location / { }
        location = %[8]s { return 204; }
        location = %[9]s { access_log off; return 204; }
    }
}
`, dir, n.errorLog, n.accessLog, tmp, logFormat, n.addr, root, syncPath, readyPath, user)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-p", dir+"/", "-c", confPath, "-e", n.errorLog)
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{lf} // fd 3 in the child
	cmd.Env = append(cleanEnv(), "NGINX=3;")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // to kill master and worker together
		Pdeathsig: syscall.SIGTERM, // do not outlive a crashed test binary
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Start()
	lf.Close() // nginx has its copy; when it exits, the socket closes
	if err != nil {
		t.Fatalf("StartNginx: %v", err)
	}
	n.cmd = cmd
	go func() {
		n.waitErr = cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.stop)

	// Readiness: one request on the inherited socket. It waits in the accept
	// queue until nginx serves it, or fails when nginx exits (its exit closes
	// the last copy of the socket).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.get(ctx, readyPath); err != nil {
		select {
		case <-n.done:
			t.Fatalf("nginx exited at start-up (%v): %s\nerror log:\n%s", n.waitErr, out.String(), n.errorLogText())
		default:
			t.Fatalf("nginx did not answer at start-up: %v\nerror log:\n%s", err, n.errorLogText())
		}
	}
	return n
}

// get makes one request to an internal location and expects 204.
func (n *Nginx) get(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+path, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("GET %s: status %s", path, resp.Status)
	}
	return nil
}

func (n *Nginx) stop() {
	t := n.t
	select {
	case <-n.done:
		t.Errorf("nginx exited before the test ended: %v\nerror log:\n%s", n.waitErr, n.errorLogText())
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM) // fast shutdown
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
		t.Errorf("nginx did not stop within 15s of SIGTERM; killed it")
	}
	if t.Failed() {
		t.Logf("nginx error log (%s):\n%s", n.addr, n.errorLogText())
	}
}

func (n *Nginx) errorLogText() string {
	b, err := os.ReadFile(n.errorLog)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return clip(string(b))
}

// Addr returns the host:port nginx listens on.
func (n *Nginx) Addr() string { return n.addr }

// Root returns the served directory.
func (n *Nginx) Root() string { return n.root }

// URL returns the absolute URL of path (with or without a leading slash).
func (n *Nginx) URL(path string) string {
	return "http://" + n.addr + "/" + strings.TrimPrefix(path, "/")
}

// Log returns the access-log entries of the requests made since StartNginx
// or the last Reset, in the order nginx finished them. Before reading, it
// makes a request of its own and waits (bounded) until nginx has logged it:
// nginx is a single process that logs each request as it finishes it, so
// every request a client saw complete before Log was called is in the file.
func (n *Nginx) Log() []Request {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	all := n.syncedLog()
	return append([]Request(nil), all[n.mark:]...)
}

// Reset makes later calls of Log return only requests made after it.
func (n *Nginx) Reset() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mark = len(n.syncedLog())
}

// syncedLog returns every non-internal entry; n.mu is held.
func (n *Nginx) syncedLog() []Request {
	t := n.t
	t.Helper()
	n.seq++
	token := "token=" + strconv.Itoa(n.seq)
	deadline := time.Now().Add(30 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := n.get(ctx, syncPath+"?"+token); err != nil {
		t.Fatalf("nginx log sync request: %v", err)
	}
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		entries, found, err := n.readLog(token)
		if err != nil {
			t.Fatalf("reading nginx access log: %v", err)
		}
		if found {
			return entries
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not log the sync request %q within 30s", token)
		}
		time.Sleep(delay) // bounded poll for a log line nginx is about to write
	}
}

// readLog parses the access log and reports whether the sync entry with the
// given token is in it.
func (n *Nginx) readLog(token string) ([]Request, bool, error) {
	b, err := os.ReadFile(n.accessLog)
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
		var e struct {
			Method  string `json:"method"`
			Path    string `json:"path"`
			Args    string `json:"args"`
			Status  int    `json:"status"`
			Bytes   int64  `json:"bytes"`
			Sent    int64  `json:"sent"`
			Range   string `json:"range"`
			Request string `json:"request"`
			Conn    int64  `json:"conn"`
			ConnReq int64  `json:"connreq"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, false, fmt.Errorf("bad access log line %q: %v", line, err)
		}
		if e.Path == syncPath {
			if e.Args == token {
				found = true
			}
			continue
		}
		entries = append(entries, Request{
			Method: e.Method, Path: e.Path, Status: e.Status, Bytes: e.Bytes, Range: e.Range,
			Line: e.Request, Args: e.Args, Sent: e.Sent, Conn: e.Conn, ConnN: e.ConnReq,
		})
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
