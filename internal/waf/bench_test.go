package waf

import (
	"context"
	"testing"
)

// BenchmarkNew compiles the CRS at PL1. Coraza caches compiled regular
// expressions process-wide, so iterations after the first reuse them (as a
// reload does while the old WAF is alive); Close each WAF to measure
// builds that do not.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w, err := New(Options{Paranoia: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(w.Stats().Rules), "rules")
		b.ReportMetric(float64(w.Stats().HeapBytes), "heap-B")
	}
}

func BenchmarkInspect(b *testing.B) {
	for _, pl := range []int{1, 2} {
		w := compiled(b, Options{Paranoia: pl, Profiles: []string{"json-api"}})
		for _, c := range []struct {
			name string
			req  *Request
		}{
			{"GET", get("/api/orders/42", "page=2&sort=createdAt")},
			{"JSON-1KiB", post("POST", "/api/orders", "application/json", legitJSON)},
		} {
			b.Run(c.name+"/PL"+string(rune('0'+pl)), func(b *testing.B) {
				b.ReportAllocs()
				ctx := context.Background()
				for b.Loop() {
					if _, err := w.Inspect(ctx, c.req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
