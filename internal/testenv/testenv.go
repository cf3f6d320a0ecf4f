// Package testenv holds helpers for tests that drive real programs: the zync
// CLI built from this module, the real zsync/zsyncmake 0.6.2 and real web
// servers (nginx, Apache, lighttpd, Caddy).
//
// Policy: a test never skips because a program is missing. Tool fails the
// test instead, naming the Debian package to install (.ci/run installs all of
// them). Only SkipIfShort may skip, and never when CI=true.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// packages maps the programs Tool knows to the Debian package providing them.
var packages = map[string]string{
	"zsync":     "zsync",
	"zsyncmake": "zsync",
	"nginx":     "nginx-light",
	"apache2":   "apache2",
	"lighttpd":  "lighttpd",
	"caddy":     "caddy",
}

// extraDirs are searched after PATH: nginx lives in /usr/sbin, which is not
// on every user's PATH.
var extraDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"}

// Tool returns the absolute path of a program the tests require (zsync,
// zsyncmake, nginx, go, ...). If it is missing the test fails: it never skips.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := lookTool(name)
	if err != nil {
		if pkg, ok := packages[name]; ok {
			t.Fatalf("required program %q not found (%v): install the Debian package %q (apt-get install %s); .ci/run installs it", name, err, pkg, pkg)
		}
		t.Fatalf("required program %q not found: %v", name, err)
	}
	return p
}

func lookTool(name string) (string, error) {
	if name == "go" {
		return goTool()
	}
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	for _, d := range extraDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("not in PATH nor in %s", strings.Join(extraDirs, ", "))
}

// goTool finds the go command: the one in the running toolchain's GOROOT
// first (it built this test binary), then PATH.
func goTool() (string, error) {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); isExec(p) {
			return p, nil
		}
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" && isExec(p) {
		return p, nil
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// InCI reports whether the tests run under CI (CI=true), where nothing may be
// skipped.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1" || v == "yes"
}

// SkipIfShort skips a slow test in -short mode, except under CI=true, where it
// always runs.
func SkipIfShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() && !InCI() {
		t.Skipf("-short: skipping %s (it always runs under CI=true)", why)
	}
}

// ZyncPackage is the import path of the CLI that Zync builds.
const ZyncPackage = "github.com/zyncio/zync/cmd/zync"

var zyncBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Zync builds the zync CLI once per test binary and returns the path of the
// executable. The binary lives in a directory made with os.MkdirTemp; a
// package whose TestMain calls Main removes it when the tests end (otherwise
// the directory stays in the system temp dir).
func Zync(t testing.TB) string {
	t.Helper()
	zyncBuild.once.Do(func() {
		goBin, err := goTool()
		if err != nil {
			zyncBuild.err = fmt.Errorf("go command not found: %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "zync-testenv-bin-")
		if err != nil {
			zyncBuild.err = err
			return
		}
		zyncBuild.dir = dir
		bin := filepath.Join(dir, "zync")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		// -buildvcs=false: the tests may run in a checkout without commits.
		cmd := exec.CommandContext(ctx, goBin, "build", "-buildvcs=false", "-o", bin, ZyncPackage)
		out, err := cmd.CombinedOutput()
		if err != nil {
			zyncBuild.err = fmt.Errorf("go build %s: %v\n%s", ZyncPackage, err, out)
			return
		}
		zyncBuild.bin = bin
	})
	if zyncBuild.err != nil {
		t.Fatalf("building the zync CLI: %v", zyncBuild.err)
	}
	return zyncBuild.bin
}

// Main runs the tests and then removes what the package-level helpers left
// behind (the zync binary). Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if zyncBuild.dir != "" {
		os.RemoveAll(zyncBuild.dir)
	}
	return code
}

// DefaultRunTimeout bounds one Run when the test has no deadline of its own.
const DefaultRunTimeout = 10 * time.Minute

// Run runs bin with args in dir and returns its stdout, stderr and exit code.
// It fails the test if the program cannot be started or does not finish
// before the test's deadline (or DefaultRunTimeout). Proxy variables are
// removed from the environment: the tests talk to loopback servers only, and
// zsync 0.6.2 would send even those through http_proxy.
func Run(t testing.TB, dir, bin string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	return RunEnv(t, dir, nil, bin, args...)
}

// RunEnv is Run with extra environment variables ("K=V").
func RunEnv(t testing.TB, dir string, env []string, bin string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	timeout := DefaultRunTimeout
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			if left := time.Until(dl) - 30*time.Second; left < timeout {
				timeout = max(left, 10*time.Second)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	cmd.WaitDelay = 10 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout = &so
	cmd.Stderr = &se
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	code := 0
	if err != nil {
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil:
			t.Fatalf("%s %s: did not finish within %v (killed)\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), timeout, clip(so.String()), clip(se.String()))
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatalf("running %s: %v", bin, err)
		}
	}
	t.Logf("$ (cd %s && %s %s) -> exit %d in %v%s", dir, filepath.Base(bin), strings.Join(args, " "), code, elapsed.Round(time.Millisecond), stderrNote(se.String()))
	return so.String(), se.String(), code
}

func stderrNote(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return "; stderr: " + clip(s)
}

func clip(s string) string {
	const n = 4000
	if len(s) > n {
		return s[:n/2] + "\n[...]\n" + s[len(s)-n/2:]
	}
	return s
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy":
			continue
		}
		env = append(env, kv)
	}
	return env
}
