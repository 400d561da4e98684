// Package config owns rampart.yaml: its data-only types (whose doc comments
// are the user documentation and the JSON Schema), strict decoding, the
// defaults, and validation.
//
// Loading is three pure steps, so that nothing is parsed on the request
// path and no problem is reported alone:
//
//  1. Decode walks the YAML node tree against the types. Unknown fields
//     (with a "did you mean"), duplicate keys, wrong types, anchors that
//     expand past a bound and merge keys are problems, each with its path
//     (routes[2].upstream) and line.
//  2. SetDefaults fills every unset field, in one place.
//  3. Validate checks values and cross-references (a route's upstream
//     exists, CIDRs parse, the admin listener stays on loopback) and returns
//     every problem with its path; Load adds the line of each.
//
// Sections of stages that this build does not have yet decode as Reserved
// and are refused by Validate, so that no config can believe it enabled a
// protection that does not exist. Each stage's package compiles its own
// section into runtime values in its New.
//
// It imports only the standard library and the YAML parser.
package config
