package main

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
	"syscall"
	"time"
)

// nginxServer is a real nginx serving a directory on 127.0.0.1, with a JSON
// access log. It is a small sibling of internal/testenv's (which needs a
// testing.TB): same socket hand-over (the NGINX environment variable), same
// log-sync trick.
type nginxServer struct {
	addr      string
	dir       string
	accessLog string
	errorLog  string
	cmd       *exec.Cmd
	done      chan struct{}
	seq       int
}

// httpRequest is one access-log entry.
type httpRequest struct {
	Path   string `json:"path"`
	Args   string `json:"args"`
	Status int    `json:"status"`
	Bytes  int64  `json:"bytes"` // body bytes, multipart framing included
	Sent   int64  `json:"sent"`  // all bytes sent, headers included
	Range  string `json:"range"`
}

const nginxSyncPath = "/__zbench/sync"

func nginxBinary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nginx", "/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("nginx not found: apt-get install nginx-light (bench/run does)")
}

// startNginx serves root; its config, logs and temp files go in dir.
func startNginx(root, dir string) (*nginxServer, error) {
	bin, err := nginxBinary()
	if err != nil {
		return nil, err
	}
	for _, p := range []string{root, dir} {
		if strings.ContainsAny(p, "\"$\\;{}\n\r ") {
			return nil, fmt.Errorf("nginx: path %q has characters its config syntax would misread", p)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lf, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	n := &nginxServer{
		addr:      ln.Addr().String(),
		dir:       dir,
		accessLog: filepath.Join(dir, "access.log"),
		errorLog:  filepath.Join(dir, "error.log"),
		done:      make(chan struct{}),
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`# written by zbench
%[7]s
daemon off;
master_process on;
worker_processes 1;
pid "%[1]s/nginx.pid";
lock_file "%[1]s/nginx.lock";
error_log "%[2]s" warn;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    types { }
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    log_format zbench escape=json '{"path":"$uri","args":"$args","status":$status,"bytes":$body_bytes_sent,"sent":$bytes_sent,"range":"$http_range"}';
    access_log "%[3]s" zbench;
    client_body_temp_path "%[1]s/tmp/body";
    proxy_temp_path "%[1]s/tmp/proxy";
    fastcgi_temp_path "%[1]s/tmp/fastcgi";
    uwsgi_temp_path "%[1]s/tmp/uwsgi";
    scgi_temp_path "%[1]s/tmp/scgi";
    server {
        listen %[4]s;
        server_name localhost;
        root "%[5]s";
        location / { }
        location = %[6]s { return 204; }
    }
}
`, dir, n.errorLog, n.accessLog, n.addr, root, nginxSyncPath, user)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir+"/", "-c", confPath, "-e", n.errorLog)
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{lf}
	cmd.Env = append(cleanEnv(), "NGINX=3;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n.cmd = cmd
	go func() { cmd.Wait(); close(n.done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.ping(ctx, nginxSyncPath+"?start"); err != nil {
		n.Stop()
		b, _ := os.ReadFile(n.errorLog)
		return nil, fmt.Errorf("nginx did not start: %v: %s %s", err, out.String(), b)
	}
	return n, nil
}

func (n *nginxServer) Addr() string { return n.addr }

func (n *nginxServer) ping(ctx context.Context, path string) error {
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
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

// Log returns every access-log entry so far except the sync requests. It
// first makes a sync request and waits until nginx has logged it, so every
// request that a client saw finish is in the result.
func (n *nginxServer) Log() ([]httpRequest, error) {
	n.seq++
	token := "token=" + strconv.Itoa(n.seq)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.ping(ctx, nginxSyncPath+"?"+token); err != nil {
		return nil, err
	}
	for delay := 200 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		b, err := os.ReadFile(n.accessLog)
		if err != nil {
			return nil, err
		}
		var all []httpRequest
		found := false
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var r httpRequest
			if err := json.Unmarshal(line, &r); err != nil {
				continue // a line being written
			}
			if r.Path == nginxSyncPath {
				found = found || r.Args == token
				continue
			}
			all = append(all, r)
		}
		if found {
			return all, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("nginx did not log the sync request within 30s")
		}
		time.Sleep(delay)
	}
}

// Stop ends nginx (fast shutdown, then SIGKILL to its process group).
func (n *nginxServer) Stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
	}
}

// cleanEnv is the environment without proxy variables: every client here
// talks to loopback, and zsync 0.6.2 and curl would go through http_proxy.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy":
			continue
		}
		env = append(env, kv)
	}
	return env
}
