package inputs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/waf"
)

const spec = "../gateway/testdata/inputs/notes.yaml"

// stage builds the stage over four routes: none, contract, waf, both.
func stage(tb testing.TB) *Stage {
	tb.Helper()
	cfg := &config.Config{Version: 1, Routes: []config.Route{
		{Name: "none", Path: "/notes", Methods: []string{"GET", "POST"}},
		{Name: "contract", Path: "/notes", Methods: []string{"GET", "POST"}, OpenAPI: &config.RouteOpenAPI{Spec: spec}},
		{Name: "waf", Path: "/notes", Methods: []string{"GET", "POST"}, WAF: &config.RouteWAF{}},
		{Name: "both", Path: "/notes", Methods: []string{"GET", "POST"}, OpenAPI: &config.RouteOpenAPI{Spec: spec}, WAF: &config.RouteWAF{}},
	}}
	return stageOf(tb, cfg)
}

// stageOf builds the stage of cfg (defaults set), closed with tb.
func stageOf(tb testing.TB, cfg *config.Config) *Stage {
	tb.Helper()
	config.SetDefaults(cfg)
	s, err := New(cfg.WAF, Deps{Routes: cfg.Routes})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

type body []byte

func (b body) ReadBody() ([]byte, error) { return b, nil }

// exchange fills x with a request on route i: a GET, or a POST of b.
func exchange(x *pipeline.Exchange, i int, b []byte) {
	x.Reset()
	x.Route = &pipeline.Route{Index: i}
	h := http.Header{"User-Agent": {"bench/1.0"}, "Accept": {"application/json"}}
	x.In = pipeline.Request{Method: "GET", Host: "api.example.com", RawPath: "/notes", RawQuery: "limit=10",
		Header: h, Peer: netip.MustParseAddrPort("192.0.2.7:40000"), ContentLength: 0}
	x.ClientIP, x.Path, x.Query = netip.MustParseAddr("192.0.2.7"), "/notes", "limit=10"
	if b != nil {
		h.Set("Content-Type", "application/json")
		x.In.Method, x.In.RawQuery, x.Query, x.In.ContentLength = "POST", "", "", int64(len(b))
		x.SetBodySource(body(b))
	}
}

// note is a realistic 1 KiB JSON body that the contract and the CRS at
// paranoia 1 accept.
func note() []byte {
	text := strings.Repeat("Buy milk, eggs and bread; call Ann at noon about the report. ", 16)[:900]
	return []byte(`{"title":"Monday list","text":"` + text + `"}`)
}

func TestRequest(t *testing.T) {
	s := stage(t)
	ctx := context.Background()
	sqli := []byte(`{"title":"x","text":"1' UNION SELECT password FROM users WHERE '1'='1"}`)
	for _, tc := range []struct {
		route  int
		body   []byte
		reason string
	}{
		{0, nil, ""}, {1, nil, ""}, {2, nil, ""}, {3, nil, ""},
		{0, note(), ""}, {1, note(), ""}, {2, note(), ""}, {3, note(), ""},
		{0, sqli, ""}, {1, sqli, ""}, {2, sqli, ReasonWAFBlocked}, {3, sqli, ReasonWAFBlocked},
		{0, []byte(`{"title":"x","admin":true}`), ""},
		{1, []byte(`{"title":"x","admin":true}`), ReasonInvalid},
		{3, []byte(`{"title":"x","admin":true}`), ReasonInvalid},
	} {
		var x pipeline.Exchange
		exchange(&x, tc.route, tc.body)
		err := s.Request(ctx, &x)
		got := ""
		if d, ok := pipeline.AsDenial(err); ok {
			got = d.Reason
		} else if err != nil {
			t.Fatalf("route %d: %v", tc.route, err)
		}
		if got != tc.reason {
			t.Errorf("route %d, body %.30q: %q, want %q", tc.route, tc.body, got, tc.reason)
		}
	}
}

// TestNoDefenceFree: a route with neither defence costs no allocation.
func TestNoDefenceFree(t *testing.T) {
	s := stage(t)
	var x pipeline.Exchange
	ctx := context.Background()
	for _, b := range [][]byte{nil, note()} {
		exchange(&x, 0, b)
		if n := testing.AllocsPerRun(100, func() { _ = s.Request(ctx, &x) }); n != 0 {
			t.Errorf("%d allocations on a route with no defence", int(n))
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	s := stage(b)
	ctx := context.Background()
	for i, name := range []string{"none", "contract", "waf", "both"} {
		for _, req := range []struct {
			name string
			body []byte
		}{{"GET", nil}, {"POST1KiB", note()}} {
			b.Run(name+"/"+req.name, func(b *testing.B) {
				var x pipeline.Exchange
				b.ReportAllocs()
				for b.Loop() {
					exchange(&x, i, req.body)
					if err := s.Request(ctx, &x); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func TestWAFOptions(t *testing.T) {
	section := config.WAF{Profiles: []string{"json-api"}, Exclude: []config.WAFExclusion{{Rules: []string{"942100"}}}}
	w := &config.RouteWAF{Paranoia: 2, InboundThreshold: 7, Mode: "detect", BodyLimit: 1 << 10,
		Profiles: []string{"json-api"}, Exclude: []config.WAFExclusion{{Rules: []string{"941000-941999"}, Target: "ARGS:json.text"}}}
	opts, err := wafOptions(section, w)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Paranoia != 2 || opts.InboundThreshold != 7 || !opts.DetectOnly || opts.BodyLimit != 1<<10 ||
		len(opts.Profiles) != 1 || len(opts.Exclusions) != 2 || opts.Exclusions[1].Target != "ARGS:json.text" {
		t.Errorf("options %+v", opts)
	}
	if _, err := wafOptions(section, &config.RouteWAF{Exclude: []config.WAFExclusion{{Rules: []string{"x"}}}}); err == nil || !strings.Contains(err.Error(), "exclude[1].rules[0]") {
		t.Errorf("bad rule: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for i, tc := range []struct {
		route config.Route
		want  string
	}{
		{config.Route{OpenAPI: &config.RouteOpenAPI{Spec: "testdata/missing.yaml"}}, "routes[0].openapi.spec"},
		{config.Route{OpenAPI: &config.RouteOpenAPI{Spec: "https://example.com/openapi.yaml"}}, "the gateway does not fetch specs"},
		{config.Route{OpenAPI: &config.RouteOpenAPI{Spec: spec, Operation: "nope"}}, "routes[0].openapi"},
	} {
		_, err := New(config.WAF{}, Deps{Routes: []config.Route{tc.route}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: %v, want %q", i, err, tc.want)
		}
	}
}

// TestTargetsAgree: an exclusion target config accepts, the WAF accepts.
func TestTargetsAgree(t *testing.T) {
	for _, target := range []string{"ARGS", "ARGS:json.comment", "ARGS_NAMES:x", "REQUEST_HEADERS:User-Agent", "REQUEST_HEADERS_NAMES",
		"REQUEST_COOKIES:session", "REQUEST_COOKIES_NAMES:a-b_c.d", "ARGS:" + strings.Repeat("a", 256)} {
		cfg := &config.Config{Version: 1, WAF: config.WAF{Exclude: []config.WAFExclusion{{Rules: []string{"942100"}, Target: target}}}}
		config.SetDefaults(cfg)
		for _, p := range config.Validate(cfg) {
			if strings.HasPrefix(p.Path, "waf") {
				t.Errorf("config refuses %q: %v", target, p)
			}
		}
		if err := waf.ValidateTarget(target); err != nil {
			t.Errorf("config accepts %q, the WAF does not: %v", target, err)
		}
	}
}

// TestProfilesAgree: the profiles config accepts are the ones the WAF
// ships (config cannot import the WAF, so the lists are kept apart).
func TestProfilesAgree(t *testing.T) {
	got, want := slices.Sorted(slices.Values(config.WAFProfiles)), waf.ProfileNames()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("config.WAFProfiles = %v, waf.ProfileNames() = %v", got, want)
	}
}

// TestCompileReported: each compiled WAF's cost is in the log, once per
// distinct set of options.
func TestCompileReported(t *testing.T) {
	var buf bytes.Buffer
	cfg := &config.Config{Version: 1, Routes: []config.Route{
		{Name: "a", Path: "/a", Methods: []string{"GET"}, WAF: &config.RouteWAF{}},
		{Name: "b", Path: "/b", Methods: []string{"GET"}, WAF: &config.RouteWAF{}},
		{Name: "c", Path: "/c", Methods: []string{"GET"}, WAF: &config.RouteWAF{Paranoia: 2}},
	}}
	config.SetDefaults(cfg)
	s, err := New(cfg.WAF, Deps{Routes: cfg.Routes, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || len(s.Stats()) != 2 {
		t.Fatalf("%d log lines, %d stats for two distinct WAFs: %s", len(lines), len(s.Stats()), buf.String())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] != "waf compiled" || rec["rules"].(float64) < 100 || rec["compile_ms"] == nil || rec["heap_mib"] == nil {
			t.Errorf("log line %s", l)
		}
	}
}
