// Package mtlsauth is the client-certificate authenticator: it maps a
// certificate that the listener verified (listeners[].tls.client_auth) to an
// identity, taking the subject from the common name or a SAN and roles from
// organizational units or a subject-to-roles table.
//
// It only ever looks at a certificate whose chain the TLS stack verified
// against the configured client CAs (with the clientAuth usage and validity
// dates); a certificate merely presented is never seen here. An allowlist of
// subjects can narrow which valid certificates are accepted. Revocation
// (CRL, OCSP) is not checked yet: keep client certificates short-lived.
package mtlsauth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Authenticator maps verified client certificates to identities. It is
// immutable and safe for concurrent use.
type Authenticator struct {
	cfg config.MTLS
}

// New builds an authenticator from a validated config.
func New(c config.MTLS) *Authenticator { return &Authenticator{cfg: c} }

// Name returns the authenticator's config name.
func (a *Authenticator) Name() string { return a.cfg.Name }

// Challenge names the TLS client certificate scheme; there is no
// registered HTTP scheme for it.
func (a *Authenticator) Challenge() string { return `Mutual realm="rampart"` }

// subject returns the certificate's subject per the config.
func (a *Authenticator) subject(c *x509.Certificate) string {
	switch a.cfg.Subject {
	case "dns":
		if len(c.DNSNames) > 0 {
			return c.DNSNames[0]
		}
	case "uri":
		if len(c.URIs) > 0 {
			return c.URIs[0].String()
		}
	case "email":
		if len(c.EmailAddresses) > 0 {
			return c.EmailAddresses[0]
		}
	default:
		return c.Subject.CommonName
	}
	return ""
}

// Authenticate maps the verified client certificate, if any.
func (a *Authenticator) Authenticate(_ context.Context, x *pipeline.Exchange) (*pipeline.Identity, error) {
	c := x.In.ClientCert
	if c == nil {
		return nil, authn.ErrNoCredentials
	}
	sub := a.subject(c)
	if sub == "" {
		return nil, authn.Unauthorized(authn.ReasonBadCertificate, "The client certificate names no subject.", fmt.Errorf("no %s in certificate", a.cfg.Subject))
	}
	if len(a.cfg.AllowedSubjects) > 0 && !slices.Contains(a.cfg.AllowedSubjects, sub) {
		return nil, authn.Unauthorized(authn.ReasonCertificateNotAllowed, "The client certificate is not allowed here.", nil)
	}
	var roles []string
	if a.cfg.RolesFromOU {
		roles = append(roles, c.Subject.OrganizationalUnit...)
	}
	for _, r := range a.cfg.Roles[sub] {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	fp := sha256.Sum256(c.Raw)
	return &pipeline.Identity{
		Subject: sub, Issuer: c.Issuer.CommonName, Roles: roles, Method: "mtls", Authenticator: a.cfg.Name,
		CredentialID: "x509-sha256:" + hex.EncodeToString(fp[:8]), ExpiresAt: c.NotAfter,
	}, nil
}
