package jwtauth

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/trust"
)

// maxJWKSBytes bounds a JWKS document.
const maxJWKSBytes = 1 << 20

// keySnapshot is one fetched key set; it is never modified once stored.
type keySnapshot struct {
	byKID   map[string][]jose.JSONWebKey
	all     []jose.JSONWebKey
	fetched time.Time
	hmac    bool // one shared secret, whatever the kid
}

// keySet holds an issuer's verification keys: from a file, or from a JWKS
// URL that is refreshed every refresh interval (stale keys keep serving
// while a refresh runs) and refetched on an unknown kid at most once per
// minRefresh, through singleflight so concurrent misses cause one fetch.
// It is safe for concurrent use.
type keySet struct {
	url        string
	discover   string // the issuer, when url comes from OIDC discovery
	client     *http.Client
	refresh    time.Duration
	minRefresh time.Duration
	now        func() time.Time
	log        *slog.Logger
	bg         *background.Runner // runs refreshes of a stale set; nil for a static one

	cur        atomic.Pointer[keySnapshot]
	flight     singleflight.Group
	fetches    atomic.Int64
	refreshing atomic.Bool // a background refresh is running

	mu        sync.Mutex // guards lastFetch
	lastFetch time.Time
}

// parseKeySet reads a JWKS document, keeping the public signing keys.
func parseKeySet(b []byte) (*keySnapshot, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("parsing JWKS: %w", err)
	}
	s := &keySnapshot{byKID: map[string][]jose.JSONWebKey{}}
	for _, k := range set.Keys {
		if !k.Valid() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if !k.IsPublic() {
			// A private key in a JWKS is a leak at the issuer; use its
			// public half and say nothing of the rest.
			k = k.Public()
			if !k.Valid() {
				continue
			}
		}
		s.all = append(s.all, k)
		s.byKID[k.KeyID] = append(s.byKID[k.KeyID], k)
	}
	if len(s.all) == 0 {
		return nil, errors.New("JWKS holds no public signing key")
	}
	return s, nil
}

func newStaticKeySet(file string) (*keySet, error) {
	b, err := os.ReadFile(file) // #nosec G304 -- the operator names the key file
	if err != nil {
		return nil, fmt.Errorf("reading keys_file: %w", err)
	}
	snap, err := parseKeySet(b)
	if err != nil {
		return nil, fmt.Errorf("keys_file %s: %w", file, err)
	}
	k := &keySet{}
	k.cur.Store(snap)
	return k, nil
}

// minHMACSecret is the least HMAC secret accepted (RFC 7518 3.2: a key as
// long as the hash output).
const minHMACSecret = 32

func newHMACKeySet(file string) (*keySet, error) {
	b, err := os.ReadFile(file) // #nosec G304 -- the operator names the secret file
	if err != nil {
		return nil, fmt.Errorf("reading hmac_secret_file: %w", err)
	}
	secret := bytes.TrimRight(b, "\r\n")
	if len(secret) < minHMACSecret {
		return nil, fmt.Errorf("hmac_secret_file %s: the secret must be at least %d bytes", file, minHMACSecret)
	}
	k := jose.JSONWebKey{Key: secret}
	k2 := &keySet{}
	k2.cur.Store(&keySnapshot{byKID: map[string][]jose.JSONWebKey{}, all: []jose.JSONWebKey{k}, hmac: true})
	return k2, nil
}

func newRemoteKeySet(url, discoverIssuer, caFile string, refresh, minRefresh time.Duration, now func() time.Time, log *slog.Logger) (*keySet, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := trust.LoadPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil, ForceAttemptHTTP2: true, MaxIdleConns: 2, IdleConnTimeout: 90 * time.Second},
		// The JWKS URL is configured; a redirect elsewhere is refused.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &keySet{url: url, discover: discoverIssuer, client: client, refresh: refresh, minRefresh: minRefresh, now: now, log: log}, nil
}

