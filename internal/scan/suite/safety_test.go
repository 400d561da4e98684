package suite

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/scan"
)

// safetySpec has writes the scan must leave alone without --allow-writes:
// an administrative DELETE whose parameter is named otherwise than the
// item path's (a guessed id could hit an object the scan did not create),
// a creation that takes an object id in its body, and a singleton PUT.
const safetySpec = `openapi: 3.0.3
info: {title: safety, version: "1"}
security: [{bearer: []}]
paths:
  /notes:
    get:
      responses: {"200": {description: notes}}
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {title: {type: string, example: groceries}}}
      responses: {"201": {description: created}}
  /notes/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      responses: {"200": {description: a note}}
    delete:
      responses: {"204": {description: deleted}}
  /admin/notes/{noteId}:
    parameters: [{name: noteId, in: path, required: true, schema: {type: string, example: real-1}}]
    delete:
      tags: [admin]
      responses: {"204": {description: moderated}}
  /comments:
    get:
      responses: {"200": {description: comments}}
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {note_id: {type: string}, text: {type: string, example: hi}}}
      responses: {"201": {description: created}}
  /me:
    get:
      responses: {"200": {description: the caller}}
    put:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string, example: Ann}, bio: {type: string, example: hi}}}
      responses: {"200": {description: updated}}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
`

// TestWritesStayOnOwnObjects runs every check without --allow-writes
// against an API that lets anyone do anything (so every write would
// succeed), and fails on any write the scan had no right to send.
// Regression test for the review of the body-id, body-injection and
// administrative-write checks.
func TestWritesStayOnOwnObjects(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	notes := map[string]string{"real-1": "alice"}
	next := 0
	var forbidden []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if who == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/notes":
			next++
			id := "n" + strconv.Itoa(next)
			notes[id] = who
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "owner": who, "title": "t"})
		case r.Method == "GET" && r.URL.Path == "/notes":
			var out []map[string]string
			for id, o := range notes {
				if o == who {
					out = append(out, map[string]string{"id": id, "owner": o})
				}
			}
			_ = json.NewEncoder(w).Encode(out)
		case strings.HasPrefix(r.URL.Path, "/notes/"):
			id := strings.TrimPrefix(r.URL.Path, "/notes/")
			o, ok := notes[id]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			if r.Method == "DELETE" {
				if !strings.HasPrefix(id, "n") {
					forbidden = append(forbidden, r.Method+" "+r.URL.Path)
				}
				delete(notes, id)
				w.WriteHeader(http.StatusNoContent)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "owner": o, "title": "t"})
		case r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/admin/notes/"):
			forbidden = append(forbidden, r.Method+" "+r.URL.Path)
			delete(notes, strings.TrimPrefix(r.URL.Path, "/admin/notes/"))
			w.WriteHeader(http.StatusNoContent)
		case r.Method == "POST" && r.URL.Path == "/comments", r.Method == "PUT" && r.URL.Path == "/me":
			forbidden = append(forbidden, r.Method+" "+r.URL.Path)
			_, _ = w.Write([]byte(`{}`))
		default:
			_, _ = w.Write([]byte(`{"name":"Ann"}`))
		}
	}))
	defer srv.Close()
	spec, err := openapi.LoadData(context.Background(), []byte(safetySpec), "", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []*scan.Identity
	for _, n := range []string{"alice", "bob", "carol"} {
		id, err := scan.StaticIdentity(n, "Authorization: Bearer "+n)
		if err != nil {
			t.Fatal(err)
		}
		id.Privileged = n == "alice"
		ids = append(ids, id)
	}
	target, _ := url.Parse(srv.URL)
	s, err := scan.New(scan.Options{Spec: spec, Target: target, Identities: ids, Rate: 500, Checks: Checks()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(forbidden) > 0 {
		t.Errorf("writes the scan had no right to send: %v", forbidden)
	}
	if _, ok := notes["real-1"]; !ok {
		t.Error("the note the scan did not create is gone")
	}
	if r.Stats["requests"] < 50 {
		t.Errorf("only %d requests: the checks did not run", r.Stats["requests"])
	}
}
