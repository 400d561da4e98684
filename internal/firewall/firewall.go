// Package firewall is the network stage of the pipeline: it refuses a
// client by the network it comes from before anything else is done for it.
// It owns the global and per-route CIDR allow and deny lists (inline in the
// config or in list files reloaded when they change) and the dynamic ban
// list (type Bans: in memory, or shared by every gateway through Redis).
//
// A client is refused with 403 when its address is in a deny list
// (firewall.denied), is banned (firewall.banned) or is outside a non-empty
// allow list (firewall.not_allowed); a deny always wins over an allow. The
// refusal never says which list matched or what it holds. An allow list is
// "non-empty" when the config names any network or any allow file, even if
// the files hold no entry: a list that ends up empty then admits nobody
// rather than everybody.
//
// The address is x.ClientIP, which the client stage decides through trusted
// proxies only, so a forwarding header from an untrusted peer cannot pick
// it. IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) are matched as IPv4,
// and rules written in that form are turned into IPv4 rules, so both
// spellings match the same clients. An exchange without a client address (a
// Unix-socket peer) matches no network: deny lists and bans cannot match it
// and an allow list refuses it.
//
// Rules are compiled at load time into sorted range sets (go4.org/netipx)
// behind an atomic pointer: a request costs an atomic load and a binary
// search per list, without locks or allocations, however long the lists.
// A goroutine checks the list files every reload_interval (size and
// modification time, then a SHA-256 of the contents) and swaps in new rules;
// a file that cannot be read or parsed keeps its last good contents and is
// logged with its path and the line at fault, never with addresses.
//
// Bans live in Redis under three names, all behind a key prefix
// ("rampart:" by default, see WithKeyPrefix):
//
//   - rampart:{bans}, a hash: field = the banned network ("203.0.113.7/32"),
//     value = {"created":RFC 3339,"expires":RFC 3339,"reason":"..."};
//   - rampart:{bans}:expiry, a sorted set: member = the network, score = its
//     expiry in Unix milliseconds, so expired bans are found and deleted
//     without reading every value;
//   - rampart:bans:changed, a Pub/Sub channel: every change publishes the
//     network, and every gateway rereads the list at once.
//
// The {bans} hash tag keeps the hash and the sorted set in one Redis
// Cluster slot, as the scripts that change both at once require.
//
// The package does not own the client IP (package client), the Redis
// connection settings (package redisconn), the admin API over bans
// (package admin) or rate limits (package limits).
package firewall

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go4.org/netipx"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Deps are what a Firewall is built with besides its config section.
type Deps struct {
	// Routes is the route table the route firewalls are indexed by (the
	// gateway's, token-server routes included).
	Routes []config.Route
	// Logger receives file reload notices; default: discard.
	Logger *slog.Logger
	// Bans is the dynamic ban list the global stage checks; nil for none.
	// It outlives the Firewall: Close does not close it.
	Bans *Bans
	// Now is the clock, for the load times reported in reload logs;
	// default time.Now. Bans keep their own clock.
	Now func() time.Time
	// Background runs the list files' reloader; nil gives the Firewall a
	// runner of its own on the system clock.
	Background *background.Runner
}

// Firewall holds the compiled network rules of one config and reloads its
// list files. Its stages are safe for concurrent use.
type Firewall struct {
	log  *slog.Logger
	bans *Bans
	now  func() time.Time

	rules atomic.Pointer[rules]

	global scopeSpec
	routes []*scopeSpec // nil where a route has no rules
	// files holds every list file by path. After New only the reloader
	// goroutine touches it.
	files map[string]*listFile
	paths []string // the keys of files, sorted

	denied, notAllowed, banned *pipeline.Denial
	errNoRoute                 error

	bg        *background.Runner // nil when no list file is reloaded
	closeOnce sync.Once
}

// listSpec is one list as configured: inline networks and files.
type listSpec struct {
	inline []netip.Prefix
	files  []string
}

func (l *listSpec) empty() bool { return len(l.inline) == 0 && len(l.files) == 0 }

// scopeSpec is the global or one route's lists as configured.
type scopeSpec struct {
	allow, deny listSpec
}

func (s *scopeSpec) empty() bool { return s.allow.empty() && s.deny.empty() }

// uses reports whether any of the scope's files is in changed.
func (s *scopeSpec) uses(changed map[string]bool) bool {
	for _, l := range [][]string{s.allow.files, s.deny.files} {
		for _, p := range l {
			if changed[p] {
				return true
			}
		}
	}
	return false
}

// scope is a compiled scopeSpec.
type scope struct {
	// allow is nil when there is no allow list: every network is admitted.
	allow *netipx.IPSet
	// deny is nil when nothing is denied.
	deny *netipx.IPSet
}

// rules is one immutable generation of compiled rules.
type rules struct {
	global scope
	routes []scope // indexed by pipeline.Route.Index
}

// listFile is a list file and its last good contents.
type listFile struct {
	path     string
	modTime  time.Time
	size     int64
	sum      [sha256.Size]byte
	prefixes []netip.Prefix
	loadedAt time.Time
	// lastErr is the error last logged for this file, "" when it is fine,
	// so that a broken file is reported once rather than at every check.
	lastErr string
}

