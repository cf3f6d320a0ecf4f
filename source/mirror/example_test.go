package mirror_test

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
	"github.com/zyncio/zync/source/mirror"
	"github.com/zyncio/zync/source/retry"
)

// Example shows the composition zync get uses: one httpsource per URL, each
// wrapped in retry, all under one mirror.
func Example() {
	target := []byte(strings.Repeat("0123456789", 1000))
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "target.bin", time.Time{}, bytes.NewReader(target))
	}))
	defer good.Close()
	gone := httptest.NewServer(http.NotFoundHandler()) // a mirror that lost the file
	defer gone.Close()

	var mirrors []source.Source
	for _, u := range []string{gone.URL + "/target.bin", good.URL + "/target.bin"} {
		h, err := httpsource.New(u, httpsource.Options{Length: int64(len(target))})
		if err != nil {
			log.Fatal(err)
		}
		mirrors = append(mirrors, retry.New(h, retry.Options{}))
	}
	src, err := mirror.New(mirrors, mirror.Options{
		OnEvent: func(e mirror.Event) { fmt.Println(e.Kind, "(404)") },
	})
	if err != nil {
		log.Fatal(err)
	}

	ranges := []source.Range{{Off: 3, Len: 4}, {Off: 5000, Len: 10}}
	err = src.Fetch(context.Background(), ranges, func(r source.Range, data io.Reader) error {
		// Real code verifies the bytes and returns an error wrapping
		// source.ErrBadData if they are wrong: the range is fetched again.
		b, err := io.ReadAll(data)
		fmt.Printf("%s: %s\n", r, b)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, st := range src.Mirrors() {
		fmt.Println("healthy:", st.Healthy, "ranges:", st.Delivered)
	}
	// Unordered output:
	// mirror down (404)
	// 3-6: 3456
	// 5000-5009: 0123456789
	// healthy: false ranges: 0
	// healthy: true ranges: 2
}
