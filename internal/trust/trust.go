// Package trust owns reading trust anchors: the PEM bundles of CA
// certificates that Rampart verifies peers against (upstreams, JWKS and
// introspection servers, ACME directories, the admin API for the CLI, and
// client certificates on listeners). One reader, so every caller refuses
// the same mistakes: a missing file, a file with no certificate, or a
// certificate that does not parse.
package trust

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// maxBundleBytes bounds a CA bundle file.
const maxBundleBytes = 4 << 20

// LoadPool reads a PEM bundle into a certificate pool. Every block must be
// a parseable CERTIFICATE; anything else (a private key by mistake, a
// truncated block) is an error, not silently skipped.
func LoadPool(path string) (*x509.CertPool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading CA bundle: %w", err)
	}
	if fi.Size() > maxBundleBytes {
		return nil, fmt.Errorf("CA bundle %s is larger than %d bytes", path, maxBundleBytes)
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the CA bundle
	if err != nil {
		return nil, fmt.Errorf("reading CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("CA bundle %s holds a %s block; only certificates belong there", path, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA bundle %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("CA bundle " + path + " holds no PEM certificate")
	}
	return pool, nil
}
