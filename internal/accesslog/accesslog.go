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
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// maxPathLog bounds the path written for a request that was refused before
// its path was normalized.
const maxPathLog = 256

// Logger is the access-log observer. It is safe for concurrent use.
type Logger struct {
	log *slog.Logger
}

// New returns a Logger writing JSON lines to w. Each record is one Write
// call, so a BatchWriter keeps lines whole.
func New(w io.Writer) *Logger {
	return &Logger{log: slog.New(slog.NewJSONHandler(w, nil))}
}

// Observe writes the record of one finished exchange.
func (l *Logger) Observe(x *pipeline.Exchange) {
	path := x.Path
	if path == "" {
		path = x.In.RawPath
		if len(path) > maxPathLog {
			path = path[:maxPathLog] + "..."
		}
	}
	route := ""
	if x.Route != nil {
		route = x.Route.Name
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", x.RequestID),
		slog.String("client_ip", x.ClientIP.String()),
		slog.String("method", x.In.Method),
		slog.String("host", x.In.Host),
		slog.String("path", path),
		slog.String("route", route),
		slog.Int("status", x.Response.Status),
		slog.Int64("bytes", x.Response.Bytes),
		slog.Float64("duration_ms", float64(x.Duration.Microseconds())/1000),
		slog.Bool("tls", x.In.TLS),
	)
	if x.Denial != nil {
		stage := "upstream"
		for _, d := range x.Decisions {
			if d.Outcome != pipeline.Allowed {
				stage = d.Stage
			}
		}
		attrs = append(attrs, slog.String("stage", stage), slog.String("reason", x.Denial.Reason))
	}
	l.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// BatchWriter buffers writes and flushes them every interval and on Close,
// so that logging costs the request path a memory copy, not a system call.
// A record is at most one interval late. It is safe for concurrent use.
type BatchWriter struct {
	mu   sync.Mutex // guards w
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewBatchWriter starts a BatchWriter over w.
func NewBatchWriter(w io.Writer, interval time.Duration) *BatchWriter {
	b := &BatchWriter{w: bufio.NewWriterSize(w, 256<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop(interval)
	return b
}

func (b *BatchWriter) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}

// Write buffers p.
func (b *BatchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *BatchWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// Close stops the flusher and flushes.
func (b *BatchWriter) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}
