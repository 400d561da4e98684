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
	dir := t.TempDir()
	ctx := context.Background()
	s, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kekFile := filepath.Join(dir, "kek")
	if _, err := keyring.LoadKEKFile(kekFile, true); err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New(ctx, s, keyring.Options{LoadKEK: func() (keyring.KEK, error) { return keyring.LoadKEKFile(kekFile, false) }})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	var mu sync.Mutex
	var events []string
	rec := func(action, subject, detail string) {
		mu.Lock()
		events = append(events, action+" "+subject)
		mu.Unlock()
	}
	handler, err := New(Options{Token: testToken, Registry: prometheus.NewRegistry(), Store: s, Hasher: h, Keyring: ring, EncryptionAPI: true, Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(handler)
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	c, err := NewClient(srv.URL, testToken, caFile)
	if err != nil {
		t.Fatal(err)
	}
	newKey := func(scopes ...string) string {
		k, _, err := apikey.Create(ctx, s, h, apikey.Spec{Subject: "billing-svc", Scopes: scopes}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	encKey, decKey, readerKey := newKey("transit:encrypt"), newKey("transit:decrypt", "transit:rewrap"), newKey("profile")
	scopedKey := newKey("transit:decrypt:cust-4*", "transit:encrypt:solo")
	noScopes := newKey()

	call := func(op, token string, req TransitRequest) (int, TransitResult, string) {
		b, _ := json.Marshal(req)
		r, _ := http.NewRequest("POST", srv.URL+"/v1/transit/"+op, strings.NewReader(string(b)))
		r.Header.Set("Content-Type", "application/json")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
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
	pt := base64.StdEncoding.EncodeToString([]byte("4111111111111111"))
	code, enc, raw := call("encrypt", encKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Plaintext: pt})
	if code != 200 || !keyring.IsCiphertext(enc.Ciphertext) {
		t.Fatalf("encrypt with transit:encrypt: %d %s", code, raw)
	}
	for _, tc := range []struct {
		name, op, token string
		want            int
	}{
		{"no token", "decrypt", "", 401},
		{"a wrong token", "decrypt", "rpa_wrong-token-0123456789", 401},
		{"encrypt-only key decrypts", "decrypt", encKey, 403},
		{"profile key decrypts", "decrypt", readerKey, 403},
		{"a key without scopes decrypts", "decrypt", noScopes, 403},
		{"decrypt key encrypts", "encrypt", decKey, 403},
	} {
		if code, _, raw := call(tc.op, tc.token, TransitRequest{Subject: "cust-42", Field: "cards.number", Plaintext: pt, Ciphertext: enc.Ciphertext}); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, raw, tc.want)
		}
	}
	code, dec, raw := call("decrypt", decKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: enc.Ciphertext})
	if got, _ := base64.StdEncoding.DecodeString(dec.Plaintext); code != 200 || string(got) != "4111111111111111" || dec.Subject != "cust-42" || dec.Version != 1 {
		t.Fatalf("decrypt: %d %s", code, raw)
	}
	if code, _, _ := call("decrypt", decKey, TransitRequest{Subject: "cust-43", Field: "cards.number", Ciphertext: enc.Ciphertext}); code != 400 {
		t.Errorf("decrypt for another subject: %d", code)
	}
	if code, _, _ := call("decrypt", decKey, TransitRequest{Field: "cards.number", Ciphertext: enc.Ciphertext}); code != 400 {
		t.Errorf("decrypt without a subject: %d", code)
	}
	// Scopes may name subjects: transit:decrypt:cust-4* and transit:encrypt:solo.
	for _, tc := range []struct {
		op, subject string
		want        int
	}{
		{"decrypt", "cust-42", 200}, {"decrypt", "other-1", 403}, {"encrypt", "solo", 200}, {"encrypt", "solo2", 403}, {"rewrap", "cust-42", 403},
	} {
		code, _, raw := call(tc.op, scopedKey, TransitRequest{Subject: tc.subject, Field: "cards.number", Plaintext: pt, Ciphertext: enc.Ciphertext})
		if code != tc.want {
			t.Errorf("scoped key %s for %s: %d %s", tc.op, tc.subject, code, raw)
		}
	}
	// A ciphertext the gateway made for a route's field does not decrypt
	// through the encryption API, even with the right field name.
	gw, err := ring.Encrypt(ctx, "cust-42", "$.ssn", []byte(`"536-22-6789"`))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := call("decrypt", testToken, TransitRequest{Subject: "cust-42", Field: "$.ssn", Ciphertext: gw}); code != 400 {
		t.Errorf("transit decrypted a gateway field: %d", code)
	}
	if code, _, _ := call("decrypt", decKey, TransitRequest{Subject: "cust-42", Field: "cards.cvv", Ciphertext: enc.Ciphertext}); code != 400 {
		t.Errorf("decrypt as another field: %d", code)
	}
	if code, _, _ := call("encrypt", testToken, TransitRequest{Subject: "", Field: "x", Plaintext: pt}); code != 400 {
		t.Errorf("encrypt without a subject: %d", code)
	}
	if code, _, _ := call("encrypt", testToken, TransitRequest{Subject: "a", Field: "x", Plaintext: "%%%"}); code != 400 {
		t.Errorf("encrypt bad base64: %d", code)
	}

	// Rotation, then rewrap moves the value to the new version.
	rot, err := c.RotateDataKey(ctx, "cust-42")
	if err != nil || rot.Version != 2 {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	code, re, raw := call("rewrap", decKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: enc.Ciphertext})
	if code != 200 || re.Ciphertext == enc.Ciphertext {
		t.Fatalf("rewrap: %d %s", code, raw)
	}
	if _, dec, _ := call("decrypt", testToken, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: re.Ciphertext}); dec.Version != 2 {
		t.Errorf("rewrapped value is on version %d", dec.Version)
	}
	if _, err := c.ListDataKeys(ctx, "", "not-a-cursor", 0); err == nil || !strings.Contains(err.Error(), "VERSION:SUBJECT") {
		t.Errorf("a bad cursor: %v", err)
	}
	page, err := c.ListDataKeys(ctx, "cust-42", "", 0)
	if err != nil || len(page.Keys) != 2 {
		t.Fatalf("list: %+v %v", page, err)
	}
	if _, err := keyring.AddKEKVersion(kekFile); err != nil {
		t.Fatal(err)
	}
	rw, err := c.RewrapDataKeys(ctx)
	if err != nil || rw.Rewrapped != 3 || rw.KEKVersion != 2 || rw.Remaining != 0 { // cust-42 v1, v2 and solo v1
		t.Fatalf("KEK rewrap: %+v %v", rw, err)
	}
	sh, err := c.ShredSubject(ctx, "cust-42")
	if err != nil || sh.Destroyed != 2 {
		t.Fatalf("shred: %+v %v", sh, err)
	}
	if code, _, raw := call("decrypt", decKey, TransitRequest{Subject: "cust-42", Field: "cards.number", Ciphertext: re.Ciphertext}); code != 400 || raw == "" {
		t.Errorf("decrypt after shred: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	var admin, transit []string
	for _, e := range events {
		if strings.HasPrefix(e, "transit.") {
			transit = append(transit, e)
		} else {
			admin = append(admin, e)
		}
	}
	if strings.Join(admin, ",") != "keys.rotated cust-42,keys.rewrapped ,keys.shredded cust-42" || len(transit) < 10 || transit[0] != "transit.encrypt cust-42" {
		t.Errorf("audit events %q", events)
	}
}