// New compiles the global firewall section and every route's firewall,
// reading the list files; an error names the config path of a bad inline
// entry or the file and line of a bad file entry. When any list file is
// named and fw.ReloadInterval is positive, a goroutine rereads changed
// files until Close.
func New(fw config.Firewall, opt Deps) (*Firewall, error) {
	routes := opt.Routes
	f := &Firewall{
		log:        opt.Logger,
		bans:       opt.Bans,
		now:        opt.Now,
		files:      map[string]*listFile{},
		routes:     make([]*scopeSpec, len(routes)),
		denied:     pipeline.Deny(403, ReasonDenied, "The client's network is not allowed."),
		notAllowed: pipeline.Deny(403, ReasonNotAllowed, "The client's network is not allowed."),
		banned:     pipeline.Deny(403, ReasonBanned, "The client's address is blocked for a while."),
		errNoRoute: errors.New("firewall: the route stage did not run before the route firewall"),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	var err error
	if f.global, err = f.spec("firewall", fw.Allow, fw.Deny, fw.AllowFiles, fw.DenyFiles); err != nil {
		return nil, err
	}
	for i, r := range routes {
		if r.Firewall == nil {
			continue
		}
		rf := r.Firewall
		s, err := f.spec(fmt.Sprintf("routes[%d].firewall", i), rf.Allow, rf.Deny, rf.AllowFiles, rf.DenyFiles)
		if err != nil {
			return nil, err
		}
		if !s.empty() {
			f.routes[i] = &s
		}
	}
	for _, p := range f.paths {
		if err := f.load(f.files[p]); err != nil {
			return nil, err
		}
	}
	r := &rules{routes: make([]scope, len(routes))}
	if r.global, err = f.compile(&f.global); err != nil {
		return nil, err
	}
	for i, s := range f.routes {
		if s == nil {
			continue
		}
		if r.routes[i], err = f.compile(s); err != nil {
			return nil, err
		}
	}
	f.rules.Store(r)
	if len(f.paths) > 0 && fw.ReloadInterval > 0 {
		f.bg = background.Or(opt.Background, f.log).Child()
		f.bg.Every("firewall list files reload", fw.ReloadInterval.Std(), func(context.Context) { f.reload() })
	}
	return f, nil
}

// spec parses one scope's inline networks and registers its files.
func (f *Firewall) spec(path string, allow, deny, allowFiles, denyFiles []string) (scopeSpec, error) {
	var s scopeSpec
	var err error
	if s.allow.inline, err = inline(path+".allow", allow); err != nil {
		return s, err
	}
	if s.deny.inline, err = inline(path+".deny", deny); err != nil {
		return s, err
	}
	s.allow.files = f.register(allowFiles)
	s.deny.files = f.register(denyFiles)
	return s, nil
}

func inline(path string, list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := config.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", path, i, err)
		}
		out = append(out, Normalize(p))
	}
	return out, nil
}

// register adds files to the set of watched files, each once.
func (f *Firewall) register(paths []string) []string {
	for _, p := range paths {
		if _, ok := f.files[p]; !ok {
			f.files[p] = &listFile{path: p}
			i, _ := slices.BinarySearch(f.paths, p)
			f.paths = slices.Insert(f.paths, i, p)
		}
	}
	return paths
}

