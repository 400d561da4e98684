package accesslog

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func TestRecordHoldsNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	x := &pipeline.Exchange{}
	x.Reset()
	x.In = pipeline.Request{Method: "GET", Host: "api.example.com", RawPath: "/api/users/bob", RawQuery: "api_key=sk_live_123&token=abc",
		Header: http.Header{"Authorization": {"Bearer eyJhbGciOi.secret"}, "Cookie": {"session=s3cr3t"}}}
	x.RequestID, x.ClientIP, x.Path = "rid-1", netip.MustParseAddr("192.0.2.1"), "/api/users/bob"
	x.Route = &pipeline.Route{Name: "user"}
	x.Response.Status, x.Response.Bytes, x.Duration = 403, 120, 1500*time.Microsecond
	x.Decisions = append(x.Decisions, pipeline.Decision{Stage: "client"}, pipeline.Decision{Stage: "authz", Outcome: pipeline.Denied, Reason: "authz.denied"})
	x.Denial = pipeline.Deny(403, "authz.denied", "No.")
	l.Observe(x)

	line := buf.String()
	for _, secret := range []string{"sk_live", "abc", "eyJ", "s3cr3t", "token", "api_key"} {
		if strings.Contains(line, secret) {
			t.Errorf("record holds %q: %s", secret, line)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"request_id": "rid-1", "client_ip": "192.0.2.1", "path": "/api/users/bob", "route": "user",
		"status": 403.0, "bytes": 120.0, "duration_ms": 1.5, "stage": "authz", "reason": "authz.denied"} {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
}

// TestRecordInputs: the WAF's rule ids and score and the number of
// contract errors are in the record; nothing of the request's content is.
func TestRecordInputs(t *testing.T) {
	var buf bytes.Buffer
	x := &pipeline.Exchange{}
	x.Reset()
	x.In.Method, x.Path = "POST", "/notes"
	x.Inputs = pipeline.Inspection{WAFRules: []int{942100, 949110}, WAFScore: 5,
		Contract: []pipeline.FieldError{{In: "body", Pointer: "/name", Detail: "maxLength 64"}}}
	New(&buf).Observe(x)
	if want := `"waf_rules":[942100,949110],"waf_score":5,"contract_errors":1`; !strings.Contains(buf.String(), want) {
		t.Errorf("record %s lacks %s", buf.String(), want)
	}
	buf.Reset()
	x.Inputs = pipeline.Inspection{}
	New(&buf).Observe(x)
	if strings.Contains(buf.String(), "waf") || strings.Contains(buf.String(), "contract") {
		t.Errorf("record without findings mentions them: %s", buf.String())
	}
}

func TestLongRawPathTruncated(t *testing.T) {
	var buf bytes.Buffer
	x := &pipeline.Exchange{}
	x.Reset()
	x.In.RawPath = "/" + strings.Repeat("a", 5000)
	New(&buf).Observe(x)
	if buf.Len() > 1024 {
		t.Errorf("record of %d bytes", buf.Len())
	}
}

type slowSink struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int
}

func (s *slowSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.b.Write(p)
}

func TestBatchWriter(t *testing.T) {
	sink := &slowSink{}
	bw := NewBatchWriter(nil, sink, time.Hour, 0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = bw.Write([]byte(strings.Repeat(string(rune('a'+i)), 50) + "\n"))
			}
		}()
	}
	wg.Wait()
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(sink.b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if len(l) != 50 || strings.Count(l, l[:1]) != 50 {
			t.Fatalf("torn line %q", l)
		}
	}
	if sink.n >= 800 {
		t.Errorf("%d writes for 800 records: not batched", sink.n)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\x7f", "é€😀", "\xff\xfe", "<script>&", "\u2028\u2029"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", b, s, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); got != want && utf8.ValidString(s) {
			t.Fatalf("round trip %q -> %q", s, got)
		}
		if bytes.ContainsAny(b, "<>&\n") {
			t.Fatalf("unescaped byte in %q", b)
		}
	})
}

func BenchmarkObserve(b *testing.B) {
	l := New(io.Discard)
	x := &pipeline.Exchange{}
	x.Reset()
	x.In = pipeline.Request{Method: "GET", Host: "api.example.com:8443", RawPath: "/api/users/bob"}
	x.RequestID, x.ClientIP, x.Path = "hyitpycrzw4f6ali-1", netip.MustParseAddr("192.0.2.1"), "/api/users/bob"
	x.Route = &pipeline.Route{Name: "user"}
	x.Response.Status, x.Response.Bytes, x.Duration = 200, 1234, 1500*time.Microsecond
	b.ReportAllocs()
	for b.Loop() {
		l.Observe(x)
	}
}

// blockedSink never returns from Write until released, like a pipe nobody
// reads.
type blockedSink struct{ release chan struct{} }

func (b blockedSink) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

// TestBatchWriterNeverBlocks is the regression test for a stuck output: a
// full queue drops and counts records instead of blocking requests.
func TestBatchWriterNeverBlocks(t *testing.T) {
	sink := blockedSink{release: make(chan struct{})}
	bw := NewBatchWriter(nil, sink, time.Millisecond, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10000 {
			_, _ = bw.Write([]byte(strings.Repeat("x", 99) + "\n"))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked on a stuck output")
	}
	if bw.Dropped() == 0 {
		t.Error("nothing dropped although the output was stuck")
	}
	close(sink.release)
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchWriterWritesEveryInterval: records reach the output at the
// interval, not before, and without a Close.
func TestBatchWriterWritesEveryInterval(t *testing.T) {
	sink := &slowSink{}
	bg, clock := backgroundtest.Runner(t)
	bw := NewBatchWriter(bg, sink, 200*time.Millisecond, 0)
	defer bw.Close()
	written := func() string {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.b.String()
	}
	_, _ = bw.Write([]byte("one\n"))
	backgroundtest.Tick(t, clock, 199*time.Millisecond, 1)
	if got := written(); got != "" {
		t.Fatalf("written before the interval: %q", got)
	}
	backgroundtest.Tick(t, clock, time.Millisecond, 1)
	if got := written(); got != "one\n" {
		t.Fatalf("at the interval: %q", got)
	}
}
