package protect

import (
	"strings"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/jsonpath"
)

// detect finds what kind of value a masked field holds, for the "auto"
// style.
var detect = dlp.MustNew()

// mask returns the masked text of a field's plaintext (raw JSON) for
// those who may not read it:
//
//   - full: "********", whatever the value (its length does not leak);
//   - last4: every character but the last 4 becomes '*' (all of them when
//     the value has 8 characters or fewer);
//   - auto: when the whole value is something the DLP detectors know
//     (card, SSN, IBAN, e-mail, phone), its own mask ("***-**-6789");
//     else as last4.
//
// Objects and arrays are masked whole, as full.
func mask(style string, raw []byte) string {
	var s string
	switch {
	case len(raw) > 0 && raw[0] == '"':
		d, err := jsonpath.DecodeString(raw)
		if err != nil {
			return "********"
		}
		s = d
	case len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')):
		s = string(raw)
	default:
		return "********"
	}
	switch style {
	case "full":
		return "********"
	case "auto":
		t := strings.TrimSpace(s)
		if fs := detect.FindString(t); len(fs) == 1 && fs[0].Start == 0 && fs[0].End == len(t) {
			switch fs[0].Kind {
			case dlp.Card, dlp.SSN, dlp.IBAN, dlp.Email, dlp.Phone:
				return string(dlp.MaskValue(fs[0].Kind, []byte(t)))
			}
		}
	}
	n := utf8.RuneCountInString(s)
	if n <= 8 {
		return strings.Repeat("*", max(n, 4))
	}
	r := []rune(s)
	return strings.Repeat("*", n-4) + string(r[n-4:])
}

// sameSlice reports whether a and b are the same bytes in memory: the
// walkers return their input itself when they change nothing.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
