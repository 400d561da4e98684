package pathnorm

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"root", "/", "/", nil},
		{"plain", "/api/users/bob", "/api/users/bob", nil},
		{"unreserved escape", "/api/%61dmin/stats", "/api/admin/stats", nil},
		{"upper escape", "/api/%41dmin", "/api/Admin", nil},
		{"space", "/a%20b", "/a b", nil},
		{"utf8", "/caf%C3%A9", "/café", nil},
		{"well-known", "/.well-known/jwks.json", "/.well-known/jwks.json", nil},
		{"dots in names", "/a..b/c.d", "/a..b/c.d", nil},

		// Bypass attempts on /api/admin/stats (OWASP path confusion).
		{"double slash", "//api/admin/stats", "/api/admin/stats", nil},
		{"inner double slash", "/api//admin///stats", "/api/admin/stats", nil},
		{"trailing slash", "/api/admin/stats/", "/api/admin/stats", nil},
		{"trailing dot", "/api/admin/stats/.", "/api/admin/stats", nil},
		{"dot segment", "/api/./admin/stats", "/api/admin/stats", nil},
		{"dot dot", "/api/users/../admin/stats", "/api/admin/stats", nil},
		{"encoded dot dot", "/api/users/%2e%2e/admin/stats", "/api/admin/stats", nil},
		{"mixed encoded dots", "/api/users/.%2E/admin/stats", "/api/admin/stats", nil},
		{"encoded slash", "/api/admin%2fstats", "", ErrEncodedSlash},
		{"encoded slash upper", "/api/admin%2Fstats", "", ErrEncodedSlash},
		{"encoded backslash", "/api/admin%5cstats", "", ErrEncodedSlash},
		{"backslash", "/api\\admin", "", ErrBackslash},
		{"matrix", "/api/admin;x=1/stats", "", ErrSemicolon},
		{"encoded matrix", "/api/admin%3bx/stats", "", ErrSemicolon},
		{"double encoding", "/api/%2561dmin", "", ErrDoubleEncoding},
		{"nul", "/api/admin%00.json", "", ErrControl},
		{"raw control", "/api/\x01", "", ErrControl},
		{"del", "/api/%7f", "", ErrControl},
		{"overlong slash", "/api/%c0%af", "", ErrInvalidUTF8},
		{"overlong dot", "/api/%c0%ae%c0%ae/admin", "", ErrInvalidUTF8},
		{"invalid utf8", "/api/%ff", "", ErrInvalidUTF8},
		{"bad escape", "/api/%zz", "", ErrBadEscape},
		{"short escape", "/api/%4", "", ErrBadEscape},
		{"escape at end", "/api/%", "", ErrBadEscape},
		{"above root", "/../etc/passwd", "", ErrTraversal},
		{"encoded above root", "/api/%2e%2e/%2e%2e/etc", "", ErrTraversal},
		{"relative", "api/admin", "", ErrNotAbsolute},
		{"empty", "", "", ErrNotAbsolute},
		{"asterisk", "*", "", ErrNotAbsolute},
		{"absolute url", "http://evil/admin", "", ErrNotAbsolute},
		{"too long", "/" + strings.Repeat("a", MaxLength), "", ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCanonicalPathDoesNotAllocate(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		if _, err := Normalize("/api/users/bob/orders"); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}

// FuzzNormalize checks the invariants every stage relies on: the result is
// canonical (normalizing it again changes nothing), and it holds nothing an
// upstream could read as another path.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/api/%61dmin", "//a/../b/./c/", "/a%2fb", "/%c0%af", "/a;b", "/a%25", "/.%2e/x", "/caf%C3%A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Normalize(raw)
		if err != nil {
			return
		}
		if again, err := Normalize(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", raw, got, again, err)
		}
		if !strings.HasPrefix(got, "/") || (len(got) > 1 && strings.HasSuffix(got, "/")) {
			t.Fatalf("bad shape %q", got)
		}
		if strings.Contains(got, "//") || strings.Contains(got, "/./") || strings.Contains(got, "/../") ||
			strings.HasSuffix(got, "/.") || strings.HasSuffix(got, "/..") {
			t.Fatalf("unresolved segments in %q", got)
		}
		if strings.ContainsAny(got, "%;\\\x00") || !utf8.ValidString(got) {
			t.Fatalf("ambiguous byte in %q", got)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"canonical", "/api/users/bob/orders/1234"},
		{"escaped", "/api/users/b%6Fb/./orders//1234/"},
		{"long", "/" + strings.Repeat("segment/", 200) + "end"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Normalize(tc.path)
			}
		})
	}
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "q=a b", "x=%zz", "%", "caf\xc3\xa9", "a=1 HTTP/1.1\r\nHost: x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q := Query(raw)
		if Query(q) != q {
			t.Fatalf("not idempotent: %q -> %q -> %q", raw, q, Query(q))
		}
		for i := 0; i < len(q); i++ {
			if !queryByte(q, i) {
				t.Fatalf("byte %q left in %q", q[i], q)
			}
		}
	})
}
