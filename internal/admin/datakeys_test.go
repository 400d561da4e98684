package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/store"
)

// TestDataKeysAndTransit drives /v1/keys through Client, the way `rampart
// keys --addr` does, and /v1/transit per caller: the admin token, and API
// keys holding one transit scope each.
func TestDataKeysAndTransit(t *testing.T) {
	f := newTransitServer(t)
	pt := base64.StdEncoding.EncodeToString([]byte("4111111111111111"))
	code, enc, raw := f.call("encrypt", f.encKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Plaintext: pt})
	if code != 200 || !keyring.IsCiphertext(enc.Ciphertext) {
		t.Fatalf("encrypt with transit:encrypt: %d %s", code, raw)
	}
	checkTransitCallers(t, f, pt, enc.Ciphertext)
	checkTransitDecrypt(t, f, enc.Ciphertext)
	checkTransitScopedKey(t, f, pt, enc.Ciphertext)
	checkTransitBadRequests(t, f, pt, enc.Ciphertext)
	re := checkDataKeyLifecycle(t, f, enc.Ciphertext)
	if code, _, raw := f.call("decrypt", f.decKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: re}); code != 400 || raw == "" {
		t.Errorf("decrypt after shred: %d", code)
	}
	checkTransitEvents(t, f)
}

// transitServer is TestDataKeysAndTransit's admin server: a keyring on a
// KEK file, the encryption API on, and API keys of billing-svc.
type transitServer struct {
	t       *testing.T
	s       *store.Store
	ring    *keyring.Keyring
	kekFile string
	srv     *httptest.Server
	c       *Client // with the admin token
	// The API keys: transit:encrypt; transit:decrypt and
	// transit:rewrap; profile; transit:decrypt:cust-4* and
	// transit:encrypt:solo; no scope at all.
	encKey, decKey, readerKey, scopedKey, noScopes string

	mu     sync.Mutex
	events []string // "action subject", as recorded
}

