package contract

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
)

// ValidateResponse checks an upstream response to req when Options.Response
// is report or block: the status must be declared (or a default response
// be), and a JSON body must match its schema. writeOnly properties are
// stripped from a JSON body first, in every mode but off: newBody is the
// body to send (body itself when nothing changed). err is nil, a
// *Violation (Status 502; in report mode the caller forwards newBody and
// records the violation), or another error when the check itself broke.
func (v *Validator) ValidateResponse(ctx context.Context, req *Request, status int, header func(string) []string, body []byte) ([]byte, error) {
	if v.response == ResponseOff {
		return body, nil
	}
	if err := ctx.Err(); err != nil {
		return body, err
	}
	op, _, st := v.find(req.Method, req.RawPath)
	if st != 0 {
		return body, nil // the request was refused or not checked: nothing to hold the response to
	}
	viol := &Violation{Status: http.StatusBadGateway}
	resp := responseFor(op.op.Op.Responses, status)
	if resp == nil {
		viol.add(Problem{In: "response", Reason: "status " + strconv.Itoa(status) + " not declared"})
		return body, viol
	}
	var ct string
	if header != nil {
		if vals := header("Content-Type"); len(vals) > 0 {
			ct = vals[0]
		}
	}
	if len(body) == 0 || len(resp.Content) == 0 {
		return body, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		viol.add(Problem{In: "response", Name: "Content-Type", Reason: "media type not declared for this status"})
		return body, viol
	}
	media := resp.Content.Get(mt)
	if media == nil {
		viol.add(Problem{In: "response", Name: "Content-Type", Reason: "media type not declared for this status"})
		return body, viol
	}
	if !isJSON(mt) || media.Schema == nil {
		return body, nil
	}
	if p := v.checkShape(body, "response"); p != nil {
		viol.add(*p)
		return body, viol
	}
	val, err := decodeJSON(body)
	if err != nil {
		viol.add(Problem{In: "response", Reason: "malformed JSON"})
		return body, viol
	}
	out := body
	if v.marks.stripWriteOnly(media.Schema, val, 0) {
		if b, err := json.Marshal(val); err == nil {
			out = b
		}
	}
	if v.is31 {
		c := op.responses[statusKey(op.op.Op.Responses, status)][declaredType(resp.Content, mt)]
		if c != nil {
			if err := c.js.Validate(val); err != nil {
				jsProblems(err, "response", viol)
			}
		}
	} else {
		opts := append([]openapi3.SchemaValidationOption{openapi3.VisitAsResponse()}, v.schemaOpts...)
		if err := media.Schema.Value.VisitJSON(plain(val), opts...); err != nil {
			schemaProblems(err, "response", "", nil, viol)
		}
	}
	if len(viol.Problems) > 0 {
		return out, viol
	}
	return out, nil
}

// responseFor is the declared response of a status: exact, then 2XX-style
// range, then default.
func responseFor(rs *openapi3.Responses, status int) *openapi3.Response {
	if rs == nil {
		return nil
	}
	if r := rs.Value(statusKey(rs, status)); r != nil {
		return r.Value
	}
	return nil
}

func statusKey(rs *openapi3.Responses, status int) string {
	if rs == nil {
		return ""
	}
	code := strconv.Itoa(status)
	if rs.Value(code) != nil {
		return code
	}
	if len(code) == 3 {
		if r := code[:1] + "XX"; rs.Value(r) != nil {
			return r
		}
	}
	if rs.Value("default") != nil {
		return "default"
	}
	return ""
}

// declaredType is the key of content that mt falls under.
func declaredType(c openapi3.Content, mt string) string {
	if _, ok := c[mt]; ok {
		return mt
	}
	for i := 0; i < len(mt); i++ {
		if mt[i] == '/' {
			if _, ok := c[mt[:i]+"/*"]; ok {
				return mt[:i] + "/*"
			}
		}
	}
	return "*/*"
}

// plain turns json.Number into float64 for kin-openapi's 3.0 validator.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plain(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plain(e)
		}
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return v
		}
		return f
	}
	return v
}
