package openapi

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// positions maps every JSON pointer of the document to where its value
// starts, so that a problem kin-openapi reports by context can be shown
// with a line number.
type positions yamlpos.Index

func index(data []byte) (positions, *yamlpos.SyntaxError) {
	p, err := yamlpos.New(data)
	if err != nil {
		se, ok := errorsAs[*yamlpos.SyntaxError](err)
		if !ok {
			se = &yamlpos.SyntaxError{Msg: err.Error(), Err: err}
		}
		return nil, se
	}
	return positions(p), nil
}

func syntaxErrorAt(e *yamlpos.SyntaxError, source string) *Error {
	return &Error{Source: source, Line: e.Line, Column: 1, Msg: e.Msg, Err: e.Err}
}

func escape(s string) string { return yamlpos.Escape(s) }

func (p positions) errorAt(source, ptr, msg string, err error) *Error {
	at, v := yamlpos.Index(p).Locate(ptr)
	if at == "" && ptr != "" {
		// Keep the pointer the problem names even when the node is
		// absent (a missing required field); the line is its parent's.
		at = ptr
	}
	return &Error{Source: source, Pointer: at, Line: v.Line, Column: v.Column, Msg: msg, Err: err}
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
			if strings.HasSuffix(ptr, "/$ref") && v.IsScalar && v.Scalar == ref {
				return &Error{Source: source, Pointer: ptr, Line: v.Line, Column: v.Column, Msg: "resolving $ref: " + msg, Err: err}
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
