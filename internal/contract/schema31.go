package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// schemas31 compiles the JSON Schema 2020-12 schemas of a 3.1 spec, once,
// at load time. kin-openapi's openapi3filter would marshal and compile a
// 3.1 schema again on every request (about 1 ms for a 1 KiB body); this
// is the same library (santhosh-tekuri/jsonschema) used the right way.
type schemas31 struct {
	n int
}

func newSchemas31() *schemas31 { return &schemas31{} }

// compiled is one compiled schema with the resolved schema it came from
// (for the readOnly and writeOnly walks).
type compiled struct {
	js  *jsonschema.Schema
	ref *openapi3.SchemaRef
}

// compile turns a resolved schema into a self-contained JSON Schema
// document, every $ref it reaches hoisted into $defs, and compiles it;
// ptr says where it is in the spec, for errors.
func (s *schemas31) compile(ref *openapi3.SchemaRef, ptr string) (*compiled, error) {
	defs := map[string]any{}
	keys := map[string]string{}           // $ref string -> $defs key
	vals := map[string]*openapi3.Schema{} // $ref string -> its schema
	var conflict error
	err := ref.WalkSubtree(func(_ string, r *openapi3.SchemaRef) error {
		if r.Ref == "" || r.Value == nil {
			return nil
		}
		if v, ok := vals[r.Ref]; ok {
			if v != r.Value {
				conflict = fmt.Errorf("%s: $ref %q names two different schemas", ptr, r.Ref)
			}
			return nil
		}
		vals[r.Ref] = r.Value
		keys[r.Ref] = "r" + strconv.Itoa(len(keys))
		return nil
	})
	if err == nil {
		err = conflict
	}
	if err != nil {
		return nil, fmt.Errorf("compiling schema %s: %w", ptr, err)
	}
	for r, v := range vals {
		doc, err := toJSON(v)
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %s: %w", ptr, r, err)
		}
		defs[keys[r]] = rewriteRefs(doc, keys)
	}
	var root any = true
	if ref.Value != nil {
		doc, err := toJSON(ref.Value)
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %w", ptr, err)
		}
		root = rewriteRefs(doc, keys)
	}
	if ref.Ref != "" {
		root = map[string]any{"$ref": "#/$defs/" + keys[ref.Ref]}
	}
	if m, ok := root.(map[string]any); ok && len(defs) > 0 {
		m["$defs"] = defs
	} else if len(defs) > 0 {
		root = map[string]any{"allOf": []any{root}, "$defs": defs}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range intFormats {
		c.RegisterFormat(f)
	}
	s.n++
	url := "urn:rampart:contract:" + strconv.Itoa(s.n)
	if err := c.AddResource(url, root); err != nil {
		return nil, fmt.Errorf("compiling schema %s: %w", ptr, err)
	}
	js, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compiling schema %s: %w", ptr, err)
	}
	return &compiled{js: js, ref: ref}, nil
}

// toJSON is a schema as generic JSON.
func toJSON(v *openapi3.Schema) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// valueKeywords hold instance values, not schemas: a "$ref" inside them is
// data.
var valueKeywords = map[string]bool{"enum": true, "const": true, "default": true, "example": true, "examples": true}

// rewriteRefs points every schema $ref at its $defs entry.
func rewriteRefs(node any, keys map[string]string) any {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if valueKeywords[k] {
				continue
			}
			if s, ok := v.(string); ok && k == "$ref" {
				if key, ok := keys[s]; ok {
					n[k] = "#/$defs/" + key
				}
				continue
			}
			n[k] = rewriteRefs(v, keys)
		}
	case []any:
		for i, v := range n {
			n[i] = rewriteRefs(v, keys)
		}
	}
	return node
}

// intFormats are the OpenAPI integer formats, which JSON Schema does not
// define: int32 and int64 bounds.
var intFormats = []*jsonschema.Format{
	{Name: "int32", Validate: intRange(math.MinInt32, math.MaxInt32)},
	{Name: "int64", Validate: intRange(math.MinInt64, math.MaxInt64)},
}

func intRange(lo, hi int64) func(any) error {
	blo, bhi := new(big.Rat).SetInt64(lo), new(big.Rat).SetInt64(hi)
	return func(v any) error {
		var r *big.Rat
		switch n := v.(type) {
		case json.Number:
			var ok bool
			if r, ok = new(big.Rat).SetString(string(n)); !ok {
				return nil
			}
		case float64:
			r = new(big.Rat)
			if r.SetFloat64(n) == nil {
				return nil
			}
		case int:
			r = new(big.Rat).SetInt64(int64(n))
		case int64:
			r = new(big.Rat).SetInt64(n)
		default:
			return nil
		}
		if r.Cmp(blo) < 0 || r.Cmp(bhi) > 0 {
			return errors.New("out of range")
		}
		return nil
	}
}

