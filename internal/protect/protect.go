// Package protect is the data protection stage. On requests it encrypts
// the configured JSON fields of the body with the data key of the route's
// subject before the upstream sees them; on responses it runs data-loss
// prevention (report, mask or block what the detectors find) and then
// decrypts the encrypted fields for those allowed to read them (the owner,
// or a role) and masks, removes or nulls them for everyone else.
//
// Bodies are read whole and bounded; compressed responses are
// decompressed with a bound on the result (a decompression bomb is
// refused). A body that cannot be inspected on a route that needs it (not
// JSON, malformed, encoded some other way) is refused, never passed
// through.
//
// It does not own the keys (package keyring), the JSON walking (package
// jsonpath) or the detectors (package dlp); it decides what to do with
// them, per route.
package protect

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/jsonbody"
	"github.com/rampart-gw/rampart/internal/jsonpath"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Cipher encrypts and decrypts field values; *keyring.Keyring is one.
type Cipher interface {
	AppendEncrypt(ctx context.Context, dst []byte, subject, field string, plaintext []byte) ([]byte, error)
	Decrypt(ctx context.Context, subject, field, ciphertext string) ([]byte, keyring.Opened, error)
}

// Protector holds every route's protection, compiled at load time.
type Protector struct {
	routes          []*route // by route index; nil: not protected
	cipher          Cipher
	maxBody         int
	maxDecompressed int64
}

type subjectSource uint8

const (
	fromIdentity subjectSource = iota
	fromTenant
	fromParam
)

type others uint8

const (
	othersMask others = iota
	othersRemove
	othersNull
)

type dlpAction uint8

const (
	actReport dlpAction = iota
	actMask
	actBlock
)

var actionNames = [...]string{"report", "mask", "block"}

type route struct {
	subject subjectSource
	param   string

	fields   []field
	paths    []jsonpath.Path // of every field: responses
	encPaths []jsonpath.Path // of the fields encrypted in requests
	encIdx   []int           // encPaths[i] is fields[encIdx[i]]
	// encNames are the member names of encPaths as the config spells
	// them: a request member that folds to one but is spelled otherwise
	// ("SSN" for $.ssn) is refused, since a Go upstream would read it as
	// the field while no path matched it.
	encNames *jsonbody.Spellings

	dlp    *dlp.Scanner // nil: no DLP
	action dlpAction
}

type field struct {
	name   string // the canonical path: bound into the ciphertext
	owner  bool
	roles  []string
	others others
	mask   string
}

// Deps are what a Protector is built with besides its config section.
type Deps struct {
	// Routes is the route table; each route may hold a protect section.
	Routes []config.Route
	// Cipher seals and opens fields (the keyring); nil when no route
	// encrypts fields.
	Cipher Cipher
}

// New compiles the protect section of a validated config and the protect
// sections of d's routes.
func New(pc config.Protect, d Deps) (*Protector, error) {
	cipher := d.Cipher
	p := &Protector{routes: make([]*route, len(d.Routes)), cipher: cipher,
		maxBody: int(pc.MaxBodyBytes), maxDecompressed: int64(pc.MaxDecompressedBytes)}
	for i, rc := range d.Routes {
		if rc.Protect == nil {
			continue
		}
		r, err := compile(rc.Protect)
		if err != nil {
			return nil, fmt.Errorf("routes[%d].protect: %w", i, err)
		}
		if len(r.fields) > 0 && cipher == nil {
			return nil, fmt.Errorf("routes[%d].protect: fields need the keyring", i)
		}
		p.routes[i] = r
	}
	return p, nil
}

