package testenv

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var caddyKind = &serverKind{name: "caddy", setup: caddySetup, parse: caddyParse, unordered: true}

// StartCaddy starts Caddy (Debian package caddy) with its file_server
// serving root and stops it when the test ends: no admin endpoint, no
// automatic HTTPS, bound to 127.0.0.1 only, its state (HOME, XDG dirs) in a
// t.TempDir(). Caddy serves files with Go's http.ServeContent.
func StartCaddy(t testing.TB, root string) *Server {
	t.Helper()
	return startServer(t, root, caddyKind)
}

func caddySetup(t testing.TB, s *Server, bin string) *exec.Cmd {
	host, _ := splitAddr(t, s.addr)
	conf := fmt.Sprintf(`# written by internal/testenv
{
	admin off
	auto_https off
	storage file_system %[1]s/data
}
http://%[2]s {
	bind %[3]s
	root * %[4]s
	file_server
	log {
		output file %[5]s {
			roll_disabled
		}
		format json
	}
}
`, s.dir, s.addr, host, s.root, s.accessLog)
	confPath := filepath.Join(s.dir, "Caddyfile")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", confPath, "--adapter", "caddyfile")
	cmd.Env = []string{"HOME=" + s.dir, "XDG_CONFIG_HOME=" + s.dir + "/config", "XDG_DATA_HOME=" + s.dir + "/data"}
	return cmd
}

func caddyParse(line []byte) (Request, error) {
	var e struct {
		Msg     string `json:"msg"`
		Request struct {
			Method     string              `json:"method"`
			URI        string              `json:"uri"`
			Proto      string              `json:"proto"`
			RemotePort string              `json:"remote_port"`
			Headers    map[string][]string `json:"headers"`
		} `json:"request"`
		Status int   `json:"status"`
		Size   int64 `json:"size"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return Request{}, err
	}
	if e.Msg != "handled request" {
		return Request{}, fmt.Errorf("not an access log entry: %q", e.Msg)
	}
	path, args, _ := strings.Cut(e.Request.URI, "?")
	r := Request{
		Method: e.Request.Method,
		Path:   path,
		Args:   args,
		Status: e.Status,
		Bytes:  e.Size,
		Line:   e.Request.Method + " " + e.Request.URI + " " + e.Request.Proto,
	}
	if v := e.Request.Headers["Range"]; len(v) > 0 {
		r.Range = v[0]
	}
	r.Conn, _ = strconv.ParseInt(e.Request.RemotePort, 10, 64)
	return r, nil
}

func splitAddr(t testing.TB, addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