// unsupported2020 returns a JSON Schema 2020-12 keyword of a 3.1
// parameter schema that the parameter check (kin-openapi's built-in
// validator) would not enforce, or "".
func unsupported2020(ref *openapi3.SchemaRef) string {
	var kw string
	_ = ref.WalkSubtree(func(_ string, r *openapi3.SchemaRef) error {
		s := r.Value
		if s == nil || kw != "" {
			return nil
		}
		switch {
		case s.Const != nil:
			kw = "const"
		case len(s.PrefixItems) > 0:
			kw = "prefixItems"
		case s.Contains != nil:
			kw = "contains"
		case len(s.PatternProperties) > 0:
			kw = "patternProperties"
		case len(s.DependentSchemas) > 0:
			kw = "dependentSchemas"
		case len(s.DependentRequired) > 0:
			kw = "dependentRequired"
		case s.PropertyNames != nil:
			kw = "propertyNames"
		case s.If != nil:
			kw = "if"
		case s.UnevaluatedItems.Has != nil || s.UnevaluatedItems.Schema != nil:
			kw = "unevaluatedItems"
		case s.UnevaluatedProperties.Has != nil || s.UnevaluatedProperties.Schema != nil:
			kw = "unevaluatedProperties"
		}
		return nil
	})
	return kw
}

// jsProblems turns a jsonschema validation error into problems.
func jsProblems(err error, in string, viol *Violation) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		viol.add(Problem{In: in, Reason: "does not match the schema"})
		return
	}
	leaves(ve, func(e *jsonschema.ValidationError) {
		ptr := pointer(e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				viol.add(Problem{In: in, Pointer: ptr + "/" + escapePointer(capName(p)), Reason: "not declared"})
			}
		case *kind.Required:
			for _, p := range k.Missing {
				viol.add(Problem{In: in, Pointer: ptr + "/" + escapePointer(p), Reason: "required"})
			}
		default:
			viol.add(Problem{In: in, Pointer: ptr, Reason: jsReason(e.ErrorKind)})
		}
	})
}

// leaves calls fn for each innermost error: the ones that name a rule.
func leaves(e *jsonschema.ValidationError, fn func(*jsonschema.ValidationError)) {
	if len(e.Causes) == 0 {
		fn(e)
		return
	}
	switch e.ErrorKind.(type) {
	case *kind.OneOf, *kind.AnyOf:
		// The branches' own failures would mislead: say which rule.
		fn(e)
		return
	}
	for _, c := range e.Causes {
		leaves(c, fn)
	}
}

func pointer(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(escapePointer(capName(t)))
	}
	return b.String()
}

// jsReason is the rule a 2020-12 error names, without the value.
func jsReason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return "type: want " + strings.Join(k.Want, " or ")
	case *kind.Enum:
		return "enum"
	case *kind.Const:
		return "const"
	case *kind.Format:
		return "format " + k.Want
	case *kind.Pattern:
		return "pattern " + k.Want
	case *kind.MinLength:
		return "minLength " + strconv.Itoa(k.Want)
	case *kind.MaxLength:
		return "maxLength " + strconv.Itoa(k.Want)
	case *kind.MinItems:
		return "minItems " + strconv.Itoa(k.Want)
	case *kind.MaxItems:
		return "maxItems " + strconv.Itoa(k.Want)
	case *kind.MinProperties:
		return "minProperties " + strconv.Itoa(k.Want)
	case *kind.MaxProperties:
		return "maxProperties " + strconv.Itoa(k.Want)
	case *kind.Minimum:
		return "minimum " + k.Want.RatString()
	case *kind.Maximum:
		return "maximum " + k.Want.RatString()
	case *kind.ExclusiveMinimum:
		return "exclusiveMinimum " + k.Want.RatString()
	case *kind.ExclusiveMaximum:
		return "exclusiveMaximum " + k.Want.RatString()
	case *kind.MultipleOf:
		return "multipleOf " + k.Want.RatString()
	case *kind.UniqueItems:
		return "uniqueItems"
	case *kind.OneOf:
		if len(k.Subschemas) > 1 {
			return "oneOf: more than one matches"
		}
		return "oneOf: none matches"
	case *kind.AnyOf:
		return "anyOf: none matches"
	case *kind.FalseSchema:
		return "not allowed"
	}
	kp := k.KeywordPath()
	if len(kp) > 0 {
		return kp[0]
	}
	return "does not match the schema"
}
