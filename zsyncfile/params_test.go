package zsyncfile

import "testing"

func TestParams(t *testing.T) {
	// docs/zsync-format.md §4.3: every boundary of the Hash-Lengths table
	// (both sides), the other verified points, and L = 0.
	tests := []struct {
		length           int64
		blocksize        int // 0: DefaultBlocksize(length)
		seq, weak, stron int
	}{
		{0, 0, 1, 2, 3},
		{1, 0, 1, 2, 3},
		{16, 0, 1, 2, 3},
		{17, 0, 1, 2, 4},
		{2048, 0, 1, 2, 4},
		{2049, 0, 2, 2, 3},
		{34815, 0, 2, 2, 3},
		{34816, 0, 2, 2, 4},
		{8988671, 0, 2, 2, 4},
		{8988672, 0, 2, 2, 5},
		{99999999, 0, 2, 2, 5},
		{100000000, 0, 2, 2, 5},
		{406872067, 0, 2, 2, 5},
		{406872068, 0, 2, 3, 5},
		{4603228159, 0, 2, 3, 5},
		{4603228160, 0, 2, 3, 6},
		{1178427383807, 0, 2, 3, 6},
		// "5 MiB+1 byte of zeros gives 4096 and 2,3,6" in the notes is the
		// 5 GiB+1 run (4096 is the default only from 100,000,000 bytes).
		{5<<30 + 1, 4096, 2, 3, 6},
		{32 << 20, 65536, 2, 3, 4},
		{1 << 20, 1 << 20, 1, 4, 6},
		{5500, 2048, 2, 2, 3}, // the worked example, §12
	}
	for _, tt := range tests {
		bs := tt.blocksize
		if bs == 0 {
			bs = DefaultBlocksize(tt.length)
		}
		seq, weak, strong := Params(tt.length, bs)
		if seq != tt.seq || weak != tt.weak || strong != tt.stron {
			t.Errorf("Params(%d, %d) = %d,%d,%d, want %d,%d,%d", tt.length, bs, seq, weak, strong, tt.seq, tt.weak, tt.stron)
		}
	}
}

func TestParamsOddInputs(t *testing.T) {
	if s, w, c := Params(-1, 2048); s != 1 || w != 2 || c != 3 {
		t.Errorf("Params(-1) = %d,%d,%d, want 1,2,3", s, w, c)
	}
	if s, w, c := Params(5500, 0); s != 2 || w != 2 || c != 3 {
		t.Errorf("Params(5500, 0) = %d,%d,%d, want 2,2,3", s, w, c)
	}
	// The largest lengths stay within the format's bounds.
	for _, l := range []int64{1 << 40, 1 << 50, 1<<63 - 1} {
		s, w, c := Params(l, 4096)
		if s != 2 || w < 2 || w > 4 || c < 3 || c > 16 {
			t.Errorf("Params(%d, 4096) = %d,%d,%d", l, s, w, c)
		}
	}
}

func TestDefaultBlocksize(t *testing.T) {
	tests := []struct {
		size int64
		want int
	}{{0, 2048}, {99_999_999, 2048}, {100_000_000, 4096}, {1 << 40, 4096}}
	for _, tt := range tests {
		if got := DefaultBlocksize(tt.size); got != tt.want {
			t.Errorf("DefaultBlocksize(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}
