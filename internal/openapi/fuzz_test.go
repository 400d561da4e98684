package openapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoadData feeds arbitrary documents to the loader: it must return a
// spec or an *Error, never panic or hang.
func FuzzLoadData(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{b}":{"get":{"responses":{"200":{"description":"x"}}}}}}`))
	f.Add([]byte("openapi: 3.0.0\na: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		type result struct {
			s   *Spec
			err error
		}
		done := make(chan result, 1)
		go func() {
			s, err := LoadData(context.Background(), data, "", Options{})
			done <- result{s, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("LoadData hangs on %q", data)
		}
		s, err := r.s, r.err
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		for _, o := range s.Operations {
			_ = o.Parameters()
			_ = s.RequiresAuth(o)
		}
	})
}
