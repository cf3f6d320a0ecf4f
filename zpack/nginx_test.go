package zpack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zyncio/zync/internal/testenv"
	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/httpsource"
	"github.com/zyncio/zync/zpack"
)

// sample returns n bytes of text-like data with some random stretches.
func sample(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 9))
	var b bytes.Buffer
	for b.Len() < n {
		if rng.IntN(30) == 0 {
			for range 200 {
				b.WriteByte(byte(rng.Uint32()))
			}
			continue
		}
		fmt.Fprintf(&b, "func f%d(x int) int { return x * %d } // %s\n", rng.IntN(5000), rng.IntN(100), strings.Repeat("z", rng.IntN(20)))
	}
	return b.Bytes()[:n]
}

// publish writes target and its companion into dir and returns the Ref.
func publish(t *testing.T, dir string, target []byte, bs int) zpack.Ref {
	t.Helper()
	d, err := zpack.TrainDictionary(context.Background(), bytes.NewReader(target), int64(len(target)), zpack.DictOptions{Size: 8 << 10, Samples: 64, SampleSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "app.img.zpack"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := zpack.Write(context.Background(), bytes.NewReader(target), int64(len(target)), bs, f, zpack.Options{Dictionary: d, Level: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.img"), target, 0o644); err != nil {
		t.Fatal(err)
	}
	return res.Ref("app.img.zpack")
}

// receiver checks each range's bytes and records it in got; it may be
// called concurrently.
func receiver(t *testing.T, want []byte, got map[int64]bool) func(source.Range, io.Reader) error {
	var mu sync.Mutex
	return func(r source.Range, data io.Reader) error {
		b, err := io.ReadAll(data)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, want[r.Off:r.End()]) {
			t.Errorf("range %s: wrong bytes", r)
		}
		mu.Lock()
		got[r.Off] = true
		mu.Unlock()
		return nil
	}
}

// TestNginx fetches through a real nginx and checks what went over the wire
// against the access log.
func TestNginx(t *testing.T) {
	dir := t.TempDir()
	const bs = 2048
	target := sample(1, 1<<20+777)
	ref := publish(t, dir, target, bs)
	srv := testenv.StartNginx(t, dir)
	ctx := context.Background()
	ranges := []source.Range{
		{Off: 0, Len: bs},                         // one block
		{Off: 10 * bs, Len: 3 * bs},               // a few
		{Off: 100 * bs, Len: 300 * bs},            // many: whole larger frames
		{Off: 400*bs + 5, Len: 2000},              // across a block boundary
		{Off: 450 * bs, Len: 1},                   // a byte
		{Off: int64(len(target)) - 777, Len: 777}, // the short last block
	}

	for _, maxRanges := range []int{1, 0} {
		t.Run(fmt.Sprintf("maxranges=%d", maxRanges), func(t *testing.T) {
			srv.Reset()
			var wire atomic.Int64
			hs, err := httpsource.New(srv.URL(ref.URL), httpsource.Options{
				Length:    ref.Size(),
				MaxRanges: maxRanges,
				OnRequest: func(ri httpsource.RequestInfo) { wire.Add(ri.Bytes) },
			})
			if err != nil {
				t.Fatal(err)
			}
			m, err := zpack.Open(ctx, hs, ref, int64(len(target)))
			if err != nil {
				t.Fatal(err)
			}
			src, err := zpack.NewSource(hs, m, zpack.SourceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[int64]bool{}
			if err := src.Fetch(ctx, ranges, receiver(t, target, got)); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(ranges) {
				t.Fatalf("%d of %d ranges delivered", len(got), len(ranges))
			}
			plan, err := src.Plan(ranges)
			if err != nil {
				t.Fatal(err)
			}
			log := srv.Log()
			var body int64
			for i, r := range log {
				if r.Path != "/app.img.zpack" || r.Status != 206 {
					t.Errorf("request %d: %s %d", i, r.Path, r.Status)
				}
				body += r.Bytes
			}
			if log[0].Range != fmt.Sprintf("bytes=%d-%d", ref.MapOffset, ref.MapOffset+ref.MapLength-1) {
				t.Errorf("first request: Range %q, want the map", log[0].Range)
			}
			if body != wire.Load() {
				t.Errorf("nginx sent %d body bytes, httpsource counted %d", body, wire.Load())
			}
			want := ref.MapLength + plan.Compressed
			if maxRanges == 1 {
				// Single ranges: the body bytes are exactly the map and the frames.
				if body != want || len(log) != 1+plan.Ranges {
					t.Errorf("%d requests, %d body bytes; want %d and %d", len(log), body, 1+plan.Ranges, want)
				}
			} else if body < want || body > want+int64(plan.Ranges)*200 {
				t.Errorf("%d body bytes for %d bytes of map and frames in %d ranges", body, want, plan.Ranges)
			}
			var asked int64
			for _, r := range ranges {
				asked += r.Len
			}
			t.Logf("%d target bytes in %d ranges: %d requests, %d body bytes (map %d, frames %d in %d ranges, %d frames decoding to %d bytes)",
				asked, len(ranges), len(log), body, ref.MapLength, plan.Compressed, plan.Ranges, plan.Frames, plan.Decoded)
		})
	}

	// A companion whose frames are corrupt: the plain target takes over.
	t.Run("fallback", func(t *testing.T) {
		comp, err := os.ReadFile(filepath.Join(dir, "app.img.zpack"))
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < ref.MapOffset; i += 997 {
			comp[i] ^= 0x55
		}
		if err := os.WriteFile(filepath.Join(dir, "bad.zpack"), comp, 0o644); err != nil {
			t.Fatal(err)
		}
		srv.Reset()
		hs, _ := httpsource.New(srv.URL("bad.zpack"), httpsource.Options{Length: ref.Size()})
		plain, _ := httpsource.New(srv.URL("app.img"), httpsource.Options{Length: int64(len(target))})
		m, err := zpack.Open(ctx, hs, ref, int64(len(target)))
		if err != nil {
			t.Fatal(err) // the map itself is intact
		}
		src, _ := zpack.NewSource(hs, m, zpack.SourceOptions{})
		var why error
		fb := zpack.Fallback(src, plain, func(err error) { why = err })
		got := map[int64]bool{}
		if err := fb.Fetch(ctx, ranges, receiver(t, target, got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ranges) || !errors.Is(why, source.ErrBadData) {
			t.Fatalf("%d of %d ranges, fell back for %v", len(got), len(ranges), why)
		}
		var plainReqs int
		for _, r := range srv.Log() {
			if r.Path == "/app.img" {
				plainReqs++
			}
		}
		if plainReqs == 0 {
			t.Error("no request for the plain target")
		}
	})

	// No companion on the server: Open fails with ErrNotFound.
	t.Run("missing", func(t *testing.T) {
		hs, _ := httpsource.New(srv.URL("nothing.zpack"), httpsource.Options{Length: ref.Size()})
		if _, err := zpack.Open(ctx, hs, ref, int64(len(target))); !errors.Is(err, source.ErrNotFound) {
			t.Errorf("Open: %v", err)
		}
	})
}
