package protect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func newProtector(t *testing.T, c Cipher, routes ...config.Route) *Protector {
	t.Helper()
	cfg := &config.Config{Routes: routes}
	config.SetDefaults(cfg)
	p, err := New(cfg.Protect, Deps{Routes: cfg.Routes, Cipher: c})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func respond(t *testing.T, p *Protector, x *pipeline.Exchange, body string) (string, error) {
	t.Helper()
	x.Response.Body, x.Response.Buffered = []byte(body), true
	err := p.ResponseStage().Response(context.Background(), x)
	return string(x.Response.Body), err
}

// TestDLPSeesThroughEscapesAndNames: values hidden behind JSON escapes,
// values in member names and strings that only look like ciphertexts are
// all found; masking keeps the document valid.
func TestDLPSeesThroughEscapesAndNames(t *testing.T) {
	block := newProtector(t, nil, config.Route{Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "block"}}})
	for _, body := range []string{
		`{"card":"\u0034111111111111111"}`,
		`{"card":"4111\u00201111\u00201111\u00201111"}`,
		`{"email":"ann\u0040example.com"}`,
		`{"by_email":{"ann@example.com":{}}}`,
		`{"pass\u0077ord":"hJ8kL2mN9pQ4rS7tV1wX3yZ5aB"}`,
		`{"note":"rampart:v1: 4111 1111 1111 1111"}`,
		`{"note":"rampart:v1:4111-1111-1111-1111"}`,
		"{\"password\":\n  \"hJ8kL2mN9pQ4rS7tV1wX3yZ5aB\"}",
		`{"tokens":["hJ8kL2mN9pQ4rS7tV1wX3yZ5aB"]}`,
		`{"password":["hJ8kL2mN9pQ4rS7tV1wX3yZ5aB"]}`,
		`{"the_primary_administrative_account_for_the_billing_subsystem_password":"hJ8kL2mN9pQ4rS7tV1wX3yZ5aB"}`,
		`{"ann\u0040example.com":1}`,
		`{"x":{"\u0034111 1111 1111 1111":{"y":[1]}}}`,
	} {
		x := exchange(0, "GET", "")
		if _, err := respond(t, block, x, body); err == nil || !strings.Contains(err.Error(), "sensitive") {
			t.Errorf("%s: passed a blocking DLP (%v)", body, err)
		}
	}
	mask := newProtector(t, nil, config.Route{Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "mask"}}})
	x := exchange(0, "GET", "")
	out, err := respond(t, mask, x, `{"by_email":{"ann@example.com":{"card":"4111 1111 1111 1111","c2":"\u0034111111111111111"}}}`)
	if err != nil || !json.Valid([]byte(out)) || strings.Contains(out, "ann@") || strings.Contains(out, "4111 1111 1111 1111") || strings.Contains(out, `\u0034111`) {
		t.Errorf("masked: %s %v", out, err)
	}
	if len(x.Response.Findings) != 2 || x.Response.Findings[0] != (pipeline.Finding{Kind: "card", Count: 2}) {
		t.Errorf("findings %v", x.Response.Findings)
	}
	x = exchange(0, "GET", "")
	out, err = respond(t, mask, x, `{"a":{"ann\u0040example.com":{"n":[1,2]},"bob@example.com":true},"password":["hJ8kL2mN9pQ4rS7tV1wX3yZ5aB"]}`)
	if err != nil || !json.Valid([]byte(out)) || strings.Contains(out, "ann") || strings.Contains(out, "bob@") || strings.Contains(out, "hJ8k") || !strings.Contains(out, `"n":[1,2]`) {
		t.Errorf("masked names: %s %v", out, err)
	}
}

type failingCipher struct{ err error }

func (f failingCipher) AppendEncrypt(context.Context, []byte, string, string, []byte) ([]byte, error) {
	return nil, f.err
}
func (f failingCipher) Decrypt(context.Context, string, string, string) ([]byte, keyring.Opened, error) {
	return nil, keyring.Opened{}, f.err
}