// newTransitServer starts the admin server on a new store, KEK file and
// keyring, and makes the API keys.
func newTransitServer(t *testing.T) *transitServer {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	f := &transitServer{t: t, s: s, kekFile: filepath.Join(dir, "kek")}
	if _, err := keyring.LoadKEKFile(f.kekFile, true); err != nil {
		t.Fatal(err)
	}
	f.ring, err = keyring.New(ctx, s, keyring.Options{LoadKEK: func() (keyring.KEK, error) { return keyring.LoadKEKFile(f.kekFile, false) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.ring.Close() })
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	rec := func(action, subject, detail string) {
		f.mu.Lock()
		f.events = append(f.events, action+" "+subject)
		f.mu.Unlock()
	}
	handler, err := New(Options{Token: testToken, Registry: prometheus.NewRegistry(), Store: s, Hasher: h, Keyring: f.ring, EncryptionAPI: true, Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(handler)
	t.Cleanup(f.srv.Close)
	caFile := filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600)
	if f.c, err = NewClient(f.srv.URL, testToken, caFile); err != nil {
		t.Fatal(err)
	}
	newKey := func(scopes ...string) string {
		k, _, err := apikey.Create(ctx, s, h, apikey.Spec{Subject: "billing-svc", Scopes: scopes}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	f.encKey, f.decKey, f.readerKey = newKey("transit:encrypt"), newKey("transit:decrypt", "transit:rewrap"), newKey("profile")
	f.scopedKey = newKey("transit:decrypt:cust-4*", "transit:encrypt:solo")
	f.noScopes = newKey()
	return f
}

// call posts req to /v1/transit/op with token as the bearer token (none
// if empty): the status, the decoded result and the result marshalled
// again, for messages.
func (f *transitServer) call(op, token string, req TransitRequest) (int, TransitResult, string) {
	f.t.Helper()
	b, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", f.srv.URL+"/v1/transit/"+op, strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(r)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out TransitResult
	raw := new(strings.Builder)
	dec := json.NewDecoder(resp.Body)
	_ = dec.Decode(&out)
	rb, _ := json.Marshal(out)
	raw.Write(rb)
	return resp.StatusCode, out, raw.String()
}

// checkTransitCallers: who may not decrypt ct (of plaintext pt), or
// encrypt.
func checkTransitCallers(t *testing.T, f *transitServer, pt, ct string) {
	t.Helper()
	for _, tc := range []struct {
		name, op, token string
		want            int
	}{
		{"no token", "decrypt", "", 401},
		{"a wrong token", "decrypt", "rpa_wrong-token-0123456789", 401},
		{"encrypt-only key decrypts", "decrypt", f.encKey, 403},
		{"profile key decrypts", "decrypt", f.readerKey, 403},
		{"a key without scopes decrypts", "decrypt", f.noScopes, 403},
		{"decrypt key encrypts", "encrypt", f.decKey, 403},
	} {
		if code, _, raw := f.call(tc.op, tc.token, TransitRequest{Subject: "cust-42", Field: "cards.number", Plaintext: pt, Ciphertext: ct}); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, raw, tc.want)
		}
	}
}

// checkTransitDecrypt: the decrypt key reads ct back for its subject, and
// for no other subject, nor for none.
func checkTransitDecrypt(t *testing.T, f *transitServer, ct string) {
	t.Helper()
	code, dec, raw := f.call("decrypt", f.decKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: ct})
	if got, _ := base64.StdEncoding.DecodeString(dec.Plaintext); code != 200 || string(got) != "4111111111111111" || dec.Subject != "cust-42" || dec.Version != 1 {
		t.Fatalf("decrypt: %d %s", code, raw)
	}
	if code, _, _ := f.call("decrypt", f.decKey, TransitRequest{Subject: "cust-43", Field: "cards.number", Ciphertext: ct}); code != 400 {
		t.Errorf("decrypt for another subject: %d", code)
	}
	if code, _, _ := f.call("decrypt", f.decKey, TransitRequest{Field: "cards.number", Ciphertext: ct}); code != 400 {
		t.Errorf("decrypt without a subject: %d", code)
	}
}

// checkTransitScopedKey: scopes may name subjects:
// transit:decrypt:cust-4* and transit:encrypt:solo.
func checkTransitScopedKey(t *testing.T, f *transitServer, pt, ct string) {
	t.Helper()
	for _, tc := range []struct {
		op, subject string
		want        int
	}{
		{"decrypt", "cust-42", 200}, {"decrypt", "other-1", 403}, {"encrypt", "solo", 200}, {"encrypt", "solo2", 403}, {"rewrap", "cust-42", 403},
	} {
		code, _, raw := f.call(tc.op, f.scopedKey, TransitRequest{Subject: tc.subject, Field: "cards.number", Plaintext: pt, Ciphertext: ct})
		if code != tc.want {
			t.Errorf("scoped key %s for %s: %d %s", tc.op, tc.subject, code, raw)
		}
	}
}

// checkTransitBadRequests: requests refused with 400 whoever sends them.
// A ciphertext the gateway made for a route's field does not decrypt
// through the encryption API, even with the right field name.
func checkTransitBadRequests(t *testing.T, f *transitServer, pt, ct string) {
	t.Helper()
	gw, err := f.ring.Encrypt(context.Background(), "cust-42", "$.ssn", []byte(`"536-22-6789"`))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := f.call("decrypt", testToken, TransitRequest{Subject: "cust-42", Field: "$.ssn", Ciphertext: gw}); code != 400 {
		t.Errorf("transit decrypted a gateway field: %d", code)
	}
	if code, _, _ := f.call("decrypt", f.decKey, TransitRequest{Subject: "cust-42", Field: "cards.cvv", Ciphertext: ct}); code != 400 {
		t.Errorf("decrypt as another field: %d", code)
	}
	if code, _, _ := f.call("encrypt", testToken, TransitRequest{Subject: "", Field: "x", Plaintext: pt}); code != 400 {
		t.Errorf("encrypt without a subject: %d", code)
	}
	if code, _, _ := f.call("encrypt", testToken, TransitRequest{Subject: "a", Field: "x", Plaintext: "%%%"}); code != 400 {
		t.Errorf("encrypt bad base64: %d", code)
	}
}

// checkDataKeyLifecycle drives /v1/keys through the Client: rotation,
// then rewrap moves ct to the new version; listing; a KEK rotation and
// the rewrap of every data key under it; the shred of cust-42. It returns
// the rewrapped ciphertext.
func checkDataKeyLifecycle(t *testing.T, f *transitServer, ct string) string {
	t.Helper()
	ctx := context.Background()
	rot, err := f.c.RotateDataKey(ctx, "cust-42")
	if err != nil || rot.Version != 2 {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	code, re, raw := f.call("rewrap", f.decKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: ct})
	if code != 200 || re.Ciphertext == ct {
		t.Fatalf("rewrap: %d %s", code, raw)
	}
	if _, dec, _ := f.call("decrypt", testToken, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: re.Ciphertext}); dec.Version != 2 {
		t.Errorf("rewrapped value is on version %d", dec.Version)
	}
	if _, err := f.c.ListDataKeys(ctx, "", "not-a-cursor", 0); err == nil || !strings.Contains(err.Error(), "VERSION:SUBJECT") {
		t.Errorf("a bad cursor: %v", err)
	}
	page, err := f.c.ListDataKeys(ctx, "cust-42", "", 0)
	if err != nil || len(page.Keys) != 2 {
		t.Fatalf("list: %+v %v", page, err)
	}
	if _, err := keyring.AddKEKVersion(f.kekFile); err != nil {
		t.Fatal(err)
	}
	rw, err := f.c.RewrapDataKeys(ctx)
	if err != nil || rw.Rewrapped != 3 || rw.KEKVersion != 2 || rw.Remaining != 0 { // cust-42 v1, v2 and solo v1
		t.Fatalf("KEK rewrap: %+v %v", rw, err)
	}
	sh, err := f.c.ShredSubject(ctx, "cust-42")
	if err != nil || sh.Destroyed != 2 {
		t.Fatalf("shred: %+v %v", sh, err)
	}
	return re.Ciphertext
}

// checkTransitEvents: the key administration left one audit event per
// act, and the transit calls one each, the first encrypt first.
func checkTransitEvents(t *testing.T, f *transitServer) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var admin, transit []string
	for _, e := range f.events {
		if strings.HasPrefix(e, "transit.") {
			transit = append(transit, e)
		} else {
			admin = append(admin, e)
		}
	}
	if strings.Join(admin, ",") != "keys.rotated cust-42,keys.rewrapped ,keys.shredded cust-42" || len(transit) < 10 || transit[0] != "transit.encrypt cust-42" {
		t.Errorf("audit events %q", f.events)
	}
}
