package firewall

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// logBuffer collects log output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// eventually polls cond until it holds: for what no clock drives (Redis
// change notices, the ban snapshot's rebuild).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	backgroundtest.Eventually(t, what, 10*time.Second, cond)
}

// verdict runs a stage on an exchange from addr (on route, if >= 0) and
// returns the denial's reason, "" when allowed.
func verdict(t *testing.T, s pipeline.RequestStage, addr string, route int) string {
	t.Helper()
	x := &pipeline.Exchange{}
	x.Reset()
	if addr != "" {
		x.ClientIP = netip.MustParseAddr(addr)
	}
	if route >= 0 {
		x.Route = &pipeline.Route{Index: route}
	}
	err := s.Request(context.Background(), x)
	if err == nil {
		return ""
	}
	d, ok := pipeline.AsDenial(err)
	if !ok {
		t.Fatalf("%s: not a denial: %v", addr, err)
	}
	if d.Status != 403 || (addr != "" && strings.Contains(d.Message, addr)) || strings.Contains(d.Message, "10.") {
		t.Errorf("%s: denial %+v reveals too much or has the wrong status", addr, d)
	}
	return d.Reason
}

func TestRules(t *testing.T) {
	fw := config.Firewall{
		Allow: []string{"10.0.0.0/8", "2001:db8::/32", "::ffff:192.0.2.0/120"},
		Deny:  []string{"10.66.0.0/16", "2001:db8:bad::/48", "10.9.9.9"},
	}
	routes := []config.Route{
		{Name: "open"},
		{Name: "office", Firewall: &config.RouteFirewall{Allow: []string{"10.1.0.0/16", "2001:db8:1::/48"}}},
		{Name: "no-lab", Firewall: &config.RouteFirewall{Deny: []string{"10.2.0.0/16", "::ffff:10.3.0.0/112"}}},
		{Name: "both", Firewall: &config.RouteFirewall{Allow: []string{"10.4.0.0/16"}, Deny: []string{"10.4.4.0/24"}}},
		{Name: "empty", Firewall: &config.RouteFirewall{}},
	}
	f, err := New(fw, Deps{Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	global, route := f.Global(), f.Route()
	if global == nil || route == nil || global.Name() != "firewall" || route.Name() != "firewall" {
		t.Fatal("stages missing")
	}
	tests := []struct {
		name        string
		addr        string
		route       int
		global, rte string
	}{
		{"ipv4 allowed", "10.0.0.1", 0, "", ""},
		{"ipv4 outside allow", "192.168.1.1", 0, ReasonNotAllowed, ""},
		{"ipv4 deny wins over allow", "10.66.1.1", 0, ReasonDenied, ""},
		{"single address denied", "10.9.9.9", 0, ReasonDenied, ""},
		{"neighbour of a single address", "10.9.9.8", 0, "", ""},
		{"mapped rule matches ipv4", "192.0.2.5", 0, "", ""},
		{"mapped rule boundary", "192.0.3.1", 0, ReasonNotAllowed, ""},
		{"mapped address matches ipv4 allow", "::ffff:10.0.0.1", 0, "", ""},
		{"mapped address matches ipv4 deny", "::ffff:10.66.0.1", 0, ReasonDenied, ""},
		{"mapped address outside allow", "::ffff:192.168.1.1", 0, ReasonNotAllowed, ""},
		{"ipv6 allowed", "2001:db8::1", 0, "", ""},
		{"ipv6 denied", "2001:db8:bad::1", 0, ReasonDenied, ""},
		{"ipv6 outside allow", "2001:db9::1", 0, ReasonNotAllowed, ""},
		{"ipv4-compatible is not ipv4", "::10.0.0.1", 0, ReasonNotAllowed, ""},
		{"no client address", "", 0, ReasonNotAllowed, ""},
		{"route allow admits", "10.1.2.3", 1, "", ""},
		{"route allow refuses what global admits", "10.0.0.1", 1, "", ReasonNotAllowed},
		{"route allow ipv6", "2001:db8:1::5", 1, "", ""},
		{"route allow ipv6 refuses", "2001:db8:2::5", 1, "", ReasonNotAllowed},
		{"route allow mapped", "::ffff:10.1.0.1", 1, "", ""},
		{"route deny", "10.2.0.1", 2, "", ReasonDenied},
		{"route deny via mapped rule", "10.3.0.1", 2, "", ReasonDenied},
		{"route deny mapped address", "::ffff:10.2.0.1", 2, "", ReasonDenied},
		{"route deny others pass", "10.5.0.1", 2, "", ""},
		{"route deny wins over route allow", "10.4.4.4", 3, "", ReasonDenied},
		{"route allow with deny", "10.4.5.5", 3, "", ""},
		{"route with empty firewall", "10.7.0.1", 4, "", ""},
		{"rules of another route do not apply", "10.2.0.1", 1, "", ReasonNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(t, global, tt.addr, -1); got != tt.global {
				t.Errorf("global: %q, want %q", got, tt.global)
			}
			if got := verdict(t, route, tt.addr, tt.route); got != tt.rte {
				t.Errorf("route %d: %q, want %q", tt.route, got, tt.rte)
			}
		})
	}

	x := &pipeline.Exchange{}
	x.Reset()
	if err := route.Request(context.Background(), x); err == nil {
		t.Error("route stage without a route admitted the request")
	} else if _, ok := pipeline.AsDenial(err); ok {
		t.Error("a misassembled pipeline is a failure, not a denial")
	}
	x.Route = &pipeline.Route{Index: 99}
	if err := route.Request(context.Background(), x); err == nil {
		t.Error("out-of-range route index admitted")
	}
}

func TestDenyOnlyAndNothing(t *testing.T) {
	f, err := New(config.Firewall{Deny: []string{"198.51.100.0/24"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	g := f.Global()
	for addr, want := range map[string]string{"198.51.100.1": ReasonDenied, "203.0.113.1": "", "2001:db8::1": "", "": ""} {
		if got := verdict(t, g, addr, -1); got != want {
			t.Errorf("%q: %q, want %q", addr, got, want)
		}
	}
	if f.Route() != nil {
		t.Error("route stage without route rules")
	}

	none, err := New(config.Firewall{}, Deps{Routes: []config.Route{{Name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if none.Global() != nil || none.Route() != nil {
		t.Error("stages with nothing to check")
	}
	// Bans alone need the global stage.
	bans := NewMemoryBans(config.Bans{}, nil)
	withBans, _ := New(config.Firewall{}, Deps{Bans: bans})
	g = withBans.Global()
	if g == nil {
		t.Fatal("no global stage with bans")
	}
	if _, err := bans.Add(context.Background(), netip.MustParsePrefix("203.0.113.7/32"), time.Hour, "scanner"); err != nil {
		t.Fatal(err)
	}
	if got := verdict(t, g, "::ffff:203.0.113.7", -1); got != ReasonBanned {
		t.Errorf("banned mapped address: %q", got)
	}
	if got := verdict(t, g, "203.0.113.8", -1); got != "" {
		t.Errorf("neighbour of a ban: %q", got)
	}
}

// TestBanOrder: a ban wins over an allow; a deny is reported as a deny.
func TestBanOrder(t *testing.T) {
	bans := NewMemoryBans(config.Bans{}, nil)
	ctx := context.Background()
	for _, p := range []string{"10.0.0.1/32", "10.66.0.1/32", "192.168.0.1/32"} {
		if _, err := bans.Add(ctx, netip.MustParsePrefix(p), time.Hour, ""); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := New(config.Firewall{Allow: []string{"10.0.0.0/8"}, Deny: []string{"10.66.0.0/16"}}, Deps{Bans: bans})
	g := f.Global()
	for addr, want := range map[string]string{"10.0.0.1": ReasonBanned, "10.66.0.1": ReasonDenied, "192.168.0.1": ReasonBanned, "10.0.0.2": ""} {
		if got := verdict(t, g, addr, -1); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write then rename, so the reloader never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	writeFile(t, good, "# office\n10.0.0.0/8\n\n  192.0.2.1   # one host\r\n2001:db8::/32\n")
	bad := filepath.Join(dir, "bad.txt")
	writeFile(t, bad, "10.0.0.0/8\n# comment\n\nsecret-host.example\n")
	zone := filepath.Join(dir, "zone.txt")
	writeFile(t, zone, "fe80::1%eth0\n")
	cidr := filepath.Join(dir, "cidr.txt")
	writeFile(t, cidr, "10.0.0.0/8\n10.0.0.0/33\n")

	tests := []struct {
		name   string
		fw     config.Firewall
		routes []config.Route
		want   string
	}{
		{"good file", config.Firewall{DenyFiles: []string{good}}, nil, ""},
		{"bad file names file and line", config.Firewall{AllowFiles: []string{bad}}, nil, bad + ":4: not an IP address"},
		{"zone", config.Firewall{DenyFiles: []string{zone}}, nil, zone + ":1: an address with a zone"},
		{"prefix too long", config.Firewall{DenyFiles: []string{cidr}}, nil, cidr + ":2:"},
		{"missing file", config.Firewall{DenyFiles: []string{filepath.Join(dir, "none.txt")}}, nil, "none.txt: no such file"},
		{"route file", config.Firewall{}, []config.Route{{Firewall: &config.RouteFirewall{DenyFiles: []string{bad}}}}, bad + ":4:"},
		{"inline entry", config.Firewall{Deny: []string{"10.0.0.0/8", "nope"}}, nil, "firewall.deny[1]:"},
		{"route inline entry", config.Firewall{}, []config.Route{{}, {Firewall: &config.RouteFirewall{Allow: []string{"1.2.3.4/99"}}}}, "routes[1].firewall.allow[0]:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.fw, Deps{Routes: tt.routes})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-host") {
				t.Errorf("error quotes the entry: %v", err)
			}
		})
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	deny := filepath.Join(dir, "deny.txt")
	allow := filepath.Join(dir, "allow.txt")
	writeFile(t, deny, "198.51.100.0/24\n")
	writeFile(t, allow, "10.0.0.0/8\n")
	var logs logBuffer
	bg, clock := backgroundtest.Runner(t)
	reload := func() { backgroundtest.Tick(t, clock, 10*time.Millisecond, 1) }
	f, err := New(config.Firewall{DenyFiles: []string{deny}, ReloadInterval: config.Duration(10 * time.Millisecond)}, Deps{Routes: []config.Route{{Firewall: &config.RouteFirewall{AllowFiles: []string{allow}, DenyFiles: []string{deny}}}}, Logger: logs.logger(), Background: bg})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, r := f.Global(), f.Route()
	if verdict(t, g, "198.51.100.1", -1) != ReasonDenied || verdict(t, g, "203.0.113.1", -1) != "" {
		t.Fatal("initial rules")
	}

	// A changed file is picked up, by every scope that uses it.
	writeFile(t, deny, "# moved\n203.0.113.0/24\n2001:db8:bad::/48\n")
	reload()
	if !(verdict(t, g, "198.51.100.1", -1) == "" && verdict(t, g, "203.0.113.1", -1) == ReasonDenied) {
		t.Fatalf("the new deny list: not after a reload:\n%s", logs.String())
	}
	if verdict(t, g, "2001:db8:bad::1", -1) != ReasonDenied || verdict(t, r, "203.0.113.1", 0) != ReasonDenied {
		t.Error("the new list is not applied everywhere")
	}
	writeFile(t, allow, "10.0.0.0/8\n172.16.0.0/12\n")
	reload()
	if verdict(t, r, "172.16.0.1", 0) != "" {
		t.Fatalf("the new allow list: not after a reload:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "list file reloaded") {
		t.Error("reload not logged")
	}

	// A bad file keeps its last good contents, and is reported once with
	// its path and line, never with an address.
	writeFile(t, deny, "192.0.2.0/24\n192.0.2.300\n")
	reload()
	if !strings.Contains(logs.String(), "not reloaded") {
		t.Fatalf("the warning: not after a reload:\n%s", logs.String())
	}
	out := logs.String()
	if !strings.Contains(out, deny+":2:") || strings.Contains(out, "192.0.2") || strings.Contains(out, "203.0.113") {
		t.Errorf("warning: %s", out)
	}
	if verdict(t, g, "203.0.113.1", -1) != ReasonDenied || verdict(t, g, "192.0.2.1", -1) != "" {
		t.Error("a bad file replaced the good rules")
	}
	// A removed file too.
	if err := os.Remove(deny); err != nil {
		t.Fatal(err)
	}
	reload()
	if strings.Count(logs.String(), "not reloaded") != 2 {
		t.Fatalf("the missing-file warning: not after a reload:\n%s", logs.String())
	}
	if verdict(t, g, "203.0.113.1", -1) != ReasonDenied {
		t.Error("a missing file dropped the rules")
	}

	// Fixed: the new contents apply.
	writeFile(t, deny, "192.0.2.0/24\n")
	reload()
	if verdict(t, g, "192.0.2.1", -1) != ReasonDenied {
		t.Fatalf("the fixed list: not after a reload:\n%s", logs.String())
	}
	if verdict(t, g, "203.0.113.1", -1) != "" {
		t.Error("old entries kept")
	}
	if n := strings.Count(logs.String(), "not reloaded"); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, logs.String())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close() // idempotent
}

// TestAllowFileEmpty: an allow list made only of an empty file admits
// nobody rather than everybody.
func TestAllowFileEmpty(t *testing.T) {
	p := filepath.Join(t.TempDir(), "allow.txt")
	writeFile(t, p, "# nobody yet\n")
	f, err := New(config.Firewall{AllowFiles: []string{p}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := verdict(t, f.Global(), "10.0.0.1", -1); got != ReasonNotAllowed {
		t.Errorf("empty allow file: %q", got)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1/8":              "10.0.0.0/8",
		"::ffff:10.0.0.0/104":     "10.0.0.0/8",
		"::ffff:192.0.2.7/128":    "192.0.2.7/32",
		"::ffff:0.0.0.0/96":       "0.0.0.0/0",
		"::/0":                    "::/0",
		"::ffff:0:0/80":           "::/80",
		"2001:db8::1/32":          "2001:db8::/32",
		"2001:db8:0:0:0:0:0:1/64": "2001:db8::/64",
	} {
		if got := Normalize(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("Normalize(%s) = %s, want %s", in, got, want)
		}
	}
}

// bigDeny returns n distinct random IPv4 /32s and /24s.
func bigDeny(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{byte(11 + r.IntN(100)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		if i%10 == 0 {
			out[i] = netip.PrefixFrom(a, 24).Masked().String()
		} else {
			out[i] = a.String()
		}
	}
	return out
}

func bigFirewall(tb testing.TB) (*Firewall, []netip.Addr) {
	tb.Helper()
	deny := bigDeny(100_000)
	bans := NewMemoryBans(config.Bans{}, nil)
	if _, err := bans.Add(context.Background(), netip.MustParsePrefix("2001:db8::/32"), time.Hour, "bench"); err != nil {
		tb.Fatal(err)
	}
	f, err := New(config.Firewall{Deny: deny, Allow: []string{"0.0.0.0/0", "::/0"}}, Deps{Bans: bans})
	if err != nil {
		tb.Fatal(err)
	}
	addrs := []netip.Addr{
		netip.MustParseAddr(deny[1]),           // denied
		netip.MustParseAddr("203.0.113.9"),     // admitted
		netip.MustParseAddr("::ffff:10.0.0.1"), // admitted, mapped
		netip.MustParseAddr("2001:db8::1"),     // banned
	}
	return f, addrs
}

// TestGlobalAllocFree: the request path allocates nothing, allowed or not.
func TestGlobalAllocFree(t *testing.T) {
	f, addrs := bigFirewall(t)
	g := f.Global()
	x := &pipeline.Exchange{}
	x.Reset()
	ctx := context.Background()
	want := []string{ReasonDenied, "", "", ReasonBanned}
	for i, a := range addrs {
		x.ClientIP = a
		if got := verdict(t, g, a.String(), -1); got != want[i] {
			t.Fatalf("%s: %q, want %q", a, got, want[i])
		}
		if n := testing.AllocsPerRun(1000, func() { _ = g.Request(ctx, x) }); n != 0 {
			t.Errorf("%s: %v allocations per request", a, n)
		}
	}
}

// BenchmarkGlobal measures the global stage against a 100,000-entry deny
// list and a ban list.
func BenchmarkGlobal(b *testing.B) {
	f, addrs := bigFirewall(b)
	g := f.Global()
	x := &pipeline.Exchange{}
	x.Reset()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x.ClientIP = addrs[i%len(addrs)]
		_ = g.Request(ctx, x)
	}
}

// BenchmarkGlobalParallel is BenchmarkGlobal from every CPU at once.
func BenchmarkGlobalParallel(b *testing.B) {
	f, addrs := bigFirewall(b)
	g := f.Global()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := &pipeline.Exchange{}
		x.Reset()
		for i := 0; pb.Next(); i++ {
			x.ClientIP = addrs[i%len(addrs)]
			_ = g.Request(ctx, x)
		}
	})
}

func ExampleNew() {
	f, err := New(config.Firewall{Allow: []string{"10.0.0.0/8"}, Deny: []string{"10.66.0.0/16"}}, Deps{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	x := &pipeline.Exchange{}
	x.Reset()
	for _, a := range []string{"10.1.2.3", "10.66.0.1", "192.0.2.1"} {
		x.ClientIP = netip.MustParseAddr(a)
		if d, ok := pipeline.AsDenial(f.Global().Request(context.Background(), x)); ok {
			fmt.Println(a, d.Reason)
		} else {
			fmt.Println(a, "admitted")
		}
	}
	// Output:
	// 10.1.2.3 admitted
	// 10.66.0.1 firewall.denied
	// 192.0.2.1 firewall.not_allowed
}
