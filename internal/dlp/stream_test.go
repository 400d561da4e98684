package dlp

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func streamFind(s *Scanner, in []byte, cuts []int) ([]Finding, map[Kind]int) {
	st := s.NewStream()
	last := 0
	for _, c := range cuts {
		st.Write(in[last:c])
		last = c
	}
	st.Write(in[last:])
	fs := st.Close()
	return fs, st.Counts()
}

// TestStreamSplits writes inputs in two chunks, at every split point, and
// expects exactly what Find reports on the whole input.
func TestStreamSplits(t *testing.T) {
	s := MustNew()
	inputs := []string{
		`{"card":"4111 1111 1111 1111","email":"alice@example.com","ssn":"219-45-6789"}`,
		"Authorization: Bearer " + testJWT + "\nX-Api-Key: q8Zr3TfWm2LxP9vKa7Nc4Hd\n",
		"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----+1 (415) 555-0123 DE89 3704 0044 0532 0130 00",
	}
	for _, in := range inputs {
		want := s.Find([]byte(in))
		if len(want) < 2 {
			t.Fatalf("%q: only %d findings", in, len(want))
		}
		for cut := 0; cut <= len(in); cut++ {
			got, counts := streamFind(s, []byte(in), []int{cut})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("split at %d of %q:\n got  %v\n want %v", cut, in, got, want)
			}
			if n := sum(counts); n != len(want) {
				t.Fatalf("counts %v for %d findings", counts, len(want))
			}
		}
	}
}

func sum(m map[Kind]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestStreamLong checks a body far longer than the tail window, with values
// (including a private key of several KiB) straddling random chunk
// boundaries.
func TestStreamLong(t *testing.T) {
	s := MustNew()
	g := &gen{r: rand.New(rand.NewPCG(7, 7)), decoys: map[Kind]int{}}
	var b strings.Builder
	for b.Len() < 300<<10 {
		switch g.r.IntN(6) {
		case 0:
			b.WriteString(g.formatCard(g.cardDigits()))
		case 1:
			b.WriteString(g.email())
		case 2:
			b.WriteString(g.pem(g.r.IntN(2) == 0))
		case 3:
			b.WriteString(`"client_secret": "` + g.secretValue() + `"`)
		case 4:
			b.WriteString(strings.Repeat("lorem ipsum 2024-11-27 1732700000000 ", g.r.IntN(400)))
		default:
			b.WriteString(g.jwt())
		}
		b.WriteString(" ; ")
	}
	in := []byte(b.String())
	want := s.Find(in)
	if len(want) < 100 {
		t.Fatalf("only %d findings", len(want))
	}
	for trial := 0; trial < 20; trial++ {
		var cuts []int
		for c := g.r.IntN(3000); c < len(in); c += 1 + g.r.IntN([]int{10, 3000, 70000}[trial%3]) {
			cuts = append(cuts, c)
		}
		got, _ := streamFind(s, in, cuts)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: %d findings, want %d", trial, len(got), len(want))
		}
	}
	// The stream holds a bounded tail, not the body.
	st := s.NewStream()
	for i := 0; i < len(in); i += 1000 {
		st.Write(in[i:min(i+1000, len(in))])
		if cap(st.buf) > 4*lookAhead+2*chunk {
			t.Fatalf("stream buffer grew to %d", cap(st.buf))
		}
	}
	st.Close()
}

func TestStreamAfterClose(t *testing.T) {
	st := MustNew().NewStream()
	st.Write([]byte("a@example.com "))
	if n := len(st.Close()); n != 1 {
		t.Fatalf("%d findings", n)
	}
	if n, err := st.Write([]byte("b@example.com")); n != 13 || err != nil {
		t.Fatal(n, err)
	}
	if n := len(st.Close()); n != 1 || len(st.Findings()) != 1 {
		t.Fatalf("%d findings after close", n)
	}
}
