package main

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// delayProxy is a TCP proxy on 127.0.0.1 that forwards every connection to
// one upstream address and models a link with a round-trip time RTT:
//
//   - Propagation: each byte read from one side is written to the other side
//     RTT/2 after it was read, in each direction, so a request and its
//     answer take one RTT more than on loopback. The proxy reads and queues
//     continuously, so data in flight does not wait for earlier data to be
//     delivered (a pipe, not a stop-and-wait link).
//   - Handshake: a real TCP connect takes one RTT before the client can send;
//     on loopback it returns at once. So bytes from the client are not
//     delivered before acceptTime + RTT + RTT/2: the first request of a new
//     connection costs two RTTs, as on a real link.
//   - End of stream (FIN) is delayed like data.
//
// Bandwidth is not limited and nothing is lost or reordered: the model is
// latency alone. With RTT 0 the proxy only counts bytes.
//
// The proxy counts the bytes it forwards in each direction over all its
// connections: down is server to client, up is client to server (TCP
// payload: HTTP headers and bodies, or the rsync protocol).
type delayProxy struct {
	ln       net.Listener
	upstream string
	rtt      time.Duration

	down, up atomic.Int64
	conns    atomic.Int64

	wg     sync.WaitGroup
	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
}

// startDelayProxy listens on a free port of 127.0.0.1 and forwards to
// upstream (host:port).
func startDelayProxy(upstream string, rtt time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, upstream: upstream, rtt: rtt, open: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr returns the proxy's host:port.
func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

// Counts returns the bytes forwarded so far (down: to clients, up: to the
// upstream) and the number of connections accepted.
func (p *delayProxy) Counts() (down, up, conns int64) {
	return p.down.Load(), p.up.Load(), p.conns.Load()
}

// Close stops accepting, closes every connection and waits for the
// forwarding goroutines.
func (p *delayProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *delayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.open[c] = struct{}{}
	return true
}

func (p *delayProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
	c.Close()
}

func (p *delayProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		accepted := time.Now()
		p.conns.Add(1)
		p.wg.Add(1)
		go p.handle(c.(*net.TCPConn), accepted)
	}
}

func (p *delayProxy) handle(client *net.TCPConn, accepted time.Time) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	server := u.(*net.TCPConn)
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	half := p.rtt / 2
	var handshake time.Time
	if p.rtt > 0 {
		handshake = accepted.Add(p.rtt)
	}
	var done sync.WaitGroup
	done.Add(2)
	// A direction that ends in an error (not a clean end of stream) ends
	// the other too.
	abort := func(clean bool) {
		if !clean {
			client.Close()
			server.Close()
		}
	}
	go func() { // client to server, after the modelled handshake
		defer done.Done()
		abort(pipeDelayed(server, client, half, handshake, &p.up))
	}()
	go func() {
		defer done.Done()
		abort(pipeDelayed(client, server, half, time.Time{}, &p.down))
	}()
	done.Wait()
}

type segment struct {
	data []byte // nil: end of stream
	due  time.Time
}

// pipeDelayed copies src to dst, writing each piece read delay after it was
// read and never before notBefore+delay; at src's end it half-closes dst
// (also delayed). count receives the bytes forwarded. It reports whether
// the stream ended cleanly (end of stream read and forwarded).
func pipeDelayed(dst, src *net.TCPConn, delay time.Duration, notBefore time.Time, count *atomic.Int64) (clean bool) {
	if delay <= 0 && notBefore.IsZero() {
		n, err := io.Copy(dst, src)
		count.Add(n)
		if err != nil {
			return false
		}
		return dst.CloseWrite() == nil
	}
	// A bounded queue: up to 2048 segments of at most 64 KiB in flight.
	q := make(chan segment, 2048)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			now := time.Now()
			if now.Before(notBefore) {
				now = notBefore
			}
			if n > 0 {
				q <- segment{data: buf[:n], due: now.Add(delay)}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					q <- segment{due: now.Add(delay)}
				}
				return
			}
		}
	}()
	broken, sawEOF := false, false
	for s := range q {
		if broken {
			continue // drain so the reader can finish
		}
		if d := time.Until(s.due); d > 0 {
			time.Sleep(d)
		}
		if s.data == nil {
			sawEOF = dst.CloseWrite() == nil
			continue
		}
		if _, err := dst.Write(s.data); err != nil {
			broken = true
			src.Close() // unblock the reader
			continue
		}
		count.Add(int64(len(s.data)))
	}
	return sawEOF && !broken
}
