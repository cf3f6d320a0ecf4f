package zpack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/zyncio/zync/source"
	"github.com/zyncio/zync/source/filesource"
)

func fuzzSeedMaps(f *testing.F) [][]byte {
	var out [][]byte
	for i, n := range []int{0, 1, 5000, 70000} {
		var buf bytes.Buffer
		res, err := Write(context.Background(), bytes.NewReader(testData(uint64(i), n)), int64(n), 64, &buf, Options{Tiers: []int{1, 4, 32}})
		if err != nil {
			f.Fatal(err)
		}
		mb, err := res.Map.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, mb)
	}
	return out
}

// FuzzParseMap feeds ParseMap arbitrary map sections: it must not panic,
// and a map it accepts must survive MarshalBinary and ParseMap unchanged.
func FuzzParseMap(f *testing.F) {
	for _, mb := range fuzzSeedMaps(f) {
		f.Add(mb)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMap(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrFormat nor ErrUnsupported: %v", err)
			}
			return
		}
		checkRoundTrip(t, m)
	})
}

// FuzzMapBody feeds the body parser (what the map's zstd frame holds)
// directly, where arbitrary input reaches every check.
func FuzzMapBody(f *testing.F) {
	for _, mb := range fuzzSeedMaps(f) {
		body, err := mapDecoder().DecodeAll(mb[len(mapMagic)+1:], nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add(body(100, 2, 10, 50, 0, 5, 5, 5, 5, 5, 9, 5, 5, 5, 5, 5, 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseBody(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		checkRoundTrip(t, m)
		// Every frame lies inside the frames region, in layout order.
		var end int64
		for k := range numRuns(m.length, m.tiers[len(m.tiers)-1].runSize) {
			m.layoutRun(k, func(tr int, i int64) {
				_, c := m.Frame(tr, int(i))
				if c.Off != end || c.Len < 1 {
					t.Fatalf("tier %d frame %d at %s, expected at %d", tr, i, c, end)
				}
				end = c.End()
			})
		}
		if end != m.FramesSize() {
			t.Fatalf("frames end at %d, FramesSize %d", end, m.FramesSize())
		}
	})
}

func checkRoundTrip(t *testing.T, m *Map) {
	t.Helper()
	mb, err := m.MarshalBinary()
	if err != nil {
		return // a valid map may be too large to write back: fine
	}
	m2, err := ParseMap(mb)
	if err != nil {
		t.Fatalf("a parsed map does not parse again: %v", err)
	}
	if !mapsEqual(m, m2) {
		t.Fatal("a parsed map changed on a round trip")
	}
}

// FuzzParseRef: no panic, and accepted values round-trip.
func FuzzParseRef(f *testing.F) {
	f.Add("url=a.zpack map=100+20 sha256=" + string(bytes.Repeat([]byte("ab"), 32)))
	f.Add("url=x map=1+9 sha256=00 extra=1")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := ParseRef(v)
		if err != nil {
			return
		}
		r2, err := ParseRef(r.String())
		if err != nil || r2 != r {
			t.Fatalf("%q: round trip gave %+v, %v", v, r2, err)
		}
	})
}

// FuzzDecode corrupts the frames of a companion and fetches ranges: every
// Fetch must either deliver exactly the target's bytes or fail with an error
// wrapping source.ErrBadData, and never panic.
func FuzzDecode(f *testing.F) {
	data := testData(11, 40000)
	d := testDictionary(f, testData(12, 1<<20))
	var buf bytes.Buffer
	res, err := Write(context.Background(), bytes.NewReader(data), int64(len(data)), 256, &buf, Options{Tiers: []int{1, 4, 32}, Dictionary: d, Level: 7})
	if err != nil {
		f.Fatal(err)
	}
	comp := buf.Bytes()
	m := res.Map
	f.Add(uint32(0), []byte{0xff}, uint64(1))
	f.Add(uint32(100), []byte{0, 0, 0, 0}, uint64(2))
	f.Add(uint32(5000), []byte("zstd"), uint64(3))
	f.Fuzz(func(t *testing.T, at uint32, patch []byte, seed uint64) {
		c := bytes.Clone(comp)
		off := int64(at) % m.FramesSize()
		copy(c[off:m.FramesSize()], patch)
		src, err := NewSource(filesource.New(bytes.NewReader(c), int64(len(c))), m, SourceOptions{BatchSize: int64(1000 + seed%50000)})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 0))
		rs := randomRanges(rng, int64(len(data)), 256, seed%2 == 0)
		err = src.Fetch(context.Background(), rs, func(r source.Range, rd io.Reader) error {
			got, err := io.ReadAll(rd)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, data[r.Off:r.End()]) {
				t.Fatalf("range %s: wrong bytes without an error", r)
			}
			return nil
		})
		if err != nil && !errors.Is(err, source.ErrBadData) {
			t.Fatalf("error does not wrap ErrBadData: %v", err)
		}
	})
}
