package dlp

import (
	"bytes"
	"testing"
)

var seeds = []string{
	`{"card":"4111 1111 1111 1111","email":"alice@example.com","ssn":"219-45-6789"}`,
	"Authorization: Bearer " + testJWT,
	"X-Api-Key: q8Zr3TfWm2LxP9vKa7Nc4Hd password=aB3dE5fG7hJ9kL1mN3pQ5",
	"-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----",
	"+1 (415) 555-0123 212-555-0199 DE89 3704 0044 0532 0130 00 AKIAIOSFODNN7EXAMPLE",
	"AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe xoxb-123456789012-1234567890123-AbCdEf",
	"logo@2x.png 1732700000000 0.4111111111111111 ssn 536221234",
	"",
}

func fuzzSeeds(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func checkFindings(t *testing.T, in []byte, fs []Finding) {
	t.Helper()
	last := 0
	for _, f := range fs {
		if f.Start < last || f.End <= f.Start || f.End > len(in) || kindIndex(f.Kind) < 0 {
			t.Fatalf("bad finding %+v (previous end %d, len %d) in %q", f, last, len(in), in)
		}
		last = f.End
	}
}

func FuzzFind(f *testing.F) {
	fuzzSeeds(f)
	s := MustNew()
	f.Fuzz(func(t *testing.T, in []byte) {
		fs := s.Find(in)
		checkFindings(t, in, fs)
		if len(s.FindString(string(in))) != len(fs) {
			t.Fatal("Find and FindString disagree")
		}
		checkFindings(t, in, s.FindNamed("client_secret", in))
		checkFindings(t, in, s.FindNamed("ssn", in))
		m, mfs := s.Mask(in)
		if len(fs) == 0 && (!bytes.Equal(m, in) || mfs != nil) {
			t.Fatal("Mask changed a finding-free input")
		}
	})
}

func FuzzStream(f *testing.F) {
	for i, s := range seeds {
		f.Add([]byte(s), uint16(i*7), uint16(i*31))
	}
	s := MustNew()
	f.Fuzz(func(t *testing.T, in []byte, a, b uint16) {
		want := s.Find(in)
		cuts := []int{int(a) % (len(in) + 1), int(b) % (len(in) + 1)}
		if cuts[0] > cuts[1] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		got, _ := streamFind(s, in, cuts)
		if len(got) != len(want) {
			t.Fatalf("stream %v, Find %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("stream %v, Find %v", got, want)
			}
		}
	})
}

func FuzzMask(f *testing.F) {
	fuzzSeeds(f)
	s := MustNew()
	strict := MustNew(Card, SSN, Email, JWT, AWSKey, GCPKey, SlackToken, GitHubToken, PrivateKey)
	f.Fuzz(func(t *testing.T, in []byte) {
		m, fs := s.Mask(in)
		if len(fs) == 0 {
			return
		}
		// Masking the masked output finds nothing new of these kinds:
		// nothing that was not already in the input around the findings.
		before := len(strict.Find(in))
		after := strict.Find(m)
		if len(after) > before {
			t.Fatalf("masked output %q has new findings %v (input %q)", m, after, in)
		}
		for _, f := range fs {
			if bytes.ContainsAny(MaskValue(f.Kind, in[f.Start:f.End]), "\"\\\x00\n\r\t") {
				t.Fatalf("mask of %s is not JSON-safe", f.Kind)
			}
		}
	})
}