// lookup returns the keys for kid (all keys when kid is empty), fetching
// the set when it has none yet, refreshing it in the background when it is
// stale, and refetching once per minRefresh when kid is unknown.
func (k *keySet) lookup(ctx context.Context, kid string) []jose.JSONWebKey {
	snap := k.cur.Load()
	if k.url == "" && k.discover == "" {
		return snap.find(kid)
	}
	if snap == nil {
		// Limited too: while the IdP is down, requests must not turn
		// into a fetch each.
		snap = k.fetch(context.WithoutCancel(ctx), true)
		if snap == nil {
			return nil
		}
	} else if k.now().Sub(snap.fetched) > k.refresh && k.refreshing.CompareAndSwap(false, true) {
		// Serve the stale set meanwhile; one refresher at a time, on the
		// runner rather than the request that noticed (it must outlive
		// it, and stop on Close). After Close no refresh starts.
		if !k.bg.Go("jwks refresh", func(ctx context.Context) {
			defer k.refreshing.Store(false)
			k.fetch(ctx, true)
		}) {
			k.refreshing.Store(false)
		}
	}
	if keys := snap.find(kid); len(keys) > 0 {
		return keys
	}
	if snap = k.fetch(context.WithoutCancel(ctx), true); snap == nil {
		return nil
	}
	return snap.find(kid)
}

func (s *keySnapshot) find(kid string) []jose.JSONWebKey {
	if s == nil {
		return nil
	}
	if s.hmac {
		return s.all
	}
	if kid == "" {
		if len(s.all) == 1 {
			return s.all
		}
		return nil // without a kid, only a single-key set is unambiguous
	}
	return s.byKID[kid]
}

// fetch refetches the set unless one was fetched within minRefresh (when
// limited); concurrent callers share one fetch. It returns the current
// snapshot afterwards, nil if there is none.
func (k *keySet) fetch(ctx context.Context, limited bool) *keySnapshot {
	k.mu.Lock()
	if limited && !k.lastFetch.IsZero() && k.now().Sub(k.lastFetch) < k.minRefresh {
		k.mu.Unlock()
		return k.cur.Load()
	}
	k.mu.Unlock()
	v, _, _ := k.flight.Do("jwks", func() (any, error) {
		k.mu.Lock()
		if limited && !k.lastFetch.IsZero() && k.now().Sub(k.lastFetch) < k.minRefresh {
			k.mu.Unlock()
			return k.cur.Load(), nil
		}
		k.lastFetch = k.now()
		k.mu.Unlock()
		snap, err := k.get(ctx)
		if err != nil {
			k.log.Warn("fetching JWKS failed; keeping the previous keys", "url", k.url, "error", err)
			return k.cur.Load(), nil
		}
		k.cur.Store(snap)
		return snap, nil
	})
	snap, _ := v.(*keySnapshot)
	return snap
}

// getJSON fetches a bounded JSON document.
func (k *keySet) getJSON(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", url, maxJWKSBytes)
	}
	return b, nil
}

// discoverJWKS reads the issuer's OpenID Connect discovery document and
// returns its jwks_uri, after checking that the document names this exact
// issuer (OIDC Discovery 1.0 section 4.3, against issuer mix-up).
func (k *keySet) discoverJWKS(ctx context.Context) (string, error) {
	b, err := k.getJSON(ctx, strings.TrimSuffix(k.discover, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", fmt.Errorf("discovery: parsing: %w", err)
	}
	if doc.Issuer != k.discover {
		return "", fmt.Errorf("discovery: the document names issuer %q, not %q", doc.Issuer, k.discover)
	}
	if u, err := url.Parse(doc.JWKSURI); err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("discovery: jwks_uri %q is not an https URL", doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

func (k *keySet) get(ctx context.Context) (*keySnapshot, error) {
	k.fetches.Add(1)
	// A request's fetch is shared (singleflight): its callers pass a
	// context without their cancellation. The background refresh's is
	// cancelled on Close.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jwksURL := k.url
	if k.discover != "" {
		// Rediscovered on every refresh: issuers move their keys.
		u, err := k.discoverJWKS(ctx)
		if err != nil {
			return nil, err
		}
		jwksURL = u
	}
	b, err := k.getJSON(ctx, jwksURL)
	if err != nil {
		return nil, err
	}
	snap, err := parseKeySet(b)
	if err != nil {
		return nil, err
	}
	snap.fetched = k.now()
	return snap, nil
}