func compile(pc *config.RouteProtect) (*route, error) {
	r := &route{}
	switch {
	case pc.Subject == "tenant":
		r.subject = fromTenant
	case strings.HasPrefix(pc.Subject, "param:"):
		r.subject, r.param = fromParam, strings.TrimPrefix(pc.Subject, "param:")
	}
	var names []string // of the encrypted paths
	for j, fc := range pc.Fields {
		path, err := jsonpath.Parse(fc.Path)
		if err != nil {
			return nil, fmt.Errorf("fields[%d].path: %w", j, err)
		}
		f := field{name: path.String(), owner: fc.Reveal.Owner, roles: fc.Reveal.Roles, mask: fc.Mask}
		switch fc.Others {
		case "remove":
			f.others = othersRemove
		case "null":
			f.others = othersNull
		}
		r.fields = append(r.fields, f)
		r.paths = append(r.paths, path)
		if fc.Encrypt == nil || *fc.Encrypt {
			r.encPaths = append(r.encPaths, path)
			names = append(names, path.Names()...)
			r.encIdx = append(r.encIdx, j)
		}
	}
	r.encNames = jsonbody.NewSpellings(names)
	if d := pc.DLP; d != nil {
		kinds := make([]dlp.Kind, 0, len(d.Kinds))
		for _, k := range d.Kinds {
			kinds = append(kinds, dlp.Kind(k))
		}
		sc, err := dlp.New(kinds...)
		if err != nil {
			return nil, fmt.Errorf("dlp.kinds: %w", err)
		}
		r.dlp = sc
		switch d.Action {
		case "mask":
			r.action = actMask
		case "block":
			r.action = actBlock
		}
	}
	return r, nil
}

func (p *Protector) route(x *pipeline.Exchange) *route {
	if x.Route == nil || x.Route.Index >= len(p.routes) {
		return nil
	}
	return p.routes[x.Route.Index]
}

// RequestStage returns the request half: field encryption.
func (p *Protector) RequestStage() pipeline.RequestStage { return reqStage{p} }

// ResponseStage returns the response half: DLP, then field decryption or
// masking.
func (p *Protector) ResponseStage() pipeline.ResponseStage { return respStage{p} }

type reqStage struct{ p *Protector }

// Name is the stage's name in decisions.
func (reqStage) Name() string { return "protect" }

// keysUnavailable refuses a request whose data keys cannot be had now;
// cause, when not nil, is logged with the refusal.
func keysUnavailable(cause error) *pipeline.Denial {
	return &pipeline.Denial{Status: http.StatusServiceUnavailable, Reason: ReasonKeysUnavailable,
		Message: "Protected data cannot be read right now.", Cause: cause, Header: http.Header{"Retry-After": {"5"}}}
}

func deny(status int, reason, msg string) *pipeline.Denial {
	return pipeline.Deny(status, reason, msg)
}

