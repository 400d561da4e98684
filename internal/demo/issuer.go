package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The demo's own token issuer: an ES256 key in the data directory, its
// public JWKS for the gateway, and tokens for the demo users. It stands in
// for an identity provider until the built-in token endpoint lands.
const (
	demoIssuer   = "https://rampart-demo.local"
	demoAudience = "rampart-demo"
	demoKeyID    = "demo-1"
	tokenTTL     = 24 * time.Hour
)

type issuer struct {
	key      *ecdsa.PrivateKey
	keysFile string
}

// loadOrCreateIssuer loads the demo signing key from dir, or creates it
// (mode 0600), and writes the public JWKS beside it.
func loadOrCreateIssuer(dir string) (*issuer, error) {
	keyPath := filepath.Join(dir, "demo-issuer-key.pem")
	var key *ecdsa.PrivateKey
	b, err := os.ReadFile(keyPath) // #nosec G304 -- inside the demo's data dir
	switch {
	case err == nil:
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM key", keyPath)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", keyPath, err)
		}
		var ok bool
		if key, ok = k.(*ecdsa.PrivateKey); !ok {
			return nil, fmt.Errorf("%s is not an ECDSA key", keyPath)
		}
	case errors.Is(err, fs.ErrNotExist):
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("writing demo issuer key: %w", err)
		}
	default:
		return nil, fmt.Errorf("reading demo issuer key: %w", err)
	}
	set, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &key.PublicKey, KeyID: demoKeyID, Algorithm: string(jose.ES256), Use: "sig"},
	}}, "", "  ")
	if err != nil {
		return nil, err
	}
	keysFile := filepath.Join(dir, "demo-jwks.json")
	if err := os.WriteFile(keysFile, set, 0o644); err != nil { // #nosec G306 -- public keys
		return nil, fmt.Errorf("writing demo JWKS: %w", err)
	}
	return &issuer{key: key, keysFile: keysFile}, nil
}

// token issues a demo user's JWT, valid for tokenTTL.
func (is *issuer) token(sub string, roles []string, now time.Time) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", demoKeyID))
	if err != nil {
		return "", err
	}
	sid := make([]byte, 12) // each token is a session: record thresholds count per sid
	if _, err := rand.Read(sid); err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": demoIssuer, "aud": demoAudience, "sub": sub, "roles": roles, "sid": base64.RawURLEncoding.EncodeToString(sid),
		"scope": "products:read profile", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(tokenTTL).Unix(),
	})
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(claims)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}
