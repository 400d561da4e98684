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
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rampart-gw/rampart/internal/secretfile"
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
// (mode 0600; exclusively, so demos starting at once on one dir share
// it), and writes the public JWKS beside it.
func loadOrCreateIssuer(dir string) (*issuer, error) {
	keyPath := filepath.Join(dir, "demo-issuer-key.pem")
	b, _, err := secretfile.LoadOrCreate(keyPath, newIssuerKey, func(b []byte) error {
		_, err := parseIssuerKey(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo issuer key: %w", err)
	}
	key, err := parseIssuerKey(b)
	if err != nil {
		return nil, fmt.Errorf("demo issuer key: %s: %w", keyPath, err)
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

func newIssuerKey() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseIssuerKey reads the PKCS #8 ECDSA key of a PEM file.
func parseIssuerKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("holds no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an ECDSA key")
	}
	return key, nil
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