// Request encrypts the route's fields in the request body.
func (s reqStage) Request(ctx context.Context, x *pipeline.Exchange) error {
	r := s.p.route(x)
	if r == nil {
		return nil
	}
	// What comes back must be readable whole: not compressed, not a range.
	x.SetUpstreamHeader("Accept-Encoding", "identity")
	x.DelUpstreamHeader("Range")
	x.DelUpstreamHeader("If-Range")
	if len(r.encPaths) == 0 || (x.In.ContentLength == 0 && x.In.Header.Get("Transfer-Encoding") == "") {
		return nil
	}
	if ce := x.In.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return deny(http.StatusUnsupportedMediaType, ReasonEncodedBody, "Send this request body without Content-Encoding.")
	}
	if x.In.ContentLength > int64(s.p.maxBody) {
		return deny(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "The request body is too large.")
	}
	body, err := x.RequestBody()
	if errors.Is(err, pipeline.ErrBodyTooLarge) || len(body) > s.p.maxBody {
		return deny(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "The request body is too large.")
	}
	if err != nil {
		return fmt.Errorf("reading the request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !jsonbody.IsJSON(x.In.Header.Get("Content-Type")) {
		return deny(http.StatusUnsupportedMediaType, ReasonNotJson, "This route takes a JSON request body (Content-Type: application/json).")
	}
	if !utf8.Valid(body) {
		return deny(http.StatusBadRequest, ReasonMalformedBody, "The request body is not valid JSON: it is not UTF-8.")
	}
	if name, err := r.encNames.Variant(body); err == nil && name != "" {
		return deny(http.StatusBadRequest, ReasonAmbiguousField, fmt.Sprintf("The member %q differs only in letter case from a protected field; use the field's own spelling.", jsonbody.TruncateName(name)))
	} // not valid JSON: Rewrite below names the byte
	subject := s.p.subject(r, x)
	if subject == "" {
		return deny(http.StatusForbidden, ReasonNoSubject, "This request has no subject to encrypt its data for.")
	}
	if len(subject) > keyring.MaxSubject {
		return deny(http.StatusBadRequest, ReasonBadSubject, "The subject of this request is too long.")
	}
	out, _, err := jsonpath.Rewrite(body, r.encPaths, func(m jsonpath.Match) (jsonpath.Edit, error) {
		if m.Kind == jsonpath.Null {
			return jsonpath.Edit{}, nil // clearing a field stays a clear
		}
		f := &r.fields[r.encIdx[m.Path]]
		ct, err := s.p.cipher.AppendEncrypt(ctx, nil, subject, f.name, m.Value)
		if errors.Is(err, keyring.ErrUnavailable) {
			// The store did not answer within store.timeout (it logs the
			// outage once): refuse for now, without a line per request.
			return jsonpath.Edit{}, keysUnavailable(nil)
		}
		if err != nil {
			return jsonpath.Edit{}, fmt.Errorf("encrypting %s: %w", f.name, err)
		}
		// base64url and the prefix need no escaping in a JSON string.
		return jsonpath.Edit{Replace: append(append(append(make([]byte, 0, len(ct)+2), '"'), ct...), '"')}, nil
	})
	if err != nil {
		var se *jsonpath.SyntaxError
		if errors.As(err, &se) {
			return deny(http.StatusBadRequest, ReasonMalformedBody, fmt.Sprintf("The request body is not valid JSON: %s at byte %d.", se.Msg, se.Offset))
		}
		if errors.Is(err, jsonpath.ErrTooDeep) {
			return deny(http.StatusBadRequest, ReasonMalformedBody, "The request body nests deeper than this route accepts.")
		}
		return err
	}
	if !sameSlice(out, body) {
		x.ReplaceRequestBody(out)
	}
	return nil
}

func (p *Protector) subject(r *route, x *pipeline.Exchange) string {
	switch r.subject {
	case fromParam:
		return x.Param(r.param)
	case fromTenant:
		if x.Identity != nil {
			return x.Identity.Tenant
		}
	default:
		if x.Identity != nil {
			return x.Identity.Subject
		}
	}
	return ""
}

type respStage struct{ p *Protector }

// Name is the stage's name in decisions.
func (respStage) Name() string { return "protect" }

// WantsResponseBody asks for every response body of a route with fields
// or a masking or blocking DLP; a report-only DLP takes bodies of known,
// bounded length whole and taps the others as they stream.
func (s respStage) WantsResponseBody(x *pipeline.Exchange) bool {
	r := s.p.route(x)
	if r == nil || x.In.Method == http.MethodHead || !hasBody(x.Response.Status) {
		return false
	}
	if len(r.fields) > 0 || (r.dlp != nil && r.action != actReport) {
		return true
	}
	if r.dlp == nil {
		return false
	}
	// Report only: bodies of known, bounded length in a coding that can be
	// read are taken whole; others stream as they are, tapped when not
	// compressed (a report never changes what the client gets).
	n, ok := contentLength(x.Response.Header)
	ces := x.Response.Header.Values("Content-Encoding")
	readable := len(ces) == 0
	if len(ces) == 1 {
		switch strings.ToLower(strings.TrimSpace(ces[0])) {
		case "identity", "gzip", "x-gzip", "deflate":
			readable = true
		}
	}
	return ok && n <= int64(s.p.maxBody) && readable
}

