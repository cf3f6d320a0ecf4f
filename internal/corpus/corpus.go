// Package corpus builds benchmark and interoperability corpora reproducibly.
//
// Three corpora, each a pair (seed, target) cached in a directory
// (DefaultCacheDir):
//
//   - GoToolchainTar: the Go toolchain. Two consecutive releases make a
//     realistic "update" pair (about 210 MB each, with changed binaries,
//     changed and unchanged sources). They come from the Go module proxy,
//     which CI can reach, as the golang.org/toolchain module, and are turned
//     into deterministic uncompressed tar files (layout below).
//   - NpmTar: an npm package's registry tarball (e.g. typescript 5.4.5 and
//     5.5.2), fetched with `npm pack` and gunzipped: the tar is the
//     registry's own, byte for byte.
//   - RandPair: random bytes and a copy with scattered small edits, one
//     insertion and one deletion, generated from a fixed seed.
//
// # Tar layout
//
// GoToolchainTar writes a tar whose bytes depend only on the module zip's
// file names, modes and contents:
//
//   - The module path prefix ("golang.org/toolchain@v0.0.1-go1.22.1.linux-amd64/")
//     is replaced by "go/", the layout of the official go1.x.linux-amd64.tar.gz.
//   - Entries are sorted by name (byte order, directories with a trailing "/"),
//     not in zip order, so two releases line up as well as they can and a
//     change of zip order does not change the tar. Parents sort before their
//     children.
//   - Every directory is an entry of its own: the zip's directory entries, if
//     any, plus every parent of a file (the module zips list files only).
//   - Only regular files and directories. Modification time FixedModTime,
//     uid/gid 0, empty uname/gname. File modes are the permission bits of the
//     zip's Unix external attributes; an entry without Unix attributes gets
//     0644 (0755 for directories, and for files under bin/ and pkg/tool/, as
//     the go command does when it installs a toolchain from the module).
//   - archive/tar picks USTAR, or PAX for names longer than USTAR allows.
package corpus

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"
)

// FixedModTime is the modification time of every entry of a generated tar.
var FixedModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// cacheDirOr returns dir, or DefaultCacheDir() when dir is empty.
func cacheDirOr(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return DefaultCacheDir()
}

// DefaultCacheDir returns $ZYNC_CORPUS_DIR if set, otherwise
// os.UserCacheDir()/zync-corpus.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("ZYNC_CORPUS_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("corpus: no cache dir (set ZYNC_CORPUS_DIR): %w", err)
	}
	return filepath.Join(base, "zync-corpus"), nil
}

var versionRE = regexp.MustCompile(`^go1\.[0-9]+(\.[0-9]+)?((rc|beta)[0-9]+)?$`)

// ToolchainModule returns the module path and version of the linux-amd64
// toolchain of a Go release such as "go1.22.1".
func ToolchainModule(version string) (modPath, modVersion string) {
	return "golang.org/toolchain", "v0.0.1-" + version + ".linux-amd64"
}

// GoToolchainTar returns the path of cacheDir/<version>.linux-amd64.tar
// (e.g. version "go1.22.1"), building it if it is not there: it runs
// `go mod download -json golang.org/toolchain@v0.0.1-<version>.linux-amd64`
// and converts the module zip as described in the package documentation.
// An empty cacheDir means DefaultCacheDir(). The tar is written to a temporary
// file in cacheDir and renamed into place, so a file with the final name is
// always complete and is reused as it is.
func GoToolchainTar(ctx context.Context, cacheDir, version string) (string, error) {
	if !versionRE.MatchString(version) {
		return "", fmt.Errorf("corpus: bad Go version %q (want e.g. go1.22.1)", version)
	}
	cacheDir, err := cacheDirOr(cacheDir)
	if err != nil {
		return "", err
	}
	final := filepath.Join(cacheDir, version+".linux-amd64.tar")
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size()%512 == 0 {
		return final, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("corpus: %w", err)
	}
	modPath, modVersion := ToolchainModule(version)
	zipPath, err := downloadModule(ctx, modPath, modVersion)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := ModuleZipToTarFile(zipPath, modPath+"@"+modVersion+"/", "go/", final); err != nil {
		return "", err
	}
	return final, nil
}