// TestDecryptFailures: a value that cannot be decrypted for good is null;
// a keyring that fails for now refuses the response instead, so a client
// never reads (and writes back) a null for data that still exists.
func TestDecryptFailures(t *testing.T) {
	route := config.Route{Path: "/users/{id}", Protect: &config.RouteProtect{Subject: "param:id",
		Fields: []config.ProtectField{{Path: "$.ssn", Reveal: config.Reveal{Owner: true}}}}}
	sealed := `{"ssn":"` + keyring.Prefix + strings.Repeat("A", 60) + `"}`
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{keyring.ErrKeyGone, 0, `{"ssn":null}`},
		{keyring.ErrAuthentication, 0, `{"ssn":null}`},
		{errors.New("database is down"), http.StatusServiceUnavailable, ""},
		{fmt.Errorf("reading a data key: %w", keyring.ErrUnavailable), http.StatusServiceUnavailable, ""},
	} {
		p := newProtector(t, failingCipher{tc.err}, route)
		out, err := respond(t, p, exchange(0, "GET", ""), sealed)
		d, _ := pipeline.AsDenial(err)
		switch {
		case tc.status == 0 && (err != nil || out != tc.body):
			t.Errorf("%v: %s %v", tc.err, out, err)
		case tc.status != 0 && (d == nil || d.Status != tc.status || d.Reason != "protect.keys_unavailable"):
			t.Errorf("%v: %v, want %d", tc.err, err, tc.status)
		case d != nil && errors.Is(tc.err, keyring.ErrUnavailable) && d.Cause != nil:
			t.Errorf("%v: the denial carries its cause, logged once per request; the store logs outages once", tc.err)
		}
	}
}

// TestEncryptStoreOutage: a request whose fields cannot be encrypted
// because the store does not answer is refused with 503, not 500, and
// without a cause to log per request.
func TestEncryptStoreOutage(t *testing.T) {
	route := config.Route{Path: "/users/{id}", Protect: &config.RouteProtect{Subject: "param:id",
		Fields: []config.ProtectField{{Path: "$.ssn"}}}}
	p := newProtector(t, failingCipher{fmt.Errorf("reserving data key uses: %w", keyring.ErrUnavailable)}, route)
	x := exchange(0, "PUT", `{"ssn":"078-05-1120"}`)
	x.SetBodySource(fixedBody(`{"ssn":"078-05-1120"}`))
	err := p.RequestStage().Request(context.Background(), x)
	d, ok := pipeline.AsDenial(err)
	if !ok || d.Status != http.StatusServiceUnavailable || d.Reason != "protect.keys_unavailable" || d.Cause != nil {
		t.Fatalf("encrypting during a store outage: %v", err)
	}
}

// TestTenantOwner: on a tenant route the tenant owns the data, so every
// member of the tenant reads its fields with reveal.owner.
func TestTenantOwner(t *testing.T) {
	ring := benchRing(t)
	tp := newProtector(t, ring, config.Route{Protect: &config.RouteProtect{Subject: "tenant",
		Fields: []config.ProtectField{{Path: "$.iban", Reveal: config.Reveal{Owner: true}}}}})
	x := exchange(0, "PUT", `{"iban":"DE89370400440532013000"}`)
	x.Identity = &pipeline.Identity{Subject: "alice", Tenant: "acme"}
	x.SetBodySource(fixedBody(`{"iban":"DE89370400440532013000"}`))
	if err := tp.RequestStage().Request(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	stored, _ := x.BufferedRequestBody()
	for who, id := range map[string]*pipeline.Identity{
		"alice@acme": {Subject: "alice", Tenant: "acme"}, "bob@acme": {Subject: "bob", Tenant: "acme"}, "eve@evil": {Subject: "eve", Tenant: "evil"},
		"root@": {Subject: "root", Roles: []string{"admin"}}, // no tenant: nothing to compare with, nothing decrypts
	} {
		y := exchange(0, "GET", "")
		y.Identity = id
		out, err := respond(t, tp, y, string(stored))
		clear := strings.Contains(out, "DE89370400440532013000")
		if err != nil || clear != strings.HasSuffix(who, "@acme") || (who == "root@" && !strings.Contains(out, `"iban":null`)) {
			t.Errorf("%s reads %s (%v)", who, out, err)
		}
	}
}

// TestReportNeverChangesTraffic: a report-only route passes what it
// cannot read (an unknown coding, broken JSON) as it is, and reads
// compressed bodies without sending them decompressed.
func TestReportNeverChangesTraffic(t *testing.T) {
	p := newProtector(t, nil, config.Route{Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "report"}}})
	for _, tc := range []struct {
		ce, body string
		findings int
	}{
		{"br", `{"card":"4111 1111 1111 1111"}`, 0},
		{"", `{"card":"4111 1111 1111 1111"`, 0},
		{"", `{"card":"4111 1111 1111 1111"}`, 1},
	} {
		x := exchange(0, "GET", "")
		if tc.ce != "" {
			x.Response.Header.Set("Content-Encoding", tc.ce)
		}
		out, err := respond(t, p, x, tc.body)
		if err != nil || out != tc.body || len(x.Response.Findings) != tc.findings || x.Response.Header.Get("Content-Encoding") != tc.ce {
			t.Errorf("%q %s: %s %v %v", tc.ce, tc.body, out, err, x.Response.Findings)
		}
	}
}

