package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apacheModules is where Debian's apache2 package keeps its modules.
const apacheModules = "/usr/lib/apache2/modules"

var apacheKind = &serverKind{name: "apache2", setup: apacheSetup, parse: parseTSV, unordered: true, idle: apacheIdle}

// apacheStatusPath is where the tests' Apache shows its scoreboard.
const apacheStatusPath = internalPrefix + "status"

// apacheIdle waits until no Apache worker is busy with a request other than
// the status request asking: a worker logs a request after sending its
// reply, so a client can have its answer before the line is written (CI saw
// that under load even with two syncs). The scoreboard marks such a worker
// W (sending reply) or L (logging); the status request itself is the one W.
func apacheIdle(ctx context.Context, s *Server) error {
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		board, err := apacheScoreboard(ctx, s)
		if err != nil {
			return err
		}
		if strings.Count(board, "W")+strings.Count(board, "L") <= 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workers still busy (scoreboard %q): %w", board, ctx.Err())
		case <-time.After(delay): // bounded poll for workers about to log
		}
	}
}

// apacheScoreboard returns the Scoreboard line of mod_status's ?auto page.
func apacheScoreboard(ctx context.Context, s *Server) (string, error) {
	path := apacheStatusPath + "?auto"
	status, body, err := s.request(ctx, path)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d", path, status)
	}
	for line := range strings.Lines(string(body)) {
		if board, ok := strings.CutPrefix(line, "Scoreboard: "); ok {
			return strings.TrimSpace(board), nil
		}
	}
	return "", fmt.Errorf("GET %s: no scoreboard in %q", path, body)
}

// StartApache starts Apache httpd (Debian package apache2) serving root as
// static files and stops it when the test ends. The config loads no module
// but the event MPM, authz_core (for "Require all granted") and status (for
// Log, at an internal path): no MIME
// types, no directory index, no compression; ranges as Apache's core does
// them (MaxRanges 200). When the tests run as root, Apache's children run as
// www-data (Apache refuses to serve as root): the served files must be
// world-readable, and root's directories below the temp dir are given o+x.
func StartApache(t testing.TB, root string) *Server {
	t.Helper()
	return startServer(t, root, apacheKind)
}

func apacheSetup(t testing.TB, s *Server, bin string) *exec.Cmd {
	user := ""
	if os.Geteuid() == 0 {
		user = "User www-data\nGroup www-data"
		makeReadable(t, s.root)
		makeReadable(t, s.dir)
	}
	conf := fmt.Sprintf(`# written by internal/testenv
ServerRoot "%[1]s"
ServerName localhost
Listen %[2]s
PidFile "%[1]s/apache2.pid"
Mutex file:%[1]s default
LoadModule mpm_event_module %[3]s/mod_mpm_event.so
LoadModule authz_core_module %[3]s/mod_authz_core.so
LoadModule status_module %[3]s/mod_status.so
%[4]s
ErrorLog "%[5]s"
LogLevel warn
LogFormat "%%m\t%%U\t%%q\t%%>s\t%%B\t%%O\t%%{Range}i\t%%r\t%%{remote}p\t%%k" testenv
CustomLog "%[6]s" testenv
DocumentRoot "%[7]s"
<Directory />
    Require all granted
</Directory>
KeepAlive On
MaxKeepAliveRequests 0
StartServers 1
ServerLimit 1
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
ServerTokens Prod
<Location "%[8]s">
    SetHandler server-status
</Location>
`, s.dir, s.addr, apacheModules, user, s.errorLog, s.accessLog, s.root, apacheStatusPath)
	confPath := filepath.Join(s.dir, "apache2.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return exec.Command(bin, "-f", confPath, "-DFOREGROUND")
}
