package witness

import (
	"context"
	"net"
	"net/http"
	"testing"
)

// TestServe: Serve answers on its listener until its context ends, then
// returns nil; a listener that fails ends it with the error.
func TestServe(t *testing.T) {
	k := newKeys(t)
	s, err := NewServer(ServerOptions{Signer: k.witSigner, Logs: []Log{{Origin: origin, Verifier: k.logVerify}}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, "", "") }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/checkpoint?origin=unknown")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown origin: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after its context ended: %v", err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = closed.Close()
	if err := s.Serve(context.Background(), closed, "", ""); err == nil {
		t.Error("Serve on a closed listener returned nil")
	}
}
