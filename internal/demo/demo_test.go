package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
)

// TestDemo is the acceptance check of the demo: it starts, writes its
// credentials, serves HTTPS with HSTS through the development CA, refuses
// unrouted endpoints with problem documents and serves metrics to the
// admin token only.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	started := make(chan Credentials, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", DataDir: dir, UnprotectedPort: freePort(t),
			Out: io.Discard, Started: func(c Credentials) { started <- c }})
	}()
	var creds Credentials
	select {
	case creds = <-started:
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-ctx.Done():
		t.Fatal("demo did not start")
	}

	b, err := os.ReadFile(filepath.Join(dir, "demo-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file Credentials
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if file.Gateway != creds.Gateway || file.AdminToken == "" || len(file.Users) != 3 || file.Users["alice"].Roles[0] != "admin" || file.Users["carol"].JWT == "" || !strings.HasPrefix(file.Users["bob"].APIKey, "rpk_") {
		t.Fatalf("credentials file: %+v", file)
	}
	pem, err := os.ReadFile(file.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca_cert holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	get := func(url, token string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	resp, body := get(file.Gateway+"/api/health", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Server") != "" || resp.ProtoMajor != 2 {
		t.Errorf("health headers: %s %v", resp.Proto, resp.Header)
	}
	resp, body = get(file.Gateway+"/api/products?page=2", "")
	if resp.StatusCode != 401 || !strings.Contains(body, "authn.missing_credentials") {
		t.Errorf("products without a token: %d %s", resp.StatusCode, body)
	}
	resp, body = get(file.Gateway+"/api/products?page=2", file.Users["bob"].JWT)
	if resp.StatusCode != 200 || !strings.Contains(body, `"id":51`) {
		t.Errorf("products with bob's token: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", file.Gateway+"/api/products", nil)
	req.Header.Set("X-API-Key", file.Users["carol"].APIKey)
	if r, err := client.Do(req); err != nil || r.StatusCode != 200 {
		t.Errorf("products with carol's API key: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	if resp, _ = get(file.Gateway+"/api/products", file.AdminToken); resp.StatusCode != 401 {
		t.Errorf("products with the admin token as a bearer: %d", resp.StatusCode)
	}
	for _, path := range []string{"/nope", "/api/nope", "/API/users", "/api/cards/4111111111111111"} {
		resp, body = get(file.Gateway+path, "")
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || strings.Contains(body, "ssn") {
			t.Errorf("%s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	alice, bob := file.Users["alice"].JWT, file.Users["bob"].JWT
	put := func(path, token, body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "PUT", file.Gateway+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, path, token string
		status            int
	}{
		{"no credential", "/api/users/bob", "", 401},
		{"own profile", "/api/users/bob", bob, 200},
		{"another's profile (BOLA)", "/api/users/carol", bob, 403},
		{"admin reads any profile", "/api/users/bob", alice, 200},
		{"user list for a reader", "/api/users", bob, 403},
		{"user list for an admin", "/api/users", alice, 200},
		{"stats for a reader (no stats:read permission)", "/api/admin/stats", bob, 403},
		{"stats for an admin", "/api/admin/stats", alice, 200},
		// Path tricks reach the same rule, never another one.
		{"/api//admin/stats as bob", "/api//admin/stats", bob, 403},
		{"/api/%61dmin/stats as bob", "/api/%61dmin/stats", bob, 403},
		{"/api/admin/stats/. as bob", "/api/admin/stats/.", bob, 403},
		{"/api/users/../admin/stats as bob", "/api/users/../admin/stats", bob, 403},
		{"/api/admin%2fstats as bob", "/api/admin%2fstats", bob, 400},
		{"/api/admin;x/stats as bob", "/api/admin;x/stats", bob, 400},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", file.Gateway+"/", nil)
		req.URL.Opaque = tc.path
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, r.StatusCode, tc.status)
		}
	}
	if resp, body := get(file.Gateway+"/api/users/bob", alice); resp.StatusCode != 200 || !strings.Contains(body, `"ssn":"*******9999"`) || strings.Contains(body, "card_number") || !strings.Contains(body, "email") {
		t.Errorf("alice's view of bob's profile: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(file.Gateway+"/api/users", alice); resp.StatusCode != 200 || strings.Contains(body, "ssn") || strings.Contains(body, "card_number") || !strings.Contains(body, "carol@example.com") {
		t.Errorf("alice's user list: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(file.Gateway+"/api/users/bob", bob); resp.StatusCode != 200 || !strings.Contains(body, "ssn") {
		t.Errorf("bob's view of his own profile: %d %s", resp.StatusCode, body)
	}
	if code, body := put("/api/users/bob", bob, `{"role":"admin"}`); code != 403 || !strings.Contains(body, "authz.field_not_writable") {
		t.Errorf("bob makes himself admin: %d %s", code, body)
	}
	if code, body := put("/api/users/bob", bob, `{"name":"Robert"}`); code != 200 || !strings.Contains(body, "Robert") || !strings.Contains(body, `"role":"reader"`) {
		t.Errorf("bob renames himself: %d %s", code, body)
	}
	if code, _ := put("/api/users/carol", bob, `{"name":"x"}`); code != 403 {
		t.Errorf("bob renames carol: %d", code)
	}
	if code, _ := put("/api/users/bob", alice, `{"name":"x"}`); code != 403 {
		t.Errorf("alice may read, not write, bob's profile: %d", code)
	}

	// Sensitive data protection: bob's new SSN reaches the API encrypted
	// under his own data key; he reads it, alice sees it masked, and
	// after a shred nobody reads it. His card number is masked by DLP.
	if code, body := put("/api/users/bob", bob, `{"ssn":"536-22-6789"}`); code != 200 || !strings.Contains(body, `"ssn":"536-22-6789"`) || !strings.Contains(body, `"card_number":"************4444"`) {
		t.Errorf("bob sets his SSN: %d %s", code, body)
	}
	if resp, body := get(file.Unprotected+"/api/users/bob", ""); resp.StatusCode != 200 || !strings.Contains(body, `"ssn":"rampart:v1:`) || strings.Contains(body, "6789") {
		t.Errorf("the API stored bob's SSN as %s", body)
	}
	if _, body := get(file.Gateway+"/api/users/bob", alice); !strings.Contains(body, `"ssn":"***-**-6789"`) {
		t.Errorf("alice reads bob's new SSN as %s", body)
	}
	areq, _ := http.NewRequestWithContext(ctx, "POST", file.Admin+"/v1/keys/shred", strings.NewReader(`{"subject":"bob"}`))
	areq.Header.Set("Authorization", "Bearer "+file.AdminToken)
	areq.Header.Set("Content-Type", "application/json")
	if r, err := client.Do(areq); err != nil || r.StatusCode != 200 {
		t.Fatalf("shredding bob: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	for who, tok := range map[string]string{"bob": bob, "alice": alice} {
		if resp, body := get(file.Gateway+"/api/users/bob", tok); resp.StatusCode != 200 || !strings.Contains(body, `"ssn":null`) || strings.Contains(body, "6789") {
			t.Errorf("%s reads bob's shredded SSN as %d %s", who, resp.StatusCode, body)
		}
	}

	// Data access controls. A session (bob's token) may view 500 products:
	// page 2 above was 50, so 9 more pages pass and the 11th is refused.
	for page := 1; page <= 11; page++ {
		if page == 2 {
			continue
		}
		resp, body := get(fmt.Sprintf("%s/api/products?page=%d", file.Gateway, page), bob)
		want := 200
		if page == 11 {
			want = 429
		}
		if resp.StatusCode != want || (want == 429 && !strings.Contains(body, "limits.records_exceeded")) {
			t.Fatalf("products page %d as bob: %d %s", page, resp.StatusCode, body)
		}
		if rl := resp.Header.Get("RateLimit-Policy"); !strings.Contains(rl, `"burst";q=20;w=2`) || !strings.Contains(rl, `"records";q=500`) {
			t.Errorf("page %d: RateLimit-Policy %q", page, rl)
		}
	}
	// carol, a reader: 10 requests/s with bursts of 20. Sixty requests in
	// a row cannot all pass unless each takes over 60ms.
	carol := file.Users["carol"].JWT
	limited := ""
	for range 60 {
		resp, body := get(file.Gateway+"/api/users/carol", carol)
		if resp.StatusCode == 429 {
			limited = body
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
	}
	if !strings.Contains(limited, "limits.rate_exceeded") {
		t.Errorf("carol was never rate limited: %q", limited)
	}
	// The admin route answers only on 127.0.0.1, whoever asks.
	from2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	req, _ = http.NewRequestWithContext(ctx, "GET", file.Gateway+"/api/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	if r, err := from2.Do(req); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 403 || !strings.Contains(string(b), "firewall.not_allowed") {
			t.Errorf("stats from 127.0.0.2: %d %s", r.StatusCode, b)
		}
	}

	// alice's API key as an OAuth2 client: a token for the catalogue.
	form := strings.NewReader("grant_type=client_credentials&scope=products:read")
	req, _ = http.NewRequestWithContext(ctx, "POST", file.Gateway+"/oauth/token", form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(file.Users["alice"].ClientID, file.Users["alice"].APIKey)
	if r, err := client.Do(req); err != nil {
		t.Fatal(err)
	} else {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&tok)
		r.Body.Close()
		if r.StatusCode != 200 || tok.AccessToken == "" {
			t.Fatalf("token endpoint: %d", r.StatusCode)
		}
		if resp, body := get(file.Gateway+"/api/products?page=3", tok.AccessToken); resp.StatusCode != 200 {
			t.Errorf("products with alice's access token: %d %s", resp.StatusCode, body)
		}
	}
	if resp, body = get(file.Admin+"/.well-known/jwks.json", ""); resp.StatusCode != 200 || !strings.Contains(body, `"alg":"ES256"`) {
		t.Errorf("identity-token JWKS: %d %s", resp.StatusCode, body)
	}
	// Credential stuffing from 127.0.0.3: banned after 20 bad keys.
	from3 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}).DialContext}}
	// The ban is placed off the request goroutine (anomaly.Runner), so it
	// lands a moment after the 20th failure: within the next requests.
	last, sent := 0, 0
	for i := 0; i < 60 && last != 403; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", file.Gateway+"/api/products", nil)
		req.Header.Set("X-API-Key", fmt.Sprintf("rpk_guess%d", i))
		r, err := from3.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		last, sent = r.StatusCode, i+1
	}
	if last != 403 || sent <= 20 {
		t.Errorf("after %d guessed keys from 127.0.0.3: %d, want 403 (banned) after the 20th", sent, last)
	}

	if resp, _ = get(file.Admin+"/metrics", ""); resp.StatusCode != 401 {
		t.Errorf("metrics without token: %d", resp.StatusCode)
	}
	if resp, body = get(file.Admin+"/metrics", file.AdminToken); resp.StatusCode != 200 || !strings.Contains(body, `rampart_requests_total{code="403",reason="authz.not_owner",route="user"}`) {
		t.Errorf("metrics: %d\n%s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not shut down")
	}
	// The audit log holds every request and verifies.
	key, err := audit.ReadPublicKey(filepath.Join(dir, "audit", audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	// Its checkpoints were copied to the state store too; they agree.
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "rampart.db")})
	if err != nil {
		t.Fatal(err)
	}
	copies, err := st.AuditCheckpoints(context.Background(), "rampart/127.0.0.1:0")
	_ = st.Close()
	if err != nil || len(copies) == 0 {
		t.Fatalf("checkpoint copies in the store: %d %v", len(copies), err)
	}
	rep, err := audit.Verify(filepath.Join(dir, "audit"), audit.VerifyOptions{PublicKey: key, Origin: "rampart/127.0.0.1:0", Strict: true, Store: copies})
	if err != nil || !rep.OK() || rep.Records < 40 || rep.Checkpoints < 1 || rep.Unsigned != 0 || rep.Anchored != rep.Records {
		t.Errorf("audit log: %+v %v", rep, err)
	}
	var alerts int
	_ = audit.Each(filepath.Join(dir, "audit"), func(_ int64, ev audit.Event, _ []byte) error {
		if ev.Kind == "alert" && ev.Action == "anomaly.auth_failures" && ev.ClientIP == "127.0.0.3" {
			alerts++
		}
		return nil
	})
	if alerts != 1 {
		t.Errorf("%d credential-stuffing alerts in the audit log, want 1", alerts)
	}
	var shreds, dlpEvents int
	_ = audit.Each(filepath.Join(dir, "audit"), func(_ int64, ev audit.Event, raw []byte) error {
		if ev.Kind == "admin" && ev.Action == "keys.shredded" && ev.Subject == "bob" {
			shreds++
		}
		if ev.DLP != nil && ev.DLP.Action == "mask" && ev.DLP.Findings[0].Kind == "card" {
			dlpEvents++
		}
		if strings.Contains(string(raw), "536-22-6789") || strings.Contains(string(raw), "5555555555554444") || strings.Contains(string(raw), "4111111111111111") {
			t.Errorf("a sensitive value in the audit log: %s", raw)
		}
		return nil
	})
	if shreds != 1 || dlpEvents == 0 {
		t.Errorf("audit log: %d shred events (want 1), %d events with DLP findings", shreds, dlpEvents)
	}
	log, err := os.ReadFile(filepath.Join(dir, "access.log"))
	if err != nil || strings.Count(string(log), "\n") < 6 {
		t.Errorf("access log: %v\n%s", err, log)
	}
	if strings.Contains(string(log), file.AdminToken) {
		t.Error("admin token in the access log")
	}
	if strings.Contains(string(log), "4111111111111111") || !strings.Contains(string(log), "/api/cards/************1111") {
		t.Errorf("the card number in a path was not masked in the access log:\n%s", log)
	}
}

func TestNaiveAPILeaksBare(t *testing.T) {
	h := NewAPI().Handler()
	req, _ := http.NewRequest("GET", "/api/users", nil)
	w := &captureWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if !strings.Contains(w.body.String(), "078-05-1120") {
		t.Errorf("the naive API should leak everything bare: %s", w.body.String())
	}
}

type captureWriter struct {
	h    http.Header
	code int
	body strings.Builder
}

func (c *captureWriter) Header() http.Header         { return c.h }
func (c *captureWriter) WriteHeader(code int)        { c.code = code }
func (c *captureWriter) Write(b []byte) (int, error) { return c.body.Write(b) }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
