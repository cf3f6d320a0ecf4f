package corpus

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// npm package names: lower case, optionally scoped ("@scope/name"); versions:
// plain semver, optionally with a pre-release or build suffix.
var (
	npmNameRE    = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$`)
	npmVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
)

// NpmTarName returns the file name NpmTar uses in its cache directory for
// pkg@version: "typescript-5.4.5.tar", "scope-name-1.0.0.tar" for
// "@scope/name" (the name `npm pack` gives the .tgz, with .tar).
func NpmTarName(pkg, version string) string {
	base := strings.ReplaceAll(strings.TrimPrefix(pkg, "@"), "/", "-")
	return base + "-" + version + ".tar"
}

// NpmTar returns the path of cacheDir/npm/<name>-<version>.tar, the
// registry tarball of the npm package pkg at version, gunzipped, building it
// if it is not there. The tarball is fetched with `npm pack pkg@version` (the
// npm client checks it against the registry's integrity hash) in a temporary
// directory; the tar is exactly the gunzipped bytes of that tarball, so it is
// as deterministic as the registry. An empty cacheDir means DefaultCacheDir().
// The tar is written to a temporary file and renamed into place: a file with
// the final name is complete and is reused as it is.
func NpmTar(ctx context.Context, cacheDir, pkg, version string) (string, error) {
	if !npmNameRE.MatchString(pkg) || len(pkg) > 214 {
		return "", fmt.Errorf("corpus: bad npm package name %q", pkg)
	}
	if !npmVersionRE.MatchString(version) {
		return "", fmt.Errorf("corpus: bad npm version %q (want e.g. 5.4.5)", version)
	}
	cacheDir, err := cacheDirOr(cacheDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "npm")
	final := filepath.Join(dir, NpmTarName(pkg, version))
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size()%512 == 0 {
		return final, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("corpus: %w", err)
	}
	tgz, cleanup, err := npmPack(ctx, dir, pkg, version)
	if err != nil {
		return "", err
	}
	defer cleanup()
	if err := gunzipFile(tgz, final); err != nil {
		return "", err
	}
	return final, nil
}

// npmPack runs `npm pack --json pkg@version` in a new temporary directory
// below dir and returns the .tgz it wrote and a function removing it.
func npmPack(ctx context.Context, dir, pkg, version string) (string, func(), error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", nil, fmt.Errorf("corpus: the npm command is needed to fetch %s@%s (apt-get install npm): %w", pkg, version, err)
	}
	tmp, err := os.MkdirTemp(dir, ".npm-pack-*")
	if err != nil {
		return "", nil, fmt.Errorf("corpus: %w", err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	cmd := exec.CommandContext(ctx, npm, "pack", "--json", "--ignore-scripts", pkg+"@"+version)
	cmd.Dir = tmp // no package.json here: npm packs from the registry
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("corpus: npm pack %s@%s: %v: %s", pkg, version, err, strings.TrimSpace(stderr.String()))
	}
	var out []struct {
		Name, Version, Filename string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out) != 1 {
		cleanup()
		return "", nil, fmt.Errorf("corpus: npm pack %s@%s: unexpected output (%v): %.200s", pkg, version, err, stdout.String())
	}
	if out[0].Name != pkg || out[0].Version != version {
		cleanup()
		return "", nil, fmt.Errorf("corpus: npm pack %s@%s packed %s@%s", pkg, version, out[0].Name, out[0].Version)
	}
	// npm ≥ 7 names the file itself; keep it inside tmp whatever it says.
	tgz := filepath.Join(tmp, filepath.Base(out[0].Filename))
	if _, err := os.Stat(tgz); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("corpus: npm pack %s@%s: %w", pkg, version, err)
	}
	return tgz, cleanup, nil
}

// gunzipFile writes the gunzipped bytes of src to dst through a temporary
// file beside dst.
func gunzipFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("corpus: %s: %w", src, err)
	}
	zr.Multistream(true)
	return writeAtomically(dst, func(w io.Writer) error {
		if _, err := io.Copy(w, zr); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		return zr.Close()
	})
}

// writeAtomically creates dst (mode 0644) with the bytes fill writes, through
// a temporary file in dst's directory that is synced and renamed into place.
func writeAtomically(dst string, fill func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	return nil
}
