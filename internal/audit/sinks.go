package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/trust"
)

// Sender delivers a batch of events somewhere else than the local log.
type Sender interface {
	// Name says which sink it is, in logs and metrics.
	Name() string
	// Send delivers a batch (each event a JSON object) or fails.
	Send(ctx context.Context, batch [][]byte) error
}

// Sink copies events to a Sender in the background: a bounded queue, a
// goroutine that sends batches with retries and backoff. A slow or broken
// sink never blocks requests: when its queue is full, events are dropped
// for it and counted (the local log never drops).
type Sink struct {
	s       Sender
	q       chan []byte
	dropped atomic.Int64
	log     *slog.Logger
	clock   background.Clock
	done    chan struct{}
	mu      sync.RWMutex // guards closed against Offer racing Close
	closed  bool
}

// NewSink starts a sink with a queue of size events, whose retries wait
// on clock (the system clock when nil).
func NewSink(s Sender, size int, log *slog.Logger, clock background.Clock) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = background.System()
	}
	k := &Sink{s: s, q: make(chan []byte, size), log: log, clock: clock, done: make(chan struct{})}
	go k.run()
	return k
}

// Offer queues an event, or counts it dropped when the queue is full.
func (k *Sink) Offer(ev []byte) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		k.dropped.Add(1)
		return
	}
	select {
	case k.q <- ev:
	default:
		if k.dropped.Add(1) == 1 {
			k.log.Warn("audit: a sink cannot keep up; its events are dropped and counted (the local log keeps them all)", "sink", k.s.Name())
		}
	}
}

// Dropped returns how many events the sink dropped.
func (k *Sink) Dropped() int64 { return k.dropped.Load() }

// Close sends what is queued (one try each) and stops.
func (k *Sink) Close() {
	k.mu.Lock()
	if !k.closed {
		k.closed = true
		close(k.q)
	}
	k.mu.Unlock()
	<-k.done
}

func (k *Sink) run() {
	defer close(k.done)
	var batch [][]byte
	for ev := range k.q {
		batch = append(batch[:0], ev)
	drain:
		for len(batch) < 256 {
			select {
			case ev, ok := <-k.q:
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		k.sendWithRetry(batch)
	}
}

// sendWithRetry tries a batch up to five times with doubling waits (0.1s
// to 1.6s); then it is dropped and counted.
func (k *Sink) sendWithRetry(batch [][]byte) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := k.s.Send(ctx, batch)
		cancel()
		if err == nil {
			return
		}
		if attempt == 5 {
			k.dropped.Add(int64(len(batch)))
			k.log.Error("audit: a sink failed; the batch is dropped for it (the local log keeps it)", "sink", k.s.Name(), "events", len(batch), "error", err)
			return
		}
		k.clock.Sleep(wait)
		wait *= 2
	}
}

// Writer is a sink that writes JSON lines to w (stdout, or a file).
type Writer struct {
	name string
	w    io.Writer
}

// NewWriter returns a JSON-lines sink on w.
func NewWriter(name string, w io.Writer) *Writer { return &Writer{name: name, w: w} }

// OpenFile returns a JSON-lines sink appending to path.
func OpenFile(path string) (*Writer, io.Closer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600) // #nosec G304 -- the operator's config
	if err != nil {
		return nil, nil, fmt.Errorf("audit sink %s: %w", path, err)
	}
	return &Writer{name: "file " + path, w: f}, f, nil
}

// Name says where it writes.
func (w *Writer) Name() string { return w.name }

// Send writes the batch, one event per line.
func (w *Writer) Send(_ context.Context, batch [][]byte) error {
	var b bytes.Buffer
	for _, ev := range batch {
		b.Write(ev)
		b.WriteByte('\n')
	}
	_, err := w.w.Write(b.Bytes())
	return err
}

// Webhook posts batches as a JSON array to an HTTPS URL.
type Webhook struct {
	url    string
	client *http.Client
}

// NewWebhook returns a webhook sink; tlsConf verifies the server (nil:
// the system roots).
func NewWebhook(url string, tlsConf *tls.Config) *Webhook {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConf != nil {
		t.TLSClientConfig = tlsConf
	}
	return &Webhook{url: url, client: &http.Client{Transport: t, Timeout: 10 * time.Second}}
}

