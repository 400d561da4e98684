package waf

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

// RuleRange is an inclusive range of rule ids; a single id has First ==
// Last. The zero value is not a valid range (rule ids start at 1).
type RuleRange struct {
	First, Last int
}

// maxRuleID bounds rule ids: ModSecurity ids are positive and CRS uses six
// digits; nine digits keep every id an int on every platform.
const maxRuleID = 999_999_999

// String returns the range in SecLang form: "942100" or "942000-942999".
func (r RuleRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(r.First)
	}
	return strconv.Itoa(r.First) + "-" + strconv.Itoa(r.Last)
}

// overlaps reports whether r and o share an id.
func (r RuleRange) overlaps(o RuleRange) bool { return r.First <= o.Last && o.First <= r.Last }

// ParseRuleRange parses a rule id ("942100") or an inclusive range of ids
// ("942000-942999"). Only ASCII digits are accepted: no sign, no spaces, no
// leading zeros, at most nine digits, the first id not above the last. The
// result is always safe to write into SecLang text.
func ParseRuleRange(s string) (RuleRange, error) {
	first, last, isRange := strings.Cut(s, "-")
	a, err := parseRuleID(first)
	if err != nil {
		return RuleRange{}, fmt.Errorf("rule range %q: %w", s, err)
	}
	if !isRange {
		return RuleRange{a, a}, nil
	}
	b, err := parseRuleID(last)
	if err != nil {
		return RuleRange{}, fmt.Errorf("rule range %q: %w", s, err)
	}
	if a > b {
		return RuleRange{}, fmt.Errorf("rule range %q: first id above the last", s)
	}
	return RuleRange{a, b}, nil
}

func parseRuleID(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty rule id")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			return 0, errors.New("rule id must be digits only")
		}
	}
	switch {
	case s[0] == '0':
		return 0, errors.New("rule id must be a positive number without leading zeros")
	case len(s) > 9:
		return 0, errors.New("rule id longer than 9 digits")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// targetCollections are the ModSecurity collections a target may name: the
// request's arguments, headers and cookies (and their names), the parts a
// legitimate application puts free-form data in. Anything else (TX, the
// URI, the body, response variables) is refused: excluding it would
// disable a rule rather than narrow it. ARGS_GET and ARGS_POST are refused
// too: the CRS inspects ARGS (query and body arguments together; no request
// rule names ARGS_POST, two name ARGS_GET), and Coraza removes a target
// only from rules that name that very collection, so "ARGS_POST:json.x"
// would silently exclude nothing. Write "ARGS:json.x".
var targetCollections = map[string]bool{
	"ARGS": true, "ARGS_NAMES": true,
	"REQUEST_HEADERS": true, "REQUEST_HEADERS_NAMES": true,
	"REQUEST_COOKIES": true, "REQUEST_COOKIES_NAMES": true,
}

// maxTargetKey bounds a target's key (a JSON path, header or cookie name).
const maxTargetKey = 256

// ValidateTarget checks a ModSecurity target such as "ARGS:json.comment",
// "REQUEST_HEADERS:User-Agent" or "REQUEST_COOKIES:session". The
// collection must be one of ARGS, ARGS_NAMES, REQUEST_HEADERS,
// REQUEST_HEADERS_NAMES, REQUEST_COOKIES or REQUEST_COOKIES_NAMES, in upper
// case (see targetCollections for why not ARGS_GET or ARGS_POST); the key, when
// present, is 1 to 256 characters of ASCII letters, digits and "._-" (JSON
// arguments are named "json.a.b", array elements "json.items.0"). No
// regular-expression keys, negation, counting, quotes, spaces, pipes,
// commas or newlines: a valid target can never change the meaning of the
// SecLang directive it is written into.
func ValidateTarget(s string) error {
	coll, key, hasKey := strings.Cut(s, ":")
	if strings.HasPrefix(coll, "ARGS_GET") || strings.HasPrefix(coll, "ARGS_POST") {
		return fmt.Errorf("target %q: the CRS inspects ARGS, not %s, so this would exclude nothing: write ARGS%s", s, coll, strings.TrimPrefix(strings.TrimPrefix(coll, "ARGS_GET"), "ARGS_POST"))
	}
	if !targetCollections[coll] {
		return fmt.Errorf("target %q: collection must be one of ARGS, ARGS_NAMES, REQUEST_HEADERS, REQUEST_HEADERS_NAMES, REQUEST_COOKIES, REQUEST_COOKIES_NAMES", s)
	}
	if !hasKey {
		return nil
	}
	if key == "" || len(key) > maxTargetKey {
		return fmt.Errorf("target %q: key must be 1 to %d characters", s, maxTargetKey)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("target %q: key may hold only ASCII letters, digits and . _ -", s)
		}
	}
	return nil
}

// crsRuleIDs returns the ids of the embedded CRS request rules, sorted,
// read once from the rule files' non-comment lines, so that an exclusion
// naming no rule is an error rather than a silent no-op.
var crsRuleIDs = sync.OnceValues(func() ([]int, error) {
	files, err := fs.Glob(coreruleset.FS, "@owasp_crs/REQUEST-*.conf")
	if err != nil {
		return nil, fmt.Errorf("listing the core rule set: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("listing the core rule set: no request rule files")
	}
	re := regexp.MustCompile(`\bid:'?(\d+)`)
	var ids []int
	for _, f := range files {
		raw, err := fs.ReadFile(coreruleset.FS, f)
		if err != nil {
			return nil, fmt.Errorf("reading the core rule set: %w", err)
		}
		for line := range strings.Lines(string(raw)) {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				if id, err := strconv.Atoi(m[1]); err == nil {
					ids = append(ids, id)
				}
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
})

// anyRule reports whether some id of ids (sorted) lies in r.
func anyRule(ids []int, r RuleRange) bool {
	i, _ := slices.BinarySearch(ids, r.First)
	return i < len(ids) && ids[i] <= r.Last
}
