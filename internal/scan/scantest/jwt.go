package scantest

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"
)

// keys are a twin's token keys: an RSA key (alice's tokens) and an HMAC
// secret (everyone else's), a dictionary word on the vulnerable twin.
type keys struct {
	rsa    *rsa.PrivateKey
	secret []byte
}

func newKeys(fixed bool) *keys {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // the system's randomness failed: no test can run
	}
	s := []byte(Secret)
	if fixed {
		s = make([]byte, 32)
		_, _ = rand.Read(s)
	}
	return &keys{rsa: k, secret: s}
}

func seg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hs256(key []byte, in string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (k *keys) signHS256(claims map[string]any) string {
	in := seg(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." + seg(claims)
	return in + "." + hs256(k.secret, in)
}

func (k *keys) signRS256(claims map[string]any) string {
	in := seg(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "server"}) + "." + seg(claims)
	d := sha256.Sum256([]byte(in))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, d[:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (k *keys) jwks() []byte {
	pub := k.rsa.PublicKey
	b, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "server", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}}})
	return b
}

func (k *keys) publicPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

type parsed struct {
	header struct {
		Alg string         `json:"alg"`
		Kid string         `json:"kid"`
		JKU string         `json:"jku"`
		X5U string         `json:"x5u"`
		JWK map[string]any `json:"jwk"`
	}
	claims struct {
		Sub string  `json:"sub"`
		Exp float64 `json:"exp"`
		Nbf float64 `json:"nbf"`
	}
	signing, sig string
}

func parse(tok string) (*parsed, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	p := &parsed{signing: parts[0] + "." + parts[1], sig: parts[2]}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &p.header) != nil || json.Unmarshal(cb, &p.claims) != nil {
		return nil, false
	}
	return p, true
}

func verifyRS(pub *rsa.PublicKey, p *parsed) bool {
	sig, err := base64.RawURLEncoding.DecodeString(p.sig)
	if err != nil {
		return false
	}
	d := sha256.Sum256([]byte(p.signing))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
}

func rsaFromJWK(m map[string]any) *rsa.PublicKey {
	n, _ := m["n"].(string)
	e, _ := m["e"].(string)
	nb, err1 := base64.RawURLEncoding.DecodeString(n)
	eb, err2 := base64.RawURLEncoding.DecodeString(e)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
		return nil
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
}

func fetch(ctx context.Context, u string) []byte {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return b
}

// verifyNaive is every classic JWT verification mistake at once: alg
// none, an empty signature, keys from the token's own jwk/jku/x5u
// headers, kid read as a file path, the RSA public key usable as an HMAC
// secret, a signature compared by its first 16 characters, and no exp or
// nbf check.
func (k *keys) verifyNaive(ctx context.Context, tok string) (string, bool) {
	p, ok := parse(tok)
	if !ok {
		return "", false
	}
	switch {
	case strings.EqualFold(p.header.Alg, "none"), p.sig == "":
		return p.claims.Sub, true
	case p.header.JWK != nil:
		pub := rsaFromJWK(p.header.JWK)
		return p.claims.Sub, pub != nil && verifyRS(pub, p)
	case p.header.JKU != "":
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if json.Unmarshal(fetch(ctx, p.header.JKU), &set) != nil || len(set.Keys) == 0 {
			return "", false
		}
		pub := rsaFromJWK(set.Keys[0])
		return p.claims.Sub, pub != nil && verifyRS(pub, p)
	case p.header.X5U != "":
		blk, _ := pem.Decode(fetch(ctx, p.header.X5U))
		if blk == nil {
			return "", false
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return "", false
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		return p.claims.Sub, ok && verifyRS(pub, p)
	case strings.Contains(p.header.Kid, "/"):
		key, err := os.ReadFile(p.header.Kid) // #nosec G304 -- deliberately vulnerable test target
		return p.claims.Sub, err == nil && hs256(key, p.signing) == p.sig
	case p.header.Alg == "HS256":
		for _, key := range [][]byte{k.secret, k.publicPEM()} {
			want := hs256(key, p.signing)
			if len(p.sig) >= 16 && strings.HasPrefix(want, p.sig[:16]) {
				return p.claims.Sub, true
			}
		}
		return "", false
	case p.header.Alg == "RS256":
		return p.claims.Sub, verifyRS(&k.rsa.PublicKey, p)
	}
	return "", false
}

// verifyStrict is how it is done: the key decides the algorithm, the
// whole signature is compared in constant time, exp and nbf are checked,
// and no header can name a key.
func (k *keys) verifyStrict(tok string, now time.Time) (string, bool) {
	p, ok := parse(tok)
	if !ok || p.header.JWK != nil || p.header.JKU != "" || p.header.X5U != "" {
		return "", false
	}
	switch {
	case p.header.Alg == "RS256" && p.header.Kid == "server":
		if !verifyRS(&k.rsa.PublicKey, p) {
			return "", false
		}
	case p.header.Alg == "HS256" && p.header.Kid == "":
		if !hmac.Equal([]byte(hs256(k.secret, p.signing)), []byte(p.sig)) {
			return "", false
		}
	default:
		return "", false
	}
	if float64(now.Unix()) >= p.claims.Exp || (p.claims.Nbf != 0 && float64(now.Unix()) < p.claims.Nbf) {
		return "", false
	}
	return p.claims.Sub, true
}
