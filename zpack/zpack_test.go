package zpack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/filesource"
)

// testData returns n bytes that compress somewhat: words from a small
// vocabulary, with stretches of random bytes and of zeros.
func testData(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := []string{"block ", "target ", "seed ", "zync ", "frame ", "tier ", "\n", "range ", "0123456789 "}
	b := make([]byte, 0, n+16)
	for len(b) < n {
		switch rng.IntN(20) {
		case 0:
			for range rng.IntN(300) {
				b = append(b, byte(rng.Uint32()))
			}
		case 1:
			b = append(b, make([]byte, rng.IntN(500))...)
		default:
			b = append(b, words[rng.IntN(len(words))]...)
		}
	}
	return b[:n]
}

type companion struct {
	data []byte // the target
	bs   int
	comp []byte // the companion
	res  *Result
	m    *Map
}

func build(t testing.TB, data []byte, bs int, opts Options) *companion {
	t.Helper()
	var out bytes.Buffer
	res, err := Write(context.Background(), bytes.NewReader(data), int64(len(data)), bs, &out, opts)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if res.Size != int64(out.Len()) {
		t.Fatalf("Result.Size %d, wrote %d", res.Size, out.Len())
	}
	c := &companion{data: data, bs: bs, comp: out.Bytes(), res: res}
	ref := res.Ref("x.zpack")
	if ref.Size() != res.Size {
		t.Fatalf("Ref.Size %d, companion %d", ref.Size(), res.Size)
	}
	m, err := Open(context.Background(), filesource.New(bytes.NewReader(c.comp), int64(len(c.comp))), ref, int64(len(data)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c.m = m
	m2, err := ReadMap(bytes.NewReader(c.comp), int64(len(c.comp)))
	if err != nil {
		t.Fatalf("ReadMap: %v", err)
	}
	if !mapsEqual(m, m2) || !mapsEqual(m, res.Map) {
		t.Fatal("maps from Open, ReadMap and Write differ")
	}
	return c
}

func mapsEqual(a, b *Map) bool {
	if a.length != b.length || a.framesEnd != b.framesEnd || !bytes.Equal(a.dict, b.dict) || len(a.tiers) != len(b.tiers) {
		return false
	}
	for t := range a.tiers {
		x, y := a.tiers[t], b.tiers[t]
		if x.runSize != y.runSize || !slices.Equal(x.off, y.off) || !slices.Equal(x.clen, y.clen) {
			return false
		}
	}
	return true
}

// fetchAll fetches ranges through src and checks that fn got each range
// once with exactly its bytes of want.
func fetchAll(t testing.TB, src source.Source, ranges []source.Range, want []byte) error {
	t.Helper()
	var mu sync.Mutex
	got := map[int64]int{}
	err := src.Fetch(context.Background(), ranges, func(r source.Range, data io.Reader) error {
		b, err := io.ReadAll(data)
		if err != nil {
			return err
		}
		if int64(len(b)) != r.Len {
			t.Errorf("range %s: %d bytes", r, len(b))
		}
		if !bytes.Equal(b, want[r.Off:r.End()]) {
			t.Errorf("range %s: wrong bytes", r)
		}
		mu.Lock()
		got[r.Off]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range ranges {
		if got[r.Off] != 1 {
			t.Errorf("range %s delivered %d times", r, got[r.Off])
		}
	}
	return nil
}

// randomRanges returns sorted, non-overlapping ranges of a target of n
// bytes; aligned ones start and end on block boundaries (or the end).
func randomRanges(rng *rand.Rand, n int64, bs int64, aligned bool) []source.Range {
	if n == 0 {
		return nil
	}
	var rs []source.Range
	pos := int64(0)
	for pos < n {
		gap := rng.Int64N(n/4 + 1)
		if rng.IntN(3) == 0 {
			gap = 0
		}
		l := rng.Int64N(n/3+1) + 1
		if rng.IntN(3) == 0 {
			l = rng.Int64N(3*bs) + 1
		}
		off := pos + gap
		if len(rs) > 0 && gap == 0 {
			off++ // adjacent ranges are fine, but keep them distinct
		}
		if aligned {
			off = (off + bs - 1) / bs * bs
			l = (l + bs - 1) / bs * bs
		}
		if off >= n {
			break
		}
		l = min(l, n-off)
		rs = append(rs, source.Range{Off: off, Len: l})
		pos = off + l
	}
	return rs
}

// countingSource counts the bytes and ranges it is asked for and, if
// shuffle is set, calls fn for the ranges concurrently in random order.
type countingSource struct {
	inner   source.Source
	bytes   atomic.Int64
	ranges  atomic.Int64
	fetches atomic.Int64
	shuffle bool
}

func (c *countingSource) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	c.fetches.Add(1)
	for _, r := range ranges {
		c.bytes.Add(r.Len)
	}
	c.ranges.Add(int64(len(ranges)))
	if !c.shuffle {
		return c.inner.Fetch(ctx, ranges, fn)
	}
	order := rand.Perm(len(ranges))
	var wg sync.WaitGroup
	errs := make([]error, len(ranges))
	for _, i := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.inner.Fetch(ctx, ranges[i:i+1], fn)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestRoundTrip(t *testing.T) {
	type tc struct {
		n, bs, level int
		tiers        []int
	}
	var cases []tc
	for _, n := range []int{0, 1, 15, 16, 17, 100, 1000, 4096, 4097, 70000, 100001} {
		for _, tiers := range [][]int{nil, {1}, {1, 4}, {2, 6, 12}, {1, 2, 4, 8, 16, 32, 64, 128}} {
			cases = append(cases, tc{n, 16, 7, tiers})
		}
	}
	cases = append(cases, tc{1 << 20, 2048, 0, nil}, tc{1<<20 + 5, 4096, 0, []int{1, 16}}, tc{3 << 20, 1024, 1, nil})
	for i, c := range cases {
		t.Run(fmt.Sprintf("n%d-bs%d-tiers%v", c.n, c.bs, c.tiers), func(t *testing.T) {
			data := testData(uint64(i), c.n)
			cp := build(t, data, c.bs, Options{Tiers: c.tiers, Level: c.level})
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			cs := &countingSource{inner: filesource.New(bytes.NewReader(cp.comp), int64(len(cp.comp)))}
			src, err := NewSource(cs, cp.m, SourceOptions{BatchSize: int64(1 + rng.IntN(100000))})
			if err != nil {
				t.Fatal(err)
			}
			sets := [][]source.Range{}
			if c.n > 0 {
				sets = append(sets, []source.Range{{Off: 0, Len: int64(c.n)}}, []source.Range{{Off: int64(c.n - 1), Len: 1}})
			}
			for k := range 30 {
				sets = append(sets, randomRanges(rng, int64(c.n), int64(c.bs), k%2 == 0))
			}
			for _, rs := range sets {
				cs.bytes.Store(0)
				cs.shuffle = rng.IntN(2) == 0
				if err := fetchAll(t, src, rs, data); err != nil {
					t.Fatalf("Fetch %v: %v", rs, err)
				}
				p, err := src.Plan(rs)
				if err != nil {
					t.Fatal(err)
				}
				if cs.bytes.Load() != p.Compressed {
					t.Errorf("fetched %d compressed bytes, plan says %d", cs.bytes.Load(), p.Compressed)
				}
				// Counting bytes only, the plan is no worse than any
				// single tier.
				p0, err := cp.m.Plan(rs, 0)
				if err != nil {
					t.Fatal(err)
				}
				for tr := range cp.m.Tiers() {
					if single := singleTierCost(cp.m, tr, rs); p0.Compressed > single {
						t.Errorf("plan costs %d, tier %d alone %d", p0.Compressed, tr, single)
					}
				}
			}
		})
	}
}

func singleTierCost(m *Map, t int, rs []source.Range) int64 {
	var c int64
	last := -1
	for _, r := range rs {
		for i := int(r.Off / m.RunSize(t)); i <= int((r.End()-1)/m.RunSize(t)); i++ {
			if i > last {
				_, cr := m.Frame(t, i)
				c += cr.Len
				last = i
			}
		}
	}
	return c
}

func TestTiersDropped(t *testing.T) {
	for _, tc := range []struct {
		size int64
		bs   int
		want []int64
	}{
		{0, 2048, []int64{2048}},
		{2048, 2048, []int64{2048}},
		{2049, 2048, []int64{2048, 16384}},
		{100 << 20, 4096, []int64{4096, 32768, 524288}},
		{100 << 20, 1 << 20, []int64{1 << 20, 8 << 20}}, // 128 MiB is above MaxRunSize
	} {
		got, err := RunSizes(tc.size, tc.bs, nil)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("RunSizes(%d, %d) = %v, %v; want %v", tc.size, tc.bs, got, err, tc.want)
		}
	}
	for _, tiers := range [][]int{{}, {0}, {2, 3}, {4, 4}, {8, 4}, {1, 2, 4, 8, 16, 32, 64, 128, 256}} {
		if _, err := RunSizes(1<<20, 16, tiers); err == nil {
			t.Errorf("tiers %v accepted", tiers)
		}
	}
	if _, err := RunSizes(1, MaxRunSize+1, nil); err == nil {
		t.Error("a blocksize above MaxRunSize was accepted")
	}
}

// testDictionary trains a small dictionary quickly (best-level compression
// with a dictionary is slow, the more so under the race detector).
func testDictionary(t testing.TB, data []byte) []byte {
	t.Helper()
	d, err := TrainDictionary(context.Background(), bytes.NewReader(data), int64(len(data)), DictOptions{Size: 8 << 10, Samples: 64, SampleSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(d) == 0 || len(d) > 8<<10+1024 {
		t.Fatalf("dictionary of %d bytes", len(d))
	}
	return d
}

func TestDictionary(t *testing.T) {
	data := testData(7, 1<<20+100)
	d := testDictionary(t, data)
	data = data[:300000]
	with := build(t, data, 1024, Options{Dictionary: d, Tiers: []int{1, 8}, Level: 7})
	without := build(t, data, 1024, Options{Tiers: []int{1, 8}, Level: 7})
	if !bytes.Equal(with.m.Dictionary(), d) {
		t.Fatal("the map lost the dictionary")
	}
	if a, b := with.m.CompressedSize(0), without.m.CompressedSize(0); a >= b {
		t.Errorf("tier 0 with a dictionary: %d bytes, without: %d", a, b)
	}
	src, err := NewSource(filesource.New(bytes.NewReader(with.comp), int64(len(with.comp))), with.m, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 10 {
		if err := fetchAll(t, src, randomRanges(rng, int64(len(data)), 1024, true), data); err != nil {
			t.Fatal(err)
		}
	}
	// Small targets get none.
	if d, err := TrainDictionary(context.Background(), bytes.NewReader(data[:1000]), 1000, DictOptions{}); d != nil || err != nil {
		t.Errorf("dictionary for 1000 bytes: %d bytes, %v", len(d), err)
	}
}

func TestDeterministic(t *testing.T) {
	data := testData(3, 1<<20)
	d := testDictionary(t, data)
	for _, dict := range [][]byte{nil, d} {
		a := build(t, data[:400000], 2048, Options{Workers: 1, Dictionary: dict, Level: 7})
		b := build(t, data[:400000], 2048, Options{Workers: 4, Dictionary: dict, Level: 7})
		if !bytes.Equal(a.comp, b.comp) {
			t.Fatal("two runs of Write wrote different companions")
		}
	}
}

func TestWriteErrors(t *testing.T) {
	data := testData(1, 100000)
	var out bytes.Buffer
	_, err := Write(context.Background(), bytes.NewReader(data[:50000]), int64(len(data)), 1024, &out, Options{})
	if !errors.Is(err, ErrSizeChanged) {
		t.Errorf("short input: %v", err)
	}
	werr := errors.New("disk full")
	_, err = Write(context.Background(), bytes.NewReader(data), int64(len(data)), 16, failWriter{werr}, Options{})
	if !errors.Is(err, werr) {
		t.Errorf("failing writer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Write(ctx, bytes.NewReader(data), int64(len(data)), 16, io.Discard, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := Write(context.Background(), bytes.NewReader(data), int64(len(data)), 16, io.Discard, Options{Dictionary: []byte("not a dictionary")}); err == nil {
		t.Error("a bad dictionary was accepted")
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// corrupt returns a copy of c.comp with byte i of the frames flipped.
func TestCorruptFrames(t *testing.T) {
	data := testData(5, 200000)
	cp := build(t, data, 512, Options{})
	rng := rand.New(rand.NewPCG(5, 5))
	bad := 0
	for k := range 300 {
		comp := bytes.Clone(cp.comp)
		i := rng.Int64N(cp.m.FramesSize())
		comp[i] ^= byte(1 + rng.IntN(255))
		src, err := NewSource(filesource.New(bytes.NewReader(comp), int64(len(comp))), cp.m, SourceOptions{BatchSize: 10000})
		if err != nil {
			t.Fatal(err)
		}
		rs := randomRanges(rng, int64(len(data)), 512, k%2 == 0)
		if k%5 == 0 {
			rs = []source.Range{{Off: 0, Len: int64(len(data))}}
		}
		err = fetchAll(t, src, rs, data) // fails the test on wrong bytes
		if err != nil {
			if !errors.Is(err, source.ErrBadData) {
				t.Fatalf("corrupt byte %d: error does not wrap ErrBadData: %v", i, err)
			}
			bad++
		}
	}
	if bad == 0 {
		t.Error("no corruption was detected")
	}
	t.Logf("%d of 300 corruptions hit fetched frames", bad)
}

func TestTruncatedMap(t *testing.T) {
	cp := build(t, testData(9, 100000), 512, Options{})
	mb, err := cp.m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseMap(mb); err != nil {
		t.Fatal(err)
	}
	for n := range len(mb) {
		if _, err := ParseMap(mb[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("map truncated to %d of %d bytes: %v", n, len(mb), err)
		}
	}
	if _, err := ParseMap(append(bytes.Clone(mb), 0)); err == nil {
		t.Error("a byte after the map was accepted")
	}
	v2 := bytes.Clone(mb)
	v2[len(mapMagic)] = 2
	if _, err := ParseMap(v2); !errors.Is(err, ErrUnsupported) {
		t.Errorf("version 2: %v", err)
	}
	// Truncated companions.
	for _, n := range []int{0, 1, TrailerSize - 1, TrailerSize, len(cp.comp) - 1} {
		if _, err := ReadMap(bytes.NewReader(cp.comp[:n]), int64(n)); err == nil {
			t.Errorf("companion truncated to %d bytes accepted", n)
		}
	}
}

// body builds a map body from varints and raw bytes.
func body(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = appendUvarint(b, uint64(v))
		case uint64:
			b = appendUvarint(b, v)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func TestParseBodyLimits(t *testing.T) {
	ok := body(100, 2, 10, 50, 0, 5, 5, 5, 5, 5, 9, 5, 5, 5, 5, 5, 9)
	if m, err := parseBody(ok); err != nil || m.Frames(0) != 10 || m.Frames(1) != 2 || m.FramesSize() != 68 {
		t.Fatalf("valid body: %v", err)
	}
	// Offsets follow the layout: tier 0's frames of run 0, then tier 1's.
	if _, c := okMap(t, ok).Frame(1, 0); c.Off != 25 || c.Len != 9 {
		t.Errorf("tier 1 frame 0 at %s", c)
	}
	for name, b := range map[string][]byte{
		"empty":            {},
		"huge length":      body(uint64(MaxLength)+1, 1, 10),
		"no tiers":         body(100, 0),
		"too many tiers":   body(100, MaxTiers+1, 1, 2, 4, 8, 16, 32, 64, 128, 256),
		"zero run":         body(100, 1, 0),
		"huge run":         body(100, 1, MaxRunSize+1),
		"not a multiple":   body(100, 2, 10, 25, 0),
		"not larger":       body(100, 2, 10, 10, 0),
		"too many frames":  body(uint64(MaxLength), 1, 1, 0),
		"huge dictionary":  body(100, 1, 10, MaxDictSize+1),
		"dictionary short": body(100, 1, 10, 50, []byte("abc")),
		"bad dictionary":   body(100, 1, 100, 8, []byte("12345678"), 5),
		"frame count":      body(100, 1, 10, 0, 5, 5, 5),
		"zero frame":       body(100, 1, 50, 0, 0, 5),
		"frame too big":    body(100, 1, 50, 0, 5, 50+512+1),
		"trailing":         body(100, 1, 50, 0, 5, 5, 7),
		"bad varint":       append(body(100, 1, 50, 0, 5), 0x80),
		"long varint":      body(100, 1, 50, 0, 5, []byte{0x85, 0x00}),
	} {
		if _, err := parseBody(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func okMap(t *testing.T, b []byte) *Map {
	m, err := parseBody(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenErrors(t *testing.T) {
	data := testData(2, 50000)
	cp := build(t, data, 512, Options{})
	fs := filesource.New(bytes.NewReader(cp.comp), int64(len(cp.comp)))
	ref := cp.res.Ref("x")
	if _, err := Open(context.Background(), fs, ref, int64(len(data))+1); !errors.Is(err, source.ErrLengthMismatch) {
		t.Errorf("length mismatch: %v", err)
	}
	r2 := ref
	r2.MapSHA256[0] ^= 1
	if _, err := Open(context.Background(), fs, r2, int64(len(data))); !errors.Is(err, source.ErrBadData) {
		t.Errorf("hash mismatch: %v", err)
	}
	r3 := ref
	r3.MapOffset += 100
	if _, err := Open(context.Background(), fs, r3, int64(len(data))); err == nil {
		t.Error("map beyond the companion accepted")
	}
	r4 := ref
	r4.MapLength = MaxMapSize + 1
	if _, err := Open(context.Background(), fs, r4, int64(len(data))); !errors.Is(err, ErrFormat) {
		t.Errorf("huge map: %v", err)
	}
}

func TestRef(t *testing.T) {
	r := Ref{URL: "https://cdn.example.com/a%20b.img.zpack", MapOffset: 123456789, MapLength: 2345, MapSHA256: sha256.Sum256([]byte("x"))}
	v := r.String()
	got, err := ParseRef(v)
	if err != nil || got != r {
		t.Fatalf("ParseRef(%q) = %+v, %v", v, got, err)
	}
	if got, err := ParseRef(v + " future=1"); err != nil || got != r {
		t.Errorf("unknown key: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "url=x", v + " junk", "url= map=1+20 sha256=" + fmt.Sprintf("%x", r.MapSHA256),
		"url=x map=1+2 sha256=" + fmt.Sprintf("%x", r.MapSHA256), "url=x map=-1+20 sha256=" + fmt.Sprintf("%x", r.MapSHA256),
		"url=x map=1+20 sha256=abc", "url=x map=1+999999999999 sha256=" + fmt.Sprintf("%x", r.MapSHA256)} {
		if _, err := ParseRef(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseRef(%q): %v", bad, err)
		}
	}
}

func TestBadRanges(t *testing.T) {
	cp := build(t, testData(4, 10000), 512, Options{})
	src, err := NewSource(filesource.New(bytes.NewReader(cp.comp), int64(len(cp.comp))), cp.m, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range [][]source.Range{
		{{Off: 0, Len: 10001}},
		{{Off: 10000, Len: 1}},
		{{Off: -1, Len: 5}},
		{{Off: 5, Len: 0}},
		{{Off: 100, Len: 10}, {Off: 50, Len: 10}},
		{{Off: 100, Len: 10}, {Off: 105, Len: 10}},
	} {
		err := src.Fetch(context.Background(), rs, func(source.Range, io.Reader) error {
			t.Errorf("fn called for %v", rs)
			return nil
		})
		if err == nil {
			t.Errorf("ranges %v accepted", rs)
		}
	}
	if err := src.Fetch(context.Background(), nil, nil); err != nil {
		t.Errorf("no ranges: %v", err)
	}
}

// failingSource fails every Fetch, or, with after > 0, fails each reader
// after that many bytes.
type failingSource struct {
	inner source.Source
	after int64
	err   error
}

func (f *failingSource) Fetch(ctx context.Context, ranges []source.Range, fn func(source.Range, io.Reader) error) error {
	if f.after == 0 {
		return f.err
	}
	return f.inner.Fetch(ctx, ranges, func(r source.Range, data io.Reader) error {
		return fn(r, io.MultiReader(io.LimitReader(data, f.after), errReader{f.err}))
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestFetchErrors(t *testing.T) {
	data := testData(6, 300000)
	cp := build(t, data, 1024, Options{})
	fs := filesource.New(bytes.NewReader(cp.comp), int64(len(cp.comp)))
	netErr := errors.New("connection reset")
	rs := []source.Range{{Off: 0, Len: 5000}, {Off: 100000, Len: 150000}}
	for _, inner := range []source.Source{&failingSource{err: netErr}, &failingSource{inner: fs, after: 100, err: netErr}} {
		src, err := NewSource(inner, cp.m, SourceOptions{BatchSize: 20000, Batches: 2})
		if err != nil {
			t.Fatal(err)
		}
		err = src.Fetch(context.Background(), rs, func(r source.Range, data io.Reader) error {
			_, err := io.Copy(io.Discard, data)
			return err
		})
		if !errors.Is(err, netErr) {
			t.Errorf("inner failure: %v", err)
		}
	}
	// fn's errors come back as they are, and stop the Fetch.
	src, _ := NewSource(fs, cp.m, SourceOptions{BatchSize: 20000, Batches: 2})
	mine := errors.New("mine")
	calls := 0
	err := src.Fetch(context.Background(), rs, func(source.Range, io.Reader) error { calls++; return mine })
	if !errors.Is(err, mine) || calls != 1 {
		t.Errorf("fn error: %v after %d calls", err, calls)
	}
	// A cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	err = src.Fetch(ctx, rs, func(r source.Range, data io.Reader) error {
		cancel()
		_, err := io.Copy(io.Discard, data)
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestFallback(t *testing.T) {
	data := testData(8, 300000)
	cp := build(t, data, 1024, Options{})
	plain := &countingSource{inner: filesource.New(bytes.NewReader(data), int64(len(data)))}
	rs := []source.Range{{Off: 0, Len: 4096}, {Off: 100 * 1024, Len: 50 * 1024}, {Off: 290 * 1024, Len: 300000 - 290*1024}}

	// A good companion: nothing from the plain target.
	good, _ := NewSource(filesource.New(bytes.NewReader(cp.comp), int64(len(cp.comp))), cp.m, SourceOptions{})
	fb := Fallback(good, plain, func(err error) { t.Errorf("fell back: %v", err) })
	if err := fetchAll(t, fb, rs, data); err != nil || plain.bytes.Load() != 0 || fb.FellBack() {
		t.Fatalf("good companion: %v, %d plain bytes", err, plain.bytes.Load())
	}

	// A corrupt companion: the rest comes from the plain target, and so
	// does every later Fetch.
	comp := bytes.Clone(cp.comp)
	_, c := cp.m.Frame(1, int(100*1024/cp.m.RunSize(1)))
	comp[c.Off+c.Len/2] ^= 0xff
	_, c = cp.m.Frame(0, int(100*1024/cp.m.RunSize(0)))
	comp[c.Off+c.Len/2] ^= 0xff
	bad, _ := NewSource(filesource.New(bytes.NewReader(comp), int64(len(comp))), cp.m, SourceOptions{})
	var why error
	fb = Fallback(bad, plain, func(err error) { why = err })
	if err := fetchAll(t, fb, rs, data); err != nil {
		t.Fatalf("corrupt companion: %v", err)
	}
	if !errors.Is(why, source.ErrBadData) || !fb.FellBack() {
		t.Fatalf("fell back for %v", why)
	}
	if n := plain.bytes.Load(); n != rs[1].Len+rs[2].Len {
		t.Errorf("%d bytes from the plain target, want %d", n, rs[1].Len+rs[2].Len)
	}
	plain.bytes.Store(0)
	if err := fetchAll(t, fb, rs[:1], data); err != nil || plain.bytes.Load() != rs[0].Len {
		t.Errorf("after the fallback: %v, %d plain bytes", err, plain.bytes.Load())
	}

	// A companion that goes away.
	netErr := errors.New("gave up")
	fb = Fallback(&failingSource{err: netErr}, plain, nil)
	if err := fetchAll(t, fb, rs, data); err != nil {
		t.Errorf("failing companion: %v", err)
	}

	// fn's own errors do not fall back.
	mine := errors.New("disk full")
	good, _ = NewSource(filesource.New(bytes.NewReader(cp.comp), int64(len(cp.comp))), cp.m, SourceOptions{})
	fb = Fallback(good, plain, func(err error) { t.Errorf("fell back: %v", err) })
	err := fb.Fetch(context.Background(), rs, func(r source.Range, data io.Reader) error {
		io.Copy(io.Discard, data)
		return mine
	})
	if !errors.Is(err, mine) || fb.FellBack() {
		t.Errorf("fn error: %v", err)
	}
}

func TestConcurrentFetches(t *testing.T) {
	data := testData(10, 500000)
	cp := build(t, data, 1024, Options{})
	src, _ := NewSource(&countingSource{inner: filesource.New(bytes.NewReader(cp.comp), int64(len(cp.comp))), shuffle: true}, cp.m, SourceOptions{BatchSize: 30000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 10 {
				if err := fetchAll(t, src, randomRanges(rng, int64(len(data)), 1024, g%2 == 0), data); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestCompressible(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	random := make([]byte, 4<<20)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	text := bytes.Repeat([]byte("a line of text that repeats, with a number 12345\n"), 4<<20/50)
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"random", random, false},
		{"text", text, true},
		{"empty", nil, true},
		{"small text", text[:1000], true},
	} {
		got, err := Compressible(context.Background(), bytes.NewReader(tc.data), int64(len(tc.data)))
		if err != nil || got != tc.want {
			t.Errorf("%s: Compressible = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
