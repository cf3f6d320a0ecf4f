package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every connection by echoing what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends msg and reads the echo, returning the time since start.
func roundTrip(t *testing.T, c net.Conn, msg []byte, start time.Time) time.Duration {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	return time.Since(start)
}

func TestDelayProxyDelays(t *testing.T) {
	const rtt = 100 * time.Millisecond
	const slack = 2 * time.Second // a loaded CI machine may be slow, never faster
	p, err := startDelayProxy(echoServer(t), rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The modelled handshake counts from the proxy's accept, which can
	// come before Dial returns, so the first exchange is timed from before
	// the dial.
	dialed := time.Now()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// First exchange: the modelled handshake (one RTT) plus one RTT.
	if d := roundTrip(t, c, []byte("ping"), dialed); d < 2*rtt || d > 2*rtt+slack {
		t.Errorf("first round trip took %v, want about %v", d, 2*rtt)
	}
	// Later exchanges: one RTT, whatever the size.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, msg := range [][]byte{[]byte("pong"), big} {
		if d := roundTrip(t, c, msg, time.Now()); d < rtt || d > rtt+slack {
			t.Errorf("round trip of %d bytes took %v, want about %v", len(msg), d, rtt)
		}
	}
	// Pipelining: two messages sent 30 ms apart come back about 30 ms
	// apart; a proxy that waited RTT/2 before each write instead of
	// delaying each piece from when it was read would space them a whole
	// RTT apart.
	start := time.Now()
	c.Write([]byte("a"))
	time.Sleep(30 * time.Millisecond)
	c.Write([]byte("b"))
	buf := make([]byte, 1)
	io.ReadFull(c, buf)
	first := time.Since(start)
	io.ReadFull(c, buf)
	second := time.Since(start)
	if gap := second - first; gap >= rtt*9/10 {
		t.Errorf("pipelined answers %v apart, want about 30ms", gap)
	}
	c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		down, up, conns := p.Counts()
		want := int64(4 + 4 + len(big) + 2)
		if down == want && up == want && conns == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts down %d up %d conns %d, want %d, %d, 1", down, up, conns, want, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDelayProxyZeroRTT(t *testing.T) {
	p, err := startDelayProxy(echoServer(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, []byte("ping"), time.Now()); d > time.Second {
		t.Errorf("round trip without delay took %v", d)
	}
	c.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// A client that half-closes gets the rest of the answer and an end of
// stream, delayed.
func TestDelayProxyHalfClose(t *testing.T) {
	const rtt = 40 * time.Millisecond
	p, err := startDelayProxy(echoServer(t), rtt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("last words"))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last words" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}
