package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/secretfile"
)

// File names of the development CA inside the data directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// CA is the self-signed development CA. Its certificate is exported as
// DATA_DIR/ca.pem so that clients can trust it (curl --cacert); its key
// stays in DATA_DIR/ca-key.pem with mode 0600. It is for development only.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertFile is the path of the exported CA certificate.
	CertFile string
}

// LoadOrCreateCA loads the development CA from dir, creating it (and dir)
// on first use.
//
// The key is the part created exclusively (see secretfile): of gateways
// starting at once on one dir, one makes ca-key.pem and all use it. The
// certificate is then made from that key, exclusively too, so they also
// agree on ca.pem: a process that finds the key but no certificate (the
// creator has not written it yet, or crashed first) makes one, and a
// process that loses that race reads the winner's. A certificate that
// does not belong to the key is an error, except beside a key made by
// this very call: then it is left from a deleted key and is replaced, as
// it always was.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	keyPEM, keyCreated, err := secretfile.LoadOrCreate(keyPath, newCAKey, func(b []byte) error {
		_, err := parseCAKey(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("development CA key: %w", err)
	}
	key, err := parseCAKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("development CA key: %s: %w", keyPath, err)
	}
	newCert := func() ([]byte, error) { return newCACert(key) }
	validCert := func(b []byte) error {
		if _, err := tls.X509KeyPair(b, keyPEM); err != nil {
			return fmt.Errorf("%w: %w", errNotKeysCert, err)
		}
		return nil
	}
	certPEM, _, err := secretfile.LoadOrCreatePublic(certPath, 0o644, newCert, validCert)
	if err != nil && keyCreated && errors.Is(err, errNotKeysCert) {
		if rerr := os.Remove(certPath); rerr != nil {
			return nil, fmt.Errorf("replacing the development CA certificate of a deleted key: %w", rerr)
		}
		certPEM, _, err = secretfile.LoadOrCreatePublic(certPath, 0o644, newCert, validCert)
	}
	if err != nil {
		return nil, fmt.Errorf("development CA certificate: %w", err)
	}
	return loadCA(certPEM, keyPEM, certPath, keyPath)
}

// errNotKeysCert: ca.pem is not a certificate of ca-key.pem.
var errNotKeysCert = errors.New("not a certificate of the CA key")

// newCAKey makes a P-256 key as PKCS #8 PEM.
func newCAKey() ([]byte, error) {
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

// parseCAKey reads an ECDSA key from the first PEM block of a key file,
// PKCS #8 or SEC 1 as crypto/tls reads it.
func parseCAKey(b []byte) (*ecdsa.PrivateKey, error) {
	var block *pem.Block
	for {
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("no PEM private key in it")
		}
		if block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY") {
			break
		}
	}
	var k any
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if k, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, errors.New("not a PKCS #8 or SEC 1 private key")
		}
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an ECDSA key")
	}
	return key, nil
}

// newCACert makes the self-signed CA certificate of key, as PEM.
func newCACert(key *ecdsa.PrivateKey) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Rampart Development CA", Organization: []string{"Rampart (development only)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func loadCA(certPEM, keyPEM []byte, certPath, keyPath string) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading development CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("loading development CA: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, fmt.Errorf("%s is not an ECDSA CA certificate", certPath)
	}
	if time.Now().After(cert.NotAfter) {
		return nil, fmt.Errorf("development CA expired on %s; delete %s and %s to make a new one",
			cert.NotAfter.Format(time.DateOnly), certPath, keyPath)
	}
	return &CA{cert: cert, key: key, CertFile: certPath}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	return n
}

// Issue returns a fresh 30-day certificate for hosts (names and IP
// addresses), signed by the CA, usable by servers and, for mTLS in
// development, by clients.
func (ca *CA) Issue(hosts []string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("issuing server certificate: no host names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating server key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(0, 0, 30),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// Pool returns a cert pool holding only the CA, for clients and tests.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// WritePEM writes a certificate chain and its private key as PEM files,
// the key with mode 0600.
func WritePEM(certFile, keyFile string, c tls.Certificate) error {
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return fmt.Errorf("encoding private key: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("writing private key: %w", err)
	}
	if err := os.WriteFile(certFile, chain, 0o644); err != nil { // #nosec G306 -- a public certificate
		return fmt.Errorf("writing certificate: %w", err)
	}
	return nil
}
