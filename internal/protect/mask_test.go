package protect

import "testing"

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		style, raw, want string
	}{
		{"auto", `"536-22-6789"`, "***-**-6789"},
		{"auto", `"4111 1111 1111 1111"`, "**** **** **** 1111"},
		{"auto", `4111111111111111`, "************1111"},
		{"auto", `"ann@example.com"`, "a***@example.com"},
		{"auto", `"a long free text value"`, "******************alue"},
		{"auto", `"short"`, "*****"},
		{"auto", `"ab"`, "****"},
		{"last4", `"536-22-6789"`, "*******6789"},
		{"full", `"536-22-6789"`, "********"},
		{"auto", `{"a":1}`, "********"},
		{"auto", `true`, "********"},
		{"auto", `"caf\u00e9 au lait, s'il vous pla\u00eet"`, "*************************laît"}, // runes, not bytes
	} {
		if got := mask(tc.style, []byte(tc.raw)); got != tc.want {
			t.Errorf("mask(%s, %s) = %q, want %q", tc.style, tc.raw, got, tc.want)
		}
	}
}
