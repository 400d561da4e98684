package jsonpath

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// benchDoc is a realistic ~4 KiB order document.
var benchDoc = func() []byte {
	var b strings.Builder
	b.WriteString(`{
  "id": "ord_01HZX3K9Q2J8",
  "created": "2024-05-01T12:34:56.789Z",
  "ssn": "123-45-6789",
  "customer": {"name": "Ann O'Neil", "phone": "+1-555-0100", "address": {"street": "1 Main St", "city": "Springfield", "zip": "01101"}},
  "card": {"number": "4111111111111111", "expiry": "12/29", "holder": "ANN ONEIL", "brand": "visa"},
  "amount": 1234.5678901234567890,
  "currency": "USD",
  "tags": ["priority", "gift", "\u00e9t\u00e9"],
  "items": [`)
	for i := range 23 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `
    {"sku": "SKU-%05d", "qty": %d, "price": %d.99, "email": "buyer%d@example.com", "note": "Handle with care; fragile item number %d", "flags": [true, false, null]}`, i*37, i+1, i*3+1, i, i)
	}
	b.WriteString(`
  ],
  "meta": {"source": "web", "ip": "203.0.113.7", "ua": "Mozilla/5.0 (X11; Linux x86_64)", "attempt": 1}
}`)
	return []byte(b.String())
}()

var benchPaths = []Path{MustParse("$.ssn"), MustParse("$.card.number"), MustParse("$.items[*].email")}

func TestBenchDoc(t *testing.T) {
	if !json.Valid(benchDoc) || len(benchDoc) < 3500 || len(benchDoc) > 4600 {
		t.Fatalf("bench doc: %d bytes, valid %v", len(benchDoc), json.Valid(benchDoc))
	}
	_, n, err := Rewrite(benchDoc, benchPaths, nil)
	if err != nil || n != 25 {
		t.Fatalf("matches %d, %v", n, err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := Rewrite(benchDoc, benchPaths, func(Match) (Edit, error) { return Edit{}, nil }); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Rewrite without edits: %v allocs, want 0", allocs)
	}
}

func BenchmarkRewrite(b *testing.B) {
	b.Run("NoEdit", func(b *testing.B) {
		b.SetBytes(int64(len(benchDoc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Rewrite(benchDoc, benchPaths, func(Match) (Edit, error) { return Edit{}, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("NoMatch", func(b *testing.B) {
		paths := []Path{MustParse("$.nope"), MustParse("$.card.cvv"), MustParse("$.items[*].x")}
		b.SetBytes(int64(len(benchDoc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Rewrite(benchDoc, paths, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Replace", func(b *testing.B) {
		repl := []byte(`"enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`)
		b.SetBytes(int64(len(benchDoc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Rewrite(benchDoc, benchPaths, func(Match) (Edit, error) { return Edit{Replace: repl}, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Remove", func(b *testing.B) {
		b.SetBytes(int64(len(benchDoc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Rewrite(benchDoc, benchPaths, func(Match) (Edit, error) { return Edit{Remove: true}, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkScalars(b *testing.B) {
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Scalars(benchDoc, func(string, []byte, Kind) (Edit, error) { return Edit{}, nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONValid(b *testing.B) {
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		if !json.Valid(benchDoc) {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkUnmarshalMarshal is the reference: decode into any and encode
// again (which also reorders keys and rounds numbers).
func BenchmarkUnmarshalMarshal(b *testing.B) {
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(benchDoc, &v); err != nil {
			b.Fatal(err)
		}
		m := v.(map[string]any)
		m["ssn"] = "enc"
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
