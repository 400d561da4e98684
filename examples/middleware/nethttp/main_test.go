package main

import (
	"net/http/httptest"
	"testing"

	"github.com/rampart-gw/rampart/examples/middleware/internal/exampletest"
)

func TestApp(t *testing.T) {
	srv := httptest.NewServer(exampletest.Middleware(t).Wrap(app()))
	defer srv.Close()
	exampletest.Check(t, srv)
}