func hasBody(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func contentLength(h pipeline.Header) (int64, bool) {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	return n, err == nil && n >= 0
}

// TapResponseBody reports what a report-only DLP finds in a streamed
// response.
func (s respStage) TapResponseBody(x *pipeline.Exchange) io.Writer {
	r := s.p.route(x)
	if r == nil || r.dlp == nil || r.action != actReport || x.Response.Buffered {
		return nil
	}
	if ce := x.Response.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil // asked for identity; a stream that is still encoded is not read
	}
	st := r.dlp.NewStream()
	x.Defer(func() {
		st.Close()
		if c := st.Counts(); len(c) > 0 {
			setFindings(x, c, actReport)
		}
	})
	return st
}

// Response runs DLP on the body, then decrypts or masks the fields.
func (s respStage) Response(ctx context.Context, x *pipeline.Exchange) error {
	r := s.p.route(x)
	if r == nil || !x.Response.Buffered || len(x.Response.Body) == 0 {
		return nil
	}
	// A report-only route never changes or refuses traffic: what it
	// cannot read, it does not report on.
	reportOnly := len(r.fields) == 0 && r.action == actReport
	body, changed, err := s.p.decode(x)
	if reportOnly {
		changed = false
	}
	if err != nil {
		if reportOnly {
			return nil
		}
		return err
	}
	jsonBody := jsonbody.IsJSON(x.Response.Header.Get("Content-Type"))
	if len(r.fields) > 0 && !jsonBody {
		return errUnreadable
	}
	if jsonBody && !utf8.Valid(body) {
		if reportOnly {
			return nil
		}
		return errUnreadable
	}
	if r.dlp != nil {
		out, counts, err := s.p.scan(r, body, jsonBody)
		if err != nil {
			if reportOnly {
				return nil
			}
			return err
		}
		if len(counts) > 0 {
			setFindings(x, counts, r.action)
			if r.action == actBlock {
				return deny(http.StatusBadGateway, ReasonDlpBlocked, "The upstream response was withheld: it holds sensitive data.")
			}
		}
		if r.action == actMask && !sameSlice(out, body) {
			body, changed = out, true
		}
	}
	if len(r.fields) > 0 {
		// Whose data this is, when the route says: a ciphertext of anyone
		// else (moved there by whoever can write the upstream's store) is
		// not shown, not even masked.
		sc := owners{tenant: r.subject == fromTenant}
		if r.subject != fromIdentity {
			sc.named, sc.subject = true, s.p.subject(r, x)
		}
		out, _, err := jsonpath.Rewrite(body, r.paths, func(m jsonpath.Match) (jsonpath.Edit, error) {
			return s.p.reveal(ctx, x, &r.fields[m.Path], m, sc)
		})
		if err != nil {
			return unreadableJSON(err)
		}
		if !sameSlice(out, body) {
			body, changed = out, true
		}
	}
	if changed {
		x.Response.Body = body
		h := x.Response.Header
		// Validators and digests of the upstream's bytes no longer
		// describe the body.
		for _, name := range []string{"Etag", "Digest", "Content-Md5", "Repr-Digest", "Content-Digest", "Content-Encoding"} {
			h.Del(name)
		}
	}
	return nil
}

// decode returns the body without its content coding, bounded.
func (p *Protector) decode(x *pipeline.Exchange) ([]byte, bool, error) {
	body := x.Response.Body
	ces := x.Response.Header.Values("Content-Encoding")
	if len(ces) > 1 || strings.Contains(x.Response.Header.Get("Content-Encoding"), ",") {
		// Layered codings: refused rather than half decoded.
		return nil, false, deny(http.StatusBadGateway, ReasonResponseEncoded, "The upstream response could not be checked.")
	}
	ce := strings.ToLower(strings.TrimSpace(x.Response.Header.Get("Content-Encoding")))
	var rd io.Reader
	switch ce {
	case "", "identity":
		return body, false, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, false, errUnreadable
		}
		rd = zr
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			rd = flate.NewReader(bytes.NewReader(body)) // raw deflate, as some servers send
		} else {
			rd = zr
		}
	default:
		return nil, false, deny(http.StatusBadGateway, ReasonResponseEncoded, "The upstream response could not be checked.")
	}
	out, err := io.ReadAll(io.LimitReader(rd, p.maxDecompressed+1))
	if err != nil {
		return nil, false, errUnreadable
	}
	if int64(len(out)) > p.maxDecompressed {
		return nil, false, deny(http.StatusBadGateway, ReasonResponseTooLarge, "The upstream response is too large to check once decompressed.")
	}
	return out, true, nil
}

