package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var lighttpdKind = &serverKind{name: "lighttpd", inherit: true, setup: lighttpdSetup, parse: parseTSV}

// StartLighttpd starts lighttpd (Debian package lighttpd) serving root as
// static files and stops it when the test ends. It takes its listening
// socket from the test process by systemd socket activation (LISTEN_FDS,
// LISTEN_PID), so it is ready as soon as it runs. Its access log goes
// through a pipe to cat: lighttpd buffers a log file for seconds, a pipe it
// writes at once.
func StartLighttpd(t testing.TB, root string) *Server {
	t.Helper()
	return startServer(t, root, lighttpdKind)
}

func lighttpdSetup(t testing.TB, s *Server, bin string) *exec.Cmd {
	host, port := splitAddr(t, s.addr)
	conf := fmt.Sprintf(`# written by internal/testenv
server.document-root = "%[1]s"
server.bind = "%[2]s"
server.port = %[3]s
server.systemd-socket-activation = "enable"
server.errorlog = "%[4]s"
server.tag = ""
server.max-keep-alive-requests = 100000
server.upload-dirs = ( "%[5]s" )
server.modules = ( "mod_accesslog" )
accesslog.filename = "|exec /bin/cat >> '%[6]s'"
accesslog.format = "%%m\t%%U\t%%q\t%%s\t%%b\t%%O\t%%{Range}i\t%%r\t%%{remote}p\t%%k"
`, s.root, host, port, s.errorLog, s.dir, s.accessLog)
	confPath := filepath.Join(s.dir, "lighttpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// LISTEN_PID must be lighttpd's own pid: sh sets it to its own, then
	// becomes lighttpd.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "-D", "-f", confPath)
	cmd.Env = []string{"LISTEN_FDS=1"}
	return cmd
}
