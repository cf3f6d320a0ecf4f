package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Nginx is a real nginx serving a directory over HTTP on 127.0.0.1 (see
// Server).
//
// It runs in the foreground (daemon off) with its config, pid file, logs
// and temp paths in a t.TempDir(). The listening socket is opened by the
// test process on a free port and handed to nginx through nginx's own
// socket-inheritance mechanism (the NGINX environment variable), so there is
// no race for the port and no polling for readiness: connections made
// before nginx runs its event loop wait in the kernel's accept queue.
type Nginx = Server

const nginxLogFormat = `escape=json '{"method":"$request_method","path":"$uri","args":"$args",` +
	`"status":$status,"bytes":$body_bytes_sent,"sent":$bytes_sent,"range":"$http_range",` +
	`"request":"$request","conn":$connection,"connreq":$connection_requests}'`

var nginxKind = &serverKind{
	name:    "nginx",
	inherit: true,
	setup:   nginxSetup,
	parse:   nginxParse,
}

// StartNginx starts nginx serving root (a directory) as static files and
// stops it when the test ends. It fails the test if nginx is not installed or
// does not start.
func StartNginx(t testing.TB, root string) *Nginx {
	t.Helper()
	return startServer(t, root, nginxKind)
}

func nginxSetup(t testing.TB, s *Server, bin string) *exec.Cmd {
	tmp := filepath.Join(s.dir, "tmp")
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
`, s.dir, s.errorLog, s.accessLog, tmp, nginxLogFormat, s.addr, s.root, syncPath, readyPath, user)
	confPath := filepath.Join(s.dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", s.dir+"/", "-c", confPath, "-e", s.errorLog)
	cmd.Env = []string{"NGINX=3;"}
	return cmd
}

func nginxParse(line []byte) (Request, error) {
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
		return Request{}, err
	}
	return Request{
		Method: e.Method, Path: e.Path, Status: e.Status, Bytes: e.Bytes, Range: e.Range,
		Line: e.Request, Args: e.Args, Sent: e.Sent, Conn: e.Conn, ConnN: e.ConnReq,
	}, nil
}
