package httpsource_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
)

func Example() {
	// A static file server; in real use this is nginx, Apache, a CDN or S3.
	target := []byte(strings.Repeat("0123456789", 1000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "target.bin", time.Time{}, bytes.NewReader(target))
	}))
	defer srv.Close()

	src, err := httpsource.New(srv.URL+"/target.bin", httpsource.Options{
		Header: http.Header{"User-Agent": {"zync-example"}},
		Length: int64(len(target)), // from the control file
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	info, err := src.Stat(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("length", info.Length, "ranges", info.AcceptsRanges)

	ranges := []source.Range{{Off: 3, Len: 4}, {Off: 5000, Len: 10}}
	err = src.Fetch(ctx, ranges, func(r source.Range, data io.Reader) error {
		b, err := io.ReadAll(data)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s\n", r, b) // fn may run concurrently; real code writes at r.Off
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Unordered output:
	// length 10000 ranges true
	// 3-6: 3456
	// 5000-5009: 0123456789
}
