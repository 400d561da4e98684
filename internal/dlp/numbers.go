package dlp

// Numeric detectors: cards, SSNs and phone numbers.

// numeric examines the digit run starting at i (the byte before it is not
// alphanumeric). It reads the digit groups that follow, joined by one
// consistent separator (space, dash or dot), and tries the card, SSN and
// NANP layouts on them. A value must be the whole number: a digit, a letter,
// or a separator followed by a digit on either side makes it part of a
// longer one (order ids, decimals, dates, IPs).
func numeric[T input](s *Scanner, b T, i int, st *state) (k, start, end, next int) {
	n := len(b)
	var gl [8]int // group lengths
	var ge [8]int // group ends
	ng := 0
	var sep byte
	j := i
	for {
		g := j
		for j < n && j-g < 20 && isDigit(b[j]) {
			j++
		}
		gl[ng], ge[ng] = j-g, j
		ng++
		if ng == len(gl) || j-g == 20 {
			break
		}
		c := byteAt(b, j)
		if (c == ' ' || c == '-' || c == '.') && (sep == 0 || sep == c) && isDigit(byteAt(b, j+1)) {
			sep = c
			j++
			continue
		}
		break
	}
	next = ge[0]
	prev, prev2 := byteAt(b, i-1), byteAt(b, i-2)
	if prev == '_' || prev == '+' {
		return -1, 0, 0, next
	}
	prevNum := (prev == '.' || prev == '-') && isDigit(prev2)
	prevSpaceNum := prev == ' ' && isDigit(prev2)

	if prevNum {
		return -1, 0, 0, next
	}
	// Only the whole run, or its first group when the separator is a space
	// (a number followed by another), can be a value.
	cands := [2]int{ng, 0}
	if ng > 1 && sep == ' ' {
		cands[1] = 1
	}
	for _, cand := range cands {
		if cand == 0 {
			break
		}
		cs := sep
		if cand == 1 {
			cs = 0
		}
		if prevSpaceNum && cs == ' ' {
			continue
		}
		e := ge[cand-1]
		if a, a2 := byteAt(b, e), byteAt(b, e+1); isWord(a) || ((a == '.' || a == '-') && isDigit(a2)) || (a == ' ' && cs == ' ' && isDigit(a2)) {
			continue
		}
		g := gl[:cand]
		if s.on[kCard] && (cs == 0 || cs == ' ' || cs == '-') && cardLayout(g) {
			var d [19]byte
			nd := 0
			for p := i; p < e; p++ {
				if isDigit(b[p]) {
					d[nd] = b[p]
					nd++
				}
			}
			if luhn(d[:nd]) && cardBrand(d[:nd]) {
				return kCard, i, e, 0
			}
		}
		if s.on[kSSN] {
			if cand == 3 && (cs == '-' || cs == ' ') && g[0] == 3 && g[1] == 2 && g[2] == 4 && ssnValid(b, i, i+4, i+7) {
				return kSSN, i, e, 0
			}
			if cand == 1 && g[0] == 9 && (st.namedSSN || ssnKeywordBefore(b, i)) && ssnValid(b, i, i+3, i+5) {
				return kSSN, i, e, 0
			}
		}
		if s.on[kPhone] && (cs == '-' || cs == '.') {
			if cand == 3 && g[0] == 3 && g[1] == 3 && g[2] == 4 && nanpValid(b, i, i+4) {
				return kPhone, i, e, 0
			}
			if cand == 4 && g[0] == 1 && b[i] == '1' && g[1] == 3 && g[2] == 3 && g[3] == 4 && nanpValid(b, i+2, i+6) {
				return kPhone, i, e, 0
			}
		}
	}
	return -1, 0, 0, next
}

// cardLayout reports whether digit groups are laid out like a card number:
// one run of 13-19, groups of four with a shorter last one, or the 4-6-5
// and 4-6-4 Amex and Diners layouts.
func cardLayout(g []int) bool {
	total := 0
	for _, l := range g {
		total += l
	}
	if total < 13 || total > 19 {
		return false
	}
	if len(g) == 1 {
		return true
	}
	if len(g) == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4) {
		return true
	}
	for _, l := range g[:len(g)-1] {
		if l != 4 {
			return false
		}
	}
	return g[len(g)-1] >= 1 && g[len(g)-1] <= 4
}

