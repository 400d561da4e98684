package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// usersAPI is a naive upstream: it stores whatever JSON it is given under
// /users/{id} and returns it as it is, and serves fixed bodies elsewhere.
type usersAPI struct {
	mu    sync.Mutex
	users map[string][]byte
	seen  [][]byte // every body that reached it
}

func (u *usersAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen = append(u.seen, body)
	w.Header().Set("Content-Type", "application/json")
	const customers = `[{"name":"Ann","card":"4111 1111 1111 1111","email":"ann@example.com","order":"ORD-2024-000123"},{"name":"Ben","phone":"+1 415 555 0134","note":"no card"}]`
	switch {
	case strings.HasPrefix(r.URL.Path, "/users/"):
		id := strings.TrimPrefix(r.URL.Path, "/users/")
		if r.Method == http.MethodPut {
			u.users[id] = body
		}
		_, _ = w.Write(u.users[id])
	case r.URL.Path == "/customers":
		_, _ = w.Write([]byte(customers))
	case r.URL.Path == "/gzip":
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte(customers))
		_ = zw.Close()
	case r.URL.Path == "/bomb":
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK) // headers first: compressing takes a while under -race
		w.(http.Flusher).Flush()
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte(`["`))
		_, _ = zw.Write(bytes.Repeat([]byte("0"), 4<<20)) // 4 MiB that compresses to ~4 KiB
		_, _ = zw.Write([]byte(`"]`))
		_ = zw.Close()
	case r.URL.Path == "/stream":
		for i := range 50 {
			_, _ = w.Write([]byte(`{"i":` + strconv.Itoa(i) + `,"card":"4111 1111 1111 1111"}` + "\n"))
			w.(http.Flusher).Flush()
		}
	case r.URL.Path == "/text":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("card 4111-1111-1111-1111 on file\n"))
	}
}

func (u *usersAPI) stored(id string) map[string]any {
	u.mu.Lock()
	defer u.mu.Unlock()
	var m map[string]any
	_ = json.Unmarshal(u.users[id], &m)
	return m
}

type findingsSeen struct {
	mu       sync.Mutex
	findings []pipeline.Finding
	action   string
}

func (f *findingsSeen) Observe(x *pipeline.Exchange) {
	f.mu.Lock()
	f.findings, f.action = append([]pipeline.Finding(nil), x.Response.Findings...), x.Response.FindingsAction
	f.mu.Unlock()
}

func (f *findingsSeen) last() ([]pipeline.Finding, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.findings, f.action
}

