package scan

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
)

func readSeeds(t *testing.T, file string, target *url.URL) ([]Seed, int) {
	t.Helper()
	b, err := os.ReadFile("testdata/seeds/" + file)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.ReplaceAll(string(b), "TARGET", target.Host))
	seeds, skipped, err := ParseSeeds(file, b, target)
	if err != nil {
		t.Fatal(err)
	}
	return seeds, skipped
}

func TestParseSeeds(t *testing.T) {
	target, _ := url.Parse("http://127.0.0.1:8080/api")
	har, skipped := readSeeds(t, "recorded.har", target)
	if len(har) != 2 || skipped != 2 || har[0].Path != "/items/i-9" || har[0].Query.Get("verbose") != "1" {
		t.Errorf("HAR seeds %+v, skipped %d", har, skipped)
	}
	pm, skipped := readSeeds(t, "collection.json", target)
	if len(pm) != 2 || skipped != 0 || pm[0].Path != "/items/i-10" || pm[1].Method != "DELETE" {
		t.Errorf("Postman seeds %+v, skipped %d", pm, skipped)
	}
	for _, bad := range []string{`[`, `{"x": 1}`, `{"log": {"entries": [{"request": {"method": "GET", "url": "http://[::1"}}]}}`} {
		if _, _, err := ParseSeeds("bad.json", []byte(bad), target); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("ParseSeeds(%s) = %v", bad, err)
		}
	}
}

// A recorded request gives discovery an id the spec does not, and a
// recorded path the spec lacks is kept for the inventory check.
func TestSeedsFeedDiscovery(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: seeds, version: "1"}
paths:
  /api/items/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: an item}}
`
	var sawSecret bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "recorded-secret") {
			sawSecret = true
		}
		if r.PathValue("id") != "i-9" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"id":"i-9"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	seeds, _ := readSeeds(t, "recorded.har", &url.URL{Scheme: "http", Host: target.Host})
	spec, err := openapi.LoadData(context.Background(), []byte(doc), "", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := StaticIdentity("bob", "X-API-Key: k")
	s, err := New(Options{Spec: spec, Target: target, Identities: []*Identity{id}, Rate: 500, Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := s.View(s.FindOp("GET", "/api/items/{id}"), "bob"); !Success(v) || v.Req.Path != "/api/items/i-9" {
		t.Errorf("the recorded id was not used: %+v", v)
	}
	if u := s.UnmatchedSeeds(); len(u) != 2 || u[0].Path != "/api/hidden/report" {
		t.Errorf("unmatched seeds %+v", u)
	}
	if sawSecret {
		t.Error("a recorded credential was replayed")
	}
}
