package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxBodyBytes bounds every response body the scanner reads; the rest is
// discarded and the response marked truncated.
const MaxBodyBytes = 1 << 20

// ErrBudget is returned once the request budget is spent.
var ErrBudget = errors.New("request budget spent")

// ErrOffTarget is returned for a request to any address but the target's
// and the canary's. It is a bug in a check, never a user error.
var ErrOffTarget = errors.New("refusing to contact an address that is not the target")

// Request is one request to the target.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the concrete, escaped path (with parameter values), starting
	// with "/"; it is joined to the target's base path.
	Path string
	// Query is the query string's parameters.
	Query url.Values
	// Header are extra headers; credentials are the identity's business.
	Header http.Header
	// Body and ContentType are the request body.
	Body        []byte
	ContentType string
}

// Clone returns a deep copy of r.
func (r *Request) Clone() *Request {
	c := *r
	c.Query = url.Values{}
	for k, v := range r.Query {
		c.Query[k] = append([]string(nil), v...)
	}
	c.Header = r.Header.Clone()
	c.Body = bytes.Clone(r.Body)
	return &c
}

// Response is what the target answered.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool
	Duration  time.Duration
}

// Exchange is a request sent as an identity (nil: anonymous) and its
// response.
type Exchange struct {
	Req      *Request
	As       *Identity
	Resp     *Response
	URL      string
	Redacted []string // credential values to hide in evidence
}

// client sends the scan's requests: only to the target (and the canary),
// paced to the rate cap, within the budget, never following redirects.
// It is safe for concurrent use.
type client struct {
	base    *url.URL
	http    *http.Client
	allowed map[string]bool // host:port the dialer may reach

	budget   int64
	sent     atomic.Int64
	interval time.Duration

	mu   sync.Mutex // guards next
	next time.Time

	onSend func()
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func newClient(base *url.URL, rate float64, budget int, timeout time.Duration, tr *http.Transport, allowed ...string) *client {
	c := &client{base: base, allowed: map[string]bool{hostPort(base): true}, budget: int64(budget)}
	for _, a := range allowed {
		c.allowed[a] = true
	}
	if rate > 0 {
		c.interval = time.Duration(float64(time.Second) / rate)
	}
	if tr == nil {
		tr = &http.Transport{}
	}
	tr = tr.Clone()
	tr.Proxy = nil // never send the target's traffic through a proxy from the environment
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !c.allowed[addr] {
			return nil, fmt.Errorf("dialing %s: %w", addr, ErrOffTarget)
		}
		return d.DialContext(ctx, network, addr)
	}
	tr.MaxIdleConnsPerHost = 8
	c.http = &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c
}

// wait paces requests to the rate cap.
func (c *client) wait(ctx context.Context) error {
	if c.interval == 0 {
		return nil
	}
	c.mu.Lock()
	now := time.Now()
	at := c.next
	if at.Before(now) {
		at = now
	}
	c.next = at.Add(c.interval)
	c.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (c *client) take() error {
	if c.budget > 0 && c.sent.Add(1) > c.budget {
		c.sent.Add(-1)
		return ErrBudget
	}
	if c.budget <= 0 {
		c.sent.Add(1)
	}
	if c.onSend != nil {
		c.onSend()
	}
	return nil
}

// url returns the absolute URL of r.
func (c *client) url(r *Request) string {
	u := *c.base
	u.RawPath = ""
	u.Path = ""
	raw := strings.TrimSuffix(c.base.EscapedPath(), "/") + r.Path
	u.Opaque = ""
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path = p
		u.RawPath = raw
	}
	u.RawQuery = r.Query.Encode()
	u.Fragment = ""
	return u.String()
}

// do sends r as id (nil: anonymous). paced false skips the rate cap (for
// the bounded bursts of the rate-limit check), never the budget.
func (c *client) do(ctx context.Context, r *Request, id *Identity, paced bool) (*Exchange, error) {
	if err := c.take(); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if paced {
			if err := c.wait(ctx); err != nil {
				return nil, err
			}
		}
		ex, err := c.once(ctx, r, id)
		if err != nil {
			return nil, err
		}
		// A 401 with a refreshable identity: refresh once and retry.
		if ex.Resp.Status == http.StatusUnauthorized && id != nil && attempt == 0 && id.refreshable() {
			if err := id.refresh(ctx); err == nil {
				continue
			}
		}
		// 429 on a paced request: honour Retry-After (up to 5 s), twice.
		if paced && ex.Resp.Status == http.StatusTooManyRequests && attempt < 2 {
			d := retryAfter(ex.Resp.Header.Get("Retry-After"))
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ex, nil
			case <-t.C:
			}
			continue
		}
		return ex, nil
	}
}

func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second+100*time.Millisecond, 5*time.Second)
	}
	return time.Second
}

func (c *client) once(ctx context.Context, r *Request, id *Identity) (*Exchange, error) {
	full := c.url(r)
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, full, body)
	if err != nil {
		return nil, fmt.Errorf("building request %s %s: %w", r.Method, r.Path, err)
	}
	for k, v := range r.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, */*;q=0.5")
	}
	req.Header.Set("User-Agent", "rampart-scan")
	ex := &Exchange{Req: r, As: id, URL: full}
	if id != nil {
		name, value, err := id.credential(ctx)
		if err != nil {
			return nil, err
		}
		req.Header.Set(name, value)
		ex.Redacted = append(ex.Redacted, value)
		if i := strings.IndexByte(value, ' '); i > 0 {
			ex.Redacted = append(ex.Redacted, value[i+1:])
		}
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, ErrOffTarget) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A transport failure is an answer too (reset, timeout): checks
		// see status 0.
		ex.Resp = &Response{Status: 0, Header: http.Header{}, Body: []byte(err.Error()), Duration: time.Since(start)}
		return ex, nil
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	ex.Resp = &Response{Status: resp.StatusCode, Header: resp.Header, Duration: time.Since(start)}
	if len(b) > MaxBodyBytes {
		b, ex.Resp.Truncated = b[:MaxBodyBytes], true
	}
	ex.Resp.Body = b
	if rerr != nil {
		ex.Resp.Truncated = true
	}
	return ex, nil
}
