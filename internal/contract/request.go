package contract

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// httpRequest builds the request openapi3filter reads: the URL, and only
// the headers the operation's checks read (its header parameters,
// Content-Type and Cookie), so that a request with many headers costs no
// more than one with few.
func (op *operation) httpRequest(r *Request) (*http.Request, url.Values, error) {
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		return nil, nil, err
	}
	u := &url.URL{Path: r.RawPath, RawQuery: r.RawQuery}
	h := make(http.Header, len(op.headers))
	if r.Header != nil {
		for _, name := range op.headers {
			if vals := r.Header(name); len(vals) > 0 {
				h[name] = vals
			}
		}
	}
	if r.ContentType != "" {
		h["Content-Type"] = []string{r.ContentType}
	}
	hr := &http.Request{Method: r.Method, URL: u, Header: h, Body: http.NoBody, Host: "contract.invalid"}
	if op.body != nil && r.HasBody {
		hr.Body = io.NopCloser(bytes.NewReader(r.Body))
		hr.ContentLength = int64(len(r.Body))
	}
	return hr, q, nil
}

// bodyMediaType returns the declared media type of the request body that
// contentType falls under (exact, then type/*, then */*).
func bodyMediaType(body *openapi3.RequestBody, contentType string) (string, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	if body.Content.Get(mt) == nil {
		return "", false
	}
	if _, ok := body.Content[mt]; ok {
		return mt, true
	}
	if i := strings.IndexByte(mt, '/'); i > 0 {
		if _, ok := body.Content[mt[:i]+"/*"]; ok {
			return mt[:i] + "/*", true
		}
	}
	return "*/*", true
}

// isJSON reports whether a media type is JSON (application/json, or a
// +json suffix such as application/problem+json).
func isJSON(mt string) bool {
	mt = strings.ToLower(mt)
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// stringFormats are the string formats checked in 3.0 schemas besides
// kin-openapi's built-in date-time, int32 and int64: the ones that matter
// for security, with the same meaning as in JSON Schema 2020-12.
var stringFormats = map[string]openapi3.StringFormatValidator{
	"email": openapi3.NewCallbackValidator(validEmail),
	"uuid":  openapi3.NewRegexpFormatValidator(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`),
	"uri":   openapi3.NewCallbackValidator(validURI),
	"date":  openapi3.NewRegexpFormatValidator(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`),
}

type formatError string

func (e formatError) Error() string { return string(e) }

func validEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return formatError("not an email address")
	}
	return nil
}

func validURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return formatError("not an absolute URI")
	}
	return nil
}
