package zync_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/zyncio/zync"
)

// A publisher makes the control file of a release; a user who has the old
// release updates it, fetching only the blocks that changed.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "zync-example")
	defer os.RemoveAll(dir)
	pub := filepath.Join(dir, "pub")
	os.Mkdir(pub, 0o755)

	old := bytes.Repeat([]byte("the old release, block after block. "), 20000)
	newer := bytes.Clone(old)
	copy(newer[300000:], "a small change in the middle")
	os.WriteFile(filepath.Join(pub, "release.bin"), newer, 0o644)

	// Publisher: zync make release.bin
	cf, err := zync.MakeFile(ctx, filepath.Join(pub, "release.bin"), zync.MakeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := zync.WriteControlFile(filepath.Join(pub, "release.bin.zsync"), cf); err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	defer srv.Close()

	// User: zync get -o release.bin URL, with the old release in place.
	local := filepath.Join(dir, "release.bin")
	os.WriteFile(local, old, 0o644)
	res, err := zync.Get(ctx, srv.URL+"/release.bin.zsync", zync.GetOptions{Output: local})
	if err != nil {
		log.Fatal(err)
	}
	got, _ := os.ReadFile(local)
	fmt.Println("identical:", bytes.Equal(got, newer))
	fmt.Println("reused most:", res.Reused > res.Length*9/10)
	fmt.Println("checked:", res.Checked)
	// Output:
	// identical: true
	// reused most: true
	// checked: SHA-256
}
