package gateway

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
)

// TestInputsReviewCompressedResponse (review of issue 16): the inputs
// response stage, unlike authz's field filter, does not ask the upstream
// for an identity body. A client that sends Accept-Encoding: gzip gets a
// compressed response the contract cannot read: in report mode the
// writeOnly pin leaves unstripped; in block mode every such response is a
// 502.
func TestInputsReviewCompressedResponse(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body := `{"title":"groceries","pin":"1234"}`
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte(body))
			_ = zw.Close()
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(up.Close)
	for _, mode := range []string{"report", "block"} {
		t.Run(mode, func(t *testing.T) {
			srv := noteGateway(t, up.URL, mode)
			req, _ := http.NewRequest("GET", srv.URL+"/notes/6f1c1e0e-8d3a-4c4e-9a55-0b0c3f1d2e4f", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var r io.Reader = resp.Body
			if resp.Header.Get("Content-Encoding") == "gzip" {
				if r, err = gzip.NewReader(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			b, _ := io.ReadAll(r)
			if resp.StatusCode != 200 || strings.Contains(string(b), "1234") {
				t.Errorf("Accept-Encoding: gzip: %d %s (want 200, pin stripped)", resp.StatusCode, b)
			}
		})
	}
}

// TestInputsEncodedResponseRefused: an upstream that compresses although
// asked for identity cannot have its response checked or stripped of
// writeOnly properties, so the response does not leave, in report mode
// either; and the upstream never sees the client's Range.
func TestInputsEncodedResponseRefused(t *testing.T) {
	var sawRange, sawAE string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawRange, sawAE = r.Header.Get("Range"), r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte(`{"title":"groceries","pin":"1234"}`))
		_ = zw.Close()
	}))
	t.Cleanup(up.Close)
	srv := noteGateway(t, up.URL, "report")
	req, _ := http.NewRequest("GET", srv.URL+"/notes/6f1c1e0e-8d3a-4c4e-9a55-0b0c3f1d2e4f", nil)
	req.Header.Set("Range", "bytes=0-10")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || strings.Contains(string(b), "1234") {
		t.Errorf("compressed response in report mode: %d %s", resp.StatusCode, b)
	}
	if sawRange != "" || sawAE != "identity" {
		t.Errorf("upstream saw Range %q, Accept-Encoding %q", sawRange, sawAE)
	}
}

// noteGateway serves the notes spec's getNote on /notes/{id}, its
// responses checked in mode, in front of upstream.
func noteGateway(t *testing.T, upstream, mode string) *httptest.Server {
	t.Helper()
	cfg := testConfig(upstream)
	cfg.Routes = []config.Route{{Name: "note", Path: "/notes/{id}", Methods: []string{"GET"}, Upstream: "api", Public: true,
		OpenAPI: &config.RouteOpenAPI{Spec: "testdata/inputs/notes.yaml", Operation: "getNote", Response: mode}}}
	config.SetDefaults(cfg)
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}
