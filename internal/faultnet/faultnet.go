// Package faultnet is a TCP fault proxy for tests: it listens on a
// loopback port, forwards every connection to a target (a real PostgreSQL
// or Redis), and can be switched at run time to refuse connections, to
// swallow traffic without answering (a network partition: the "blackhole"
// that a firewall dropping packets makes), to add latency, or to reset
// connections. Tests point a client at Addr and break the network under it
// while it runs. It is imported by tests only.
//
// A proxy forwards chunks as they are read, in both directions; the mode in
// force when a chunk arrives decides its fate, so a switch applies at once
// to connections already open as well as to new ones.
package faultnet

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Mode is what the proxy does with connections and traffic.
type Mode int

const (
	// Pass forwards everything unchanged.
	Pass Mode = iota
	// Closed stops listening, so new connections are refused (ECONNREFUSED,
	// as from a stopped server), and closes the open ones (FIN).
	Closed
	// Blackhole accepts new connections but never connects them to the
	// target, and silences the open ones: whatever either side sends is
	// read and discarded, and nothing is ever answered. A silenced
	// connection has lost bytes, so it is closed when the blackhole ends
	// (as a middlebox that dropped its state would); new connections then
	// work again.
	Blackhole
	// Slow forwards everything, each chunk in each direction after the
	// delay given to SetSlow (so a request and its answer cost twice it).
	Slow
	// Reset resets the open connections (RST, through SetLinger(0)) and
	// every new one as soon as it is accepted.
	Reset
)

var modeNames = [...]string{"pass", "closed", "blackhole", "slow", "reset"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string // fixed for the proxy's life, across Closed periods

	mu       sync.Mutex // guards the fields below
	mode     Mode
	delay    time.Duration
	ln       net.Listener // nil while Closed
	links    map[*link]struct{}
	accepted int
	stopped  bool

	wg sync.WaitGroup // accept loops and pumps
}

// link is one proxied connection: client is the accepted side, server the
// one to the target (nil while silenced from the start).
type link struct {
	client, server net.Conn
	// silenced is set when a blackhole swallowed the link: it never
	// forwards again and is closed when the blackhole ends.
	silenced bool
	done     chan struct{} // closed once, by close
	once     sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		if l.server != nil {
			_ = l.server.Close()
		}
	})
}

// reset closes the link's client side with an RST.
func (l *link) reset() {
	if tc, ok := l.client.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	l.close()
}

// Start listens on a free loopback port and forwards to target (host:port)
// in mode Pass.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultnet: listening: %w", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept(ln)
	return p, nil
}

// New is Start for a test: it fails tb if the proxy cannot start and closes
// the proxy when tb ends.
func New(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := Start(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr is the proxy's address (127.0.0.1:port), the same in every mode.
func (p *Proxy) Addr() string { return p.addr }

// Mode returns the mode in force.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// SetSlow switches to Slow with the given delay per chunk.
func (p *Proxy) SetSlow(delay time.Duration) error {
	if delay <= 0 {
		return errors.New("faultnet: a slow proxy needs a positive delay")
	}
	p.mu.Lock()
	p.delay = delay
	p.mu.Unlock()
	return p.Set(Slow)
}

// Set switches the proxy to m. Leaving Closed listens on the same address
// again, which fails only if another process took the port meanwhile.
func (p *Proxy) Set(m Mode) error {
	if m < Pass || m > Reset {
		return fmt.Errorf("faultnet: unknown mode %d", int(m))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("faultnet: the proxy is closed")
	}
	if m == Slow && p.delay <= 0 {
		return errors.New("faultnet: use SetSlow to give the delay")
	}
	old := p.mode
	p.mode = m
	switch m {
	case Closed:
		if p.ln != nil {
			_ = p.ln.Close()
			p.ln = nil
		}
		p.closeLinksLocked(func(*link) bool { return true }, (*link).close)
	case Reset:
		p.closeLinksLocked(func(*link) bool { return true }, (*link).reset)
	case Blackhole:
		for l := range p.links {
			l.silenced = true
		}
	}
	if old == Blackhole && m != Blackhole {
		p.closeLinksLocked(func(l *link) bool { return l.silenced }, (*link).close)
	}
	if m != Closed && p.ln == nil {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.mode = Closed
			return fmt.Errorf("faultnet: listening on %s again: %w", p.addr, err)
		}
		p.ln = ln
		p.wg.Add(1)
		go p.accept(ln)
	}
	return nil
}

func (p *Proxy) closeLinksLocked(which func(*link) bool, end func(*link)) {
	for l := range p.links {
		if which(l) {
			end(l)
			delete(p.links, l)
		}
	}
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.closeLinksLocked(func(*link) bool { return true }, (*link).close)
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed: by Set(Closed) or Close
		}
		p.mu.Lock()
		p.accepted++
		mode, stopped := p.mode, p.stopped
		p.mu.Unlock()
		switch {
		case stopped || mode == Closed: // raced with the switch
			_ = c.Close()
			continue
		case mode == Reset:
			(&link{client: c, done: make(chan struct{})}).reset()
			continue
		}
		l := &link{client: c, done: make(chan struct{})}
		if mode != Blackhole {
			// The dial happens here rather than in a goroutine so that a
			// refused target is seen by the client as a closed
			// connection at once.
			s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				_ = c.Close()
				continue
			}
			l.server = s
		}
		p.mu.Lock()
		if p.stopped || p.mode == Closed || p.mode == Reset {
			// The mode changed during the dial.
			p.mu.Unlock()
			l.reset()
			continue
		}
		l.silenced = p.mode == Blackhole
		p.links[l] = struct{}{}
		p.wg.Add(1)
		go p.pump(l, l.client, l.server)
		if l.server != nil {
			p.wg.Add(1)
			go p.pump(l, l.server, l.client)
		}
		p.mu.Unlock()
	}
}

// pump copies src to dst (nil: discard) chunk by chunk, as the mode in
// force for each chunk says, until either side ends; then it closes the
// link.
func (p *Proxy) pump(l *link, src, dst net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
		l.close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(l, dst, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward delivers one chunk to dst as the mode says: at once, after the
// slow delay, or not at all. It reports false when the link is done.
func (p *Proxy) forward(l *link, dst net.Conn, chunk []byte) bool {
	p.mu.Lock()
	silenced, mode, delay := l.silenced, p.mode, p.delay
	p.mu.Unlock()
	if mode == Slow && !silenced {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			return false
		}
		p.mu.Lock()
		silenced = l.silenced // a blackhole may have begun meanwhile
		p.mu.Unlock()
	}
	if silenced || dst == nil {
		return true // swallowed
	}
	_, err := dst.Write(chunk)
	return err == nil
}
