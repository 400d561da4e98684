package openapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/yamlpos"
)

func TestLoadValid(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		ops     []string
		version string
	}{
		{"3.0 yaml with an external $ref", "testdata/petstore-3.0.yaml",
			[]string{"GET /health", "GET /pets", "POST /pets", "GET /pets/{petId}", "DELETE /pets/{petId}"}, "3.0.3"},
		{"3.1 json", "testdata/pets-3.1.json", []string{"GET /pets/{id}"}, "3.1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(context.Background(), tt.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range s.Operations {
				got = append(got, o.Method+" "+o.Path)
			}
			if strings.Join(got, ",") != strings.Join(tt.ops, ",") {
				t.Errorf("operations = %v, want %v", got, tt.ops)
			}
			if s.Doc.OpenAPI != tt.version {
				t.Errorf("version = %q", s.Doc.OpenAPI)
			}
		})
	}
}

func TestResolvedAndSecurity(t *testing.T) {
	s, err := Load(context.Background(), "testdata/petstore-3.0.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Operation{}
	for _, o := range s.Operations {
		byID[o.ID()] = o
	}
	pet := byID["createPet"].Op.RequestBody.Value.Content.Get("application/json").Schema.Value
	if pet == nil || pet.Properties["name"] == nil || !pet.Properties["id"].Value.ReadOnly {
		t.Fatalf("external $ref not resolved: %+v", pet)
	}
	if !s.RequiresAuth(byID["getPet"]) {
		t.Error("getPet inherits the document's security")
	}
	if s.RequiresAuth(byID["GET /health"]) {
		t.Error("security: [] makes /health public")
	}
	if ps := byID["getPet"].Parameters(); len(ps) != 1 || ps[0].Name != "petId" {
		t.Errorf("path-item parameters not inherited: %v", ps)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		pointer string
		line    int
		msg     string
	}{
		{"unresolvable local $ref", "testdata/bad-ref.yaml", "/paths/~1a/get/responses/200/content/application~1json/schema/$ref", 12, "Missing"},
		{"unresolvable external $ref", "testdata/bad-external.yaml", "/paths/~1a/get/responses/200/content/application~1json/schema/$ref", 12, "nope.yaml"},
		{"empty responses", "testdata/bad-responses.yaml", "/paths/~1users~1{id}/get/responses", 8, "responses"},
		{"syntax", "testdata/bad-syntax.yaml", "", 4, "not valid JSON or YAML"},
		{"swagger 2", "testdata/swagger2.json", "/swagger", 1, "Swagger 2.0 is not supported"},
		{"missing file", "testdata/none.yaml", "", 0, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), tt.file, Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Pointer != tt.pointer || e.Line != tt.line || !strings.Contains(e.Error(), tt.msg) {
				t.Errorf("got pointer %q line %d: %v\nwant pointer %q line %d containing %q", e.Pointer, e.Line, e, tt.pointer, tt.line, tt.msg)
			}
			if !strings.HasPrefix(e.Error(), tt.file) {
				t.Errorf("error %q does not start with the file", e)
			}
		})
	}
}

func TestLoadURL(t *testing.T) {
	pets, _ := os.ReadFile("testdata/petstore-3.0.yaml")
	pet, _ := os.ReadFile("testdata/schemas/pet.yaml")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/spec/openapi.yaml":
			_, _ = w.Write(pets)
		case "/spec/schemas/pet.yaml":
			_, _ = w.Write(pet)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s, err := Load(context.Background(), srv.URL+"/spec/openapi.yaml", Options{Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Operations) != 5 {
		t.Errorf("got %d operations", len(s.Operations))
	}
	if _, err := Load(context.Background(), srv.URL+"/nothing.yaml", Options{Client: srv.Client()}); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("404 spec: %v", err)
	}
}