func protectGateway(t *testing.T) (*httptest.Server, *usersAPI, *keyring.Keyring, func(sub string, roles ...string) string, *findingsSeen) {
	t.Helper()
	api := &usersAPI{users: map[string][]byte{}}
	up := httptest.NewServer(api)
	t.Cleanup(up.Close)
	keysFile, sign := jwtSigner(t)
	token := func(sub string, roles ...string) string {
		return sign(map[string]any{"iss": "https://idp.test", "aud": "api", "sub": sub, "roles": roles, "exp": time.Now().Add(time.Hour).Unix()})
	}
	cfg := testConfig(up.URL)
	cfg.Server.MaxBodyBytes = 64 << 10
	cfg.Authn.JWT = []config.JWT{{Name: "idp", Issuer: "https://idp.test", Audiences: []string{"api"}, KeysFile: keysFile}}
	f := false
	cfg.Routes = []config.Route{
		{Name: "users", Path: "/users/{id}", Methods: []string{"GET", "PUT"}, Upstream: "api", Auth: []string{"idp"},
			Authz: &config.Authz{Authenticated: true},
			Protect: &config.RouteProtect{Subject: "param:id", Fields: []config.ProtectField{
				{Path: "$.ssn", Reveal: config.Reveal{Owner: true}},
				{Path: "$.card.number", Reveal: config.Reveal{Roles: []string{"billing"}}, Others: "remove"},
				{Path: "$.contacts[*].email", Reveal: config.Reveal{Owner: true}, Others: "null"},
				{Path: "$.legacy", Encrypt: &f, Mask: "full"},
			}}},
		{Name: "customers", Path: "/customers", Methods: []string{"GET"}, Upstream: "api", Public: true,
			Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "mask"}}},
		{Name: "gzip", Path: "/gzip", Methods: []string{"GET"}, Upstream: "api", Public: true,
			Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "mask", Kinds: []string{"card"}}}},
		{Name: "bomb", Path: "/bomb", Methods: []string{"GET"}, Upstream: "api", Public: true,
			Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "mask"}}},
		{Name: "block", Path: "/text", Methods: []string{"GET"}, Upstream: "api", Public: true,
			Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "block"}}},
		{Name: "stream", Path: "/stream", Methods: []string{"GET"}, Upstream: "api", Public: true,
			Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "report"}}},
	}
	cfg.Protect.MaxDecompressedBytes = 1 << 20
	config.SetDefaults(cfg)
	for _, p := range config.Validate(cfg) {
		if !p.Warning {
			t.Fatalf("config: %v", p)
		}
	}
	dir := t.TempDir()
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "rampart.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	kekFile := filepath.Join(dir, "data-kek")
	cfg.Protect.Keys.KEKFile = kekFile
	if _, err := keyring.LoadKEKFile(kekFile, true); err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New(context.Background(), st, keyring.Options{LoadKEK: func() (keyring.KEK, error) { return keyring.LoadKEKFile(kekFile, false) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ring.Close() })
	seen := &findingsSeen{}
	g, err := New(cfg, Deps{Keyring: ring, Audit: seen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, api, ring, token, seen
}

func call(t *testing.T, method, url, tok, ctype, body string) (*http.Response, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, raw := do(t, req)
	var m map[string]any
	_ = json.Unmarshal([]byte(raw), &m)
	return resp, m, raw
}

func TestFieldEncryption(t *testing.T) {
	gw, api, ring, token, _ := protectGateway(t)
	bob, alice, bill := token("bob", "reader"), token("alice", "admin"), token("billing-bot", "billing")
	const doc = `{"name":"Bob","ssn":"536-22-6789","card":{"number":"4111111111111111","exp":"12/29"},"contacts":[{"email":"b@example.com"},{"email":null}],"legacy":"plain-old-value"}`

	resp, _, raw := call(t, "PUT", gw.URL+"/users/bob", bob, "application/json", doc)
	if resp.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, raw)
	}
	stored := api.stored("bob")
	for _, v := range []any{stored["ssn"], stored["card"].(map[string]any)["number"], stored["contacts"].([]any)[0].(map[string]any)["email"]} {
		if s, _ := v.(string); !strings.HasPrefix(s, keyring.Prefix) {
			t.Errorf("the upstream stored %v in clear", v)
		}
	}
	if stored["name"] != "Bob" || stored["card"].(map[string]any)["exp"] != "12/29" || stored["contacts"].([]any)[1].(map[string]any)["email"] != nil || stored["legacy"] != "plain-old-value" {
		t.Errorf("fields that are not encrypted changed: %v", stored)
	}

	// The owner reads his SSN and his contacts; the card is for billing only.
	_, got, raw := call(t, "GET", gw.URL+"/users/bob", bob, "", "")
	if got["ssn"] != "536-22-6789" || got["contacts"].([]any)[0].(map[string]any)["email"] != "b@example.com" {
		t.Errorf("bob reads %s", raw)
	}
	if _, ok := got["card"].(map[string]any)["number"]; ok {
		t.Errorf("bob sees the card number: %s", raw)
	}
	if got["legacy"] != "********" {
		t.Errorf("legacy plaintext field: %v", got["legacy"])
	}
	// An admin sees it masked; a contact email nulled.
	_, got, raw = call(t, "GET", gw.URL+"/users/bob", alice, "", "")
	if got["ssn"] != "***-**-6789" || got["contacts"].([]any)[0].(map[string]any)["email"] != nil {
		t.Errorf("alice reads %s", raw)
	}
	// The billing role reads the card, not the SSN.
	_, got, raw = call(t, "GET", gw.URL+"/users/bob", bill, "", "")
	if got["card"].(map[string]any)["number"] != "4111111111111111" || got["ssn"] != "***-**-6789" {
		t.Errorf("billing reads %s", raw)
	}

	// A ciphertext moved into another record is not shown to anyone.
	api.mu.Lock()
	api.users["alice"] = []byte(`{"name":"Alice","ssn":` + strconv.Quote(stored["ssn"].(string)) + `}`)
	api.mu.Unlock()
	_, got, raw = call(t, "GET", gw.URL+"/users/alice", alice, "", "")
	if got["ssn"] != nil {
		t.Errorf("bob's ciphertext in alice's record: %s", raw)
	}

	// Bad bodies are refused before the upstream sees them.
	before := len(api.seen)
	for _, tc := range []struct {
		ctype, body, reason string
		status              int
	}{
		{"application/json", `{"ssn": "1"`, "protect.malformed_body", 400},
		{"text/plain", `ssn=536-22-6789`, "protect.not_json", 415},
		{"application/json", "{\"ssn\": \"\xff\"}", "protect.malformed_body", 400},
		{"application/json", strings.Repeat("[", 200) + strings.Repeat("]", 200), "protect.malformed_body", 400},
	} {
		resp, _, raw := call(t, "PUT", gw.URL+"/users/bob", bob, tc.ctype, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(raw, tc.reason) {
			t.Errorf("%q: %d %s", tc.body, resp.StatusCode, raw)
		}
	}
	if len(api.seen) != before {
		t.Errorf("the upstream saw %d refused bodies", len(api.seen)-before)
	}

	// Shredding bob makes his fields unreadable for everyone.
	if _, err := ring.Shred(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{bob, alice, bill} {
		_, got, raw := call(t, "GET", gw.URL+"/users/bob", tok, "", "")
		if got["ssn"] != nil || got["name"] != "Bob" || strings.Contains(raw, "6789") || strings.Contains(raw, "4111") {
			t.Errorf("after the shred: %s", raw)
		}
	}
}

func TestDLP(t *testing.T) {
	gw, _, _, _, seen := protectGateway(t)

	resp, _, raw := call(t, "GET", gw.URL+"/customers", "", "", "")
	if resp.StatusCode != 200 || strings.Contains(raw, "4111 1111 1111 1111") || !strings.Contains(raw, "**** **** **** 1111") ||
		strings.Contains(raw, "ann@example.com") || !strings.Contains(raw, "ORD-2024-000123") || strings.Contains(raw, "555 0134") {
		t.Errorf("masked customers: %d %s", resp.StatusCode, raw)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil || len(v) != 2 {
		t.Errorf("the masked body is not the same JSON: %v", err)
	}
	if f, a := seen.last(); a != "mask" || len(f) != 3 || f[0] != (pipeline.Finding{Kind: "card", Count: 1}) {
		t.Errorf("findings %v %q", f, a)
	}

	// gzip from the upstream: decompressed, masked, sent plain.
	resp, _, raw = call(t, "GET", gw.URL+"/gzip", "", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || !strings.Contains(raw, "**** **** **** 1111") || !strings.Contains(raw, "ann@example.com") {
		t.Errorf("gzip: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Encoding"), raw)
	}
	// A decompression bomb is refused.
	resp, _, raw = call(t, "GET", gw.URL+"/bomb", "", "", "")
	if resp.StatusCode != 502 || !strings.Contains(raw, "protect.response_too_large") {
		t.Errorf("bomb: %d %s", resp.StatusCode, raw)
	}
	// Block: the response is withheld.
	resp, _, raw = call(t, "GET", gw.URL+"/text", "", "", "")
	if resp.StatusCode != 502 || !strings.Contains(raw, "protect.dlp_blocked") || strings.Contains(raw, "4111") {
		t.Errorf("block: %d %s", resp.StatusCode, raw)
	}
	// Report on a stream: passes untouched, counted as it streams.
	resp, _, raw = call(t, "GET", gw.URL+"/stream", "", "", "")
	if resp.StatusCode != 200 || strings.Count(raw, "4111 1111 1111 1111") != 50 {
		t.Errorf("stream: %d %d cards", resp.StatusCode, strings.Count(raw, "4111 1111 1111 1111"))
	}
	if f, a := seen.last(); a != "report" || len(f) != 1 || f[0] != (pipeline.Finding{Kind: "card", Count: 50}) {
		t.Errorf("stream findings %v %q", f, a)
	}
}