// readList reads a list file, bounded.
func readList(path string) (os.FileInfo, []byte, error) {
	fh, err := os.Open(path) // #nosec G304 -- the operator's config names the file
	if err != nil {
		return nil, nil, fmt.Errorf("reading firewall list: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("reading firewall list: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading firewall list: %w", err)
	}
	return fi, data, nil
}

// load reads and parses a file for New.
func (f *Firewall) load(lf *listFile) error {
	fi, data, err := readList(lf.path)
	if err != nil {
		return err
	}
	prefixes, err := parseList(lf.path, data)
	if err != nil {
		return fmt.Errorf("firewall list %w", err)
	}
	lf.modTime, lf.size, lf.sum = fi.ModTime(), fi.Size(), sha256.Sum256(data)
	lf.prefixes, lf.loadedAt = prefixes, f.now()
	return nil
}

// compile builds a scope from its spec and the files' current contents.
func (f *Firewall) compile(s *scopeSpec) (scope, error) {
	var sc scope
	var err error
	if !s.allow.empty() {
		if sc.allow, err = buildSet(f.lists(&s.allow)...); err != nil {
			return scope{}, err
		}
	}
	if !s.deny.empty() {
		if sc.deny, err = buildSet(f.lists(&s.deny)...); err != nil {
			return scope{}, err
		}
	}
	return sc, nil
}

func (f *Firewall) lists(l *listSpec) [][]netip.Prefix {
	out := [][]netip.Prefix{l.inline}
	for _, p := range l.files {
		out = append(out, f.files[p].prefixes)
	}
	return out
}

// reload rereads the files that changed and swaps in rules recompiled for
// the scopes that use them.
func (f *Firewall) reload() {
	changed := map[string]bool{}
	for _, p := range f.paths {
		if f.check(f.files[p]) {
			changed[p] = true
		}
	}
	if len(changed) == 0 {
		return
	}
	old := f.rules.Load()
	r := &rules{global: old.global, routes: slices.Clone(old.routes)}
	var err error
	if f.global.uses(changed) {
		if r.global, err = f.compile(&f.global); err != nil {
			f.log.Error("firewall: rules not reloaded", "error", err)
			return
		}
	}
	for i, s := range f.routes {
		if s != nil && s.uses(changed) {
			if r.routes[i], err = f.compile(s); err != nil {
				f.log.Error("firewall: rules not reloaded", "error", err)
				return
			}
		}
	}
	f.rules.Store(r)
}

// check rereads lf if its size or modification time changed and reports
// whether its contents changed. A file that cannot be read or parsed keeps
// its last good contents.
func (f *Firewall) check(lf *listFile) bool {
	fi, err := os.Stat(lf.path)
	if err != nil {
		f.fail(lf, fmt.Errorf("reading firewall list: %w", err))
		return false
	}
	if fi.ModTime().Equal(lf.modTime) && fi.Size() == lf.size {
		return false
	}
	fi, data, err := readList(lf.path)
	if err != nil {
		f.fail(lf, err)
		return false
	}
	// Remember what was seen, good or bad, so an unchanged bad file is not
	// reread and reported at every check.
	lf.modTime, lf.size = fi.ModTime(), fi.Size()
	sum := sha256.Sum256(data)
	if sum == lf.sum {
		f.recovered(lf)
		return false
	}
	prefixes, err := parseList(lf.path, data)
	if err != nil {
		f.fail(lf, err)
		return false
	}
	lf.sum, lf.prefixes, lf.loadedAt = sum, prefixes, f.now()
	f.recovered(lf)
	f.log.Info("firewall: list file reloaded", "path", lf.path, "entries", len(prefixes))
	return true
}

// fail logs a file's error once, until it changes or the file recovers.
// The error names the path and a line, never an entry.
func (f *Firewall) fail(lf *listFile, err error) {
	if msg := err.Error(); msg != lf.lastErr {
		lf.lastErr = msg
		f.log.Warn("firewall: list file not reloaded; keeping its last good contents",
			"path", lf.path, "error", msg, "loaded_at", lf.loadedAt)
	}
}

func (f *Firewall) recovered(lf *listFile) {
	if lf.lastErr != "" {
		lf.lastErr = ""
		f.log.Info("firewall: list file readable again", "path", lf.path)
	}
}

// Close stops the file reloader. The stages keep working with the rules
// they have; Bans are not closed.
func (f *Firewall) Close() error {
	f.closeOnce.Do(func() {
		if f.bg != nil {
			f.bg.Close()
		}
	})
	return nil
}

// Global returns the stage that applies the global lists and the bans. It
// runs before routing and reads only x.ClientIP. It returns nil (no stage)
// when there are neither global lists nor bans.
func (f *Firewall) Global() pipeline.RequestStage {
	if f.global.empty() && f.bans == nil {
		return nil
	}
	return &globalStage{f: f}
}

// Route returns the stage that applies the routes' own lists. It runs
// after routing. It returns nil (no stage) when no route has lists, and
// costs a route without lists one atomic load.
func (f *Firewall) Route() pipeline.RequestStage {
	for _, s := range f.routes {
		if s != nil {
			return &routeStage{f: f}
		}
	}
	return nil
}

// globalStage is the firewall before routing.
type globalStage struct{ f *Firewall }

// Name returns "firewall".
func (s *globalStage) Name() string { return "firewall" }

// Request refuses clients denied, banned or not allowed globally.
func (s *globalStage) Request(_ context.Context, x *pipeline.Exchange) error {
	f := s.f
	a := x.ClientIP.Unmap()
	g := &f.rules.Load().global
	if g.deny != nil && g.deny.Contains(a) {
		return f.denied
	}
	if f.bans.Banned(a) {
		return f.banned
	}
	if g.allow != nil && !g.allow.Contains(a) {
		return f.notAllowed
	}
	return nil
}

// routeStage is the firewall after routing.
type routeStage struct{ f *Firewall }

// Name returns "firewall".
func (s *routeStage) Name() string { return "firewall" }

// Request refuses clients denied or not allowed by the matched route.
func (s *routeStage) Request(_ context.Context, x *pipeline.Exchange) error {
	f := s.f
	r := f.rules.Load()
	if x.Route == nil || x.Route.Index < 0 || x.Route.Index >= len(r.routes) {
		return f.errNoRoute // assembled in the wrong order: fail closed
	}
	sc := &r.routes[x.Route.Index]
	if sc.deny == nil && sc.allow == nil {
		return nil
	}
	a := x.ClientIP.Unmap()
	if sc.deny != nil && sc.deny.Contains(a) {
		return f.denied
	}
	if sc.allow != nil && !sc.allow.Contains(a) {
		return f.notAllowed
	}
	return nil
}
