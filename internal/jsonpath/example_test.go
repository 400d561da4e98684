package jsonpath_test

import (
	"fmt"

	"github.com/rampart-gw/rampart/internal/jsonpath"
)

// Rewrite edits a document in place: it masks one value and removes
// another, and copies every other byte (key order, spacing, the long
// number) exactly as it was.
func ExampleRewrite() {
	doc := []byte(`{"id": 12345678901234567890, "user": {"ssn": "078-05-1120", "password": "hunter2"}, "tags": ["a"]}`)
	paths := []jsonpath.Path{jsonpath.MustParse("$.user.ssn"), jsonpath.MustParse("$.user.password")}
	out, n, err := jsonpath.Rewrite(doc, paths, func(m jsonpath.Match) (jsonpath.Edit, error) {
		if m.Path == 1 {
			return jsonpath.Edit{Remove: true}, nil
		}
		return jsonpath.Edit{Replace: jsonpath.AppendString(nil, "***-**-1120")}, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, string(out))
	// Output:
	// 2 {"id": 12345678901234567890, "user": {"ssn": "***-**-1120"}, "tags": ["a"]}
}

// Member names match after decoding, so an escaped name cannot dodge a
// path, and a repeated member cannot hide behind its twin.
func ExampleRewrite_escapes() {
	doc := []byte(`{"s\u0073n": "078-05-1120", "ssn": "219-09-9999"}`)
	_, n, _ := jsonpath.Rewrite(doc, []jsonpath.Path{jsonpath.MustParse("$.ssn")}, func(jsonpath.Match) (jsonpath.Edit, error) {
		return jsonpath.Edit{Remove: true}, nil
	})
	fmt.Println(n)
	// Output:
	// 2
}

// Parse reports where a path is wrong.
func ExampleParse() {
	_, err := jsonpath.Parse("$.user..name")
	fmt.Println(err)
	// Output:
	// jsonpath "$.user..name": at offset 7: expected member name or '*' after '.'
}
