// Package client is the first stage of the pipeline: it decides who the
// client is at the network level — its real IP address — and gives the
// exchange its request id.
//
// Threat: X-Forwarded-For, X-Real-IP and Forwarded are written by whoever
// sends the request, so believing them lets any client pick the address
// that rate limits, firewall rules and the audit log see. The header is
// believed only when the TCP peer is a configured trusted proxy, and then
// only as far as the chain of trusted proxies goes: the list is walked from
// the right (the entry our own proxy wrote) to the left, skipping trusted
// hops, and the first untrusted address is the client. Anything left of it
// was written by the client and is ignored. A malformed entry in the part
// of the chain that must be believed fails the request closed (400), rather
// than attributing it to a proxy's trusted address.
// See go-chi/chi middleware/client_ip.go and RFC 7239 section 5.2.
//
// It does not own the firewall (package firewall, later) or stripping of
// forwarding headers before the upstream (package proxy).
package client

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// maxHops bounds how many forwarding entries are examined.
const maxHops = 32

// ErrMalformed is returned when a trusted forwarding header cannot be read.
var ErrMalformed = errors.New("malformed forwarding header")

// Resolver finds the real client IP. Its zero value trusts no proxy: the
// peer is always the client. It is immutable and safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
	header  string // canonical name
	xff     bool
}

// NewResolver returns a Resolver that believes header only from peers in
// trusted. header is "X-Forwarded-For" or "X-Real-IP".
func NewResolver(trusted []netip.Prefix, header string) *Resolver {
	h := http.CanonicalHeaderKey(header)
	return &Resolver{trusted: trusted, header: h, xff: h == "X-Forwarded-For"}
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client's address given the TCP peer and the request
// headers, or ErrMalformed.
func (r *Resolver) ClientIP(peer netip.Addr, h pipeline.HeaderView) (netip.Addr, error) {
	// A link-local peer carries its zone (fe80::1%eth0); networks never
	// do, so without this it would match no deny list and no ban.
	peer = peer.Unmap().WithZone("")
	if len(r.trusted) == 0 || !r.isTrusted(peer) {
		return peer, nil
	}
	values := h.Values(r.header)
	if len(values) == 0 {
		return peer, nil
	}
	if !r.xff {
		if len(values) > 1 {
			return netip.Addr{}, ErrMalformed
		}
		a, ok := parseHop(values[0])
		if !ok {
			return netip.Addr{}, ErrMalformed
		}
		return a, nil
	}
	// Walk every X-Forwarded-For line and entry right to left.
	client, hops := peer, 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for len(v) > 0 {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				entry, v = v, ""
			}
			if hops++; hops > maxHops {
				return netip.Addr{}, ErrMalformed
			}
			a, ok := parseHop(entry)
			if !ok {
				return netip.Addr{}, ErrMalformed
			}
			client = a
			if !r.isTrusted(a) {
				return a, nil
			}
		}
	}
	// Every hop was a trusted proxy: the leftmost is the origin.
	return client, nil
}

// parseHop parses one forwarding entry: an IP, optionally with a port
// ("1.2.3.4:80", "[2001:db8::1]:80").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// IDs makes request ids: a random per-process prefix and a counter, so ids
// are unique across restarts and nodes without costing a random read per
// request. They are identifiers, not secrets.
type IDs struct {
	prefix string
	n      atomic.Uint64
}

// NewIDs returns a request id source with a fresh random prefix.
func NewIDs() *IDs {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &IDs{prefix: strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))}
}

// Next returns a new request id.
func (g *IDs) Next() string {
	var buf [48]byte
	b := append(buf[:0], g.prefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, g.n.Add(1), 36)
	return string(b)
}

// validID reports whether an inbound request id is safe to keep: 1 to 128
// characters of letters, digits and -_.:
func validID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// Stage is the client stage. It is immutable and safe for concurrent use.
type Stage struct {
	resolver  *Resolver
	ids       *IDs
	idHeader  string
	trustedID bool
}

// Deps are what the client stage is built with besides its config
// section.
type Deps struct {
	// IDs makes request ids; nil gives the stage a generator of its own.
	IDs *IDs
}

// New compiles the client section of a validated config.
func New(c config.Client, d Deps) (*Stage, error) {
	ids := d.IDs
	if ids == nil {
		ids = NewIDs()
	}
	prefixes := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for i, s := range c.TrustedProxies {
		p, err := config.ParsePrefix(s)
		if err != nil {
			return nil, errors.New("client.trusted_proxies[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		prefixes = append(prefixes, p)
	}
	return &Stage{
		resolver:  NewResolver(prefixes, c.IPHeader),
		ids:       ids,
		idHeader:  http.CanonicalHeaderKey(c.RequestIDHeader),
		trustedID: c.TrustRequestID,
	}, nil
}

// Name returns "client".
func (s *Stage) Name() string { return "client" }

// RequestIDHeader is the header that carries the request id.
func (s *Stage) RequestIDHeader() string { return s.idHeader }

// Response returns the request id to the client, so that a user can quote
// it to an operator.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange) error {
	x.Response.Header.Set(s.idHeader, x.RequestID)
	return nil
}

// Request sets x.RequestID and x.ClientIP.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) error {
	peer := x.In.Peer.Addr()
	if s.trustedID && s.resolver.isTrusted(peer.Unmap()) {
		if id := x.In.Header.Get(s.idHeader); validID(id) {
			x.RequestID = id
		}
	}
	if x.RequestID == "" {
		x.RequestID = s.ids.Next()
	}
	x.Scheme = "http"
	if x.In.TLS {
		x.Scheme = "https"
	} else if s.resolver.isTrusted(peer.Unmap()) {
		// A trusted TLS-terminating proxy in front says how the client
		// connected; anyone else is not believed.
		switch x.In.Header.Get("X-Forwarded-Proto") {
		case "https":
			x.Scheme = "https"
		}
	}
	ip, err := s.resolver.ClientIP(peer, x.In.Header)
	if err != nil {
		x.ClientIP = peer.Unmap()
		return &pipeline.Denial{Status: http.StatusBadRequest, Reason: ReasonBadForwardingHeader,
			Message: "The request's forwarding header could not be read.", Cause: err}
	}
	x.ClientIP = ip
	return nil
}
