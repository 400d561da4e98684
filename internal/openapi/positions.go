package openapi

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// pos is a node's place in the source.
type pos struct {
	line, col int
	scalar    string
	isScalar  bool
}

// positions maps every JSON pointer of a document to where its value
// starts. It is built once per load from the YAML node tree (JSON is
// YAML), so a problem kin-openapi reports by context can be shown with a
// line number.
type positions map[string]pos

// syntaxError is a document that does not parse.
type syntaxError struct {
	line int
	msg  string
	err  error
}

func (e *syntaxError) at(source string) *Error {
	return &Error{Source: source, Line: e.line, Column: 1, Msg: e.msg, Err: e.err}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxNodes bounds the index: a document of MaxDocumentBytes cannot hold
// more, and YAML aliases ("billion laughs") cannot make it grow past it.
const maxNodes = 4 << 20

func index(data []byte) (positions, *syntaxError) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return nil, &syntaxError{line: line, msg: "not valid JSON or YAML: " + strings.TrimPrefix(msg, "yaml: "), err: err}
	}
	if len(root.Content) == 0 {
		return nil, &syntaxError{line: 1, msg: "empty document"}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, &syntaxError{line: doc.Line, msg: "the document must be a JSON or YAML object"}
	}
	p := positions{}
	budget := maxNodes
	// A member is placed at its key (where a reader looks for it), an
	// array element at its value.
	var walk func(n, at *yaml.Node, ptr string, depth int) bool
	walk = func(n, at *yaml.Node, ptr string, depth int) bool {
		budget--
		if budget < 0 || depth > 256 {
			return false
		}
		p[ptr] = pos{line: at.Line, col: at.Column, scalar: n.Value, isScalar: n.Kind == yaml.ScalarNode}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if !walk(n.Content[i+1], n.Content[i], ptr+"/"+escape(n.Content[i].Value), depth+1) {
					return false
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if !walk(c, c, ptr+"/"+strconv.Itoa(i), depth+1) {
					return false
				}
			}
		case yaml.AliasNode:
			// An alias is indexed where it stands, not expanded.
		}
		return true
	}
	if !walk(doc, doc, "", 0) {
		return nil, &syntaxError{line: 1, msg: "document too large or too deeply nested"}
	}
	return p, nil
}

func (p positions) scalar(ptr string) (string, bool) {
	v, ok := p[ptr]
	if !ok || !v.isScalar {
		return "", false
	}
	return v.scalar, true
}

// escape encodes one JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// locate returns the deepest existing prefix of ptr and its position.
func (p positions) locate(ptr string) (string, pos) {
	for {
		if v, ok := p[ptr]; ok {
			return ptr, v
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return "", p[""]
		}
		ptr = ptr[:i]
	}
}

func (p positions) errorAt(source, ptr, msg string, err error) *Error {
	at, v := p.locate(ptr)
	if at == "" && ptr != "" {
		// Keep the pointer the problem names even when the node is
		// absent (a missing required field); the line is its parent's.
		at = ptr
	}
	return &Error{Source: source, Pointer: at, Line: v.line, Column: v.col, Msg: msg, Err: err}
}

var refInMsg = regexp.MustCompile(`"([^"]*#[^"]*)"|(\S+\.(?:ya?ml|json)(?:#\S*)?)`)

// refError places a loading error (usually an unresolvable $ref) on the
// $ref that caused it.
func (p positions) refError(source string, err error) *Error {
	msg := err.Error()
	for _, m := range refInMsg.FindAllStringSubmatch(msg, -1) {
		ref := m[1]
		if ref == "" {
			ref = m[2]
		}
		for ptr, v := range p {
			if strings.HasSuffix(ptr, "/$ref") && v.isScalar && v.scalar == ref {
				return &Error{Source: source, Pointer: ptr, Line: v.line, Column: v.col, Msg: "resolving $ref: " + msg, Err: err}
			}
		}
	}
	return &Error{Source: source, Line: 0, Msg: "loading spec: " + msg, Err: err}
}

// validationError turns kin-openapi's context wrappers into a JSON
// pointer: section, path, operation, component.
func (p positions) validationError(source string, err error) *Error {
	var ptr []string
	leaf := err
	for e := err; e != nil; {
		switch w := e.(type) {
		case *openapi3.SectionValidationError:
			if w.Section != "components" {
				ptr = append(ptr, escape(w.Section))
			}
			e, leaf = w.Cause, w.Cause
			continue
		case *openapi3.PathValidationError:
			ptr = append(ptr, escape(w.Path))
			e, leaf = w.Cause, w.Cause
			continue
		case *openapi3.OperationValidationError:
			ptr = append(ptr, strings.ToLower(w.Method))
			e, leaf = w.Cause, w.Cause
			continue
		case *openapi3.ComponentValidationError:
			ptr = append(ptr, "components", componentSection(w.Section), escape(w.Name))
			e, leaf = w.Cause, w.Cause
			continue
		case openapi3.MultiError:
			if len(w) > 0 {
				e, leaf = w[0], w[0]
				continue
			}
		}
		next := errors.Unwrap(e)
		if next == nil {
			break
		}
		e = next
	}
	msg := leaf.Error()
	pointer := ""
	if len(ptr) > 0 {
		pointer = "/" + strings.Join(ptr, "/")
	}
	// A required-field problem names the field: point at it when it is
	// there (responses: {}), at its parent when it is missing.
	if rfe, ok := errorsAs[*openapi3.RequiredFieldError](err); ok {
		field := rfe.Field[strings.LastIndexByte(rfe.Field, '.')+1:]
		if _, there := p[pointer+"/"+escape(field)]; there {
			pointer += "/" + escape(field)
		}
	}
	if me, ok := errorsAs[openapi3.MultiError](err); ok && len(me) > 1 {
		msg = fmt.Sprintf("%s (and %d more problems)", msg, len(me)-1)
	}
	return p.errorAt(source, pointer, msg, err)
}

func componentSection(s string) string {
	switch s {
	case "schema":
		return "schemas"
	case "parameter":
		return "parameters"
	case "header":
		return "headers"
	case "request body":
		return "requestBodies"
	case "response":
		return "responses"
	case "security scheme":
		return "securitySchemes"
	case "example":
		return "examples"
	case "link":
		return "links"
	case "callback":
		return "callbacks"
	}
	return escape(s)
}
