package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []int64
		want int64
	}{
		{nil, -1}, {[]int64{5}, 5}, {[]int64{3, 1, 2}, 2}, {[]int64{4, 1, 3, 2}, 2}, {[]int64{7, -1}, -1},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestFmtInt(t *testing.T) {
	for n, want := range map[int64]string{-1: "—", 0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := fmtInt(n); got != want {
			t.Errorf("fmtInt(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"-zync", "/tmp/x/zync", "-corpus", "go", "-zync-version=abc", "-work", "/w", "-keep", "-latency", "0,50ms"})
	if want := "bash bench/run -corpus go -latency 0,50ms"; got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
}

func TestReportTable(t *testing.T) {
	r := &report{
		cfg:     config{corpora: []string{"x"}, rtts: []time.Duration{0, 50 * time.Millisecond}, runs: 3},
		corpora: []*corpusPair{{name: "x", size: 1000000}},
		results: map[rowKey][]measurement{},
	}
	add := func(tool, step string, rtt time.Duration, walls ...time.Duration) {
		for _, w := range walls {
			m := newMeasurement()
			m.wall, m.down, m.requests, m.verified = w, 1000, 3, "yes"
			r.add(rowKey{"x", tool, step, rtt}, m)
		}
	}
	add("zsync", "get", 0, time.Second, 3*time.Second, 2*time.Second)
	add("zync", "get", 0, time.Second, time.Second, time.Second)
	add("zync", "get", 50*time.Millisecond, time.Second)
	add("zsync", "get", 50*time.Millisecond, 4*time.Second)
	failed := newMeasurement()
	failed.err = "boom | bang"
	r.add(rowKey{"x", "casync", "extract", 0}, failed)

	table := r.tableMarkdown()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2+5 {
		t.Fatalf("table has %d lines:\n%s", len(lines), table)
	}
	// Rows: RTT 0 first, zync before zsync before casync (tool order).
	for i, want := range []string{"| x ", "| x ", "| x "} {
		if !strings.HasPrefix(lines[2+i], want) {
			t.Errorf("line %d = %q", 2+i, lines[2+i])
		}
	}
	if !strings.Contains(lines[2], "zync ") || !strings.Contains(lines[3], "zsync") || !strings.Contains(lines[3], "2.00") ||
		!strings.Contains(lines[4], `failed: boom \| bang`) || !strings.Contains(lines[5], "50ms") {
		t.Errorf("unexpected table:\n%s", table)
	}
	ratios := r.ratiosMarkdown()
	if !strings.Contains(ratios, "RTT 0**: zync get / zsync get wall time 0.50, bytes down 1.00, requests 1.00") ||
		!strings.Contains(ratios, "RTT 50ms**: zync get / zsync get wall time 0.25") {
		t.Errorf("ratios:\n%s", ratios)
	}
}

func TestWriteReportMarkers(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.md")
	if err := writeReport(plain, "table\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "table\n" {
		t.Fatalf("plain file = %q", b)
	}
	doc := filepath.Join(dir, "doc.md")
	os.WriteFile(doc, []byte("# Title\nprose\n"+markBegin+"\nold table\n"+markEnd+"\nmore prose\n"), 0o644)
	if err := writeReport(doc, "new table\n"); err != nil {
		t.Fatal(err)
	}
	want := "# Title\nprose\n" + markBegin + "\nnew table\n" + markEnd + "\nmore prose\n"
	if b, _ := os.ReadFile(doc); string(b) != want {
		t.Fatalf("doc = %q, want %q", b, want)
	}
}
