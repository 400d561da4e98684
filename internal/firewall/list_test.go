package firewall

import (
	"errors"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  string
	}{
		{"empty", "", nil, ""},
		{"comments and blanks", "# a list\n\n   \n# more\n", nil, ""},
		{"addresses and cidrs", "10.0.0.0/8\n192.0.2.1\n2001:db8::/32\n2001:db8::1\n", []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32", "2001:db8::1/128"}, ""},
		{"trailing comment and spaces", "  10.0.0.0/8   # office \n\t192.0.2.1#x", []string{"10.0.0.0/8", "192.0.2.1/32"}, ""},
		{"crlf", "10.0.0.0/8\r\n192.0.2.1\r\n", []string{"10.0.0.0/8", "192.0.2.1/32"}, ""},
		{"host bits masked", "10.1.2.3/8", []string{"10.0.0.0/8"}, ""},
		{"mapped", "::ffff:192.0.2.0/120\n::ffff:10.0.0.1", []string{"192.0.2.0/24", "10.0.0.1/32"}, ""},
		{"no final newline", "10.0.0.0/8", []string{"10.0.0.0/8"}, ""},
		{"bad entry", "10.0.0.0/8\n\n# x\nhost.example\n", nil, "list.txt:4: not an IP address"},
		{"two entries on a line", "10.0.0.0/8 10.1.0.0/16", nil, "list.txt:1:"},
		{"bad prefix length", "10.0.0.0/33", nil, "list.txt:1:"},
		{"zone", "\nfe80::1%eth0", nil, "list.txt:2: an address with a zone"},
		{"invalid utf-8", "\xff\xfe", nil, "list.txt:1: not valid UTF-8"},
		{"comma list", "10.0.0.1,10.0.0.2", nil, "list.txt:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseList("list.txt", []byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].String() != tt.want[i] {
					t.Errorf("[%d] = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
	big := make([]byte, maxFileBytes+1)
	if _, err := parseList("big.txt", big); err == nil || !strings.Contains(err.Error(), "big.txt: larger than") {
		t.Errorf("oversized file: %v", err)
	}
}

// FuzzParseList: the parser never panics, keeps only normalized networks,
// and its errors name the file and a line without quoting it.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		"", "10.0.0.0/8\n", "# c\n192.0.2.1 # x\r\n", "2001:db8::/32\n::ffff:10.0.0.0/104\n",
		"fe80::1%eth0\n", "1.2.3.4/33", "\xff", "::ffff:1.2.3.4/96", "#\n#\n\n", "1.2.3.4/-1", "/", "%",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseList("fuzz.txt", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.txt:") {
				t.Fatalf("error without the file name: %v", err)
			}
			if !errors.Is(err, errBadEntry) && !errors.Is(err, errZone) && !errors.Is(err, errBadUTF8) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		if len(got) > lines {
			t.Fatalf("%d networks from %d lines", len(got), lines)
		}
		for _, p := range got {
			if !p.IsValid() || Normalize(p) != p || p.Addr().Zone() != "" {
				t.Fatalf("not normalized: %v", p)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				t.Fatalf("mapped network kept: %v", p)
			}
		}
	})
}