// Name says where it posts (without the URL's credentials or query).
func (h *Webhook) Name() string { return "webhook" }

// Send posts the batch; any status but 2xx is a failure to retry.
func (h *Webhook) Send(ctx context.Context, batch [][]byte) error {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, ev := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(ev)
	}
	b.WriteByte(']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, &b)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("posting: %w", err) // *url.Error: no body of ours in it
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %d", resp.StatusCode)
	}
	return nil
}

// Syslog sends RFC 5424 messages over UDP, TCP or TCP with TLS (octet
// counting framing, RFC 6587), facility local0, severity info (alerts:
// warning).
type Syslog struct {
	network, addr string
	tls           *tls.Config
	host          string

	mu   sync.Mutex
	conn net.Conn
	w    *bufio.Writer
}

// NewSyslog returns a syslog sink; network is "udp", "tcp" or "tls".
func NewSyslog(network, addr string, tlsConf *tls.Config) *Syslog {
	host, _ := os.Hostname()
	if host == "" {
		host = "-"
	}
	return &Syslog{network: network, addr: addr, tls: tlsConf, host: host}
}

// Name says where it sends.
func (s *Syslog) Name() string { return "syslog " + s.network + " " + s.addr }

// Send writes each event as one syslog message, reconnecting on failure.
func (s *Syslog) Send(ctx context.Context, batch [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		var c net.Conn
		var err error
		switch s.network {
		case "tls":
			c, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
		default:
			c, err = d.DialContext(ctx, s.network, s.addr)
		}
		if err != nil {
			return err
		}
		s.conn, s.w = c, bufio.NewWriter(c)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.conn.SetWriteDeadline(dl)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, ev := range batch {
		sev := 6 // info
		if bytes.Contains(ev, []byte(`"kind":"alert"`)) {
			sev = 4 // warning
		}
		msg := "<" + strconv.Itoa(16*8+sev) + ">1 " + now + " " + s.host + " rampart - audit - " + string(ev)
		var err error
		if s.network == "udp" {
			_, err = s.w.WriteString(msg)
			if err == nil {
				err = s.w.Flush() // one datagram per message
			}
		} else {
			_, err = s.w.WriteString(strconv.Itoa(len(msg)) + " " + msg)
		}
		if err != nil {
			_ = s.conn.Close()
			s.conn = nil
			return err
		}
	}
	if err := s.w.Flush(); err != nil {
		_ = s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}

// OpenSinks starts the sinks of audit.sinks: stdout writes to stdout, file
// appends to its path, syslog and webhook deliver to their address (with
// ca_file's roots for TLS), each behind its own queue. watchDrops, if not
// nil, is given each sink's name ("INDEX-TYPE") and its drop counter.
// closeAll closes the sinks (each delivers what it holds first), then the
// files. On error, what was opened is closed again.
func OpenSinks(cfgs []config.AuditSink, stdout io.Writer, log *slog.Logger, clock background.Clock, watchDrops func(name string, dropped func() int64)) (sinks []*Sink, closeAll func(), err error) {
	var files []io.Closer
	closeAll = func() {
		for _, s := range sinks {
			s.Close()
		}
		for _, f := range files {
			_ = f.Close()
		}
	}
	for i, c := range cfgs {
		var s Sender
		var tc *tls.Config
		if c.CAFile != "" {
			pool, err := trust.LoadPool(c.CAFile)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("audit.sinks[%d].ca_file: %w", i, err)
			}
			tc = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		switch c.Type {
		case "stdout":
			s = NewWriter("stdout", stdout)
		case "file":
			w, f, err := OpenFile(c.Path)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("audit.sinks[%d].path: %w", i, err)
			}
			files = append(files, f)
			s = w
		case "syslog":
			s = NewSyslog(c.Network, c.Address, tc)
		case "webhook":
			s = NewWebhook(c.URL, tc)
		default:
			closeAll()
			return nil, nil, fmt.Errorf("audit.sinks[%d].type: %q is not stdout, file, syslog or webhook", i, c.Type)
		}
		k := NewSink(s, c.Queue, log, clock)
		sinks = append(sinks, k)
		if watchDrops != nil {
			watchDrops(fmt.Sprintf("%d-%s", i, c.Type), k.Dropped)
		}
	}
	return sinks, closeAll, nil
}
