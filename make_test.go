package zync

import "testing"

func TestDefaultBlocksize(t *testing.T) {
	tests := []struct {
		size int64
		want int
	}{
		{0, 2048},
		{99_999_999, 2048},
		{100_000_000, 4096},
		{16 << 30, 4096},      // 4 Mi blocks of 4 KiB: still zsyncmake's choice
		{16<<30 + 4096, 8192}, // one block more doubles it
		{100 << 30, 32768},
		{1 << 40, 32768}, // capped below 64 KiB
	}
	for _, tt := range tests {
		if got := DefaultBlocksize(tt.size); got != tt.want {
			t.Errorf("DefaultBlocksize(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}
