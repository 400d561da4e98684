package scan

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// An id one operation returns reaches another through the spec's links,
// even where the paths do not say so.
func TestDiscoveryFollowsLinks(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: links, version: "1"}
paths:
  /tickets:
    post:
      operationId: openTicket
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {subject: {type: string, example: help}}}
      responses:
        "201":
          description: opened
          links:
            details:
              operationId: ticketDetails
              parameters: {tid: "$response.body#/ticket/id"}
  /ticket-details/{tid}:
    get:
      operationId: ticketDetails
      parameters: [{name: tid, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: a ticket}}
`
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tickets", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ticket":{"id":"t-77"}}`))
	})
	mux.HandleFunc("GET /ticket-details/{tid}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"` + r.PathValue("tid") + `","subject":"help"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	spec, err := openapi.LoadData(context.Background(), []byte(doc), "", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := StaticIdentity("bob", "X-API-Key: k")
	target, _ := url.Parse(srv.URL)
	s, err := New(Options{Spec: spec, Target: target, Identities: []*Identity{id}, Rate: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	objs := s.Objects("/ticket-details/{tid}")
	if len(objs) != 1 || objs[0].ID != "t-77" || objs[0].Owner != id || !objs[0].Created {
		t.Fatalf("objects = %+v", objs)
	}
	if v := s.View(s.FindOp("GET", "/ticket-details/{tid}"), "bob"); !Success(v) || v.Req.Path != "/ticket-details/t-77" {
		t.Fatalf("the linked id was not used: %+v", v)
	}
}
