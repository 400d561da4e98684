// Package openapi owns loading OpenAPI 3.0 and 3.1 documents for the
// toolkit (rampart scan and rampart lint): reading a file or URL (JSON or
// YAML) with bounded reads, resolving $refs including external files,
// validating the document, and telling the user where a problem is, as a
// JSON pointer with the file, line and column.
//
// Parsing and resolution are github.com/getkin/kin-openapi's (see
// docs/architecture.md for why); this package adds the bounds, the
// reference policy, the positions and a flat list of operations. It owns
// no request building and no checks: those are the scanner's and the
// linter's. On the gateway's side only internal/contract imports it, at
// load time, so that the gateway enforces a spec loaded exactly as scan
// and lint load it; it must therefore import nothing else of the toolkit.
package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// MaxDocumentBytes bounds every document read: the spec and each file it
// references.
const MaxDocumentBytes = 16 << 20

// Options tune Load. References are read from local files for a spec in
// a file, and only from the same scheme and host for a spec given as a
// URL (a remote document never makes the loader read a local file).
type Options struct {
	// Client fetches specs and references given as http(s) URLs; nil
	// means a client with a 30 s timeout.
	Client *http.Client
	// Index is the position index of the document handed to LoadData
	// (yamlpos.New of the same bytes), when the caller has built it
	// already: the loader then does not parse the document a second
	// time for it. It is ignored by Load. Nothing checks that it is of
	// the same bytes: an index of another document gives wrong positions
	// without an error, so build it from the data passed.
	Index yamlpos.Index
}

func (o Options) client() *http.Client {
	if o.Client == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return o.Client
}

// Spec is a loaded, resolved and validated document. It is read-only
// after Load and safe for concurrent use.
type Spec struct {
	// Doc is the resolved document.
	Doc *openapi3.T
	// Source is the file path or URL the spec was read from.
	Source string
	// Operations lists every operation in path then method order.
	Operations []*Operation

	positions positions
	external  bool
}

// External reports whether the spec references other documents ($refs
// to other files or URLs), which its loading read.
func (s *Spec) External() bool { return s.external }

// Locate returns where the node at the JSON pointer ptr is written in the
// spec's own file: the deepest existing prefix of ptr and its position
// (1-based line and column). A pointer into an external file resolves to
// the deepest node of the spec's own file on its way, the parent of the
// $ref that brought the file in.
func (s *Spec) Locate(ptr string) (string, yamlpos.Pos) {
	return yamlpos.Index(s.positions).Locate(ptr)
}

// Operation is one path and method of a spec.
type Operation struct {
	// Method is the upper-case HTTP method.
	Method string
	// Path is the spec's path template, for example /users/{id}.
	Path string
	// Op is the resolved operation.
	Op *openapi3.Operation
	// Item is the path item holding it (its parameters apply too).
	Item *openapi3.PathItem
}

// ID returns the operation's operationId, or METHOD path without one.
func (o *Operation) ID() string {
	if o.Op.OperationID != "" {
		return o.Op.OperationID
	}
	return o.Method + " " + o.Path
}

// Parameters returns the operation's parameters, path-item ones first and
// overridden by the operation's own (same name and location).
func (o *Operation) Parameters() []*openapi3.Parameter {
	var out []*openapi3.Parameter
	seen := map[string]int{}
	add := func(ps openapi3.Parameters) {
		for _, ref := range ps {
			if ref == nil || ref.Value == nil {
				continue
			}
			key := ref.Value.In + "\x00" + ref.Value.Name
			if i, ok := seen[key]; ok {
				out[i] = ref.Value
				continue
			}
			seen[key] = len(out)
			out = append(out, ref.Value)
		}
	}
	add(o.Item.Parameters)
	add(o.Op.Parameters)
	return out
}

// Security returns the security requirements that apply to the
// operation: its own, or the document's when it has none. An empty,
// non-nil result means the operation is declared public.
func (s *Spec) Security(o *Operation) openapi3.SecurityRequirements {
	if o.Op.Security != nil {
		return *o.Op.Security
	}
	return s.Doc.Security
}

// RequiresAuth reports whether the spec says the operation needs
// credentials: at least one requirement, and none of them empty ({}
// means anonymous access is allowed).
func (s *Spec) RequiresAuth(o *Operation) bool {
	reqs := s.Security(o)
	if len(reqs) == 0 {
		return false
	}
	for _, r := range reqs {
		if len(r) == 0 {
			return false
		}
	}
	return true
}

