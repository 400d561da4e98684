package faultnet

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echo starts a TCP echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("dialing the proxy in mode %v: %v", p.Mode(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads as many bytes back within wait.
func roundTrip(c net.Conn, msg string, wait time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	n, err := io.ReadFull(c, buf)
	return string(buf[:n]), err
}

func mustEcho(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	got, err := roundTrip(c, msg, 2*time.Second)
	if err != nil || got != msg {
		t.Fatalf("echo of %q: got %q, %v", msg, got, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// wantClosed checks that c was closed by the proxy: end of stream, or a
// reset if the proxy's close raced with data in flight.
func wantClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: want the connection closed, got %v", what, err)
	}
}

func TestPass(t *testing.T) {
	p := New(t, echo(t))
	c := dial(t, p)
	mustEcho(t, c, "hello")
	mustEcho(t, c, "again")
	if p.Accepted() != 1 {
		t.Errorf("accepted %d, want 1", p.Accepted())
	}
}

func TestClosed(t *testing.T) {
	p := New(t, echo(t))
	old := dial(t, p)
	mustEcho(t, old, "before")
	if err := p.Set(Closed); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, old, "an open connection")
	_, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("new connection while closed: want ECONNREFUSED, got %v", err)
	}
	if err := p.Set(Pass); err != nil {
		t.Fatal(err)
	}
	mustEcho(t, dial(t, p), "after") // the same address again
}

func TestBlackhole(t *testing.T) {
	p := New(t, echo(t))
	old := dial(t, p)
	mustEcho(t, old, "before")
	if err := p.Set(Blackhole); err != nil {
		t.Fatal(err)
	}
	// An open connection goes silent: writes succeed, nothing comes back.
	if _, err := roundTrip(old, "lost", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("open connection in a blackhole: want a timeout, got %v", err)
	}
	// A new one is accepted, and is just as silent.
	c := dial(t, p)
	if _, err := roundTrip(c, "lost too", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("new connection in a blackhole: want a timeout, got %v", err)
	}
	if err := p.Set(Pass); err != nil {
		t.Fatal(err)
	}
	// The swallowed connections lost bytes: they end with the blackhole.
	wantClosed(t, old, "a silenced connection after the blackhole")
	wantClosed(t, c, "a connection made in the blackhole")
	mustEcho(t, dial(t, p), "after")
}

func TestSlow(t *testing.T) {
	p := New(t, echo(t))
	c := dial(t, p)
	mustEcho(t, c, "warm")
	const delay = 50 * time.Millisecond
	if err := p.SetSlow(delay); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mustEcho(t, c, "slow")
	if took := time.Since(start); took < 2*delay {
		t.Errorf("round trip took %v, want at least %v (the delay each way)", took, 2*delay)
	}
	if err := p.Set(Pass); err != nil {
		t.Fatal(err)
	}
	mustEcho(t, c, "fast again")
	if err := p.Set(Slow); err != nil { // the delay given before stays
		t.Fatal(err)
	}
	if err := (&Proxy{}).SetSlow(0); err == nil {
		t.Error("SetSlow(0): want an error")
	}
}

func TestReset(t *testing.T) {
	p := New(t, echo(t))
	old := dial(t, p)
	mustEcho(t, old, "before")
	if err := p.Set(Reset); err != nil {
		t.Fatal(err)
	}
	_ = old.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := old.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("open connection: want ECONNRESET, got %v", err)
	}
	// A new connection completes its handshake in the kernel, then is
	// reset: at once (the dial sees it) or on the first read.
	for range 3 {
		c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err = c.Read(make([]byte, 1))
			_ = c.Close()
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("new connection: want ECONNRESET, got %v", err)
		}
	}
	if err := p.Set(Pass); err != nil {
		t.Fatal(err)
	}
	mustEcho(t, dial(t, p), "after")
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	_ = ln.Close()
	p := New(t, target)
	wantClosed(t, dial(t, p), "a connection to a target that refuses")
}

func TestSetErrors(t *testing.T) {
	p := New(t, echo(t))
	if err := p.Set(Slow); err == nil {
		t.Error("Slow without a delay: want an error")
	}
	if err := p.Set(Mode(42)); err == nil {
		t.Error("unknown mode: want an error")
	}
	if got := Mode(42).String(); got != "Mode(42)" {
		t.Errorf("String: %q", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Set(Pass); err == nil {
		t.Error("Set after Close: want an error")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseEndsEverything: Close returns only once every goroutine of the
// proxy is done, whatever the connections were doing.
func TestCloseEndsEverything(t *testing.T) {
	p, err := Start(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	a := dial(t, p)
	mustEcho(t, a, "x")
	if err := p.SetSlow(time.Hour); err != nil {
		t.Fatal(err)
	}
	_, _ = a.Write([]byte("held for an hour"))
	if err := p.Set(Blackhole); err != nil {
		t.Fatal(err)
	}
	_ = dial(t, p)
	done := make(chan struct{})
	go func() { _ = p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	wantClosed(t, a, "after Close")
}
