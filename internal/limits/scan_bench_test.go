package limits

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRecordScanner: the records scanner over a 1,000-record JSON
// body (about 60 KiB), the work every streamed or buffered response of a
// records route pays.
func BenchmarkRecordScanner(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"meta":{"page":1,"next":"abc"},"items":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"name":"item %d","tags":["a","b"],"owner":{"id":"u%d"}}`, i, i, i)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	path := []string{"items"}
	folds := foldPath(path) // as the route's rule holds it
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s := newRecordScanner(path, folds, 0)
		_, _ = s.Write(body)
		if s.count != 1000 {
			b.Fatalf("counted %d", s.count)
		}
	}
}
