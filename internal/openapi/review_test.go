package openapi

import (
	"context"
	"testing"
	"unicode/utf16"
)

func utf16le(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range utf16.Encode([]rune(s)) {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

// TestReviewAnchorsUTF16 (review of issue 16): a UTF-16 document (YAML
// 1.2 allows it, with a BOM) has a 0x00 byte before each '&', so
// mayHaveAnchors says false and kin-openapi parses it beside the index,
// before the index's alias bounds have passed.
func TestReviewAnchorsUTF16(t *testing.T) {
	doc := "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths: {}\nx-a: &a [1, 2]\nx-b: *a\n"
	if !mayHaveAnchors([]byte(doc)) {
		t.Fatal("UTF-8 document: no anchor seen")
	}
	data := utf16le(doc)
	if !mayHaveAnchors(data) {
		t.Errorf("UTF-16LE document with an anchor: mayHaveAnchors = false")
	}
	_, err := LoadData(context.Background(), data, "", Options{})
	t.Logf("LoadData(UTF-16LE): %v", err)
}