// A spec served from a URL must not make the loader read local files or
// other hosts.
func TestRemoteSpecCannotReadLocalFiles(t *testing.T) {
	doc := `openapi: 3.0.3
info: {title: x, version: "1"}
paths:
  /a:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "file:///etc/passwd#/x"}
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(doc)) }))
	defer srv.Close()
	_, err := Load(context.Background(), srv.URL+"/openapi.yaml", Options{Client: srv.Client()})
	if err == nil || !strings.Contains(err.Error(), "same host") {
		t.Fatalf("want a same-host refusal, got %v", err)
	}
}

func TestLoadDataRefusesExternalRefsWithoutBase(t *testing.T) {
	b, _ := os.ReadFile("testdata/petstore-3.0.yaml")
	if _, err := LoadData(context.Background(), b, "", Options{}); err == nil {
		t.Fatal("external $ref resolved without a base")
	}
}

// A position index handed in is used as it is: the loader does not parse
// the document again for it.
func TestLoadDataUsesTheGivenIndex(t *testing.T) {
	data, err := os.ReadFile("testdata/pets-3.1.json")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := yamlpos.New(data)
	if err != nil {
		t.Fatal(err)
	}
	own, err := LoadData(context.Background(), data, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, want := own.Locate("/openapi")
	given, err := LoadData(context.Background(), data, "", Options{Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	if _, got := given.Locate("/openapi"); got != want {
		t.Errorf("with the index given, /openapi at %+v, want %+v", got, want)
	}
	// Proof that it is the given index that answers: a marked copy.
	p := idx["/openapi"]
	p.Line = 99
	idx["/openapi"] = p
	marked, err := LoadData(context.Background(), data, "", Options{Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	if _, got := marked.Locate("/openapi"); got.Line != 99 {
		t.Errorf("the loader built its own index: /openapi at %+v", got)
	}
}

// TestRefSiblings pins how fields next to a $ref load in each dialect:
// OpenAPI 3.1 applies a schema's sibling keywords and lets summary and
// description override a referenced parameter's or response's; 3.0
// ignores every sibling. Neither refuses the document.
func TestRefSiblings(t *testing.T) {
	tests := []struct {
		file                      string
		paramDesc, respDesc       string
		schemaDesc                string
		schemaReadOnly, schemaRef bool
	}{
		{"testdata/ref-siblings-3.1.yaml", "The pet's id.", "The pet asked for.", "The pet, read-only here.", true, true},
		{"testdata/ref-siblings-3.0.yaml", "An id.", "A pet.", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Load(context.Background(), tt.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Operations) != 1 {
				t.Fatalf("got %d operations", len(s.Operations))
			}
			op := s.Operations[0]
			if ps := op.Parameters(); len(ps) != 1 || ps[0].Description != tt.paramDesc {
				t.Errorf("parameter = %+v, want description %q", ps, tt.paramDesc)
			}
			resp := op.Op.Responses.Value("200")
			if resp == nil || resp.Value == nil || resp.Value.Description == nil || *resp.Value.Description != tt.respDesc {
				t.Fatalf("response 200 = %+v, want description %q", resp, tt.respDesc)
			}
			sch := resp.Value.Content.Get("application/json").Schema
			if sch.Value.Description != tt.schemaDesc || sch.Value.ReadOnly != tt.schemaReadOnly || (sch.Ref != "") != tt.schemaRef ||
				sch.Value.Properties["name"] == nil {
				t.Errorf("schema = %q %+v, want description %q, readOnly %v and the referenced properties", sch.Ref, sch.Value, tt.schemaDesc, tt.schemaReadOnly)
			}
			// The sibling keywords apply to this use only, never to the
			// shared schema.
			if c := s.Doc.Components.Schemas["Pet"].Value; c.ReadOnly || c.Description != "" {
				t.Errorf("the component schema took its user's siblings: %+v", c)
			}
		})
	}
}

func TestMayHaveAnchors(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want bool
	}{
		{"openapi: 3.0.0\n", false},
		{"description: Tom & Jerry\n", false},
		{"url: https://x.example/?a=1&b=2\n", false},
		{`{"a":"x&y"}`, false},
		{"a: &x 1\nb: *x\n", true},
		{"&x a: 1\n", true},
		{"- &x 1\n", true},
		{"[&x 1, *x]", true},
		{"{a: 1,&x b: 2}", true},
		{`{"a":&x 1}`, true},
		{"a:\n  &x\n  b: 1\n", true},
		{"a:\t&x 1\n", true},
		{"? &x a\n: 1\n", true},
		{"\ufeff&x a: 1\n", true},
		{"a: \"say &x\"\n", true}, // errs towards true
		{"a: 1 &\n", false},
		{"&", false},
	} {
		if got := mayHaveAnchors([]byte(tc.doc)); got != tc.want {
			t.Errorf("mayHaveAnchors(%q) = %v, want %v", tc.doc, got, tc.want)
		}
	}
}

// TestLoadInParallelSameAsInTurn: a document without anchors, whose two
// parses run side by side, loads to the same operations and positions as
// one given its index (the parses in turn), and a syntax error or a
// Swagger 2.0 document is refused the same way either way.
func TestLoadInParallelSameAsInTurn(t *testing.T) {
	ctx := context.Background()
	for _, doc := range []string{
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get:\n      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n",
		"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
		"openapi: 3.0.3\ninfo: [\n",
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: {responses: {'200': {$ref: '#/components/responses/nope'}}}\n",
	} {
		data := []byte(doc)
		if mayHaveAnchors(data) {
			t.Fatalf("test document has anchors: %q", doc)
		}
		par, perr := LoadData(ctx, data, "", Options{})
		idx, ierr := yamlpos.New(data)
		var seq *Spec
		var serr error
		if ierr != nil {
			seq, serr = LoadData(ctx, data, "", Options{}) // no index to give
		} else {
			seq, serr = LoadData(ctx, data, "", Options{Index: idx})
		}
		if (perr == nil) != (serr == nil) || (perr != nil && perr.Error() != serr.Error()) {
			t.Errorf("%q: in parallel %v, in turn %v", doc, perr, serr)
			continue
		}
		if perr == nil && len(par.Operations) != len(seq.Operations) {
			t.Errorf("%q: %d operations in parallel, %d in turn", doc, len(par.Operations), len(seq.Operations))
		}
	}
}

func TestBasePaths(t *testing.T) {
	tests := []struct {
		name, servers string
		want          []string
	}{
		{"none", "", []string{""}},
		{"root", "servers: [{url: 'https://api.example.com'}]", []string{""}},
		{"slash", "servers: [{url: 'https://api.example.com/'}]", []string{""}},
		{"path", "servers: [{url: 'https://api.example.com/v1/'}, {url: /v2}]", []string{"/v1", "/v2"}},
		{"variable default", "servers: [{url: 'https://api.example.com/{v}', variables: {v: {default: v3}}}]", []string{"/v3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n" + tt.servers + "\npaths: {}\n"
			s, err := LoadData(context.Background(), []byte(doc), "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.BasePaths(); strings.Join(got, ",") != strings.Join(tt.want, ",") || len(got) != len(tt.want) {
				t.Errorf("BasePaths() = %q, want %q", got, tt.want)
			}
		})
	}
}
