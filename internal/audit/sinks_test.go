package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestWriterAndWebhookSinks(t *testing.T) {
	var out syncBuf
	w := NewSink(NewWriter("stdout", &out), 100, nil, nil)
	var mu sync.Mutex
	var posted []map[string]any
	srv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var batch []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil || r.Header.Get("Content-Type") != "application/json" {
			rw.WriteHeader(400)
			return
		}
		mu.Lock()
		posted = append(posted, batch...)
		mu.Unlock()
	}))
	defer srv.Close()
	wh := NewWebhook(srv.URL, srv.Client().Transport.(*http.Transport).TLSClientConfig)
	h := NewSink(wh, 100, nil, nil)
	for i := range 20 {
		ev := []byte(`{"v":1,"request_id":"r` + strconv.Itoa(i) + `"}`)
		w.Offer(ev)
		h.Offer(ev)
	}
	w.Close()
	h.Close()
	if n := strings.Count(out.String(), "\n"); n != 20 {
		t.Fatalf("stdout got %d lines", n)
	}
	if len(posted) != 20 || w.Dropped() != 0 || h.Dropped() != 0 {
		t.Fatalf("webhook got %d events; dropped %d %d", len(posted), w.Dropped(), h.Dropped())
	}
	w.Offer([]byte(`{}`)) // after Close: counted, no panic
	if w.Dropped() != 1 {
		t.Fatalf("offer after close: dropped %d", w.Dropped())
	}
}

type stuck struct{ release chan struct{} }

func (s stuck) Name() string { return "stuck" }
func (s stuck) Send(ctx context.Context, _ [][]byte) error {
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type failing struct{}

func (failing) Name() string                         { return "failing" }
func (failing) Send(context.Context, [][]byte) error { return errors.New("down") }

// TestSlowSinkNeverBlocks: a sink that does not answer fills its queue and
// then drops (counted) without ever blocking the caller; one that keeps
// failing drops each batch after its retries.
func TestSlowSinkNeverBlocks(t *testing.T) {
	s := stuck{release: make(chan struct{})}
	k := NewSink(s, 10, nil, nil)
	done := make(chan struct{})
	go func() {
		for range 1000 {
			k.Offer([]byte(`{}`))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Offer blocked on a stuck sink")
	}
	if k.Dropped() < 900 {
		t.Fatalf("dropped %d of 1000 with a queue of 10", k.Dropped())
	}
	close(s.release)
	k.Close()

	clock := clockwork.NewFakeClock()
	f := NewSink(failing{}, 10, nil, clock)
	f.Offer([]byte(`{}`))
	for _, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		backgroundtest.Parked(t, clock, 1) // a failed try waits before the next
		if n := f.Dropped(); n != 0 {
			t.Fatalf("dropped before its fifth try: %d", n)
		}
		clock.Advance(wait)
	}
	f.Close() // waits for the fifth try
	if n := f.Dropped(); n != 1 {
		t.Fatalf("dropped %d batches after five failed tries, want 1", n)
	}
}

func TestSyslogSink(t *testing.T) {
	// TCP: octet-counted RFC 5424 messages.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 10)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r := bufio.NewReader(c)
		for {
			n, err := r.ReadString(' ')
			if err != nil {
				return
			}
			size, _ := strconv.Atoi(strings.TrimSpace(n))
			msg := make([]byte, size)
			if _, err := io.ReadFull(r, msg); err != nil {
				return
			}
			got <- string(msg)
		}
	}()
	s := NewSyslog("tcp", ln.Addr().String(), nil)
	if err := s.Send(context.Background(), [][]byte{[]byte(`{"v":1,"kind":"alert"}`), []byte(`{"v":1}`)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<132>1 ", "<134>1 "} { // local0.warning for alerts, local0.info otherwise
		select {
		case m := <-got:
			if !strings.HasPrefix(m, want) || !strings.Contains(m, " rampart - audit - {") {
				t.Fatalf("message %q, want prefix %q", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no syslog message")
		}
	}
	// UDP: one datagram per message.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	u := NewSyslog("udp", pc.LocalAddr().String(), nil)
	if err := u.Send(context.Background(), [][]byte{[]byte(`{"v":1}`)}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "<134>1 ") {
		t.Fatalf("udp: %q %v", buf[:n], err)
	}
}

// TestOpenSinks builds sinks from their config: what each is given reaches
// its destination once closed, and a bad entry names itself.
func TestOpenSinks(t *testing.T) {
	dir := t.TempDir()
	var out syncBuf
	watched := map[string]bool{}
	sinks, closeAll, err := OpenSinks([]config.AuditSink{{Type: "stdout", Queue: 10}, {Type: "file", Path: filepath.Join(dir, "audit.jsonl"), Queue: 10}},
		&out, nil, nil, func(name string, _ func() int64) { watched[name] = true })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sinks {
		s.Offer([]byte(`{"v":1,"request_id":"r1"}`))
	}
	closeAll()
	if !strings.Contains(out.String(), `"request_id":"r1"`) {
		t.Errorf("stdout sink wrote %q", out.String())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl")); err != nil || !strings.Contains(string(b), `"request_id":"r1"`) {
		t.Errorf("file sink wrote %q, %v", b, err)
	}
	if !watched["0-stdout"] || !watched["1-file"] {
		t.Errorf("drop counters watched: %v", watched)
	}
	for _, tc := range []struct {
		cfg  config.AuditSink
		want string
	}{
		{config.AuditSink{Type: "carrier-pigeon"}, `audit.sinks[1].type: "carrier-pigeon" is not`},
		{config.AuditSink{Type: "webhook", URL: "https://x.example", CAFile: filepath.Join(dir, "missing.pem")}, "audit.sinks[1].ca_file"},
		{config.AuditSink{Type: "file", Path: filepath.Join(dir, "no", "such", "dir", "a.jsonl")}, "audit.sinks[1].path"},
	} {
		if _, _, err := OpenSinks([]config.AuditSink{{Type: "stdout", Queue: 1}, tc.cfg}, io.Discard, nil, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
