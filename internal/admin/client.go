package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/problem"
	"github.com/rampart-gw/rampart/internal/trust"
)

// Client calls a running gateway's management API, as Vault's CLI calls
// Vault: an address, a token and the CA that signs the admin certificate.
// It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewClient returns a client for the admin API at addr (https://host:port).
func NewClient(addr, token, caFile string) (*Client, error) {
	u, err := url.Parse(addr)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("admin address %q must be an https URL such as https://127.0.0.1:9443", addr)
	}
	if token == "" {
		return nil, fmt.Errorf("no admin token: pass --token or set RAMPART_TOKEN")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := trust.LoadPool(caFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	return &Client{base: u, token: token, http: &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: tc, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	// #nosec G125 -- paths are constants here, ids inside them PathEscape'd by the callers
	return c.send(ctx, method, c.base.JoinPath(path), body, out)
}

// send calls u, a URL under the client's base address.
func (c *Client) send(ctx context.Context, method string, u *url.URL, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling the admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("reading the admin API's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var p problem.Document
		if json.Unmarshal(b, &p) == nil && p.Reason != "" {
			return fmt.Errorf("admin API: %d %s: %s", resp.StatusCode, p.Reason, p.Detail)
		}
		return fmt.Errorf("admin API: %s", resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decoding the admin API's answer: %w", err)
		}
	}
	return nil
}

// CreateKey creates an API key.
func (c *Client) CreateKey(ctx context.Context, r CreateKeyRequest) (NewKey, error) {
	var k NewKey
	return k, c.do(ctx, http.MethodPost, "/v1/apikeys", r, &k)
}

// ListKeys lists API keys.
func (c *Client) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	var ks []KeyInfo
	return ks, c.do(ctx, http.MethodGet, "/v1/apikeys", nil, &ks)
}

// RevokeKey revokes an API key.
func (c *Client) RevokeKey(ctx context.Context, id string) (KeyInfo, error) {
	var k KeyInfo
	return k, c.do(ctx, http.MethodPost, "/v1/apikeys/"+url.PathEscape(id)+"/revoke", struct{}{}, &k)
}

// RotateKey rotates an API key, keeping the old secret for grace.
func (c *Client) RotateKey(ctx context.Context, id string, grace time.Duration) (NewKey, error) {
	var k NewKey
	return k, c.do(ctx, http.MethodPost, "/v1/apikeys/"+url.PathEscape(id)+"/rotate", RotateKeyRequest{Grace: grace.String()}, &k)
}

// AddBan bans a network (an address or a CIDR) for a while.
func (c *Client) AddBan(ctx context.Context, r AddBanRequest) (BanInfo, error) {
	var b BanInfo
	return b, c.do(ctx, http.MethodPost, "/v1/bans", r, &b)
}

// ListBans lists the bans in force, sorted by network.
func (c *Client) ListBans(ctx context.Context) ([]BanInfo, error) {
	var bs []BanInfo
	return bs, c.do(ctx, http.MethodGet, "/v1/bans", nil, &bs)
}

// RemoveBan lifts the ban on exactly this network; an error with
// admin.not_found says none was in force.
func (c *Client) RemoveBan(ctx context.Context, network string) error {
	u := c.base.JoinPath("/v1/bans")
	u.RawQuery = url.Values{"network": {network}}.Encode()
	return c.send(ctx, http.MethodDelete, u, nil, nil)
}

// Addr returns the client's base address, for messages.
func (c *Client) Addr() string { return strings.TrimSuffix(c.base.String(), "/") }
