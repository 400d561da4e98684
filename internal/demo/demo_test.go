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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
)

// TestDemo is the acceptance check of the demo: it starts, writes its
// credentials, serves HTTPS with HSTS through the development CA, refuses
// unrouted endpoints with problem documents and serves metrics to the
// admin token only. The steps run in order on one demo: later ones count
// on what earlier ones did (bob's SSN, the requests the metrics and the
// audit log hold).
func TestDemo(t *testing.T) {
	d := startDemo(t)
	d.checkHealthAndCredentials()
	d.checkAccessRules()
	d.checkProfiles()
	d.checkInputs()
	d.checkSensitiveData()
	d.checkRecordLimit()
	d.checkRateLimit()
	d.checkAdminFirewall()
	d.checkOAuthClient()
	d.checkCredentialStuffing()
	d.checkMetrics()
	d.stop()
	checkDemoAuditLog(t, d.dir)
	checkDemoAuditEvents(t, d.dir)
	checkDemoAccessLog(t, d.dir, d.file.AdminToken)
}

// demoRun is one running demo and a client that trusts its CA.
type demoRun struct {
	t      *testing.T
	dir    string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error // Run's result
	file   Credentials
	pool   *x509.CertPool
	client *http.Client
	// alice (an admin), bob and carol's JWTs.
	alice, bob, carol string
}

// startDemo runs the demo in a new data directory, waits for it to start
// and checks the credentials file it writes against what Started got.
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	d := &demoRun{t: t, dir: t.TempDir(), done: make(chan error, 1)}
	d.ctx, d.cancel = context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(d.cancel)
	started := make(chan Credentials, 1)
	go func() {
		d.done <- Run(d.ctx, Options{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", DataDir: d.dir, UnprotectedPort: freePort(t),
			Out: io.Discard, Started: func(c Credentials) { started <- c }})
	}()
	var creds Credentials
	select {
	case creds = <-started:
	case err := <-d.done:
		t.Fatalf("demo stopped: %v", err)
	case <-d.ctx.Done():
		t.Fatal("demo did not start")
	}
	b, err := os.ReadFile(filepath.Join(d.dir, "demo-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	file := &d.file
	if err := json.Unmarshal(b, file); err != nil {
		t.Fatal(err)
	}
	if file.Gateway != creds.Gateway || file.AdminToken == "" || len(file.Users) != 3 || file.Users["alice"].Roles[0] != "admin" || file.Users["carol"].JWT == "" || !strings.HasPrefix(file.Users["bob"].APIKey, "rpk_") {
		t.Fatalf("credentials file: %+v", *file)
	}
	pem, err := os.ReadFile(file.CACert)
	if err != nil {
		t.Fatal(err)
	}
	d.pool = x509.NewCertPool()
	if !d.pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca_cert holds no certificate")
	}
	d.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.pool}, ForceAttemptHTTP2: true}}
	d.alice, d.bob, d.carol = file.Users["alice"].JWT, file.Users["bob"].JWT, file.Users["carol"].JWT
	return d
}

// from is a client that trusts the demo's CA and connects from ip.
func (d *demoRun) from(ip net.IP) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.pool},
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}}
}