// scan runs DLP over body: JSON values one by one (with their member
// names as context, ciphertexts skipped), other bodies as text.
func (p *Protector) scan(r *route, body []byte, isJSON bool) ([]byte, map[dlp.Kind]int, error) {
	var counts map[dlp.Kind]int
	count := func(fs []dlp.Finding) {
		if counts == nil {
			counts = map[dlp.Kind]int{}
		}
		for _, f := range fs {
			counts[f.Kind]++
		}
	}
	if !isJSON {
		if r.action == actMask {
			out, fs := r.dlp.Mask(body)
			count(fs)
			return out, counts, nil
		}
		if fs := r.dlp.Find(body); len(fs) > 0 {
			count(fs)
		}
		return body, counts, nil
	}
	// A raw pass over the text finds most values, and those in member
	// names; the walk then looks at each value that overlaps a raw
	// finding, belongs to a name that tells more (password, ssn...), or
	// sits in a body with JSON escapes, which the raw pass cannot see
	// through.
	raw := r.dlp.Find(body)
	escaped := bytes.IndexByte(body, '\\') >= 0
	if escaped {
		out, fs, err := escapedNames(r, body)
		if err != nil {
			return nil, nil, err
		}
		count(fs)
		if r.action == actMask && len(fs) > 0 {
			body, raw = out, r.dlp.Find(out)
		}
	}
	// Names that tell more, remembered per body (names repeat in lists).
	var cache [16]struct {
		name string
		yes  bool
	}
	cached := 0
	nameSensitive := func(name string) bool {
		for i := range cached {
			if cache[i].name == name {
				return cache[i].yes
			}
		}
		yes := r.dlp.NameSensitive(name)
		if cached < len(cache) {
			cache[cached].name, cache[cached].yes = name, yes
			cached++
		}
		return yes
	}
	walk := func(doc []byte) ([]byte, error) {
		next := 0
		return jsonpath.Scalars(doc, func(name string, value []byte, kind jsonpath.Kind) (jsonpath.Edit, error) {
			start := cap(doc) - cap(value) // value aliases doc, in document order
			for next < len(raw) && raw[next].End <= start {
				next++
			}
			look := escaped || (next < len(raw) && raw[next].Start < start+len(value)) || nameSensitive(name)
			if !look {
				return jsonpath.Edit{}, nil
			}
			inner := value
			if kind == jsonpath.String {
				inner = value[1 : len(value)-1]
				if bytes.IndexByte(inner, '\\') >= 0 {
					d, err := jsonpath.DecodeString(value)
					if err != nil {
						return jsonpath.Edit{}, err
					}
					inner = []byte(d)
				}
				if keyring.LooksSealed(inner) {
					return jsonpath.Edit{}, nil
				}
			}
			fs := r.dlp.FindNamed(name, inner)
			if len(fs) == 0 {
				return jsonpath.Edit{}, nil
			}
			count(fs)
			if r.action != actMask {
				return jsonpath.Edit{}, nil
			}
			return jsonpath.Edit{Replace: jsonpath.AppendString(nil, maskFindings(string(inner), fs))}, nil
		})
	}
	// Findings in member names ({"ann@example.com": {...}}), which the
	// walk does not visit.
	inNames := inMemberNames(body, raw)
	if len(inNames) > 0 {
		count(inNames)
		if r.action == actMask {
			// A mask holds no character that needs escaping, so the
			// names stay valid JSON strings.
			body = maskRanges(body, inNames)
			raw = r.dlp.Find(body)
		}
	}
	out, err := walk(body)
	if err != nil {
		return nil, nil, unreadableJSON(err)
	}
	return out, counts, nil
}

