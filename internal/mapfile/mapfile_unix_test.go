//go:build unix

package mapfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMapAndGuard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	want := []byte("0123456789")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, unmap, err := Map(f, int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	if string(data) != string(want) {
		t.Fatalf("mapped %q, want %q", data, want)
	}
	WillNeed(data)
	Release(data)
	if string(data) != string(want) { // released pages fault back in
		t.Fatalf("after Release: %q, want %q", data, want)
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	var b byte
	err = Guard(func() { b = data[3] })
	if !errors.Is(err, ErrFault) {
		t.Fatalf("reading a truncated mapping: err = %v (byte %q), want ErrFault", err, b)
	}
}

func TestGuardRepanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the original panic", r)
		}
	}()
	_ = Guard(func() { panic("boom") })
	t.Fatal("Guard swallowed a panic that was not a fault")
}
