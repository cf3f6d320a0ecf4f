package zpack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/filesource"
	"github.com/zyncio/zync/zpack"
)

// A publisher writes the companion of a target and records its Ref in the
// control file; a client opens the map through a Source of the companion's
// bytes (here a local file, usually an httpsource.Source behind retry) and
// fetches target ranges through the companion's Source.
func Example() {
	ctx := context.Background()
	target := []byte(strings.Repeat("all work and no play makes a dull block\n", 2000))
	const blocksize = 1024

	// Publisher.
	var companion bytes.Buffer
	res, err := zpack.Write(ctx, bytes.NewReader(target), int64(len(target)), blocksize, &companion, zpack.Options{})
	if err != nil {
		log.Fatal(err)
	}
	header := zpack.HeaderName + ": " + res.Ref("app.img.zpack").String()
	fmt.Println(strings.HasPrefix(header, "X-Zync-Zpack: url=app.img.zpack map="))

	// Client: the header value from the control file, the companion's bytes.
	ref, err := zpack.ParseRef(strings.TrimPrefix(header, zpack.HeaderName+": "))
	if err != nil {
		log.Fatal(err)
	}
	inner := filesource.New(bytes.NewReader(companion.Bytes()), int64(companion.Len()))
	m, err := zpack.Open(ctx, inner, ref, int64(len(target)))
	if err != nil {
		log.Fatal(err)
	}
	src, err := zpack.NewSource(inner, m, zpack.SourceOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ranges := []source.Range{{Off: 0, Len: 40}, {Off: 40 * blocksize, Len: 2 * blocksize}}
	err = src.Fetch(ctx, ranges, func(r source.Range, data io.Reader) error {
		b, err := io.ReadAll(data)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d bytes, intact: %v\n", r, len(b), bytes.Equal(b, target[r.Off:r.End()]))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d target bytes in %d frames of %d tiers\n", m.Length(), m.Frames(0)+m.Frames(1)+m.Frames(2), m.Tiers())
	// Output:
	// true
	// 0-39: 40 bytes, intact: true
	// 40960-43007: 2048 bytes, intact: true
	// 80000 target bytes in 90 frames of 3 tiers
}