// inMemberNames returns the findings (sorted, as Find gives them) that lie
// in member names of the JSON document doc: in a string whose closing quote
// is followed by a colon. One pass over doc, whatever the findings.
func inMemberNames(doc []byte, fs []dlp.Finding) []dlp.Finding {
	var out []dlp.Finding
	j := 0
	for i := 0; i < len(doc) && j < len(fs); i++ {
		q := bytes.IndexByte(doc[i:], '"')
		if q < 0 {
			break
		}
		i += q
		start := i // a string: find its closing quote
		for i++; i < len(doc); i++ {
			n := bytes.IndexAny(doc[i:], "\"\\")
			if n < 0 {
				i = len(doc)
				break
			}
			i += n
			if doc[i] == '"' {
				break
			}
			i++ // skip the escaped byte
		}
		end := i // the closing quote
		k := end + 1
		for k < len(doc) && (doc[k] == ' ' || doc[k] == '\t' || doc[k] == '\n' || doc[k] == '\r') {
			k++
		}
		name := k < len(doc) && doc[k] == ':'
		for j < len(fs) && fs[j].Start < end {
			if name && fs[j].Start > start && fs[j].End <= end {
				out = append(out, fs[j])
			}
			j++
		}
	}
	return out
}

// escapedNames finds sensitive values in the member names of body that
// use JSON escapes (which the raw pass cannot read), and returns body
// with those names masked.
func escapedNames(r *route, body []byte) ([]byte, []dlp.Finding, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct{ object, wantKey bool }
	var stack []frame
	var found []dlp.Finding
	var out []byte
	last := 0
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, errUnreadable
		}
		if len(stack) > jsonpath.MaxDepth {
			return nil, nil, unreadableJSON(jsonpath.ErrTooDeep)
		}
		top := len(stack) - 1
		isKey := top >= 0 && stack[top].object && stack[top].wantKey
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top >= 0 && stack[top].object {
					stack[top].wantKey = true
				}
				stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:top]
			}
			continue
		case string:
			if isKey {
				stack[top].wantKey = false
				start := before + bytes.IndexByte(body[before:], '"')
				end := int(dec.InputOffset())
				if bytes.IndexByte(body[start:end], '\\') < 0 {
					continue // the raw pass reads it
				}
				fs := r.dlp.FindString(t)
				if len(fs) == 0 {
					continue
				}
				found = append(found, fs...)
				if r.action == actMask {
					out = append(out, body[last:start]...)
					out = jsonpath.AppendString(out, maskFindings(t, fs))
					last = end
				}
				continue
			}
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
	if out == nil {
		return body, found, nil
	}
	return append(out, body[last:]...), found, nil
}

// unreadableJSON turns a walker's syntax error into the refusal of a body
// that cannot be checked.
func unreadableJSON(err error) error {
	if errors.Is(err, jsonpath.ErrTooDeep) || errors.As(err, new(*jsonpath.SyntaxError)) {
		return errUnreadable
	}
	return err
}

// maskRanges returns b with each finding replaced by its mask.
func maskRanges(b []byte, fs []dlp.Finding) []byte {
	out := make([]byte, 0, len(b)+16)
	last := 0
	for _, f := range fs {
		out = append(out, b[last:f.Start]...)
		out = append(out, dlp.MaskValue(f.Kind, b[f.Start:f.End])...)
		last = f.End
	}
	return append(out, b[last:]...)
}

