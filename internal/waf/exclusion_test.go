package waf

import (
	"strings"
	"testing"
)

func TestParseRuleRange(t *testing.T) {
	tests := []struct {
		in      string
		want    RuleRange
		wantErr string
	}{
		{"942100", RuleRange{942100, 942100}, ""},
		{"942000-942999", RuleRange{942000, 942999}, ""},
		{"1", RuleRange{1, 1}, ""},
		{"5-5", RuleRange{5, 5}, ""},
		{"999999999", RuleRange{999999999, 999999999}, ""},
		{"", RuleRange{}, "empty rule id"},
		{"0", RuleRange{}, "leading zeros"},
		{"0942100", RuleRange{}, "leading zeros"},
		{"-1", RuleRange{}, "empty rule id"},
		{"+1", RuleRange{}, "digits only"},
		{"1000000000", RuleRange{}, "longer than 9 digits"},
		{"942999-942000", RuleRange{}, "first id above the last"},
		{"942000-", RuleRange{}, "empty rule id"},
		{"1-2-3", RuleRange{}, "digits only"},
		{" 942100", RuleRange{}, "digits only"},
		{"942100\nSecRuleEngine Off", RuleRange{}, "digits only"},
		{"942100 942101", RuleRange{}, "digits only"},
		{"٣", RuleRange{}, "digits only"}, // Arabic-Indic digit three
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRuleRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRuleRange(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRuleRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseRuleRange(f *testing.F) {
	for _, s := range []string{"942100", "942000-942999", "0", "-1", "1-", "1--2", "999999999-1", "9999999999", "1\n2", "1 2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRuleRange(s)
		if err != nil {
			return
		}
		if r.First < 1 || r.Last > maxRuleID || r.First > r.Last {
			t.Fatalf("ParseRuleRange(%q) = %v: out of bounds", s, r)
		}
		out := r.String()
		if strings.Trim(out, "0123456789-") != "" || strings.Count(out, "-") > 1 {
			t.Fatalf("%v renders as %q: not digits and one dash", r, out)
		}
		if back, err := ParseRuleRange(out); err != nil || back != r {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", s, r, out, back, err)
		}
	})
}

func TestValidateTarget(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"ARGS:json.comment", ""},
		{"ARGS:json.items.0.note", ""},
		{"ARGS:q", ""},
		{"ARGS_NAMES:json.user_name", ""},
		{"ARGS_POST:json.user_name", "write ARGS"},
		{"ARGS_GET:q", "write ARGS"},
		{"ARGS_GET_NAMES", "write ARGS_NAMES"},
		{"REQUEST_HEADERS:User-Agent", ""},
		{"REQUEST_COOKIES:session", ""},
		{"REQUEST_COOKIES", ""},
		{"ARGS_NAMES", ""},
		{"", "collection must be one of"},
		{"args:q", "collection must be one of"},
		{"TX:anomaly_score", "collection must be one of"},
		{"REQUEST_URI", "collection must be one of"},
		{"!ARGS:q", "collection must be one of"},
		{"&ARGS", "collection must be one of"},
		{"ARGS:", "key must be 1 to"},
		{"ARGS:" + strings.Repeat("a", 257), "key must be 1 to"},
		{"ARGS:/^json\\./", "key may hold only"},
		{"ARGS:q|TX:x", "key may hold only"},
		{"ARGS:q,REQUEST_URI", "key may hold only"},
		{"ARGS:q\"", "key may hold only"},
		{"ARGS:q'", "key may hold only"},
		{"ARGS:q x", "key may hold only"},
		{"ARGS:q\nSecRuleEngine Off", "key may hold only"},
		{"ARGS:q\\", "key may hold only"},
		{"ARGS:a:b", "key may hold only"},
		{"ARGS:é", "key may hold only"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateTarget(tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ValidateTarget(%q) = %v", tt.in, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ValidateTarget(%q) = %v, want error %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

// FuzzValidateTarget: a target that validates is one SecLang token that
// cannot end a directive, open a quoted string, add a variable or negate
// one, and the directive text built from it has one line per range.
func FuzzValidateTarget(f *testing.F) {
	for _, s := range []string{"ARGS:json.comment", "REQUEST_HEADERS:User-Agent", "ARGS:q|ARGS", "ARGS:\"x", "TX:x", "ARGS:x\nSecRuleEngine Off", "REQUEST_COOKIES"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateTarget(s) != nil {
			return
		}
		if strings.ContainsAny(s, " \t\r\n\"'|,!&/\\\x00") {
			t.Fatalf("ValidateTarget accepted %q", s)
		}
		coll, _, _ := strings.Cut(s, ":")
		if !targetCollections[coll] {
			t.Fatalf("ValidateTarget accepted collection %q", coll)
		}
		opts := Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{942100, 942100}, {941000, 941999}}, Target: s}}}
		text, err := directives(&opts)
		if err != nil {
			t.Fatalf("directives with valid target %q: %v", s, err)
		}
		want := "SecRuleUpdateTargetById 942100 !" + s + "\nSecRuleUpdateTargetById 941000-941999 !" + s + "\n"
		if !strings.HasSuffix(text, want) {
			t.Fatalf("directives with target %q end %q", s, text[max(0, len(text)-200):])
		}
	})
}
