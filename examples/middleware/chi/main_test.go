package main

import (
	"net/http/httptest"
	"testing"

	"github.com/rampart-gw/rampart/examples/middleware/internal/exampletest"
)

func TestApp(t *testing.T) {
	srv := httptest.NewServer(app(exampletest.Middleware(t)))
	defer srv.Close()
	exampletest.Check(t, srv)
}