func maskFindings(s string, fs []dlp.Finding) string {
	var b strings.Builder
	last := 0
	for _, f := range fs {
		b.WriteString(s[last:f.Start])
		b.Write(dlp.MaskValue(f.Kind, []byte(s[f.Start:f.End])))
		last = f.End
	}
	b.WriteString(s[last:])
	return b.String()
}

func setFindings(x *pipeline.Exchange, counts map[dlp.Kind]int, a dlpAction) {
	out := make([]pipeline.Finding, 0, len(counts))
	for k, n := range counts {
		out = append(out, pipeline.Finding{Kind: string(k), Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	x.Response.Findings, x.Response.FindingsAction = out, actionNames[a]
}

// owners says whose data a response's encrypted fields are: on routes
// that name their subject (named), subject is it, and a ciphertext of
// anyone else is not shown, not even masked; on tenant routes the tenant
// is the owner.
type owners struct {
	subject       string
	named, tenant bool
}

// jsonNull replaces a field that cannot or may not be shown.
var jsonNull = []byte("null")

// errUnreadable refuses a response that cannot be checked; denials are
// never modified, so one serves every request.
var errUnreadable = pipeline.Deny(http.StatusBadGateway, ReasonResponseUnreadable, "The upstream response could not be checked.")

// reveal turns one encrypted field of a response into what this caller
// may see: the plaintext for the owner and the reveal roles, else a mask,
// nothing or null. A value that does not decrypt (shredded, altered,
// another subject's) is null for everyone: never the ciphertext, never an
// error page.
func (p *Protector) reveal(ctx context.Context, x *pipeline.Exchange, f *field, m jsonpath.Match, sc owners) (jsonpath.Edit, error) {
	if m.Kind == jsonpath.Null {
		return jsonpath.Edit{}, nil
	}
	// A value stored before encryption was turned on is plaintext; its
	// owner is whom the route says the record belongs to, if it says.
	plain, owner, legacy := m.Value, sc.subject, true
	if m.Kind == jsonpath.String {
		s, err := jsonpath.DecodeString(m.Value)
		if err != nil {
			return jsonpath.Edit{}, err
		}
		if keyring.IsCiphertext(s) {
			if sc.named && sc.subject == "" {
				return jsonpath.Edit{Replace: jsonNull}, nil // whose data this is cannot be checked
			}
			pt, o, err := p.cipher.Decrypt(ctx, sc.subject, f.name, s)
			switch {
			case errors.Is(err, keyring.ErrKeyGone), errors.Is(err, keyring.ErrWrongSubject),
				errors.Is(err, keyring.ErrAuthentication), errors.Is(err, keyring.ErrMalformed), errors.Is(err, keyring.ErrBadName):
				return jsonpath.Edit{Replace: jsonNull}, nil
			case err != nil:
				// The store or the KEK is failing: a null now would be
				// written back by clients that read, edit and save. A
				// store outage is logged by the store, once.
				if errors.Is(err, keyring.ErrUnavailable) {
					err = nil
				}
				return jsonpath.Edit{}, keysUnavailable(err)
			}
			if !json.Valid(pt) {
				return jsonpath.Edit{Replace: jsonNull}, nil
			}
			plain, owner, legacy = pt, o.Subject, false
		}
	}
	id := x.Identity
	viewer := ""
	if id != nil {
		viewer = id.Subject
		if sc.tenant {
			viewer = id.Tenant // on tenant routes the tenant owns the data
		}
	}
	if id != nil && ((f.owner && owner != "" && viewer == owner) || slices.ContainsFunc(id.Roles, func(r string) bool { return slices.Contains(f.roles, r) })) {
		if legacy {
			return jsonpath.Edit{}, nil // plaintext as it is
		}
		return jsonpath.Edit{Replace: plain}, nil
	}
	switch f.others {
	case othersRemove:
		return jsonpath.Edit{Remove: true}, nil
	case othersNull:
		return jsonpath.Edit{Replace: jsonNull}, nil
	}
	return jsonpath.Edit{Replace: jsonpath.AppendString(nil, mask(f.mask, plain))}, nil
}
