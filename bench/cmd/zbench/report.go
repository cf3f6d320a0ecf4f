package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

type report struct {
	cfg     config
	machine []string // lines of the machine description
	corpora []*corpusPair
	keys    []rowKey // in the order first measured
	results map[rowKey][]measurement

	loadMin, loadMax float64 // 1-minute load average seen before the steps
	loadSeen         bool
}

// sampleLoad notes the 1-minute load average: the machine may be shared.
func (r *report) sampleLoad() {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return
	}
	l, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return
	}
	if !r.loadSeen || l < r.loadMin {
		r.loadMin = l
	}
	if !r.loadSeen || l > r.loadMax {
		r.loadMax = l
	}
	r.loadSeen = true
}

func (r *report) add(k rowKey, m measurement) {
	if _, ok := r.results[k]; !ok {
		r.keys = append(r.keys, k)
	}
	r.results[k] = append(r.results[k], m)
}

// row is the median of a step's measurements.
type row struct {
	rowKey
	n        int
	wall     time.Duration
	cpu      time.Duration
	rssKiB   int64
	down, up int64
	requests int64
	verified string
	err      string
}

// median of xs (the mean of the two middle values for an even count); -1
// when any value is -1 (not applicable).
func median(xs []int64) int64 {
	if len(xs) == 0 {
		return -1
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if s[0] < 0 {
		return -1
	}
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (r *report) row(k rowKey) row {
	ms := r.results[k]
	out := row{rowKey: k, n: len(ms)}
	var wall, cpu, rss, down, up, req []int64
	verified := ""
	for _, m := range ms {
		if m.err != "" && out.err == "" {
			out.err = m.err
		}
		wall = append(wall, int64(m.wall))
		cpu = append(cpu, int64(m.cpu))
		rss = append(rss, m.rssKiB)
		down = append(down, m.down)
		up = append(up, m.up)
		req = append(req, int64(m.requests))
		switch {
		case m.verified == "NO" || verified == "NO":
			verified = "NO"
		case m.verified == "yes":
			verified = "yes"
		}
	}
	out.wall = time.Duration(median(wall))
	out.cpu = time.Duration(median(cpu))
	out.rssKiB, out.down, out.up, out.requests = median(rss), median(down), median(up), median(req)
	out.verified = verified
	return out
}

// sortedKeys orders rows by corpus (as selected), tool (as in allTools),
// step (as measured) and RTT.
func (r *report) sortedKeys() []rowKey {
	keys := slices.Clone(r.keys)
	corpusIdx := func(c string) int { return slices.Index(r.cfg.corpora, c) }
	toolIdx := func(t string) int { return slices.Index(allTools, t) }
	first := map[rowKey]int{}
	for i, k := range r.keys {
		first[k] = i
	}
	stepIdx := func(k rowKey) int {
		return first[rowKey{k.corpus, k.tool, k.step, r.firstRTT(k)}]
	}
	slices.SortStableFunc(keys, func(a, b rowKey) int {
		if d := corpusIdx(a.corpus) - corpusIdx(b.corpus); d != 0 {
			return d
		}
		if a.rtt != b.rtt {
			if a.rtt < b.rtt {
				return -1
			}
			return 1
		}
		if d := toolIdx(a.tool) - toolIdx(b.tool); d != 0 {
			return d
		}
		return stepIdx(a) - stepIdx(b)
	})
	return keys
}

func (r *report) firstRTT(k rowKey) time.Duration {
	for _, x := range r.keys {
		if x.corpus == k.corpus && x.tool == k.tool && x.step == k.step {
			return x.rtt
		}
	}
	return k.rtt
}

func (r *report) corpus(name string) *corpusPair {
	for _, c := range r.corpora {
		if c.name == name {
			return c
		}
	}
	return nil
}

var tableHeader = []string{"corpus", "RTT", "tool", "step", "wall s", "MB/s", "CPU s", "peak RSS MiB", "bytes down", "% of target", "bytes up", "HTTP requests", "verified"}

func (r *report) tableRows() [][]string {
	var rows [][]string
	for _, k := range r.sortedKeys() {
		x := r.row(k)
		c := r.corpus(k.corpus)
		rtt := "0"
		if k.rtt > 0 {
			rtt = k.rtt.String()
		}
		cells := []string{k.corpus, rtt, k.tool, k.step}
		if x.err != "" {
			msg := strings.ReplaceAll(x.err, "|", "\\|")
			msg = strings.Join(strings.Fields(msg), " ")
			if len(msg) > 160 {
				msg = msg[:160] + "…"
			}
			cells = append(cells, "failed: "+msg, "", "", "", "", "", "", "", "NO")
			rows = append(rows, cells)
			continue
		}
		mbps := float64(c.size) / 1e6 / x.wall.Seconds()
		pct := "—"
		if x.down >= 0 {
			pct = fmt.Sprintf("%.2f%%", 100*float64(x.down)/float64(c.size))
		}
		verified := x.verified
		if verified == "" {
			verified = "—"
		}
		cells = append(cells,
			fmt.Sprintf("%.2f", x.wall.Seconds()),
			fmt.Sprintf("%.1f", mbps),
			fmt.Sprintf("%.2f", x.cpu.Seconds()),
			fmt.Sprintf("%.1f", float64(x.rssKiB)/1024),
			fmtInt(x.down), pct, fmtInt(x.up), fmtInt(x.requests), verified)
		rows = append(rows, cells)
	}
	return rows
}

// fmtInt prints n with thousands separators, or "—" for -1.
func fmtInt(n int64) string {
	if n < 0 {
		return "—"
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// tableMarkdown renders the table with padded columns (readable as text
// too); numeric columns are right-aligned.
func (r *report) tableMarkdown() string {
	rows := r.tableRows()
	width := make([]int, len(tableHeader))
	for i, h := range tableHeader {
		width[i] = len([]rune(h))
	}
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	right := func(i int) bool { return i >= 4 && i < len(tableHeader)-1 }
	pad := func(s string, i int) string {
		n := width[i] - len([]rune(s))
		if right(i) {
			return strings.Repeat(" ", n) + s
		}
		return s + strings.Repeat(" ", n)
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			b.WriteString(" " + pad(c, i) + " |")
		}
		b.WriteString("\n")
	}
	line(tableHeader)
	b.WriteString("|")
	for i := range tableHeader {
		if right(i) {
			b.WriteString(strings.Repeat("-", width[i]+1) + ":|")
		} else {
			b.WriteString(strings.Repeat("-", width[i]+2) + "|")
		}
	}
	b.WriteString("\n")
	for _, row := range rows {
		line(row)
	}
	return b.String()
}

// ratiosMarkdown is one line per corpus and RTT: zync against zsync 0.6.2.
func (r *report) ratiosMarkdown() string {
	var b strings.Builder
	for _, c := range r.corpora {
		ratio := func(tool1, step1, tool2, step2 string, rtt time.Duration, f func(row) float64) string {
			k1, k2 := rowKey{c.name, tool1, step1, rtt}, rowKey{c.name, tool2, step2, rtt}
			if r.results[k1] == nil || r.results[k2] == nil {
				return "n/a"
			}
			x1, x2 := r.row(k1), r.row(k2)
			if x1.err != "" || x2.err != "" || f(x2) <= 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.2f", f(x1)/f(x2))
		}
		wall := func(x row) float64 { return x.wall.Seconds() }
		down := func(x row) float64 { return float64(x.down) }
		reqs := func(x row) float64 { return float64(x.requests) }
		for _, rtt := range r.cfg.rtts {
			rttS := "RTT 0"
			if rtt > 0 {
				rttS = "RTT " + rtt.String()
			}
			fmt.Fprintf(&b, "- **%s, %s**: zync get / zsync get wall time %s, bytes down %s, requests %s",
				c.name, rttS,
				ratio("zync", "get", "zsync", "get", rtt, wall),
				ratio("zync", "get", "zsync", "get", rtt, down),
				ratio("zync", "get", "zsync", "get", rtt, reqs))
			fmt.Fprintf(&b, "; zync get compressed / rsync -z bytes down %s", ratio("zync", "get compressed", "rsync", "daemon -z", rtt, down))
			if rtt == 0 {
				fmt.Fprintf(&b, "; zync make / zsyncmake wall time %s", ratio("zync", "make", "zsync", "make", 0, wall))
				if r.results[rowKey{c.name, "zync", "scan unrelated", 0}] != nil {
					// A speed-up: how many times faster zync scans.
					fmt.Fprintf(&b, "; scan of an unrelated seed, zsync / zync wall time %s", ratio("zsync", "scan unrelated", "zync", "scan unrelated", 0, wall))
				}
				fmt.Fprintf(&b, "; zync diff / xdelta3 -e patch size %s, wall time %s, CPU time %s", ratio("zync", "diff", "xdelta3", "encode", 0, down),
					ratio("zync", "diff", "xdelta3", "encode", 0, wall),
					ratio("zync", "diff", "xdelta3", "encode", 0, func(x row) float64 { return x.cpu.Seconds() }))
			} else {
				// The time the link adds to each tool's get: its wall time at
				// this RTT less its wall time at RTT 0. This isolates the
				// network from the local scan, which does not depend on the
				// link.
				added := func(tool string) (float64, bool) {
					k, k0 := rowKey{c.name, tool, "get", rtt}, rowKey{c.name, tool, "get", 0}
					if r.results[k] == nil || r.results[k0] == nil || r.row(k).err != "" || r.row(k0).err != "" {
						return 0, false
					}
					return (r.row(k).wall - r.row(k0).wall).Seconds(), true
				}
				if z, ok1 := added("zync"); ok1 {
					if s, ok2 := added("zsync"); ok2 && s > 0 {
						fmt.Fprintf(&b, "; time the link adds: zync %.2f s, zsync %.2f s (ratio %.2f)", z, s, z/s)
					}
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// Markers of the generated part of a hand-written document.
const (
	markBegin = "<!-- zbench:begin -->"
	markEnd   = "<!-- zbench:end -->"
)

// writeReport writes md to path; if path exists and holds the markers, md
// replaces only the text between them.
func writeReport(path, md string) error {
	old, err := os.ReadFile(path)
	if err == nil {
		doc := string(old)
		i := strings.Index(doc, markBegin+"\n")
		j := strings.Index(doc, markEnd)
		if i >= 0 && j > i {
			md = doc[:i+len(markBegin)+1] + md + doc[j:]
		}
	}
	return os.WriteFile(path, []byte(md), 0o644)
}

// markdown is the whole report written to -out.
func (r *report) markdown(args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- generated by zbench on %s -->\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Command: `%s` (%d run(s) per step, medians).\n\n", commandLine(args), r.cfg.runs)
	b.WriteString("Machine:\n\n")
	for _, l := range r.machine {
		b.WriteString("- " + l + "\n")
	}
	if r.loadSeen {
		fmt.Fprintf(&b, "- 1-minute load average before the steps: %.2f to %.2f (other work on the machine shows here)\n", r.loadMin, r.loadMax)
	}
	b.WriteString("\nCorpora (seed → target):\n\n")
	for _, c := range r.corpora {
		fmt.Fprintf(&b, "- **%s**: %s; seed %s bytes, target %s bytes\n", c.name, c.desc, fmtInt(c.seedSize), fmtInt(c.size))
	}
	b.WriteString("\n" + r.tableMarkdown() + "\n")
	b.WriteString("Ratios (zync / zsync 0.6.2, below 1 means zync is faster or sends less):\n\n")
	b.WriteString(r.ratiosMarkdown())
	return b.String()
}

// commandLine is the bench/run command that regenerates the report: the
// arguments without the ones bench/run adds or that name local paths of
// this run (-zync, -zync-version, -work, -keep).
func commandLine(args []string) string {
	out := []string{"bash", "bench/run"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "zync", "zync-version", "work":
			if !hasValue {
				i++
			}
			continue
		case "keep":
			continue
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// describeMachine collects the CPU model, cores, memory, disk, kernel and
// the versions of Go and of every tool.
func describeMachine(ctx context.Context, zyncBin, zyncVer string) []string {
	var lines []string
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	lines = append(lines, fmt.Sprintf("CPU: %s, %d logical CPUs (runtime.NumCPU)", cpu, runtime.NumCPU()))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				f := strings.Fields(l)
				if len(f) >= 2 {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					lines = append(lines, fmt.Sprintf("memory: %.1f GiB", float64(kb)/(1<<20)))
				}
			}
		}
	}
	if out := firstLine(ctx, "sh", "-c", "df -hT / | tail -n 1"); out != "" {
		f := strings.Fields(out)
		if len(f) >= 3 {
			lines = append(lines, fmt.Sprintf("disk: %s (%s, %s) holds the work directory and the corpus cache", f[0], f[1], f[2]))
		}
	}
	lines = append(lines, "kernel: "+firstLine(ctx, "uname", "-srm"))
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				lines = append(lines, "OS: "+strings.Trim(v, `"`))
			}
		}
	}
	lines = append(lines, "Go: "+firstLine(ctx, "go", "version"))
	var vers []string
	if zyncBin != "" {
		if zyncVer == "" {
			zyncVer = vcsStamp(ctx, zyncBin)
		}
		vers = append(vers, "zync "+orUnknown(zyncVer))
	}
	vers = append(vers,
		firstLine(ctx, "zsync", "-V"),
		firstLine(ctx, "rsync", "--version"),
		firstLine(ctx, "rdiff", "--version"),
		firstLine(ctx, "casync", "--version"),
		firstLine(ctx, "xdelta3", "-V"),
		firstLine(ctx, "curl", "--version"),
	)
	if bin, err := nginxBinary(); err == nil {
		vers = append(vers, firstLine(ctx, bin, "-v"))
	}
	var clean []string
	for _, v := range vers {
		v, _, _ = strings.Cut(v, ", Copyright") // xdelta3
		v, _, _ = strings.Cut(v, " (x86_64")    // curl's build line
		if v = strings.Join(strings.Fields(v), " "); v != "" {
			clean = append(clean, v)
		}
	}
	lines = append(lines, "tools: "+strings.Join(clean, "; "))
	return lines
}

// vcsStamp returns the commit (and "+dirty") that `go version -m` finds
// in a Go binary's build information.
func vcsStamp(ctx context.Context, bin string) string {
	out, _ := exec.CommandContext(ctx, "go", "version", "-m", bin).Output()
	rev, dirty := "", ""
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "build" {
			switch k, v, _ := strings.Cut(f[1], "="); k {
			case "vcs.revision":
				rev = v
			case "vcs.modified":
				if v == "true" {
					dirty = "+dirty"
				}
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return ""
	}
	return "commit " + rev + dirty
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// firstLine runs a command and returns the first line of its combined output.
func firstLine(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
