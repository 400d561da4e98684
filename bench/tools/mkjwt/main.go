// Command mkjwt makes the key and token of the benchmark's JWT rows: it
// generates a fresh ES256 (P-256) key, writes its public half as a JSON Web
// Key Set (kid "bench-1", alg ES256, use sig) to -jwks, and prints one signed
// token to stdout: iss https://bench.local, aud bench, sub bench-user,
// iat now, exp now+24h, header kid bench-1. The private key is never
// written anywhere.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func main() {
	jwksPath := flag.String("jwks", "bench-jwks.json", "file to write the public JSON Web Key Set to")
	issuer := flag.String("iss", "https://bench.local", "iss claim")
	audience := flag.String("aud", "bench", "aud claim")
	subject := flag.String("sub", "bench-user", "sub claim")
	kid := flag.String("kid", "bench-1", "key id (JWKS kid and token header kid)")
	ttl := flag.Duration("ttl", 24*time.Hour, "exp = now + ttl")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("mkjwt: ")

	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: *kid, Algorithm: string(jose.ES256), Use: "sig"}
	if !pub.Valid() {
		log.Fatal("generated public key is not valid")
	}
	set, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*jwksPath, append(set, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}

	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: *kid, Algorithm: string(jose.ES256), Use: "sig"}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   *issuer,
		Audience: jwt.Audience{*audience},
		Subject:  *subject,
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(*ttl)),
	}).Serialize()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok)
}
