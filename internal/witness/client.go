package witness

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/trust"
)

// Client publishes a log's checkpoints to one witness: each new
// checkpoint with the consistency proof from the newest one the witness
// cosigned (learnt from its 409 answer when unknown). It implements
// audit.Publisher; the audit log calls it from one goroutine, but it is
// safe for concurrent use.
type Client struct {
	name string
	url  string // the submission prefix, without a trailing slash
	v    note.Verifier
	http *http.Client

	mu     sync.Mutex
	size   int64  // the witness's newest cosigned size, -1 until known
	latest []byte // the newest checkpoint with the witness's cosignature
}

// NewClient returns a client of the witness at prefix (its submission
// prefix, https or http://127.0.0.1...), whose cosignatures v checks. hc
// may be nil for http.DefaultClient.
func NewClient(name, prefix string, v note.Verifier, hc *http.Client) (*Client, error) {
	if v == nil {
		return nil, errors.New("witness: no cosignature key")
	}
	if _, err := url.Parse(prefix); err != nil {
		return nil, fmt.Errorf("witness %s: %w", name, err)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{name: name, url: strings.TrimSuffix(prefix, "/"), v: v, http: hc, size: -1}, nil
}

// Name implements audit.Publisher.
func (c *Client) Name() string { return "witness " + c.name }

// Latest returns the newest checkpoint the witness cosigned in this
// process, with its cosignature, or nil.
func (c *Client) Latest() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.latest)
}

// ConflictError is a witness's 409 answer: it has cosigned Size, not the
// old size the request named.
type ConflictError struct{ Size int64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the witness has cosigned the tree of size %d", e.Size)
}

// Publish implements audit.Publisher: add-checkpoint, retried once with
// the old size a 409 names.
func (c *Client) Publish(ctx context.Context, cp audit.Published) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := max(c.size, 0)
	for attempt := 0; ; attempt++ {
		var proof []byte
		if old > 0 && old < cp.Size {
			p, err := cp.Prove(old)
			if err != nil {
				return fmt.Errorf("witness %s: %w", c.name, err)
			}
			proof = encodeRequest(old, p, cp.Note)
		} else {
			proof = encodeRequest(old, nil, cp.Note)
		}
		lines, err := c.add(ctx, proof)
		var conflict *ConflictError
		switch {
		case errors.As(err, &conflict) && attempt == 0 && conflict.Size != old:
			if conflict.Size > cp.Size {
				c.size = conflict.Size
				return fmt.Errorf("witness %s has cosigned a tree of size %d, larger than this log's %d: the log was rolled back, or another log has its origin", c.name, conflict.Size, cp.Size)
			}
			old = conflict.Size
			continue
		case err != nil:
			return fmt.Errorf("witness %s: %w", c.name, err)
		}
		signed := cosigned(cp.Note, lines)
		n, err := note.Open(signed, note.VerifierList(c.v))
		if err != nil || !hasSignature(n, c.v) {
			return fmt.Errorf("witness %s: its answer holds no cosignature by its key", c.name)
		}
		c.size, c.latest = cp.Size, signed
		return nil
	}
}

// add posts one add-checkpoint request and returns the signature lines.
func (c *Client) add(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/add-checkpoint", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errors.New("the answer is too large")
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := checkLines(b); err != nil {
			return nil, fmt.Errorf("its answer: %w", err)
		}
		return b, nil
	case http.StatusConflict:
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == SizeType {
			n, err := parseSize(strings.TrimSuffix(string(b), "\n"))
			if err != nil {
				return nil, fmt.Errorf("its 409 answer: %w", err)
			}
			return nil, &ConflictError{Size: n}
		}
		return nil, errors.New("409: the checkpoint conflicts with the one it cosigned at this size (a fork)")
	default:
		return nil, fmt.Errorf("%s: %s", resp.Status, firstLine(b))
	}
}

// Fetch returns the newest checkpoint the witness at prefix cosigned for
// origin, from its GET /checkpoint (this package's server; other
// witnesses publish it their own way, and `rampart audit verify
// --witness-checkpoint` takes a file instead).
func Fetch(ctx context.Context, hc *http.Client, prefix, origin string) ([]byte, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(prefix, "/") + "/checkpoint?origin=" + url.QueryEscape(origin)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", prefix, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", prefix, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("witness %s: %w", prefix, err)
	case len(b) > maxBody:
		return nil, fmt.Errorf("witness %s: the answer is too large", prefix)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("witness %s: %s: %s", prefix, resp.Status, firstLine(b))
	}
	return b, nil
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if len(line) > 200 {
		line = line[:200]
	}
	return strings.ToValidUTF8(string(line), "?")
}

// FromConfig returns a client for each configured witness.
func FromConfig(ws []config.AuditWitness) ([]*Client, error) {
	var out []*Client
	for i, w := range ws {
		v, err := tnote.NewVerifierForCosignatureV1(strings.TrimSpace(w.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("audit.witnesses[%d].public_key: %w", i, err)
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if w.CAFile != "" {
			pool, err := trust.LoadPool(w.CAFile)
			if err != nil {
				return nil, fmt.Errorf("audit.witnesses[%d].ca_file: %w", i, err)
			}
			tc.RootCAs = pool
		}
		name := w.Name
		if name == "" {
			if u, err := url.Parse(w.URL); err == nil {
				name = u.Host
			}
		}
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
		c, err := NewClient(name, w.URL, v, hc)
		if err != nil {
			return nil, fmt.Errorf("audit.witnesses[%d]: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Witnessed fetches the witness's newest cosigned checkpoint of origin
// for audit.Verify.
func (c *Client) Witnessed(ctx context.Context, origin string) (audit.Witnessed, error) {
	b, err := Fetch(ctx, c.http, c.url, origin)
	if err != nil {
		return audit.Witnessed{}, err
	}
	return audit.Witnessed{Name: c.name, Note: b, Verifier: c.v}, nil
}