// BasePaths returns the path of each server of the spec, in the order of
// servers, with its variables set to their defaults and without a
// trailing slash: "/v1" for https://api.example.com/v1/, "" for a server
// at the root (or one whose URL does not parse). A spec without servers
// has one, at the root (OpenAPI's default server is "/").
func (s *Spec) BasePaths() []string {
	if len(s.Doc.Servers) == 0 {
		return []string{""}
	}
	out := make([]string, 0, len(s.Doc.Servers))
	for _, srv := range s.Doc.Servers {
		p, err := srv.BasePath()
		if err != nil {
			p = ""
		}
		out = append(out, strings.TrimRight(p, "/"))
	}
	return out
}

// Error is a problem with a spec: where it is and what is wrong.
type Error struct {
	// Source is the file or URL holding the problem.
	Source string
	// Pointer is the RFC 6901 JSON pointer to the problem, "" when the
	// document could not be parsed at all.
	Pointer string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Pointer != "" {
		b.WriteString(e.Pointer)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads, resolves and validates the spec at source, a file path or an
// http(s) URL. Problems come back as an *Error (errors.As) naming the
// pointer and line.
func Load(ctx context.Context, source string, o Options) (*Spec, error) {
	r := &reader{ctx: ctx, client: o.client()}
	loc, err := r.location(source)
	if err != nil {
		return nil, &Error{Source: source, Msg: err.Error(), Err: err}
	}
	r.root = loc
	data, err := r.read(loc)
	if err != nil {
		return nil, &Error{Source: source, Msg: err.Error(), Err: err}
	}
	return load(ctx, source, loc, data, nil, r)
}

// LoadData is Load for a document already in memory; relative external
// references resolve against base, a file path or URL ("" refuses them).
func LoadData(ctx context.Context, data []byte, base string, o Options) (*Spec, error) {
	r := &reader{ctx: ctx, client: o.client()}
	var loc *url.URL
	if base != "" {
		var err error
		if loc, err = r.location(base); err != nil {
			return nil, &Error{Source: base, Msg: err.Error(), Err: err}
		}
		r.root = loc
	} else {
		r.noExternal = true
	}
	name := base
	if name == "" {
		name = "spec"
	}
	return load(ctx, name, loc, data, positions(o.Index), r)
}

// load loads data read from source; pos is its position index, or nil to
// build it.
func load(ctx context.Context, source string, loc *url.URL, data []byte, pos positions, r *reader) (*Spec, error) {
	var parsed chan kinResult
	if pos == nil {
		if !mayHaveAnchors(data) {
			// Without anchors there are no aliases to expand, so
			// kin-openapi's parse is bounded by the document's size and
			// can run beside the position index, whose bounds would
			// otherwise have to pass first.
			parsed = make(chan kinResult, 1)
			go func() {
				doc, err := kinLoad(ctx, loc, data, r)
				parsed <- kinResult{doc, err}
			}()
		}
		var perr *yamlpos.SyntaxError
		pos, perr = index(data)
		if perr != nil {
			if parsed != nil {
				<-parsed
			}
			return nil, syntaxErrorAt(perr, source)
		}
	}
	if err := checkVersion(data, pos, source); err != nil {
		if parsed != nil {
			<-parsed
		}
		return nil, err
	}
	var doc *openapi3.T
	var err error
	if parsed != nil {
		res := <-parsed
		doc, err = res.doc, res.err
	} else {
		doc, err = kinLoad(ctx, loc, data, r)
	}
	if err != nil {
		return nil, pos.refError(source, err)
	}
	if err := doc.Validate(ctx, openapi3.DisableExamplesValidation()); err != nil {
		return nil, pos.validationError(source, err)
	}
	s := &Spec{Doc: doc, Source: source, positions: pos, external: r.externals > 0}
	s.Operations = operations(doc)
	return s, nil
}

type kinResult struct {
	doc *openapi3.T
	err error
}

// kinLoad has kin-openapi parse data and resolve its references.
func kinLoad(ctx context.Context, loc *url.URL, data []byte, r *reader) (*openapi3.T, error) {
	l := openapi3.NewLoader()
	l.Context = ctx
	l.IsExternalRefsAllowed = !r.noExternal
	l.ReadFromURIFunc = r.readFromURI
	if loc != nil {
		return l.LoadFromDataWithPath(data, loc)
	}
	return l.LoadFromData(data)
}

// mayHaveAnchors reports whether data could hold a YAML anchor: an '&'
// that starts a node (at the start of the document or after white space
// or a flow or block indicator) and is followed by an anchor character.
// It errs towards true: an '&' in a quoted string after a space counts,
// and a document that is not UTF-8 counts.
// A document without anchors has no aliases (an alias must name one).
func mayHaveAnchors(data []byte) bool {
	// In UTF-16 or UTF-32 (YAML allows both) every '&' follows a NUL
	// byte: such a document is not read byte by byte here.
	if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
		return true
	}
	for i := bytes.IndexByte(data, '&'); i >= 0; {
		if i+1 < len(data) && !isYAMLSpace(data[i+1]) {
			if i == 0 {
				return true
			}
			switch data[i-1] {
			case ' ', '\t', '\n', '\r', '[', '{', ',', ':', '?', '-', '!':
				return true
			}
			if data[i-1] >= 0x80 { // after a multi-byte character (a BOM, a non-ASCII space)
				return true
			}
		}
		j := bytes.IndexByte(data[i+1:], '&')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func isYAMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// checkVersion refuses documents that are not OpenAPI 3.0 or 3.1 before
// kin-openapi reads them, so that a Swagger 2.0 file or a random JSON
// document gets a message that says so.
func checkVersion(data []byte, pos positions, source string) error {
	v, ok := yamlpos.Index(pos).Scalar("/openapi")
	if !ok {
		if _, swagger := yamlpos.Index(pos).Scalar("/swagger"); swagger {
			return &Error{Source: source, Pointer: "/swagger", Line: pos["/swagger"].Line, Column: pos["/swagger"].Column,
				Msg: "Swagger 2.0 is not supported: convert the document to OpenAPI 3 (for example with swagger2openapi)"}
		}
		return &Error{Source: source, Pointer: "/openapi", Line: 1, Column: 1, Msg: `missing "openapi" version field: not an OpenAPI 3 document`}
	}
	if !strings.HasPrefix(v, "3.0") && !strings.HasPrefix(v, "3.1") {
		p := pos["/openapi"]
		return &Error{Source: source, Pointer: "/openapi", Line: p.Line, Column: p.Column,
			Msg: fmt.Sprintf("openapi version %q is not supported: want 3.0.x or 3.1.x", v)}
	}
	return nil
}

var methods = []string{"GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE"}

func operations(doc *openapi3.T) []*Operation {
	if doc.Paths == nil {
		return nil
	}
	var out []*Operation
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		if item == nil {
			continue
		}
		ops := item.Operations()
		for _, m := range methods {
			if op, ok := ops[m]; ok && op != nil {
				out = append(out, &Operation{Method: m, Path: p, Op: op, Item: item})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *Operation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return slices.Index(methods, a.Method) - slices.Index(methods, b.Method)
	})
	return out
}

// reader reads the spec and the documents it references, bounded, with
// the caller's context.
type reader struct {
	ctx        context.Context
	client     *http.Client
	noExternal bool
	root       *url.URL
	// externals counts the referenced documents read.
	externals int
}

func (r *reader) location(source string) (*url.URL, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		u, err := url.Parse(source)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("spec URL %q is not a valid http(s) URL", source)
		}
		return u, nil
	}
	abs, err := filepath.Abs(source)
	if err != nil {
		return nil, fmt.Errorf("resolving spec path: %w", err)
	}
	return &url.URL{Path: filepath.ToSlash(abs)}, nil
}

func (r *reader) readFromURI(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
	if r.noExternal {
		return nil, fmt.Errorf("external reference %s: the spec was given without a location to resolve it against", u)
	}
	if r.root != nil && (r.root.Scheme == "http" || r.root.Scheme == "https") &&
		(u.Scheme != r.root.Scheme || u.Host != r.root.Host) {
		return nil, fmt.Errorf("reference %s: a spec read from %s may only reference documents on the same host", u.Redacted(), r.root.Host)
	}
	r.externals++
	return r.read(u)
}

func (r *reader) read(u *url.URL) ([]byte, error) {
	switch u.Scheme {
	case "http", "https":
		req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", u.Redacted(), err)
		}
		req.Header.Set("Accept", "application/json, application/yaml;q=0.9, */*;q=0.5")
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", u.Redacted(), err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetching %s: status %d", u.Redacted(), resp.StatusCode)
		}
		return readBounded(resp.Body, u.Redacted())
	case "", "file":
		// The user's own spec, or a file it references: a spec read from a
		// URL never gets here (readFromURI keeps it on its host).
		f, err := os.Open(filepath.FromSlash(u.Path)) // #nosec G304 G703 -- see above
		if err != nil {
			return nil, fmt.Errorf("reading spec: %w", err)
		}
		defer f.Close()
		return readBounded(f, u.Path)
	default:
		return nil, fmt.Errorf("reference %s: scheme %q is not supported (file or http(s) only)", u.Redacted(), u.Scheme)
	}
}

func readBounded(rd io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(rd, MaxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > MaxDocumentBytes {
		return nil, fmt.Errorf("reading %s: larger than %d MiB", name, MaxDocumentBytes>>20)
	}
	return b, nil
}

// errorsAs is errors.As with a type parameter.
func errorsAs[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}
