// Package accesslog writes the one structured record per request: who (client
// IP, request id), what (method, host, normalized path, route), the outcome
// (status, the stage and reason of a refusal) and the cost (bytes, latency).
//
// It never writes credentials, headers, query strings or bodies: a query
// string is where API keys and tokens leak (CWE-598), and headers and bodies
// carry personal data. The tamper-evident audit log is a separate package;
// this is the operator's log.
package accesslog

import (
	"context"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// maxPathLog bounds the path written for a request that was refused before
// its path was normalized.
const maxPathLog = 256

// Logger is the access-log observer. It is safe for concurrent use.
//
// Records are encoded by hand into pooled buffers rather than through
// log/slog: this record is written for every request, and the encoder
// below costs a fraction of a generic handler's time and allocations. The
// field set and order are fixed:
//
//	{"time":RFC3339Nano,"level":"INFO","msg":"request","request_id":…,
//	 "client_ip":…,"method":…,"host":…,"path":…,"route":…,"status":…,
//	 "bytes":…,"duration_ms":…,"tls":…[,"stage":…,"reason":…]}
type Logger struct {
	w    io.Writer
	pool sync.Pool
	now  func() time.Time
	mask func(string) string
}

// Redact has every record's path passed through mask before it is
// written (the gateway masks what its DLP detectors find). Call it before
// the Logger is used.
func (l *Logger) Redact(mask func(string) string) *Logger {
	l.mask = mask
	return l
}

// New returns a Logger writing one JSON line per record to w, each in one
// Write call, so a BatchWriter keeps lines whole.
func New(w io.Writer) *Logger {
	l := &Logger{w: w, now: time.Now}
	l.pool.New = func() any { b := make([]byte, 0, 512); return &b }
	return l
}

// Observe writes the record of one finished exchange.
func (l *Logger) Observe(x *pipeline.Exchange) {
	path := x.Path
	if path == "" {
		path = x.In.RawPath
	}
	if l.mask != nil {
		path = l.mask(path) // before cutting: a value cut in two would not be found
	}
	if x.Path == "" && len(path) > maxPathLog {
		path = path[:maxPathLog] + "..."
	}
	route := ""
	if x.Route != nil {
		route = x.Route.Name
	}
	bp := l.pool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = l.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","request_id":`...)
	b = appendString(b, x.RequestID)
	b = append(b, `,"client_ip":"`...)
	if x.ClientIP.IsValid() {
		b = x.ClientIP.AppendTo(b)
	}
	b = append(b, `","method":`...)
	b = appendString(b, x.In.Method)
	b = append(b, `,"host":`...)
	b = appendString(b, x.In.Host)
	b = append(b, `,"path":`...)
	b = appendString(b, path)
	b = append(b, `,"route":`...)
	b = appendString(b, route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(x.Response.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, x.Response.Bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(x.Duration.Microseconds())/1000, 'f', -1, 64)
	b = append(b, `,"tls":`...)
	b = strconv.AppendBool(b, x.In.TLS)
	if rules := x.Inputs.WAFRules; len(rules) > 0 {
		b = append(b, `,"waf_rules":[`...)
		for i, id := range rules {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(id), 10)
		}
		b = append(b, `],"waf_score":`...)
		b = strconv.AppendInt(b, int64(x.Inputs.WAFScore), 10)
	}
	if n := len(x.Inputs.Contract); n > 0 {
		b = append(b, `,"contract_errors":`...)
		b = strconv.AppendInt(b, int64(n), 10)
	}
	if x.Denial != nil {
		stage := ""
		for _, d := range x.Decisions {
			if d.Outcome != pipeline.Allowed {
				stage = d.Stage
			}
		}
		b = append(b, `,"stage":`...)
		b = appendString(b, stage)
		b = append(b, `,"reason":`...)
		b = appendString(b, x.Denial.Reason)
	}
	b = append(b, "}\n"...)
	_, _ = l.w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		l.pool.Put(bp)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, and <, >, & and the
// JavaScript line separators escaped so a record is safe to embed anywhere.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// BatchWriter collects records in memory and writes them out every
// interval and on Close, from its own goroutine, so that logging costs a
// request a memory copy and never a system call or a wait on a slow or
// stuck output. When more than its bound is waiting (the output is stuck),
// further records are dropped and counted, never blocking requests; the
// tamper-evident audit log, not this one, is the record that never drops.
// It is safe for concurrent use.
type BatchWriter struct {
	w     io.Writer
	limit int

	mu      sync.Mutex // guards pending and dropped
	pending []byte
	dropped int64

	outMu sync.Mutex // serializes writes to w
	spare []byte
	bg    *background.Runner
}

// DefaultBatchLimit bounds what a BatchWriter holds while its output is
// slow.
const DefaultBatchLimit = 4 << 20

// NewBatchWriter starts a BatchWriter over w that writes what it holds
// every interval on bg (a runner of its own when nil) and holds at most
// limit bytes (DefaultBatchLimit when limit <= 0).
func NewBatchWriter(bg *background.Runner, w io.Writer, interval time.Duration, limit int) *BatchWriter {
	if limit <= 0 {
		limit = DefaultBatchLimit
	}
	b := &BatchWriter{w: w, limit: limit, pending: make([]byte, 0, 64<<10), bg: background.Or(bg, nil).Child()}
	b.bg.Every("access log writer", interval, func(context.Context) { _ = b.Flush() })
	return b
}

// Write queues p, or drops it when the queue is full. It never blocks on
// the output.
func (b *BatchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending)+len(p) > b.limit {
		b.dropped++
		return len(p), nil
	}
	b.pending = append(b.pending, p...)
	return len(p), nil
}

// Dropped returns how many records were dropped because the output could
// not keep up.
func (b *BatchWriter) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Flush writes out what is queued. Requests keep queueing meanwhile.
func (b *BatchWriter) Flush() error {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	b.mu.Lock()
	out := b.pending
	b.pending = b.spare[:0]
	b.mu.Unlock()
	var err error
	if len(out) > 0 {
		_, err = b.w.Write(out)
	}
	if cap(out) <= 1<<20 {
		b.spare = out[:0]
	} else {
		b.spare = nil
	}
	return err
}

// Close stops the flusher and flushes.
func (b *BatchWriter) Close() error {
	b.bg.Close()
	return b.Flush()
}
