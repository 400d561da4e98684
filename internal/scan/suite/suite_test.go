package suite

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/scan"
	"github.com/rampart-gw/rampart/internal/scan/scantest"
)

// scanTwin runs the whole suite against one twin of the test API.
func scanTwin(t *testing.T, fixed bool, specServer string) (*findings.Report, *scan.Session) {
	t.Helper()
	api := scantest.New(fixed)
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.TLS = api.TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport)
	doc := scantest.Spec
	if specServer != "" {
		doc = []byte(strings.Replace(string(doc), "http://127.0.0.1:1", specServer, 1))
	}
	spec, err := openapi.LoadData(context.Background(), doc, "", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []*scan.Identity
	for _, n := range []string{"alice", "bob", "carol"} {
		id, err := scan.StaticIdentity(n, "Authorization: Bearer "+api.Token(n))
		if err != nil {
			t.Fatal(err)
		}
		id.Privileged = n == "alice"
		ids = append(ids, id)
	}
	target, _ := url.Parse(srv.URL)
	s, err := scan.New(scan.Options{Spec: spec, Target: target, Identities: ids, Rate: 200, AllowWrites: true, Checks: Checks(), Transport: tr,
		Seeds: []scan.Seed{{Method: "GET", Path: "/v1/orders"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete {
		t.Fatalf("scan incomplete: %s", r.StopReason)
	}
	return r, s
}

// Every rule fires on the vulnerable twin, and the fixed twin has no
// finding at all.
func TestTwins(t *testing.T) {
	t.Parallel()
	vuln, _ := scanTwin(t, false, "")
	fired := map[string]int{}
	for _, f := range vuln.Findings {
		fired[f.RuleID]++
		if f.Curl == "" || len(f.Evidence) == 0 || f.OWASP == "" || f.Fingerprint == "" {
			t.Errorf("finding %s %s %s lacks curl, evidence, category or fingerprint", f.RuleID, f.Method, f.PathTemplate)
		}
	}
	seeded := false
	for _, f := range vuln.Findings {
		seeded = seeded || f.Key == "seed:/v1/orders"
	}
	if !seeded {
		t.Error("the recorded request /v1/orders, not in the spec, was not reported")
	}
	// BOLA by each way an id travels (path, query and body), and
	// injection in query parameters and in JSON body members.
	for _, want := range []string{"api1.bola GET /notes/{id} read:", "api1.bola GET /note-lookup read:query:note_id:", "api1.bola POST /note-export read:body:note_id:",
		"api8.sql-injection GET /products q", "api8.sql-injection POST /products/search body:q", "api8.sql-injection GET /inventory header:X-Warehouse", "api8.nosql-injection GET /search name", "api8.nosql-injection POST /people/search body:name",
		"api3.mass-assignment PUT /users/{id} role", "api3.mass-assignment POST /notes create:owner",
		"api5.bfla GET /admin/stats bob", "api5.bfla DELETE /admin/notes/{id} write:bob"} {
		found := false
		for _, f := range vuln.Findings {
			found = found || strings.HasPrefix(strings.TrimPrefix(f.RuleID, "rampart.scan.")+" "+f.Method+" "+f.PathTemplate+" "+f.Key, want)
		}
		if !found {
			t.Errorf("no finding %s...", want)
		}
	}
	for _, r := range Rules() {
		if fired[r.ID] == 0 {
			t.Errorf("rule %s did not fire on the vulnerable twin", r.ID)
		}
	}
	fixed, _ := scanTwin(t, true, "")
	// The acceptance bar is nothing at medium or above; the fixed twin
	// holds a stricter one: no finding at all, low ones included.
	for _, f := range fixed.Findings {
		t.Errorf("fixed twin: %s %s %s %s: %s", f.Severity, f.RuleID, f.Method, f.PathTemplate, f.Message)
	}
	t.Logf("vulnerable twin: %d findings from %d rules, %d requests in %s; fixed twin: %d findings, %d requests in %s",
		len(vuln.Findings), len(fired), vuln.Stats["requests"], vuln.Finished.Sub(vuln.Started).Round(time.Millisecond),
		len(fixed.Findings), fixed.Stats["requests"], fixed.Finished.Sub(fixed.Started).Round(time.Millisecond))
	if t.Failed() {
		var b strings.Builder
		_ = findings.WriteText(&b, vuln)
		t.Logf("vulnerable twin report:\n%s", b.String())
	}
}

// The scan contacts the target and its own canary only: a listener named
// as the spec's server, which a careless scanner would use, fails the test
// when reached.
func TestOnlyTheTarget(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }), ReadHeaderTimeout: time.Second}
	go func() { _ = other.Serve(ln) }()
	t.Cleanup(func() { _ = other.Close() })
	// Count raw connections too, not only HTTP requests.
	r, _ := scanTwin(t, false, "http://"+ln.Addr().String())
	if n := hits.Load(); n > 0 {
		t.Fatalf("the scan sent %d requests to an address that is not the target", n)
	}
	if r.Stats["requests"] == 0 {
		t.Fatal("the scan sent nothing")
	}
}
