package zync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
)

func TestSafeName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"release.img", true},
		{"app-1.2.AppImage", true},
		{"", false},
		{".bashrc", false},
		{"..", false},
		{"../etc/passwd", false},
		{"a/b", false},
		{`a\b`, false},
		{"C:evil", false},
		{"x\ny", false},
		{"/abs", false},
	}
	for _, tt := range tests {
		err := SafeName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("SafeName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnsafeName) {
			t.Errorf("SafeName(%q) error %v does not wrap ErrUnsafeName", tt.name, err)
		}
	}
}

// TestGetRefusesUnsafeFilename publishes control files whose Filename would
// write outside the current folder or over a dot file (AppImageUpdate#160)
// and checks that Get without an output path refuses them and writes nothing.
func TestGetRefusesUnsafeFilename(t *testing.T) {
	pub := t.TempDir()
	data := []byte("payload of the target file\n")
	if err := os.WriteFile(filepath.Join(pub, "t.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ng := testenv.StartNginx(t, pub)
	for _, name := range []string{".bashrc", "../t.bin", "sub/t.bin"} {
		cf, err := MakeFile(context.Background(), filepath.Join(pub, "t.bin"), MakeOptions{Filename: "t.bin"})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := cf.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		// The writer refuses such names, so put them in by hand, as a
		// hostile publisher would.
		raw := bytes.Replace(buf.Bytes(), []byte("Filename: t.bin\n"), []byte("Filename: "+name+"\n"), 1)
		if err := os.WriteFile(filepath.Join(pub, "t.bin.zsync"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		work := t.TempDir()
		t.Chdir(work)
		_, err = Get(context.Background(), ng.URL("t.bin.zsync"), GetOptions{})
		if !errors.Is(err, ErrUnsafeName) {
			t.Errorf("Filename %q: got %v, want ErrUnsafeName", name, err)
		}
		if entries, _ := os.ReadDir(work); len(entries) != 0 {
			t.Errorf("Filename %q: files written: %v", name, entries)
		}
	}
}

func TestGetUsesSafeFilename(t *testing.T) {
	pub := t.TempDir()
	data := []byte("payload of the target file\n")
	os.WriteFile(filepath.Join(pub, "t.bin"), data, 0o644)
	cf, err := MakeFile(context.Background(), filepath.Join(pub, "t.bin"), MakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteControlFile(filepath.Join(pub, "t.bin.zsync"), cf); err != nil {
		t.Fatal(err)
	}
	ng := testenv.StartNginx(t, pub)
	work := t.TempDir()
	t.Chdir(work)
	res, err := Get(context.Background(), ng.URL("t.bin.zsync"), GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(work, "t.bin"))
	if err != nil || string(got) != string(data) || res.Output != "t.bin" {
		t.Fatalf("output %q (%v), result %+v", got, err, res)
	}
}
