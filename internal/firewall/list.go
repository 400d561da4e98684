package firewall

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"go4.org/netipx"
)

// maxFileBytes bounds a list file. A million IPv6 CIDRs with comments fit.
const maxFileBytes = 64 << 20

// errBadEntry and its kin describe a bad line without quoting it: file
// errors reach logs, and a list's contents stay out of them.
var (
	errBadEntry = errors.New("not an IP address or a CIDR such as 10.0.0.0/8 or 2001:db8::/32")
	errZone     = errors.New("an address with a zone (%eth0) cannot be matched")
	errBadUTF8  = errors.New("not valid UTF-8")
)

// parseList parses a list file: one CIDR or address per line, "#" starts a
// comment, blank lines and surrounding spaces are ignored. An error reads
// "name:line: message" and never quotes the line.
func parseList(name string, data []byte) ([]netip.Prefix, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, maxFileBytes>>20)
	}
	var out []netip.Prefix
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if i := bytes.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		l = bytes.TrimSpace(l) // also drops a CRLF file's \r
		if len(l) == 0 {
			continue
		}
		if !utf8.Valid(l) {
			return nil, fmt.Errorf("%s:%d: %w", name, line, errBadUTF8)
		}
		p, err := parsePrefix(string(l))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePrefix parses a CIDR or a single address (a /32 or /128), masks
// host bits, and turns an IPv4-mapped IPv6 network into its IPv4 network.
// Its errors never quote s.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errBadEntry
		}
		return Normalize(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errBadEntry
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errZone
	}
	return Normalize(netip.PrefixFrom(a, a.BitLen())), nil
}

// Normalize returns p with its host bits cleared and, when p is an
// IPv4-mapped IPv6 network of /96 or longer (::ffff:192.0.2.0/120), as the
// IPv4 network it maps (192.0.2.0/24): client addresses are unmapped before
// they are matched, so both spellings of a rule match the same clients.
// An invalid p is returned as is.
func Normalize(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// buildSet compiles prefixes into a set matched in O(log n).
func buildSet(lists ...[]netip.Prefix) (*netipx.IPSet, error) {
	var b netipx.IPSetBuilder
	for _, l := range lists {
		for _, p := range l {
			b.AddPrefix(p)
		}
	}
	s, err := b.IPSet()
	if err != nil {
		return nil, fmt.Errorf("building the network set: %w", err)
	}
	return s, nil
}
