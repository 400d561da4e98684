package mtlsauth

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/url"
	"testing"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func TestSubjectsAndRoles(t *testing.T) {
	spiffe, _ := url.Parse("spiffe://example.org/ns/prod/sa/billing")
	cert := &x509.Certificate{
		Raw:            []byte("der"),
		Subject:        pkix.Name{CommonName: "billing", OrganizationalUnit: []string{"payments", "ops"}},
		Issuer:         pkix.Name{CommonName: "Internal CA"},
		DNSNames:       []string{"billing.internal"},
		URIs:           []*url.URL{spiffe},
		EmailAddresses: []string{"billing@example.org"},
	}
	tests := []struct {
		cfg     config.MTLS
		subject string
		roles   []string
		reason  string
	}{
		{config.MTLS{Subject: "cn"}, "billing", nil, ""},
		{config.MTLS{Subject: "dns", RolesFromOU: true}, "billing.internal", []string{"payments", "ops"}, ""},
		{config.MTLS{Subject: "uri", Roles: map[string][]string{spiffe.String(): {"service", "ops"}}, RolesFromOU: true}, spiffe.String(), []string{"payments", "ops", "service"}, ""},
		{config.MTLS{Subject: "email"}, "billing@example.org", nil, ""},
		{config.MTLS{Subject: "cn", AllowedSubjects: []string{"orders"}}, "", nil, "authn.certificate_not_allowed"},
	}
	for _, tt := range tests {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In.ClientCert = cert
		id, err := New(tt.cfg).Authenticate(context.Background(), x)
		if tt.reason != "" {
			if d, ok := pipeline.AsDenial(err); !ok || d.Reason != tt.reason {
				t.Errorf("%+v: %v, want %s", tt.cfg, err, tt.reason)
			}
			continue
		}
		if err != nil || id.Subject != tt.subject || len(id.Roles) != len(tt.roles) || id.Method != "mtls" || id.Issuer != "Internal CA" {
			t.Errorf("%+v: %+v %v", tt.cfg, id, err)
			continue
		}
		for i := range tt.roles {
			if id.Roles[i] != tt.roles[i] {
				t.Errorf("%+v: roles %v, want %v", tt.cfg, id.Roles, tt.roles)
			}
		}
	}
	x := &pipeline.Exchange{}
	x.Reset()
	if _, err := New(config.MTLS{Subject: "cn"}).Authenticate(context.Background(), x); !errors.Is(err, authn.ErrNoCredentials) {
		t.Errorf("no certificate: %v", err)
	}
	x.In.ClientCert = &x509.Certificate{Raw: []byte("x")}
	if _, err := New(config.MTLS{Subject: "dns"}).Authenticate(context.Background(), x); err == nil {
		t.Error("certificate without a DNS SAN accepted with subject: dns")
	}
}
