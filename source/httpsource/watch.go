package httpsource

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// watch aborts one request when it makes no progress for a while: no
// response headers, or no body bytes while the body is being read. Time
// spent outside Read (the callback writing what it got) is not counted, so
// a slow consumer is not a stall; a slow trickle of bytes is not one either.
type watch struct {
	after  time.Duration // 0: never
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	fired bool
}

// errStallCause is the cancellation cause a watch's timer sets.
var errStallCause = errors.New("httpsource: stall timer fired")

func newWatch(parent context.Context, after time.Duration) *watch {
	w := &watch{after: after}
	w.ctx, w.cancel = context.WithCancelCause(parent)
	if after > 0 {
		w.timer = time.AfterFunc(after, w.fire)
	}
	return w
}

func (w *watch) fire() {
	w.mu.Lock()
	w.fired = true
	w.mu.Unlock()
	w.cancel(errStallCause)
}

// start (re)arms the timer: the caller is about to wait for data.
func (w *watch) start() {
	if w.timer != nil {
		w.timer.Reset(w.after)
	}
}

// pause stops the timer: data arrived.
func (w *watch) pause() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// stalled reports whether the timer aborted the request.
func (w *watch) stalled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired && context.Cause(w.ctx) == errStallCause
}

// done releases the request's context and timer.
func (w *watch) done() {
	w.pause()
	w.cancel(nil)
}

// watchedBody is a response body under a watch. It counts the bytes read
// and remembers the first transport error (anything but io.EOF), so that a
// garbled answer can be told from a broken connection.
type watchedBody struct {
	rc io.ReadCloser
	w  *watch

	n       int64
	err     error // first read error other than io.EOF
	waiting bool  // the timer runs for a Read that got no bytes yet
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if !b.waiting {
		b.w.start()
		b.waiting = true
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if n > 0 || err != nil {
		b.w.pause()
		b.waiting = false
	}
	if err != nil && err != io.EOF {
		if b.w.stalled() {
			err = &stallError{after: b.w.after}
		}
		if b.err == nil {
			b.err = err
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.w.done()
	return err
}
