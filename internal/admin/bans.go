package admin

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/problem"
)

// AddBanRequest is the body of POST /v1/bans.
type AddBanRequest struct {
	// Network is an address ("203.0.113.7") or a CIDR ("2001:db8::/48").
	Network string `json:"network"`
	// TTL is how long the ban lasts, a Go duration such as "1h"; at most
	// firewall.bans.max_ttl.
	TTL string `json:"ttl"`
	// Reason is a note for other admins, up to 200 bytes of printable text.
	Reason string `json:"reason,omitempty"`
}

// BanInfo describes a ban in force.
type BanInfo struct {
	// Network is the banned network in CIDR form: a single address is a
	// /32 or /128.
	Network   string    `json:"network"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RemovedBan is the answer to DELETE /v1/bans.
type RemovedBan struct {
	Network string `json:"network"`
	Removed bool   `json:"removed"`
}

func banInfo(b firewall.Ban) BanInfo {
	return BanInfo{Network: b.Network.String(), Reason: b.Reason, CreatedAt: b.Created, ExpiresAt: b.Expires}
}

// badNetwork is the answer to a network that cannot be read.
const badNetwork = inputError("network must be an IP address such as 203.0.113.7 or a CIDR such as 2001:db8::/48")

// parseNetwork reads an address (a /32 or /128) or a CIDR, with host bits
// cleared and IPv4-mapped IPv6 forms turned into IPv4, so that every
// spelling of a network names the same ban.
func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, badNetwork
		}
		return firewall.Normalize(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, badNetwork
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// bansAPI serves a ban list over HTTP under /v1/bans.
type bansAPI struct {
	bans   *firewall.Bans
	record Recorder
}

func (a *bansAPI) fail(w http.ResponseWriter, err error) {
	var in inputError
	switch {
	case errors.As(err, &in):
		problem.Write(w, http.StatusBadRequest, "admin.bad_request", in.Error(), "", nil)
	case errors.Is(err, firewall.ErrInvalidBan):
		problem.Write(w, http.StatusBadRequest, "admin.bad_request", err.Error(), "", nil)
	case errors.Is(err, firewall.ErrBanListFull):
		problem.Write(w, http.StatusConflict, "admin.ban_list_full", err.Error(), "", nil)
	default:
		// The back end (Redis): its error text is never sent.
		problem.Write(w, http.StatusServiceUnavailable, "admin.bans_unavailable", "The ban list cannot be used right now.", "", nil)
	}
}

func (a *bansAPI) add(w http.ResponseWriter, r *http.Request) {
	var req AddBanRequest
	if err := decode(r, &req); err != nil {
		badRequest(w, err)
		return
	}
	p, err := parseNetwork(req.Network)
	if err != nil {
		a.fail(w, err)
		return
	}
	ttl, err := time.ParseDuration(req.TTL)
	if err != nil || ttl <= 0 {
		a.fail(w, inputError(`ttl must be a positive duration such as "1h"`))
		return
	}
	ban, err := a.bans.Add(r.Context(), p, ttl, req.Reason)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.record.record("ban.add", "", ban.Network.String()+" for "+ttl.String())
	writeJSON(w, http.StatusCreated, banInfo(ban))
}

func (a *bansAPI) list(w http.ResponseWriter, r *http.Request) {
	bans, err := a.bans.List(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	out := make([]BanInfo, 0, len(bans))
	for _, b := range bans {
		out = append(out, banInfo(b))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *bansAPI) remove(w http.ResponseWriter, r *http.Request) {
	nets := r.URL.Query()["network"]
	if len(nets) != 1 {
		a.fail(w, inputError("give the network to unban once, as ?network=203.0.113.7"))
		return
	}
	p, err := parseNetwork(nets[0])
	if err != nil {
		a.fail(w, err)
		return
	}
	ok, err := a.bans.Remove(r.Context(), p)
	if err != nil {
		a.fail(w, err)
		return
	}
	if !ok {
		problem.Write(w, http.StatusNotFound, "admin.not_found", "No ban on this network is in force.", "", nil)
		return
	}
	a.record.record("ban.remove", "", p.String())
	writeJSON(w, http.StatusOK, RemovedBan{Network: p.String(), Removed: true})
}
