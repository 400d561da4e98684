package speclint

import (
	"context"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// largeSpec generates a YAML document of about size bytes: resources
// with list, create, read, update and delete operations, shared and
// inline schemas, parameters, examples and error responses.
func largeSpec(size int) []byte {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo:\n  title: Large\n  version: \"1\"\nservers:\n  - url: https://api.example.com\n    description: Production\n    x-internal: false\nsecurity:\n  - oauth: [read]\npaths:\n")
	var comps strings.Builder
	for i := 0; b.Len()+comps.Len() < size; i++ {
		fmt.Fprintf(&b, `  /r%[1]d:
    get:
      operationId: list%[1]d
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
            minimum: 1
        - name: cursor
          in: query
          schema:
            type: string
      responses:
        "200":
          description: Items
          content:
            application/json:
              schema:
                type: array
                items:
                  $ref: "#/components/schemas/R%[1]d"
        "401":
          $ref: "#/components/responses/Problem"
    post:
      operationId: create%[1]d
      requestBody:
        content:
          application/json:
            schema:
              $ref: "#/components/schemas/R%[1]d"
            example:
              name: widget
              role: user
      responses:
        "201":
          description: Created
        "400":
          $ref: "#/components/responses/Problem"
  /r%[1]d/{id}:
    parameters:
      - name: id
        in: path
        required: true
        schema:
          type: integer
    get:
      operationId: get%[1]d
      responses:
        "200":
          description: One
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/R%[1]d"
    put:
      operationId: update%[1]d
      security:
        - oauth: [write]
      requestBody:
        content:
          application/json:
            schema:
              type: object
              additionalProperties: true
              properties:
                name:
                  type: string
                  maxLength: 64
                webhook_url:
                  type: string
                  format: uri
      responses:
        "204":
          description: Updated
    delete:
      operationId: delete%[1]d
      deprecated: true
      responses:
        "204":
          description: Deleted
`, i)
		fmt.Fprintf(&comps, `    R%[1]d:
      type: object
      properties:
        id:
          type: string
          format: uuid
          readOnly: true
        name:
          type: string
        owner:
          type: string
          maxLength: 64
        password:
          type: string
        tags:
          type: array
          items:
            type: string
            enum: [a, b]
        parent:
          $ref: "#/components/schemas/R%[1]d"
`, i)
	}
	b.WriteString(`components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        authorizationCode:
          authorizationUrl: https://auth.example.com/authorize
          tokenUrl: https://auth.example.com/token
          scopes:
            read: Read
            write: Write
  responses:
    Problem:
      description: A problem
      content:
        application/problem+json:
          schema:
            type: object
  schemas:
`)
	b.WriteString(comps.String())
	return []byte(b.String())
}

// largeSpecOut names a file TestWriteLargeSpec writes the generated
// 5 MB spec to, so that tools other than this package (the rampart
// binary, Spectral: bench/lint/run.sh) can be timed on the very same
// document. Empty, the default, skips the test.
var largeSpecOut = flag.String("large-spec-out", "", "write the generated 5 MB spec to this file (TestWriteLargeSpec)")

// TestWriteLargeSpec writes largeSpec(5 MB) to the -large-spec-out file:
//
//	go test ./internal/lint/speclint -run TestWriteLargeSpec -large-spec-out /tmp/big.yaml
func TestWriteLargeSpec(t *testing.T) {
	if *largeSpecOut == "" {
		t.Skip("no -large-spec-out file given")
	}
	data := largeSpec(5 << 20)
	if err := os.WriteFile(*largeSpecOut, data, 0o644); err != nil {
		t.Fatalf("writing the generated spec: %v", err)
	}
	t.Logf("wrote %d bytes to %s", len(data), *largeSpecOut)
}

// lintData loads and checks a document held in memory.
func lintData(tb testing.TB, data []byte) int {
	tb.Helper()
	s, err := openapi.LoadData(context.Background(), data, "", openapi.Options{})
	if err != nil {
		tb.Fatalf("loading the generated spec: %v", err)
	}
	fs, notes, err := New().Check(context.Background(), &lint.Input{Spec: s})
	if err != nil || len(notes) != 0 {
		tb.Fatalf("Check: %v, notes %q", err, notes)
	}
	return len(fs)
}

// TestLargeSpec lints a generated 5 MB spec and, with
// RAMPART_LINT_BUDGET=1 in the environment, fails beyond the 2 s budget
// (loading included). The timing is opt-in because a machine shared with
// other work cannot hold any wall-clock bound; the race detector never
// checks it.
func TestLargeSpec(t *testing.T) {
	data := largeSpec(5 << 20)
	start := time.Now()
	n := lintData(t, data)
	took := time.Since(start)
	t.Logf("%d bytes, %d operations' worth of paths, %d findings in %s", len(data), strings.Count(string(data), "operationId:"), n, took)
	if n == 0 {
		t.Fatal("no findings on a spec built to have many")
	}
	if os.Getenv("RAMPART_LINT_BUDGET") == "1" && !raceEnabled && took > 2*time.Second {
		t.Errorf("linting %d bytes took %s, budget 2s", len(data), took)
	}
}

// BenchmarkLint5MB measures loading and linting a generated 5 MB spec.
func BenchmarkLint5MB(b *testing.B) {
	data := largeSpec(5 << 20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		lintData(b, data)
	}
}

// TestParallelSameAsSequential: operations walked by forked runs side by
// side give the report one run gives walking them in turn, order
// included.
func TestParallelSameAsSequential(t *testing.T) {
	data := largeSpec(400 << 10)
	s, err := openapi.LoadData(context.Background(), data, "", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Operations) < minParallelOps {
		t.Fatalf("%d operations: too few to run in parallel", len(s.Operations))
	}
	c := New()
	check := func(workers int) []findings.Finding {
		r := newRun(context.Background(), s, c.secrets)
		if err := r.all(workers); err != nil {
			t.Fatal(err)
		}
		if len(r.notes) != 0 {
			t.Fatalf("notes with %d workers: %q", workers, r.notes)
		}
		return r.kept()
	}
	want := check(1)
	for _, workers := range []int{2, 3, 8} {
		got := check(workers)
		if len(got) != len(want) {
			t.Fatalf("%d workers: %d findings, one run %d", workers, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%d workers: finding %d is %+v, one run's %+v", workers, i, got[i], want[i])
			}
		}
	}
}
