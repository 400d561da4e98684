// Package exposure holds rampart scan's excessive-data-exposure checks
// (API3:2023): sensitive values in responses, found with the gateway's own
// DLP detectors (validated card numbers, SSNs, IBANs, cloud keys, private
// keys), and response members the spec does not declare.
//
// A sensitive value in the caller's own object is reported as info (the
// owner may be meant to see it); in a list or another identity's object it
// is high.
package exposure

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// Rules.
var (
	Sensitive = findings.Rule{ID: "rampart.scan.api3.sensitive-data", Name: "Sensitive data in responses",
		Description: "Responses carry sensitive values in clear (card numbers, SSNs, IBANs, cloud keys, private keys), found and validated with Rampart's DLP detectors.",
		Help:        "Return only the fields each caller needs; mask or drop sensitive fields by role (Rampart: authz.response_fields, protect.dlp with action mask, field encryption).",
		OWASP:       "API3:2023", Severity: findings.High}
	Undeclared = findings.Rule{ID: "rampart.scan.api3.undeclared-field", Name: "Response members the spec does not declare",
		Description: "A response holds members its schema in the spec does not declare: data the API's contract does not mean to expose.",
		Help:        "Serialize responses through an explicit view model; declare every member in the spec and close schemas with additionalProperties: false.",
		OWASP:       "API3:2023", Severity: findings.Medium}
)

// kinds are the detectors that mean exposure. Emails, phones and JWTs are
// left out: APIs return them by design.
var kinds = []dlp.Kind{dlp.Card, dlp.SSN, dlp.IBAN, dlp.AWSKey, dlp.GCPKey, dlp.SlackToken, dlp.GitHubToken, dlp.PrivateKey}

// Check runs both rules over every response discovery recorded.
type Check struct{}

// Name implements scan.Check.
func (Check) Name() string { return "exposure" }

// Rules implements scan.Check.
func (Check) Rules() []findings.Rule { return []findings.Rule{Sensitive, Undeclared} }

// Run implements scan.Check. It sends nothing.
func (Check) Run(_ context.Context, s *scan.Session) error {
	det := dlp.MustNew(kinds...)
	for _, op := range s.Ops {
		for _, id := range s.Identities {
			ex := s.View(op, id.Name)
			if !scan.Success(ex) {
				continue
			}
			if s.Enabled(Sensitive.ID) {
				sensitive(s, det, op, ex)
			}
			if s.Enabled(Undeclared.ID) {
				undeclared(s, op, ex)
			}
		}
	}
	return nil
}

func sensitive(s *scan.Session, det *dlp.Scanner, op *scan.Op, ex *scan.Exchange) {
	fs := det.Find(ex.Resp.Body)
	if len(fs) == 0 {
		return
	}
	count := map[dlp.Kind]int{}
	for _, f := range fs {
		count[f.Kind]++
	}
	var names []string
	for k, n := range count {
		names = append(names, fmt.Sprintf("%d %s", n, k))
	}
	slices.Sort(names)
	own := ownObject(s, op, ex)
	f := scan.Finding(Sensitive, op, findings.Certain, "Sensitive data in clear",
		fmt.Sprintf("%s %s returned %s to %s in clear.", op.Method, op.Path, strings.Join(names, ", "), ex.As.Name))
	if own {
		f.Severity = findings.Info
		f.Title = "Caller's own sensitive data in clear"
		f.Message += " It is the caller's own object: make sure the owner is meant to see these values unmasked."
		f.Key = "own"
	} else {
		f.Key = "others"
		if len(op.Params) == 0 {
			f.Message += " It is a collection: every caller who may list it sees everyone's values."
		}
	}
	f.Evidence = []findings.Exchange{scan.Evidence(ex.As.Name+" calls it (values masked here)", ex)}
	f.Curl = scan.Curl(ex)
	s.Report(f)
}

// ownObject reports whether the exchange read the caller's own object.
func ownObject(s *scan.Session, op *scan.Op, ex *scan.Exchange) bool {
	if len(op.Params) == 0 {
		return false
	}
	o := s.OwnObject(op.Path, ex.As)
	return o != nil && s.Build(op, o.Values()).Path == ex.Req.Path
}

func undeclared(s *scan.Session, op *scan.Op, ex *scan.Exchange) {
	sc := responseSchema(op, ex.Resp.Status)
	if sc == nil {
		return
	}
	var doc any
	if json.Unmarshal(ex.Resp.Body, &doc) != nil {
		return
	}
	extra := map[string]bool{}
	walk(sc, doc, "$", extra, 0)
	if len(extra) == 0 {
		return
	}
	var list []string
	for k := range extra {
		list = append(list, k)
	}
	slices.Sort(list)
	f := scan.Finding(Undeclared, op, findings.Firm, "Undeclared response members",
		fmt.Sprintf("%s %s returned members its %d response schema does not declare: %s.", op.Method, op.Path, ex.Resp.Status, strings.Join(list, ", ")))
	f.Key = strings.Join(list, ",")
	f.Evidence = []findings.Exchange{scan.Evidence(ex.As.Name+" calls it", ex)}
	f.Curl = scan.Curl(ex)
	s.Report(f)
}

func responseSchema(op *scan.Op, status int) *openapi3.Schema {
	if op.Op.Responses == nil {
		return nil
	}
	r := op.Op.Responses.Value(strconv.Itoa(status))
	if r == nil {
		r = op.Op.Responses.Value(strconv.Itoa(status/100) + "XX")
	}
	if r == nil {
		r = op.Op.Responses.Default()
	}
	if r == nil || r.Value == nil {
		return nil
	}
	mt := r.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}

// walk collects members of doc that schema sc does not declare. Schemas
// that allow additional properties, or combine others, are trusted.
func walk(sc *openapi3.Schema, doc any, path string, extra map[string]bool, depth int) {
	if sc == nil || depth > 16 || len(sc.OneOf)+len(sc.AnyOf) > 0 {
		return
	}
	if len(sc.AllOf) > 0 {
		merged := &openapi3.Schema{Properties: openapi3.Schemas{}}
		for _, p := range sc.AllOf {
			if p.Value == nil || len(p.Value.Properties) == 0 && len(p.Value.AllOf) > 0 {
				return
			}
			for k, v := range p.Value.Properties {
				merged.Properties[k] = v
			}
		}
		sc = merged
	}
	switch x := doc.(type) {
	case map[string]any:
		if len(sc.Properties) == 0 || (sc.AdditionalProperties.Has != nil && *sc.AdditionalProperties.Has) || sc.AdditionalProperties.Schema != nil {
			return
		}
		for k, v := range x {
			p, ok := sc.Properties[k]
			if !ok {
				extra[strings.TrimPrefix(path+"."+k, "$.")] = true
				continue
			}
			walk(p.Value, v, path+"."+k, extra, depth+1)
		}
	case []any:
		if sc.Items == nil {
			return
		}
		for _, v := range x {
			walk(sc.Items.Value, v, path+"[]", extra, depth+1)
		}
	}
}
