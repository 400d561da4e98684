package dlp

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
)

// apiResponse returns about 16 KiB of a realistic JSON API response: ids,
// UUIDs, timestamps, prices, URLs, prose, hashes, with no sensitive value.
func apiResponse() []byte {
	r := rand.New(rand.NewPCG(16, 16))
	g := &gen{r: r}
	var b bytes.Buffer
	b.WriteString(`{"object":"list","has_more":true,"url":"/v1/orders","data":[`)
	for i := 0; b.Len() < 16<<10-700; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"ord_%s","object":"order","request_id":"%s","created":%d,"updated_at":"2024-11-27T10:%02d:%02d.%03dZ",`+
			`"amount":%d,"amount_decimal":"%d.%02d","currency":"eur","status":"%s","customer":{"id":"cus_%s","name":"%s %s","locale":"de-DE"},`+
			`"items":[{"sku":"SKU-%05d","qty":%d,"price":%d.%02d,"description":"Ergonomic widget, model %d, colour %s"}],`+
			`"etag":"W/\"%s\"","links":{"self":"https://api.example.com/v1/orders/%d?expand=items&version=2.10.3"},"score":0.%d}`,
			g.chars(14, alnum), uuid(g), 1732700000+r.IntN(1e6), r.IntN(60), r.IntN(60), r.IntN(1000),
			r.IntN(100000), r.IntN(1000), r.IntN(100), g.pick("paid", "pending", "refunded"), g.chars(14, alnum),
			g.pick("Alice", "Bob", "Carol"), g.pick("Smith", "Jones"), r.IntN(100000), 1+r.IntN(9), r.IntN(500), r.IntN(100),
			r.IntN(1000), g.pick("red", "blue", "green"), g.chars(32, hexLower), 100000+r.IntN(900000), r.Int64N(1e15))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// withFindings puts a few sensitive values into the response.
func withFindings() []byte {
	b := apiResponse()
	b = bytes.Replace(b, []byte(`"locale":"de-DE"`), []byte(`"email":"alice@example.com"`), 1)
	b = bytes.Replace(b, []byte(`"currency":"eur"`), []byte(`"card":"4111 1111 1111 1111"`), 1)
	b = bytes.Replace(b, []byte(`"status":"paid"`), []byte(`"token":"`+testJWT+`"`), 1)
	b = bytes.Replace(b, []byte(`"object":"order"`), []byte(`"client_secret":"q8Zr3TfWm2LxP9vKa7Nc4Hd"`), 1)
	return b
}

func TestBenchInputs(t *testing.T) {
	s := MustNew()
	clean := apiResponse()
	if fs := s.Find(clean); len(fs) != 0 {
		for _, f := range fs {
			t.Errorf("clean response has %s %q", f.Kind, clean[f.Start:f.End])
		}
	}
	if n := len(s.Find(withFindings())); n != 4 {
		t.Errorf("response with findings has %d, want 4", n)
	}
	if a := testing.AllocsPerRun(10, func() { s.Find(clean) }); a != 0 {
		t.Errorf("Find on a clean response: %v allocations", a)
	}
}

func BenchmarkFindClean(b *testing.B) {
	s, in := MustNew(), apiResponse()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s.Find(in)
	}
}

func BenchmarkFindFindings(b *testing.B) {
	s, in := MustNew(), withFindings()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s.Find(in)
	}
}

func BenchmarkMask(b *testing.B) {
	s, in := MustNew(), withFindings()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s.Mask(in)
	}
}

func BenchmarkStream(b *testing.B) {
	s := MustNew()
	in := bytes.Repeat(withFindings(), 8) // 128 KiB in 4 KiB chunks
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		st := s.NewStream()
		for i := 0; i < len(in); i += 4096 {
			st.Write(in[i:min(i+4096, len(in))])
		}
		st.Close()
	}
}

func BenchmarkSlogClean(b *testing.B) {
	log := slog.New(NewRedactingHandler(slog.NewJSONHandler(io.Discard, nil), MustNew()))
	b.ReportAllocs()
	for b.Loop() {
		log.Info("request served", "method", "GET", "path", "/v1/orders/12345", "status", 200, "request_id", "5f98caf6-a342-4a68-a207-cf93ada63c82")
	}
}

func BenchmarkSlogFindings(b *testing.B) {
	log := slog.New(NewRedactingHandler(slog.NewJSONHandler(io.Discard, nil), MustNew()))
	b.ReportAllocs()
	for b.Loop() {
		log.Info("login", "user", "alice@example.com", "password", "q8Zr3TfWm2LxP9vKa7Nc4Hd", "status", 200)
	}
}

func BenchmarkSlogBaseline(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		log.Info("request served", "method", "GET", "path", "/v1/orders/12345", "status", 200, "request_id", "5f98caf6-a342-4a68-a207-cf93ada63c82")
	}
}
