package patch

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tempFile is a file written beside its final path and renamed over it
// once complete, as package assemble commits targets: the final path only
// ever holds a complete, verified file or what it held before.
type tempFile struct {
	f     *os.File
	tmp   string
	final string
}

// TempInfix is in the name of the temporary file Diff and Apply write
// beside their output (OUTPUT.zync-tmp-RANDOM); it is removed on failure.
const TempInfix = ".zync-tmp-"

func createTemp(final string) (*tempFile, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := final + TempInfix + hex.EncodeToString(rnd[:])
	// 0666 so the umask decides the mode of a new output, as for any new file.
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create temporary file beside the output: %w", err)
	}
	return &tempFile{f: f, tmp: tmp, final: final}, nil
}

// abort closes and removes the temporary file.
func (t *tempFile) abort() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	_ = os.Remove(t.tmp)
}

// commit fsyncs the temporary file and renames it over the final path.
// mode, if non-zero, sets the permission bits; otherwise an existing final
// file's bits are kept, or the umask's default applies.
func (t *tempFile) commit(mode fs.FileMode) error {
	if mode == 0 {
		if st, err := os.Stat(t.final); err == nil && st.Mode().IsRegular() {
			mode = st.Mode().Perm()
		}
	}
	if mode != 0 {
		if err := t.f.Chmod(mode); err != nil {
			t.abort()
			return fmt.Errorf("set mode of %s: %w", t.tmp, err)
		}
	}
	if err := t.f.Sync(); err != nil {
		t.abort()
		return fmt.Errorf("fsync %s: %w", t.tmp, err)
	}
	err := t.f.Close()
	t.f = nil
	if err != nil {
		t.abort()
		return fmt.Errorf("close %s: %w", t.tmp, err)
	}
	if err := os.Rename(t.tmp, t.final); err != nil {
		t.abort()
		return fmt.Errorf("move %s into place: %w", t.final, err)
	}
	if d, err := os.Open(filepath.Dir(t.final)); err == nil {
		_ = d.Sync() // some systems cannot fsync a directory
		d.Close()
	}
	return nil
}