// get fetches url with token as the bearer token (none if empty).
func (d *demoRun) get(url, token string) (*http.Response, string) {
	d.t.Helper()
	req, _ := http.NewRequestWithContext(d.ctx, "GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// put sends the JSON body to the gateway's path with token as the bearer
// token.
func (d *demoRun) put(path, token, body string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequestWithContext(d.ctx, "PUT", d.file.Gateway+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	r, err := d.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// checkHealthAndCredentials: health over HTTP/2 with HSTS and no Server
// header; the catalogue wants a credential, takes bob's JWT and carol's
// API key, not the admin token; unrouted paths are problem documents that
// leak nothing.
func (d *demoRun) checkHealthAndCredentials() {
	t, file := d.t, d.file
	t.Helper()
	resp, body := d.get(file.Gateway+"/api/health", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Server") != "" || resp.ProtoMajor != 2 {
		t.Errorf("health headers: %s %v", resp.Proto, resp.Header)
	}
	resp, body = d.get(file.Gateway+"/api/products?page=2", "")
	if resp.StatusCode != 401 || !strings.Contains(body, "authn.missing_credentials") {
		t.Errorf("products without a token: %d %s", resp.StatusCode, body)
	}
	resp, body = d.get(file.Gateway+"/api/products?page=2", d.bob)
	if resp.StatusCode != 200 || !strings.Contains(body, `"id":51`) {
		t.Errorf("products with bob's token: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequestWithContext(d.ctx, "GET", file.Gateway+"/api/products", nil)
	req.Header.Set("X-API-Key", file.Users["carol"].APIKey)
	if r, err := d.client.Do(req); err != nil || r.StatusCode != 200 {
		t.Errorf("products with carol's API key: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	if resp, _ = d.get(file.Gateway+"/api/products", file.AdminToken); resp.StatusCode != 401 {
		t.Errorf("products with the admin token as a bearer: %d", resp.StatusCode)
	}
	for _, path := range []string{"/nope", "/api/nope", "/API/users", "/api/cards/4111111111111111"} {
		resp, body = d.get(file.Gateway+path, "")
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || strings.Contains(body, "ssn") {
			t.Errorf("%s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// checkAccessRules: who may read what, the paths sent as they are
// (URL.Opaque).
func (d *demoRun) checkAccessRules() {
	t, alice, bob := d.t, d.alice, d.bob
	t.Helper()
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
		req, _ := http.NewRequestWithContext(d.ctx, "GET", d.file.Gateway+"/", nil)
		req.URL.Opaque = tc.path
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		r, err := d.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, r.StatusCode, tc.status)
		}
	}
}

// checkProfiles: what alice and bob see of the profiles (fields masked or
// removed by role) and which fields bob may write.
func (d *demoRun) checkProfiles() {
	t, gw, alice, bob := d.t, d.file.Gateway, d.alice, d.bob
	t.Helper()
	if resp, body := d.get(gw+"/api/users/bob", alice); resp.StatusCode != 200 || !strings.Contains(body, `"ssn":"*******9999"`) || strings.Contains(body, "card_number") || !strings.Contains(body, "email") {
		t.Errorf("alice's view of bob's profile: %d %s", resp.StatusCode, body)
	}
	if resp, body := d.get(gw+"/api/users", alice); resp.StatusCode != 200 || strings.Contains(body, "ssn") || strings.Contains(body, "card_number") || !strings.Contains(body, "carol@example.com") {
		t.Errorf("alice's user list: %d %s", resp.StatusCode, body)
	}
	if resp, body := d.get(gw+"/api/users/bob", bob); resp.StatusCode != 200 || !strings.Contains(body, "ssn") {
		t.Errorf("bob's view of his own profile: %d %s", resp.StatusCode, body)
	}
	// The spec declares no role in an update: the contract refuses it
	// before authz's writable fields would.
	if code, body := d.put("/api/users/bob", bob, `{"role":"admin"}`); code != 400 || !strings.Contains(body, `"reason":"inputs.invalid"`) || !strings.Contains(body, `"pointer":"/role"`) {
		t.Errorf("bob makes himself admin: %d %s", code, body)
	}
	if code, body := d.put("/api/users/bob", bob, `{"name":"Robert"}`); code != 200 || !strings.Contains(body, "Robert") || !strings.Contains(body, `"role":"reader"`) {
		t.Errorf("bob renames himself: %d %s", code, body)
	}
	if code, _ := d.put("/api/users/carol", bob, `{"name":"x"}`); code != 403 {
		t.Errorf("bob renames carol: %d", code)
	}
	if code, _ := d.put("/api/users/bob", alice, `{"name":"x"}`); code != 403 {
		t.Errorf("alice may read, not write, bob's profile: %d", code)
	}
}

// checkInputs: the README tour's three refusals, each a problem document
// that names the field and never echoes the value, and the unprotected
// API taking all three.
func (d *demoRun) checkInputs() {
	t, bob := d.t, d.bob
	t.Helper()
	long := strings.Repeat("Bob", 40)
	sqli := "Robert' UNION SELECT card_number FROM users--"
	for _, tc := range []struct {
		name, body, status, reason, where string
	}{
		{"undeclared property", `{"name":"Bob","role":"admin"}`, "400", "inputs.invalid", `"pointer":"/role"`},
		{"name over maxLength", `{"name":"` + long + `"}`, "400", "inputs.invalid", `"pointer":"/name"`},
		{"SQL injection in a free-text field", `{"name":"` + sqli + `"}`, "403", "waf.blocked", ""},
	} {
		code, body := d.put("/api/users/bob", bob, tc.body)
		if strconv.Itoa(code) != tc.status || !strings.Contains(body, `"reason":"`+tc.reason+`"`) || !strings.Contains(body, tc.where) {
			t.Errorf("%s: %d %s", tc.name, code, body)
		}
		if strings.Contains(body, "BobBob") || strings.Contains(body, "UNION") {
			t.Errorf("%s: the refusal echoes the value: %s", tc.name, body)
		}
		req, _ := http.NewRequestWithContext(d.ctx, "PUT", d.file.Unprotected+"/api/users/bob", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		r, err := d.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("%s: the unprotected API answered %d, want 200", tc.name, r.StatusCode)
		}
	}
	// Put bob's role and name back for the checks after this one.
	req, _ := http.NewRequestWithContext(d.ctx, "PUT", d.file.Unprotected+"/api/users/bob", strings.NewReader(`{"role":"reader","name":"Robert"}`))
	req.Header.Set("Content-Type", "application/json")
	if r, err := d.client.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("restoring bob: %v %v", r, err)
	} else {
		r.Body.Close()
	}
}

// checkSensitiveData: bob's new SSN reaches the API encrypted under his
// own data key; he reads it, alice sees it masked, and after a shred
// nobody reads it. His card number is masked by DLP.
func (d *demoRun) checkSensitiveData() {
	t, file, alice, bob := d.t, d.file, d.alice, d.bob
	t.Helper()
	if code, body := d.put("/api/users/bob", bob, `{"ssn":"536-22-6789"}`); code != 200 || !strings.Contains(body, `"ssn":"536-22-6789"`) || !strings.Contains(body, `"card_number":"************4444"`) {
		t.Errorf("bob sets his SSN: %d %s", code, body)
	}
	if resp, body := d.get(file.Unprotected+"/api/users/bob", ""); resp.StatusCode != 200 || !strings.Contains(body, `"ssn":"rampart:v1:`) || strings.Contains(body, "6789") {
		t.Errorf("the API stored bob's SSN as %s", body)
	}
	if _, body := d.get(file.Gateway+"/api/users/bob", alice); !strings.Contains(body, `"ssn":"***-**-6789"`) {
		t.Errorf("alice reads bob's new SSN as %s", body)
	}
	areq, _ := http.NewRequestWithContext(d.ctx, "POST", file.Admin+"/v1/keys/shred", strings.NewReader(`{"subject":"bob"}`))
	areq.Header.Set("Authorization", "Bearer "+file.AdminToken)
	areq.Header.Set("Content-Type", "application/json")
	if r, err := d.client.Do(areq); err != nil || r.StatusCode != 200 {
		t.Fatalf("shredding bob: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	for who, tok := range map[string]string{"bob": bob, "alice": alice} {
		if resp, body := d.get(file.Gateway+"/api/users/bob", tok); resp.StatusCode != 200 || !strings.Contains(body, `"ssn":null`) || strings.Contains(body, "6789") {
			t.Errorf("%s reads bob's shredded SSN as %d %s", who, resp.StatusCode, body)
		}
	}
}

// checkRecordLimit: data access controls. A session (bob's token) may
// view 500 products: page 2 above was 50, so 9 more pages pass and the
// 11th is refused.
func (d *demoRun) checkRecordLimit() {
	t := d.t
	t.Helper()
	for page := 1; page <= 11; page++ {
		if page == 2 {
			continue
		}
		resp, body := d.get(fmt.Sprintf("%s/api/products?page=%d", d.file.Gateway, page), d.bob)
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
}

// checkRateLimit: carol, a reader: 10 requests/s with bursts of 20.
// Sixty requests in a row cannot all pass unless each takes over 60ms.
func (d *demoRun) checkRateLimit() {
	t := d.t
	t.Helper()
	limited := ""
	for range 60 {
		resp, body := d.get(d.file.Gateway+"/api/users/carol", d.carol)
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
}

// checkAdminFirewall: the admin route answers only on 127.0.0.1, whoever
// asks.
func (d *demoRun) checkAdminFirewall() {
	t := d.t
	t.Helper()
	req, _ := http.NewRequestWithContext(d.ctx, "GET", d.file.Gateway+"/api/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer "+d.alice)
	r, err := d.from(net.IPv4(127, 0, 0, 2)).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 403 || !strings.Contains(string(b), "firewall.not_allowed") {
		t.Errorf("stats from 127.0.0.2: %d %s", r.StatusCode, b)
	}
}

// checkOAuthClient: alice's API key as an OAuth2 client gets a token for
// the catalogue; the admin listener serves the identity tokens' JWKS.
func (d *demoRun) checkOAuthClient() {
	t, file := d.t, d.file
	t.Helper()
	form := strings.NewReader("grant_type=client_credentials&scope=products:read")
	req, _ := http.NewRequestWithContext(d.ctx, "POST", file.Gateway+"/oauth/token", form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(file.Users["alice"].ClientID, file.Users["alice"].APIKey)
	r, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(r.Body).Decode(&tok)
	r.Body.Close()
	if r.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d", r.StatusCode)
	}
	if resp, body := d.get(file.Gateway+"/api/products?page=3", tok.AccessToken); resp.StatusCode != 200 {
		t.Errorf("products with alice's access token: %d %s", resp.StatusCode, body)
	}
	if resp, body := d.get(file.Admin+"/.well-known/jwks.json", ""); resp.StatusCode != 200 || !strings.Contains(body, `"alg":"ES256"`) {
		t.Errorf("identity-token JWKS: %d %s", resp.StatusCode, body)
	}
}

// checkCredentialStuffing: a client at 127.0.0.3 is banned after 20 bad
// keys. The ban is placed off the request goroutine (anomaly.Runner), so
// it lands a moment after the 20th failure: within the next requests.
func (d *demoRun) checkCredentialStuffing() {
	t := d.t
	t.Helper()
	from3 := d.from(net.IPv4(127, 0, 0, 3))
	last, sent := 0, 0
	for i := 0; i < 60 && last != 403; i++ {
		req, _ := http.NewRequestWithContext(d.ctx, "GET", d.file.Gateway+"/api/products", nil)
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
}

// checkMetrics: the metrics want the admin token, and count bob's BOLA
// refusal.
func (d *demoRun) checkMetrics() {
	t, file := d.t, d.file
	t.Helper()
	if resp, _ := d.get(file.Admin+"/metrics", ""); resp.StatusCode != 401 {
		t.Errorf("metrics without token: %d", resp.StatusCode)
	}
	if resp, body := d.get(file.Admin+"/metrics", file.AdminToken); resp.StatusCode != 200 || !strings.Contains(body, `rampart_requests_total{code="403",reason="authz.not_owner",route="user"}`) {
		t.Errorf("metrics: %d\n%s", resp.StatusCode, body)
	}
}

// stop cancels the demo and waits for Run to return nil.
func (d *demoRun) stop() {
	t := d.t
	t.Helper()
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("demo exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not shut down")
	}
}

// checkDemoAuditLog: the stopped demo's audit log holds every request and
// verifies strictly, anchored by the checkpoint copies in the state store.
func checkDemoAuditLog(t *testing.T, dir string) {
	t.Helper()
	key, err := audit.ReadPublicKey(filepath.Join(dir, "audit", audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
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
}

// checkDemoAuditEvents: the audit log holds one credential-stuffing alert
// for 127.0.0.3, one shred of bob, DLP findings, and none of the
// sensitive values the test sent or read.
func checkDemoAuditEvents(t *testing.T, dir string) {
	t.Helper()
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
}

// checkDemoAccessLog: the access log has a line per request, without the
// admin token, and with the card number in a path masked.
func checkDemoAccessLog(t *testing.T, dir, adminToken string) {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(dir, "access.log"))
	if err != nil || strings.Count(string(log), "\n") < 6 {
		t.Errorf("access log: %v\n%s", err, log)
	}
	if strings.Contains(string(log), adminToken) {
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

// TestConfigFile keeps rampart.yaml, the demo's config written out for
// rampart lint and for reading, equal to what demo.Config builds.
func TestConfigFile(t *testing.T) {
	data, err := os.ReadFile("rampart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := config.Parse("rampart.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := Config("127.0.0.1:8443", "127.0.0.1:9443", "demo-data", "127.0.0.1:8081", "demo-data/issuer-keys.json")
	// rampart demo writes its spec into the data directory; the file
	// names the repository's copy, so that rampart lint and config
	// validate find it from the repository's root.
	for i := range want.Routes {
		want.Routes[i].OpenAPI.Spec = "internal/demo/openapi.yaml"
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rampart.yaml differs from demo.Config (-Config +file):\n%s", d)
	}
}
