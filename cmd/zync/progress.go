package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	// mpb rather than schollz/progressbar: its EWMA speed and ETA are fed
	// only by the increments we time (EwmaIncrInt64), so an overall bar can
	// start at the bytes reused from seeds (SetCurrent) without that jump
	// inflating the rate; it renders on its own goroutine, so progress
	// events from many fetch goroutines never wait on the terminal; and it
	// prints log lines above the bar (Progress.Write). Maintained, no cgo.
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/zyncio/zync"
)

// Progress modes of --progress.
const (
	progressAuto = "auto" // a bar when stderr is a terminal, else nothing
	progressBar  = "bar"  // a bar on stderr even when it is not a terminal
	progressJSON = "json" // one JSON object per event on stdout
	progressNone = "none"
)

// reporter shows a Get's progress events. Event may be called from several
// goroutines at once.
type reporter interface {
	Event(zync.Event)
	// Log is where log lines go while the reporter runs (a bar keeps them
	// above itself).
	Log() io.Writer
	// Close ends the display: the bar is completed (ok) or left as it stood,
	// pending JSON progress is written.
	Close(ok bool)
}

// isTerminal reports whether w is a terminal. A variable for tests.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newReporter(mode string, stdout, stderr io.Writer) reporter {
	switch mode {
	case progressJSON:
		return newJSONReporter(stdout)
	case progressBar:
		return newBarReporter(stderr)
	case progressAuto:
		if isTerminal(stderr) {
			return newBarReporter(stderr)
		}
	}
	return nopReporter{stderr}
}

type nopReporter struct{ log io.Writer }

func (nopReporter) Event(zync.Event) {}
func (r nopReporter) Log() io.Writer { return r.log }
func (nopReporter) Close(bool)       {}

// streamed phases report bytes as they go; others are single messages.
func streamed(phase string) bool {
	return phase == "scan" || phase == "fetch" || phase == "verify"
}

// ---- JSON lines ----

// jsonEvent is one line of --progress json. See README, "Progress and
// machine-readable output".
type jsonEvent struct {
	Event   string `json:"event"`
	Path    string `json:"path,omitempty"`
	Bytes   int64  `json:"bytes"`
	Total   int64  `json:"total,omitempty"`
	Message string `json:"message,omitempty"`
	Time    string `json:"time"`
}

// jsonMinInterval throttles each stream of progress lines to ~10 a second.
const jsonMinInterval = 100 * time.Millisecond

type jsonStream struct {
	done    int64
	last    time.Time
	pending *jsonEvent // latest state not written yet
}

type jsonReporter struct {
	mu      sync.Mutex
	enc     *json.Encoder
	now     func() time.Time
	streams map[string]*jsonStream
	order   []string // stream keys in order of appearance
	phase   string   // phase of the previous event
}

func newJSONReporter(w io.Writer) *jsonReporter {
	return &jsonReporter{enc: json.NewEncoder(w), now: time.Now, streams: map[string]*jsonStream{}}
}

func (r *jsonReporter) Log() io.Writer { return nil } // logs stay on stderr

func (r *jsonReporter) write(e *jsonEvent) {
	_ = r.enc.Encode(e) // a closed stdout must not stop the download
}

// Event writes e as a line. Scan, fetch and verify events are streams
// (one per phase and path): "bytes" is the total so far, and a stream
// writes at most one line per 100 ms, plus its first line, the line that
// reaches its total, and its last state when another phase begins or the
// run ends. Other events are written at once.
func (r *jsonReporter) Event(e zync.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if e.Phase != r.phase {
		r.flush(e.Phase)
		r.phase = e.Phase
	}
	line := &jsonEvent{Event: e.Phase, Path: e.Path, Bytes: e.Bytes, Total: e.Total, Message: e.Message, Time: now.UTC().Format(time.RFC3339Nano)}
	if !streamed(e.Phase) {
		r.write(line)
		return
	}
	key := e.Phase + "\x00" + e.Path
	s := r.streams[key]
	first := s == nil
	if first {
		s = &jsonStream{}
		r.streams[key] = s
		r.order = append(r.order, key)
	}
	s.done += e.Bytes
	line.Bytes = s.done
	if first || now.Sub(s.last) >= jsonMinInterval || (e.Total > 0 && s.done >= e.Total) || e.Message != "" {
		s.last, s.pending = now, nil
		r.write(line)
		return
	}
	s.pending = line
}

