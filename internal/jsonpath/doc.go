// Package jsonpath rewrites JSON documents in place, byte for byte, at the
// values selected by a small subset of JSONPath (RFC 9535).
//
// The gateway uses it for field-level encryption, decryption, masking and
// removal in request and response bodies, and to scan every string and
// number value for sensitive data. Decoding into map[string]any and encoding
// again would reorder keys, reformat whitespace and lose number precision, so
// Rewrite and Scalars walk the raw bytes once, validate them as they go and
// copy everything they do not change exactly as it was.
//
// The package owns three things: compiling paths (Parse), the single-pass
// validating walk with its edits (Rewrite, Scalars), and the JSON string
// token helpers the callers need to build replacements (DecodeString,
// AppendString). It does not validate documents against schemas, does not
// know about encryption, keys or masking policies, and does not check that a
// replacement supplied by a callback is valid JSON: that is the caller's
// contract.
//
// # Paths
//
// The supported grammar is
//
//	$                      the root
//	.name                  member (name: [A-Za-z_][A-Za-z0-9_-]*)
//	['any name'] ["..."]   member with any name
//	[N]                    array element N (0 <= N <= 2147483647, no leading zeros)
//	[*]                    every element of an array
//	.*                     every member of an object
//
// Quoted names take the escapes \' \" \\ \/ \b \f \n \r \t and \uXXXX
// (surrogate pairs combine; a lone surrogate is an error) and must be valid
// UTF-8. Unlike RFC 9535, selectors are typed: [*] and [N] select only array
// elements and .* and names select only object members. There are no filters,
// slices, negative indexes or descendant (..) segments.
//
// # Matching
//
// Member names are compared after decoding, so {"s\u0073n": 1} matches $.ssn:
// escapes cannot be used to dodge a path. When an object has duplicate member
// names, every occurrence matches (encoding/json would keep only the last,
// other parsers the first; an attacker must not be able to hide a field by
// repeating it).
//
// # Validity
//
// Rewrite and Scalars accept exactly the documents json.Valid accepts, except
// that nesting deeper than 128 arrays and objects is refused (ErrTooDeep).
// Like encoding/json, bytes that are not valid UTF-8 are accepted inside
// strings and left untouched in the output; when a member name or a string
// is decoded (path matching, Scalars names, DecodeString) each invalid byte
// becomes U+FFFD, exactly as json.Unmarshal does. Outside strings any byte
// that is not JSON syntax is an error. Two different raw names can therefore
// decode to the same name (as they do for encoding/json); a caller that
// forwards documents to parsers with other policies, and wants no doubt about
// names, should refuse documents for which utf8.Valid is false (only strings
// can hold non-ASCII bytes, so that checks exactly the strings).
package jsonpath