func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// cardBrand reports whether d starts with a known issuer prefix and has a
// length that issuer uses.
func cardBrand(d []byte) bool {
	l := len(d)
	if l < 13 {
		return false
	}
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p3 := p2*10 + int(d[2]-'0')
	p4 := p3*10 + int(d[3]-'0')
	switch {
	case d[0] == '4': // Visa
		return l == 13 || l == 16 || l == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return l == 16
	case p2 == 34 || p2 == 37: // Amex
		return l == 15
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65: // Discover
		return l >= 16
	case p4 >= 3528 && p4 <= 3589: // JCB
		return l >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners
		return l >= 14
	case p2 == 62: // UnionPay
		return l >= 16
	case p4 >= 2200 && p4 <= 2204: // Mir
		return l >= 16
	}
	switch p4 { // Maestro
	case 5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763:
		return true
	}
	return false
}

// ssnValid checks the area, group and serial at a, g and sn.
func ssnValid[T input](b T, a, g, sn int) bool {
	area := num(b, a, 3)
	group := num(b, g, 2)
	serial := num(b, sn, 4)
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	switch area*1000000 + group*10000 + serial {
	case 78051120, 219099999, 123456789: // advertising and example numbers
		return false
	}
	return true
}

func num[T input](b T, i, n int) int {
	v := 0
	for j := i; j < i+n; j++ {
		v = v*10 + int(b[j]-'0')
	}
	return v
}

// ssnKeywordBefore reports whether "ssn" or "social security" appears in
// the 32 bytes before i.
func ssnKeywordBefore[T input](b T, i int) bool {
	for p := max(0, i-32); p < i; p++ {
		switch lower(b[p]) {
		case 's':
			if hasAtFold(b, p, "ssn") || hasAtFold(b, p, "social security") || hasAtFold(b, p, "social_security") ||
				hasAtFold(b, p, "socialsecurity") || hasAtFold(b, p, "social-security") {
				return true
			}
		}
	}
	return false
}

// nanpValid checks a NANP area code at a and exchange at x: the first digit
// is 2-9, an area's middle digit is not 9, and neither is N11.
func nanpValid[T input](b T, a, x int) bool {
	if b[a] < '2' || b[a+1] == '9' || (b[a+1] == '1' && b[a+2] == '1') {
		return false
	}
	return b[x] >= '2' && !(b[x+1] == '1' && b[x+2] == '1')
}

// phoneAt finds a phone number starting with '+' (E.164) or '(' (NANP).
func phoneAt[T input](b T, i int) int {
	if isWord(byteAt(b, i-1)) {
		return 0
	}
	n := len(b)
	if b[i] == '(' {
		j := i + 1
		if !digitsAt(b, j, 3) || byteAt(b, j+3) != ')' {
			return 0
		}
		j += 4
		if byteAt(b, j) == ' ' {
			j++
		}
		if !digitsAt(b, j, 3) || (byteAt(b, j+3) != '-' && byteAt(b, j+3) != '.') || !digitsAt(b, j+4, 4) {
			return 0
		}
		e := j + 8
		if a := byteAt(b, e); isWord(a) || ((a == '.' || a == '-') && isDigit(byteAt(b, e+1))) || !nanpValid(b, i+1, j) {
			return 0
		}
		return e
	}
	// E.164: '+', a digit 1-9, then digits with single separators and at
	// most one parenthesised group, 8-15 digits in all.
	j := i + 1
	if c := byteAt(b, j); c < '1' || c > '9' {
		return 0
	}
	// The value ends at the last group end with at most 15 digits that is
	// not followed by a dash or dot and a digit ("+1 415 555 0123 212"
	// ends before 212).
	digits, end, endDigits, parens := 0, 0, 0, 0
	consider := func(j int) {
		if digits <= 15 {
			a := byteAt(b, j)
			if !isWord(a) && !((a == '.' || a == '-') && isDigit(byteAt(b, j+1))) {
				end, endDigits = j, digits
			}
		}
	}
	for j < n && j-i <= 40 && digits <= 15 {
		c := b[j]
		if isDigit(c) {
			digits++
			j++
			if !isDigit(byteAt(b, j)) {
				consider(j)
			}
			continue
		}
		p := b[j-1]
		if c == '(' && parens == 0 && (isDigit(p) || p == ' ') {
			k := j + 1
			for k < n && k-j <= 5 && isDigit(b[k]) {
				k++
			}
			if k == j+1 || byteAt(b, k) != ')' {
				break
			}
			digits += k - j - 1
			parens++
			j = k + 1
			continue
		}
		if (c == ' ' || c == '-' || c == '.') && (isDigit(p) || p == ')') {
			if nx := byteAt(b, j+1); isDigit(nx) || (nx == '(' && parens == 0) {
				j++
				continue
			}
		}
		break
	}
	if endDigits < 8 {
		return 0
	}
	return end
}

func digitsAt[T input](b T, i, n int) bool {
	if i < 0 || len(b)-i < n {
		return false
	}
	for j := i; j < i+n; j++ {
		if !isDigit(b[j]) {
			return false
		}
	}
	return true
}