// flush writes the pending state of the streams of other phases than keep.
func (r *jsonReporter) flush(keep string) {
	for _, k := range r.order {
		s := r.streams[k]
		if s.pending != nil && s.pending.Event != keep {
			r.write(s.pending)
			s.pending = nil
		}
	}
}

func (r *jsonReporter) Close(bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flush("")
}

// final writes v as the last line, after the pending progress.
func (r *jsonReporter) final(v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flush("")
	_ = r.enc.Encode(v)
}

// ---- bar ----

// barFlushInterval bounds how often byte counts are passed to the bar: a
// fetch reports every read.
const barFlushInterval = 50 * time.Millisecond

type barReporter struct {
	mu      sync.Mutex
	p       *mpb.Progress
	bar     *mpb.Bar
	key     string
	reused  int64 // from the plan event
	pending int64 // bytes not passed to the bar yet
	last    time.Time
	log     io.Writer // stderr
	closed  bool
}

// newBarReporter draws on w, a terminal or not: mpb would draw nothing on a
// non-terminal unless told to refresh.
func newBarReporter(w io.Writer) *barReporter {
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(100), mpb.WithRefreshRate(120*time.Millisecond), mpb.WithAutoRefresh())
	return &barReporter{p: p, log: w}
}

// Log returns a writer that prints above the bar while it runs.
func (r *barReporter) Log() io.Writer { return barLog{r} }

type barLog struct{ r *barReporter }

func (l barLog) Write(b []byte) (int, error) {
	if n, err := l.r.p.Write(b); err == nil {
		return n, nil
	}
	return l.r.log.Write(b) // after Close
}

func (r *barReporter) Event(e zync.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	now := time.Now()
	switch {
	case e.Phase == "plan":
		if e.Bytes > 0 {
			r.reused = e.Bytes
		}
	case e.Phase == "done":
		r.complete()
	case streamed(e.Phase):
		key := e.Phase
		if e.Phase == "scan" {
			key += "\x00" + e.Path
		}
		if key != r.key {
			r.start(e, key, now)
		}
		r.pending += e.Bytes
		if now.Sub(r.last) >= barFlushInterval {
			r.flush(now)
		}
	}
	// Warnings and retries reach the user through the logger, above the bar.
}

// start replaces the bar by one for e's phase: scanning a seed, fetching
// (the whole target: reused bytes count as done) or verifying.
func (r *barReporter) start(e zync.Event, key string, now time.Time) {
	if r.bar != nil {
		r.flush(now)
		r.bar.Abort(true) // one line at a time
	}
	label, total, current := e.Phase, e.Total, int64(0)
	switch e.Phase {
	case "scan":
		label = "scan " + filepath.Base(e.Path)
	case "fetch":
		if e.Total > 0 && r.reused > 0 {
			total, current = r.reused+e.Total, r.reused
		}
	}
	r.bar = r.p.New(total,
		mpb.BarStyle().Lbound("[").Rbound("]"),
		// Only the fetch bar, the whole target, stays when done.
		mpb.BarOptional(mpb.BarRemoveOnComplete(), e.Phase != "fetch"),
		mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-16.16s", label))),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1024(0), " % .1f / % .1f"),
			decor.EwmaSpeed(decor.SizeB1024(0), "  % .1f", 30),
			decor.Name("  ETA "),
			decor.EwmaETA(decor.ET_STYLE_GO, 30),
		),
	)
	if current > 0 {
		r.bar.SetCurrent(current) // not a transfer: the rate ignores it
	}
	r.key, r.pending, r.last = key, 0, now
}

func (r *barReporter) flush(now time.Time) {
	if r.bar != nil && r.pending > 0 {
		r.bar.EwmaIncrInt64(r.pending, now.Sub(r.last))
	}
	r.pending, r.last = 0, now
}

func (r *barReporter) complete() {
	if r.bar != nil {
		r.flush(time.Now())
		r.bar.SetTotal(-1, true)
		r.bar = nil
		r.key = ""
	}
}

func (r *barReporter) Close(ok bool) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	if ok {
		r.complete()
	} else if r.bar != nil {
		r.flush(time.Now())
		r.bar.Abort(false) // leave it as it stood
	}
	r.mu.Unlock()
	r.p.Wait()
}
