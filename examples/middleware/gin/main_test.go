package main

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/rampart-gw/rampart/examples/middleware/internal/exampletest"
)

func TestApp(t *testing.T) {
	gin.SetMode(gin.TestMode)
	srv := httptest.NewServer(exampletest.Middleware(t).Wrap(app()))
	defer srv.Close()
	exampletest.Check(t, srv)
}