// downloadModule runs `go mod download -json` and returns the zip's path.
func downloadModule(ctx context.Context, modPath, modVersion string) (string, error) {
	goBin, err := goCommand()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", modPath+"@"+modVersion)
	cmd.Dir = os.TempDir() // outside any module: nothing to edit
	cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	var info struct {
		Path, Version, Zip, Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		if runErr != nil {
			return "", fmt.Errorf("corpus: go mod download %s@%s: %v: %s", modPath, modVersion, runErr, strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("corpus: go mod download %s@%s: bad JSON: %v", modPath, modVersion, err)
	}
	if info.Error != "" {
		return "", fmt.Errorf("corpus: go mod download %s@%s: %s", modPath, modVersion, info.Error)
	}
	if runErr != nil {
		return "", fmt.Errorf("corpus: go mod download %s@%s: %v: %s", modPath, modVersion, runErr, strings.TrimSpace(stderr.String()))
	}
	if info.Zip == "" {
		return "", fmt.Errorf("corpus: go mod download %s@%s: no zip in its output", modPath, modVersion)
	}
	return info.Zip, nil
}

func goCommand() (string, error) {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("corpus: the go command is needed to download toolchains: %w", err)
	}
	return p, nil
}

// ModuleZipToTarFile converts the zip at zipPath to a tar at dst (see
// WriteTar), writing a temporary file beside dst and renaming it into place.
func ModuleZipToTarFile(zipPath, stripPrefix, addPrefix, dst string) (err error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer zr.Close()
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
	if err := WriteTar(tmp, &zr.Reader, stripPrefix, addPrefix); err != nil {
		return fmt.Errorf("corpus: %s: %w", zipPath, err)
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

type entry struct {
	name string // tar name; directories end in "/"
	mode int64
	file *zip.File // nil for directories
}

// WriteTar writes the deterministic tar described in the package
// documentation. Every zip entry's name must start with stripPrefix, which is
// replaced by addPrefix; names that would escape the tree ("..", absolute)
// are rejected.
func WriteTar(w io.Writer, zr *zip.Reader, stripPrefix, addPrefix string) error {
	byName := map[string]*entry{}
	addDir := func(name string, mode int64) {
		if e, ok := byName[name]; ok {
			if mode != 0 {
				e.mode = mode
			}
			return
		}
		if mode == 0 {
			mode = 0o755
		}
		byName[name] = &entry{name: name, mode: mode}
	}
	for _, f := range zr.File {
		rel, ok := strings.CutPrefix(f.Name, stripPrefix)
		if !ok {
			return fmt.Errorf("zip entry %q lacks the prefix %q", f.Name, stripPrefix)
		}
		isDir := strings.HasSuffix(rel, "/") || f.Mode().IsDir()
		rel = strings.TrimSuffix(rel, "/")
		if rel == "" {
			continue // the prefix directory itself
		}
		if !fs.ValidPath(rel) {
			return fmt.Errorf("zip entry %q: unsafe name", f.Name)
		}
		name := addPrefix + rel
		// Parents of every entry.
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			addDir(d+"/", 0)
		}
		perm := int64(0)
		if hasUnixMode(f) {
			perm = int64(f.Mode().Perm())
		}
		if isDir {
			addDir(name+"/", perm)
			continue
		}
		if !f.Mode().IsRegular() {
			return fmt.Errorf("zip entry %q: not a regular file or directory (%v)", f.Name, f.Mode())
		}
		if _, dup := byName[name]; dup {
			return fmt.Errorf("zip entry %q appears twice", f.Name)
		}
		if perm == 0 {
			perm = 0o644
			if strings.HasPrefix(rel, "bin/") || strings.HasPrefix(rel, "pkg/tool/") {
				perm = 0o755
			}
		}
		byName[name] = &entry{name: name, mode: perm, file: f}
	}
	entries := make([]*entry, 0, len(byName))
	for _, e := range byName {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: FixedModTime,
		}
		if e.file == nil {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(e.file.UncompressedSize64)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.file == nil {
			continue
		}
		rc, err := e.file.Open()
		if err != nil {
			return err
		}
		n, err := io.Copy(tw, rc) // zip checks the CRC-32 at EOF
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.file.Name, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("%s: %d bytes, header says %d", e.file.Name, n, hdr.Size)
		}
	}
	return tw.Close()
}

// hasUnixMode reports whether the zip entry carries Unix permission bits.
func hasUnixMode(f *zip.File) bool {
	const creatorUnix, creatorMacOSX = 3, 19
	c := f.CreatorVersion >> 8
	return (c == creatorUnix || c == creatorMacOSX) && f.ExternalAttrs>>16 != 0
}
