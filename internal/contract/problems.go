package contract

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// maxName bounds a property name or key taken from the request into a
// pointer: names say where, but an attacker chooses them.
const maxName = 64

func capName(s string) string {
	if len(s) <= maxName && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxName {
		return s
	}
	cut := maxName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// translate turns openapi3filter's errors into problems. Their messages
// are not used: many embed the value sent (kin-openapi prints the value
// and the schema); the reason is rebuilt from the rule that failed.
func translate(err error, viol *Violation) {
	var me openapi3.MultiError
	if errors.As(err, &me) && !isRequestError(err) {
		for _, e := range me {
			translate(e, viol)
		}
		return
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		viol.add(Problem{In: "request", Reason: "does not match the contract"})
		return
	}
	in, name := "body", ""
	if re.Parameter != nil {
		in, name = re.Parameter.In, re.Parameter.Name
	}
	cause := re.Err
	switch {
	case cause == nil:
		viol.add(Problem{In: in, Name: name, Reason: safeFilterReason(re.Reason)})
	case errors.Is(cause, openapi3filter.ErrInvalidRequired):
		viol.add(Problem{In: in, Name: name, Reason: "required"})
	case errors.Is(cause, openapi3filter.ErrInvalidEmptyValue):
		viol.add(Problem{In: in, Name: name, Reason: "empty value not allowed"})
	default:
		var schema *openapi3.Schema
		if re.Parameter != nil && re.Parameter.Schema != nil {
			schema = re.Parameter.Schema.Value
		}
		schemaProblems(cause, in, name, schema, viol)
	}
}

func isRequestError(err error) bool {
	_, ok := err.(*openapi3filter.RequestError)
	return ok
}

// safeFilterReason keeps the fixed reasons of openapi3filter that hold
// no request data.
func safeFilterReason(r string) string {
	switch {
	case strings.Contains(r, "body not allowed"):
		return "no request body declared for this operation"
	case strings.Contains(r, "value is required"), strings.Contains(r, "is missing"):
		return "required"
	}
	return "does not match the contract"
}

// schemaProblems turns kin-openapi schema errors into problems; schema
// is the parameter's, nil for a body.
func schemaProblems(err error, in, name string, schema *openapi3.Schema, viol *Violation) {
	se, isSE := err.(*openapi3.SchemaError)
	var me openapi3.MultiError
	if !isSE && errors.As(err, &me) {
		for _, e := range me {
			schemaProblems(e, in, name, schema, viol)
		}
		return
	}
	if !isSE && !errors.As(err, &se) {
		var pe *openapi3filter.ParseError
		if errors.As(err, &pe) {
			viol.add(Problem{In: in, Name: name, Pointer: pathPointer(pe.Path()), Reason: parseReason(pe, schema)})
			return
		}
		if errors.Is(err, errBodyRequired) || strings.Contains(err.Error(), "value is required") {
			viol.add(Problem{In: in, Name: name, Reason: "required"})
			return
		}
		viol.add(Problem{In: in, Name: name, Reason: "malformed"})
		return
	}
	ptr := ""
	if in == "body" || name == "" {
		ptr = tokens(se.JSONPointer())
	} else if p := se.JSONPointer(); len(p) > 0 {
		// A property of an object parameter (deepObject, form).
		ptr = tokens(p)
	}
	switch se.SchemaField {
	case "allOf":
		// Name the branch's rule, not "allOf".
		if se.Origin != nil {
			sub := &Violation{}
			schemaProblems(se.Origin, in, name, schema, sub)
			for _, p := range sub.Problems {
				if !strings.HasPrefix(p.Pointer, ptr) {
					p.Pointer = ptr + p.Pointer
				}
				viol.add(p)
			}
			if len(sub.Problems) > 0 {
				return
			}
		}
	case "properties":
		// An undeclared property: name each one.
		obj, _ := se.Value.(map[string]any)
		for _, k := range undeclared(se.Schema, obj) {
			viol.add(Problem{In: in, Name: name, Pointer: ptr + "/" + escapePointer(capName(k)), Reason: "not declared"})
		}
		if len(obj) == 0 {
			viol.add(Problem{In: in, Name: name, Pointer: ptr, Reason: "not declared"})
		}
		return
	}
	viol.add(Problem{In: in, Name: name, Pointer: ptr, Reason: kinReason(se)})
}

var errBodyRequired = errors.New("request body required")

func pathPointer(path []any) string {
	if len(path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(escapePointer(capName(fmt.Sprint(p))))
	}
	return b.String()
}

// parseReason is the rule a parameter that could not be decoded broke:
// its type (or its integer format's range), or its style.
func parseReason(pe *openapi3filter.ParseError, schema *openapi3.Schema) string {
	inner := pe
	for {
		next, ok := inner.Cause.(*openapi3filter.ParseError)
		if !ok {
			break
		}
		inner = next
	}
	if schema != nil && schema.Items != nil && schema.Items.Value != nil && len(pe.Path()) > 0 {
		schema = schema.Items.Value
	}
	switch {
	case strings.Contains(inner.Reason, "invalid integer"):
		if errors.Is(inner.Cause, strconv.ErrRange) && schema != nil && schema.Format != "" {
			return "format " + schema.Format
		}
		return "type: want integer"
	case strings.Contains(inner.Reason, "invalid number"):
		return "type: want number"
	case strings.Contains(inner.Reason, "invalid boolean"):
		return "type: want boolean"
	}
	switch pe.Kind {
	case openapi3filter.KindInvalidFormat:
		return "malformed for its style"
	case openapi3filter.KindUnsupportedFormat:
		return "unsupported format"
	}
	return "malformed"
}

func tokens(p []string) string {
	var b strings.Builder
	for _, t := range p {
		b.WriteByte('/')
		b.WriteString(escapePointer(capName(t)))
	}
	return b.String()
}

// undeclared returns obj's keys the schema does not declare, sorted.
func undeclared(s *openapi3.Schema, obj map[string]any) []string {
	var out []string
	for k := range obj {
		if _, ok := s.Properties[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// kinReason is the rule a kin-openapi schema error names, without the
// value.
func kinReason(se *openapi3.SchemaError) string {
	s := se.Schema
	if s == nil {
		return se.SchemaField
	}
	num := func(p *float64) string {
		if p == nil {
			return ""
		}
		return " " + strconv.FormatFloat(*p, 'g', -1, 64)
	}
	switch se.SchemaField {
	case "type":
		if s.Type != nil && len(*s.Type) > 0 {
			return "type: want " + strings.Join(*s.Type, " or ")
		}
		return "type"
	case "nullable":
		if s.Type != nil && len(*s.Type) > 0 {
			return "type: want " + strings.Join(*s.Type, " or ")
		}
		return "type: null not allowed"
	case "format":
		return "format " + s.Format
	case "pattern":
		return "pattern " + s.Pattern
	case "minLength":
		return "minLength " + strconv.FormatUint(s.MinLength, 10)
	case "maxLength":
		if s.MaxLength != nil {
			return "maxLength " + strconv.FormatUint(*s.MaxLength, 10)
		}
	case "minItems":
		return "minItems " + strconv.FormatUint(s.MinItems, 10)
	case "maxItems":
		if s.MaxItems != nil {
			return "maxItems " + strconv.FormatUint(*s.MaxItems, 10)
		}
	case "minProperties":
		return "minProperties " + strconv.FormatUint(s.MinProps, 10)
	case "maxProperties":
		if s.MaxProps != nil {
			return "maxProperties " + strconv.FormatUint(*s.MaxProps, 10)
		}
	case "minimum":
		return "minimum" + num(s.Min)
	case "maximum":
		return "maximum" + num(s.Max)
	case "exclusiveMinimum":
		if s.ExclusiveMin.Value != nil {
			return "exclusiveMinimum" + num(s.ExclusiveMin.Value)
		}
		return "exclusiveMinimum" + num(s.Min)
	case "exclusiveMaximum":
		if s.ExclusiveMax.Value != nil {
			return "exclusiveMaximum" + num(s.ExclusiveMax.Value)
		}
		return "exclusiveMaximum" + num(s.Max)
	case "multipleOf":
		return "multipleOf" + num(s.MultipleOf)
	case "oneOf":
		if strings.Contains(se.Reason, "more than one") {
			return "oneOf: more than one matches"
		}
		return "oneOf: none matches"
	case "anyOf":
		return "anyOf: none matches"
	case "allOf":
		return "allOf"
	case "readOnly":
		return "readOnly: not allowed in a request"
	case "writeOnly":
		return "writeOnly: not allowed in a response"
	case "", "additionalProperties":
		return "does not match the schema"
	}
	return se.SchemaField
}