// TestNamesTellNumbersApart: a finding in a number followed by a string
// that starts with a colon is a value, not a member name; and a body of
// many findings is scanned in one pass (a regression: each finding once
// walked to the next quote, quadratic on a long number array).
func TestNamesTellNumbersApart(t *testing.T) {
	mask := newProtector(t, nil, config.Route{Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "mask"}}})
	for _, body := range []string{`[4111111111111111, ":)"]`, `{"id": 4111111111111111, ":path": "/"}`, `{"a":"card 4111 1111 1111 1111: expired"}`} {
		x := exchange(0, "GET", "")
		out, err := respond(t, mask, x, body)
		if err != nil || !json.Valid([]byte(out)) || strings.Contains(out, "4111") || len(x.Response.Findings) != 1 || x.Response.Findings[0].Count != 1 {
			t.Errorf("%s: %s %v %v", body, out, err, x.Response.Findings)
		}
	}
	big := "[" + strings.Repeat("4111111111111111,", 60000) + "1]" // 1 MiB
	x := exchange(0, "GET", "")
	if _, err := respond(t, mask, x, big); err != nil || x.Response.Findings[0].Count != 60000 {
		t.Fatalf("1 MiB of cards: %v %v", err, x.Response.Findings)
	}
}

// TestCaseVariantOfProtectedField: a member spelled like an encrypted
// field in another letter case (SSN for $.ssn, or the long s of ſsn) is
// refused: jsonpath matches names exactly, so it would pass unencrypted,
// while a Go upstream reads it as the field. The field's own spelling and
// unrelated names pass on to encryption.
func TestCaseVariantOfProtectedField(t *testing.T) {
	route := config.Route{Path: "/users/{id}", Protect: &config.RouteProtect{Subject: "param:id",
		Fields: []config.ProtectField{{Path: "$.user.ssn"}}}}
	p := newProtector(t, failingCipher{errors.New("reached the cipher")}, route)
	for body, refused := range map[string]bool{
		`{"user":{"SSN":"078-05-1120"}}`:                        true,
		`{"user":{"ssn":"078-05-1120","\u017fsn":"1"}}`:         true,
		`{"USER":{"ssn":"078-05-1120"}}`:                        true,
		`{"user":{"ssn":"078-05-1120"}}`:                        false,
		`{"user":{"ssns":"x"},"note":"SSN in a value is fine"}`: false,
	} {
		x := exchange(0, "PUT", body)
		x.SetBodySource(fixedBody(body))
		err := p.RequestStage().Request(context.Background(), x)
		d, _ := pipeline.AsDenial(err)
		if got := d != nil && d.Reason == ReasonAmbiguousField; got != refused {
			t.Errorf("%s: %v, want refused=%v", body, err, refused)
		}
	}
}
