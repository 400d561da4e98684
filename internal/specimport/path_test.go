package specimport

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
)

var pathTests = []struct {
	name, base, tmpl string
	want             string // "" for an error
	renamed          []string
	trailing         bool
}{
	{"root", "", "/", "/", nil, false},
	{"literal", "", "/users", "/users", nil, false},
	{"parameter", "", "/users/{id}", "/users/{id}", nil, false},
	{"base path", "/v1", "/users/{id}", "/v1/users/{id}", nil, false},
	{"base path with a slash", "/v1/", "/users", "/v1/users", nil, false},
	{"base path alone", "/v1", "/", "/v1", nil, true},
	{"trailing slash", "", "/users/", "/users", nil, true},
	{"dashed name", "", "/items/{item-id}", "/items/{item_id}", []string{"item-id -> item_id"}, false},
	{"dotted name", "", "/a/{a.b}", "/a/{a_b}", []string{"a.b -> a_b"}, false},
	{"digit first", "", "/a/{1x}", "/a/{_1x}", []string{"1x -> _1x"}, false},
	{"catch-all lookalike stays one segment", "", "/a/{rest...}", "/a/{rest___}", []string{"rest... -> rest___"}, false},
	{"two parameters", "", "/o/{org}/u/{user}", "/o/{org}/u/{user}", nil, false},

	// Not expressible: never a wider or other route.
	{"parameter in a segment", "", "/files/{name}.json", "", nil, false},
	{"two parameters in a segment", "", "/d/{from}-{to}", "", nil, false},
	{"empty parameter", "", "/a/{}", "", nil, false},
	{"unbalanced brace", "", "/a/{id", "", nil, false},
	{"nested braces", "", "/a/{{id}}", "", nil, false},
	{"empty segment", "", "/a//b", "", nil, false},
	{"dot segment", "", "/a/./b", "", nil, false},
	{"dot-dot segment", "", "/a/../b", "", nil, false},
	{"encoded literal", "", "/a%2Fb", "", nil, false},
	{"semicolon", "", "/a;v=1", "", nil, false},
	{"space", "", "/a b", "", nil, false},
	{"same name twice", "", "/a/{id}/b/{id}", "", nil, false},
	{"same name after renaming", "", "/a/{a-b}/b/{a_b}", "", nil, false},
	{"relative", "", "users", "", nil, false},
	{"bad base path", "/v 1", "/users", "", nil, false},
}

func TestPathPattern(t *testing.T) {
	for _, tt := range pathTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PathPattern(tt.base, tt.tmpl)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("PathPattern(%q, %q) = %q, want an error", tt.base, tt.tmpl, p.Path)
				}
				if !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), "path ") {
					t.Errorf("err = %v, want ErrTemplate naming the path", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Path != tt.want || !slices.Equal(p.Renamed, tt.renamed) || p.TrailingSlash != tt.trailing {
				t.Errorf("PathPattern(%q, %q) = %+v, want %q renamed %v trailing %v", tt.base, tt.tmpl, p, tt.want, tt.renamed, tt.trailing)
			}
		})
	}
}

// FuzzPathPattern checks that whatever template it gets, PathPattern
// never panics, and a pattern it returns is one config accepts with the
// template's segments in place: each literal as it was, each parameter
// still a parameter, none added, none dropped.
func FuzzPathPattern(f *testing.F) {
	for _, tt := range pathTests {
		f.Add(tt.base, tt.tmpl)
	}
	f.Fuzz(func(t *testing.T, base, tmpl string) {
		p, err := PathPattern(base, tmpl)
		if err != nil {
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("error %v does not wrap ErrTemplate", err)
			}
			return
		}
		if err := config.CheckPathPattern(p.Path); err != nil {
			t.Fatalf("PathPattern(%q, %q) = %q, which config refuses: %v", base, tmpl, p.Path, err)
		}
		full := strings.TrimRight(base, "/") + tmpl
		if p.TrailingSlash {
			full = full[:len(full)-1]
		}
		in, out := strings.Split(full, "/"), strings.Split(p.Path, "/")
		if full == "/" {
			in = []string{"", ""}
		}
		if p.Path == "/" {
			out = []string{"", ""}
		}
		if len(in) != len(out) {
			t.Fatalf("PathPattern(%q, %q) = %q: segment count changed", base, tmpl, p.Path)
		}
		for i := range in {
			param := strings.HasPrefix(in[i], "{")
			if param != strings.HasPrefix(out[i], "{") || (!param && in[i] != out[i]) || strings.HasSuffix(out[i], "...}") {
				t.Fatalf("PathPattern(%q, %q) = %q: segment %d %q became %q", base, tmpl, p.Path, i, in[i], out[i])
			}
		}
	})
}
