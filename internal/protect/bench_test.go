package protect

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// benchProtector builds a Protector with a real keyring on SQLite: route
// 0 encrypts $.ssn and $.card.number (owner reads them), route 1 runs DLP
// in the given action.
func benchProtector(b testing.TB, action string) (*Protector, *keyring.Keyring) {
	b.Helper()
	ring := benchRing(b)
	c := &config.Config{Routes: []config.Route{
		{Path: "/users/{id}", Protect: &config.RouteProtect{Subject: "param:id", Fields: []config.ProtectField{
			{Path: "$.ssn", Reveal: config.Reveal{Owner: true}}, {Path: "$.card.number", Reveal: config.Reveal{Owner: true}}}}},
		{Path: "/customers", Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: action}}},
	}}
	config.SetDefaults(c)
	p, err := New(c.Protect, Deps{Routes: c.Routes, Cipher: ring})
	if err != nil {
		b.Fatal(err)
	}
	return p, ring
}

// benchRing opens a keyring on a fresh SQLite store.
func benchRing(b testing.TB) *keyring.Keyring {
	b.Helper()
	dir := b.TempDir()
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	kek := filepath.Join(dir, "kek")
	if _, err := keyring.LoadKEKFile(kek, true); err != nil {
		b.Fatal(err)
	}
	ring, err := keyring.New(context.Background(), st, keyring.Options{LoadKEK: func() (keyring.KEK, error) { return keyring.LoadKEKFile(kek, false) }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ring.Close() })
	return ring
}

const userDoc = `{"id":"bob","name":"Bob Reader","email":"bob@example.com","role":"reader","ssn":"536-22-6789","card":{"number":"5555555555554444","exp":"12/29"},"address":{"street":"1 Main St","city":"Springfield","zip":"12345"},"prefs":{"newsletter":true,"lang":"en"}}`

func exchange(route int, method, body string) *pipeline.Exchange {
	x := &pipeline.Exchange{}
	x.Reset()
	x.Route = &pipeline.Route{Index: route}
	x.Params = append(x.Params, pipeline.Param{Name: "id", Value: "bob"})
	x.Identity = &pipeline.Identity{Subject: "bob", Roles: []string{"reader"}}
	x.In.Method = method
	h := http.Header{"Content-Type": {"application/json"}}
	x.In.Header = h
	x.In.ContentLength = int64(len(body))
	x.Response.Header = http.Header{"Content-Type": {"application/json"}}
	x.Response.Status = 200
	return x
}

type fixedBody []byte

func (f fixedBody) ReadBody() ([]byte, error) { return f, nil }

// BenchmarkEncryptRequest: the request half on a 300-byte profile with two
// encrypted fields.
func BenchmarkEncryptRequest(b *testing.B) {
	p, _ := benchProtector(b, "report")
	ctx := context.Background()
	stage := p.RequestStage()
	b.SetBytes(int64(len(userDoc)))
	b.ReportAllocs()
	for b.Loop() {
		x := exchange(0, "PUT", userDoc)
		x.SetBodySource(fixedBody(userDoc))
		if err := stage.Request(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptResponse: the response half on the stored profile, for
// the owner (decrypts both fields) and for another subject (decrypts and
// masks).
func BenchmarkDecryptResponse(b *testing.B) {
	p, _ := benchProtector(b, "report")
	ctx := context.Background()
	x := exchange(0, "PUT", userDoc)
	x.SetBodySource(fixedBody(userDoc))
	if err := p.RequestStage().Request(ctx, x); err != nil {
		b.Fatal(err)
	}
	stored, _ := x.BufferedRequestBody()
	for _, who := range []string{"owner", "other"} {
		b.Run(who, func(b *testing.B) {
			stage := p.ResponseStage()
			b.SetBytes(int64(len(stored)))
			b.ReportAllocs()
			for b.Loop() {
				x := exchange(0, "GET", "")
				if who == "other" {
					x.Identity = &pipeline.Identity{Subject: "alice", Roles: []string{"admin"}}
				}
				x.Response.Body, x.Response.Buffered = stored, true
				if err := stage.Response(ctx, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// customers is a ~16 KiB JSON list; every tenth customer carries a card
// number, an email and a phone.
func customers() string {
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; sb.Len() < 16<<10; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		if i%10 == 0 {
			fmt.Fprintf(&sb, `{"id":%d,"name":"Customer %d","card":"4111 1111 1111 1111","email":"c%d@example.com","phone":"+1 415 555 01%02d","orders":[%d,%d]}`, i, i, i, i%100, i*7, i*11)
		} else {
			fmt.Fprintf(&sb, `{"id":%d,"name":"Customer %d","tier":"gold","since":"2021-03-%02d","orders":[%d,%d],"etag":"a1b2c3d4e5f6"}`, i, i, i%28+1, i*7, i*11)
		}
	}
	sb.WriteString("]")
	return sb.String()
}

// BenchmarkDLPResponse: DLP on a 16 KiB JSON response, by action, with
// 40 findings and clean.
func BenchmarkDLPResponse(b *testing.B) {
	with := []byte(customers())
	clean := []byte(strings.NewReplacer("4111 1111 1111 1111", "n/a", "@example.com", "", "+1 415 555 01", "").Replace(string(with)))
	for _, action := range []string{"report", "mask", "clean"} {
		body := with
		if action == "clean" {
			body, action = clean, "mask"
		}
		b.Run(action+map[bool]string{true: "-clean"}[&body[0] == &clean[0]], func(b *testing.B) {
			p, _ := benchProtector(b, action)
			stage := p.ResponseStage()
			ctx := context.Background()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				x := exchange(1, "GET", "")
				x.Response.Body, x.Response.Buffered = body, true
				if err := stage.Response(ctx, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func fuzzProtector(f *testing.F) (*Protector, *keyring.Keyring) { return benchProtector(f, "report") }

// piiRecord is the 1 KiB record of bench/run.sh's rampart-protect row.
const piiRecord = `{"id":42,"name":"widget","ssn":"123-45-6789","card_number":"4111 1111 1111 1111","description":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.","tags":["a","b","c"],"stock":17,"price_cents":1654,"updated":"2026-11-27T12:00:00Z","address":{"street":"1 Main St","city":"Springfield","zip":"12345"}}`

// BenchmarkBenchRow: the response half as the rampart-protect bench row
// runs it: DLP mask and a $.ssn field rule on a 1 KiB record.
func BenchmarkBenchRow(b *testing.B) {
	ring := benchRing(b)
	c := &config.Config{Routes: []config.Route{{Path: "/x", Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "mask"},
		Fields: []config.ProtectField{{Path: "$.ssn", Reveal: config.Reveal{Owner: true}}}}}}}
	config.SetDefaults(c)
	p, err := New(c.Protect, Deps{Routes: c.Routes, Cipher: ring})
	if err != nil {
		b.Fatal(err)
	}
	stage := p.ResponseStage()
	body := []byte(piiRecord)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		x := exchange(0, "GET", "")
		x.Response.Body, x.Response.Buffered = body, true
		if err := stage.Response(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
}
