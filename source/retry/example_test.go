package retry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
	"github.com/zyncio/zync/source/retry"
)

func Example() {
	// A server that is overloaded for its first request.
	target := []byte(strings.Repeat("0123456789", 1000))
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		http.ServeContent(w, r, "target.bin", time.Time{}, bytes.NewReader(target))
	}))
	defer srv.Close()

	h, err := httpsource.New(srv.URL+"/target.bin", httpsource.Options{Length: int64(len(target))})
	if err != nil {
		log.Fatal(err)
	}
	src := retry.New(h, retry.Options{
		BaseDelay:     10 * time.Millisecond, // the default is 500 ms
		MaxRetryAfter: 10 * time.Millisecond, // honour Retry-After up to 10 ms (the default is 2 min)
		OnRetry: func(e retry.Event) {
			fmt.Printf("retry %d of %s (server asked to wait %s)\n", e.Attempt, e.Range, e.RetryAfter)
		},
	})
	err = src.Fetch(context.Background(), []source.Range{{Off: 10, Len: 5}}, func(r source.Range, data io.Reader) error {
		b, err := io.ReadAll(data)
		fmt.Printf("%s: %s\n", r, b)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// retry 2 of 10-14 (server asked to wait 1s)
	// 10-14: 01234
}
