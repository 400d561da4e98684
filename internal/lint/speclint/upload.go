package speclint

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// binary reports whether a schema holds file content.
func binary(s *openapi3.Schema) bool {
	if s == nil {
		return false
	}
	f := strings.ToLower(s.Format)
	return (s.Type.Includes("string") || s.Type.IsEmpty()) && (f == "binary" || f == "byte" || f == "base64" || s.ContentEncoding != "" || s.ContentMediaType != "")
}

// looseType reports whether a media type admits any content.
func looseType(mt string) bool {
	mt = strings.TrimSpace(strings.ToLower(mt))
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	return mt == "" || mt == "application/octet-stream" || strings.HasSuffix(mt, "/*") || strings.Contains(mt, ",")
}

// structured reports whether a media type carries a document rather than
// a file.
func structured(mt string) bool {
	return strings.Contains(mt, "json") || strings.Contains(mt, "xml") || strings.HasPrefix(mt, "text/") ||
		mt == "application/x-www-form-urlencoded"
}

// upload checks a request media type that takes files for a size and a
// type bound.
func (r *run) upload(m *openapi3.MediaType, ptr, mt string, a about) {
	var s *openapi3.Schema
	sptr := ptr + "/schema"
	if m.Schema != nil && m.Schema.Value != nil {
		s = m.Schema.Value
		sptr = refAt(m.Schema.Ref, sptr)
	}
	if strings.HasPrefix(mt, "multipart/") {
		if s == nil {
			return
		}
		for _, name := range sortedKeys(s.Properties) {
			r.uploadPart(m, s.Properties[name], ptrJoin(sptr, "properties", name), name, a)
		}
		return
	}
	if structured(mt) && !binary(s) {
		return
	}
	if s == nil || s.MaxLength == nil {
		r.report(&ruleUploadBounds, cond(s == nil, ptr, sptr), a, "size", "The %s upload has no size bound (maxLength).", mt)
	}
	if looseType(mt) && (s == nil || s.ContentMediaType == "" || looseType(s.ContentMediaType)) {
		r.report(&ruleUploadBounds, ptr, a, "type", "The %s upload accepts any file type.", mt)
	}
}

func (r *run) uploadPart(m *openapi3.MediaType, ref *openapi3.SchemaRef, ptr, name string, a about) {
	if ref == nil || ref.Value == nil {
		return
	}
	p := ref.Value
	if p.Type.Includes("array") && p.Items != nil && p.Items.Value != nil {
		p = p.Items.Value
		ptr += "/items"
	}
	if !binary(p) {
		return
	}
	if p.MaxLength == nil {
		r.report(&ruleUploadBounds, ptr, a, name+" size", "The multipart file part %s has no size bound (maxLength).", name)
	}
	typed := p.ContentMediaType != "" && !looseType(p.ContentMediaType)
	if enc := m.Encoding[name]; enc != nil && enc.ContentType != "" && !looseType(enc.ContentType) {
		typed = true
	}
	if !typed {
		r.report(&ruleUploadBounds, ptr, a, name+" type", "The multipart file part %s accepts any file type (no encoding contentType).", name)
	}
}
