// Package config owns rampart.yaml: its data-only types (whose doc
// comments are the user documentation, the generated Markdown Reference
// and the JSONSchema), strict decoding, the defaults, and validation.
//
// Parse (and Load, which reads a file of at most MaxFileSize) runs three
// pure steps, so that nothing is parsed on the request path and no problem
// is reported alone:
//
//  1. Decoding walks the YAML node tree against the types. Unknown fields
//     (with a "did you mean"), duplicate keys, wrong types, anchors that
//     expand past a bound and merge keys are problems, each with its path
//     (routes[2].upstream) and line.
//  2. SetDefaults fills every unset field, in one place.
//  3. Validate checks values and cross-references (a route's upstream
//     exists, CIDRs parse, the admin listener stays on loopback) and returns
//     every error and warning with its path; paths under a decoding
//     problem are not validated.
//
// Parse adds each problem's line, fails on any error, and returns the
// warnings either way.
//
// Each stage's package compiles its own section into runtime values in its
// New (the waf and openapi blocks in package inputs, which also reads the
// OpenAPI files: Validate reads none).
//
// It imports only the standard library, the YAML parser and
// internal/jsonpath (to check protected field paths).
package config
