package enginetest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Case is one conformance case: raw bytes sent on one connection, the
// responses the client must get, and the requests the upstream must
// receive.
type Case struct {
	Name string
	// Why says what the case guards against.
	Why string
	// Parts are written in order, Pause apart (slow clients).
	Parts []string
	Pause time.Duration
	// Head reads the responses as answers to HEAD (no body).
	Head bool
	// Outcome is what the case expects.
	Outcome
	// Alt are other outcomes RFC 9112 allows as well (refuse, or
	// normalize before the upstream); an engine may give any of them.
	Alt []Outcome
	// Check, when set, looks further at what each side got.
	Check func(t *testing.T, got []Received, replies []Reply)
}

// Outcome is what a case ends in.
type Outcome struct {
	// Want are the statuses the client must get, in order.
	Want []int
	// Closed requires the gateway to close the connection after them.
	Closed bool
	// Upstream are the targets the upstream must receive whole, in
	// order.
	Upstream []string
	// Truncated allows the upstream to have received the start of a
	// request whose body then ended early: a streamed body the gateway
	// found faulty (or too large) part way. The upstream could not read
	// it whole, so it could not act on it.
	Truncated bool
}

// Reply is one response as the client read it.
type Reply struct {
	Status  int
	Header  http.Header
	Body    string
	Trailer http.Header
}

// Run runs every case against the gateway start runs, each on a fresh
// connection, and after each checks the invariants that hold for every
// case: the upstream received only requests for /public/ (nothing the
// gateway did not route), each framed one way only (Content-Length or
// chunked, never both, no obs-fold, CRLF line ends, no control bytes in
// a header), and every byte it received belonged to one of them.
func Run(t *testing.T, start Start) {
	up := startUpstream(t)
	addr := start(t, up.url())
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			got, replies, problems := runCase(up, addr, c)
			for _, p := range problems {
				t.Error(p)
			}
			if c.Check != nil && len(problems) == 0 {
				c.Check(t, got, replies)
			}
		})
	}
}

// runCase runs c against the gateway at addr and returns what each side
// got and what is wrong with it.
func runCase(up *upstream, addr string, c Case) ([]Received, []Reply, []string) {
	up.reset()
	replies, closed, err := exchange(addr, c)
	// The upstream may still be reading what the gateway forwarded:
	// wait for the count the case expects.
	got, desync, raw := settle(up, len(c.Upstream))
	if err != nil {
		return got, replies, []string{fmt.Sprintf("%s\nreading the responses: %v", c.Why, err)}
	}
	var problems []string
	var statuses []int
	for _, r := range replies {
		statuses = append(statuses, r.Status)
	}
	var targets []string
	for _, g := range got {
		targets = append(targets, g.Target)
		if !strings.HasPrefix(g.Target, "/public/") {
			problems = append(problems, fmt.Sprintf("%s\nUPSTREAM RECEIVED AN UNROUTED REQUEST: %s %s", c.Why, g.Method, g.Target))
		}
	}
	framing := strictFraming(raw)
	var misses []string
	for _, o := range append([]Outcome{c.Outcome}, c.Alt...) {
		miss := o.mismatch(statuses, closed, targets, desync, framing)
		if miss == "" {
			return got, replies, problems
		}
		misses = append(misses, miss)
	}
	problems = append(problems, fmt.Sprintf("%s\ngot statuses %v, connection closed %v, upstream received %q; want:\n%s",
		c.Why, statuses, closed, targets, strings.Join(misses, "\n")))
	for _, d := range desync {
		problems = append(problems, "upstream: "+d)
	}
	if framing != nil {
		problems = append(problems, fmt.Sprintf("what the upstream received is ambiguous: %v\n%q", framing, raw))
	}
	return got, replies, problems
}

// mismatch says how what happened differs from o, "" when it does not.
func (o Outcome) mismatch(statuses []int, closed bool, targets, desync []string, framing error) string {
	var miss []string
	if fmt.Sprint(statuses) != fmt.Sprint(o.Want) {
		miss = append(miss, fmt.Sprintf("statuses %v", o.Want))
	}
	if o.Closed && !closed {
		miss = append(miss, "the connection closed")
	}
	if fmt.Sprint(targets) != fmt.Sprint(o.Upstream) {
		miss = append(miss, fmt.Sprintf("upstream to receive %q", o.Upstream))
	}
	for _, d := range desync {
		if !o.Truncated || !strings.HasSuffix(d, io.ErrUnexpectedEOF.Error()) {
			miss = append(miss, "upstream to read every request: "+d)
		}
	}
	if framing != nil && (!o.Truncated || !errors.Is(framing, io.ErrUnexpectedEOF)) {
		miss = append(miss, "upstream framing unambiguous: "+framing.Error())
	}
	if len(miss) == 0 {
		return ""
	}
	return "  " + strings.Join(miss, "; ")
}

// settle waits up to a second for the upstream to have received n
// requests, and a little longer for any it should not have.
func settle(up *upstream, n int) ([]Received, []string, string) {
	deadline := time.Now().Add(time.Second)
	for {
		got, _, _ := up.snapshot()
		if len(got) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	return up.snapshot()
}

// exchange sends c's parts on a new connection and reads responses
// until the gateway closes it or none comes for a while.
func exchange(addr string, c Case) ([]Reply, bool, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	go func() {
		for i, p := range c.Parts {
			if i > 0 && c.Pause > 0 {
				time.Sleep(c.Pause)
			}
			if _, err := io.WriteString(conn, p); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(conn)
	method := http.MethodGet
	if c.Head {
		method = http.MethodHead
	}
	var replies []Reply
	wait := 700*time.Millisecond + time.Duration(len(c.Parts))*c.Pause
	for {
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err):
				return replies, true, nil
			case isTimeout(err):
				return replies, false, nil
			}
			return replies, false, err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return replies, false, fmt.Errorf("body of the %d response: %w", resp.StatusCode, err)
		}
		replies = append(replies, Reply{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Trailer: resp.Trailer})
		if resp.Close {
			_ = conn.SetReadDeadline(time.Now().Add(wait))
			if _, err := br.ReadByte(); err != nil {
				return replies, true, nil
			}
			return replies, false, errors.New("bytes after a response that said Connection: close")
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// strictFraming reads raw, everything the upstream received, as
// requests the strict way: CRLF line ends only, no obs-fold, no control
// bytes in a header line, at most one Content-Length (decimal), a
// Transfer-Encoding only as "chunked" and never beside a Content-Length,
// and every byte part of a request. A message that passes means the
// same thing to every parser that follows RFC 9112.
func strictFraming(raw string) error {
	for n := 1; raw != ""; n++ {
		end := strings.Index(raw, "\r\n\r\n")
		if end < 0 {
			return fmt.Errorf("request %d: no end of head", n)
		}
		head := raw[:end]
		raw = raw[end+4:]
		lines := strings.Split(head, "\r\n")
		var cl []string
		var te []string
		for i, l := range lines {
			for _, b := range []byte(l) {
				if b < 0x20 && b != '\t' || b == 0x7f {
					return fmt.Errorf("request %d, line %d: control byte %#x", n, i+1, b)
				}
			}
			if i == 0 {
				continue
			}
			if l == "" || l[0] == ' ' || l[0] == '\t' {
				return fmt.Errorf("request %d, line %d: folded or empty header line", n, i+1)
			}
			name, value, ok := strings.Cut(l, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return fmt.Errorf("request %d, line %d: not a header line: %q", n, i+1, l)
			}
			value = strings.Trim(value, " \t")
			switch strings.ToLower(name) {
			case "content-length":
				cl = append(cl, value)
			case "transfer-encoding":
				te = append(te, value)
			}
		}
		switch {
		case len(te) > 0 && len(cl) > 0:
			return fmt.Errorf("request %d: both Transfer-Encoding and Content-Length", n)
		case len(te) > 1 || len(te) == 1 && te[0] != "chunked":
			return fmt.Errorf("request %d: Transfer-Encoding %q", n, te)
		case len(cl) > 1:
			return fmt.Errorf("request %d: Content-Length %q", n, cl)
		case len(te) == 1:
			r := bufio.NewReader(strings.NewReader(raw))
			if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(r)); err != nil {
				return fmt.Errorf("request %d: chunked body: %w", n, err)
			}
			// Trailers, then the empty line.
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return fmt.Errorf("request %d: trailer: %w", n, err)
				}
				if l == "\r\n" {
					break
				}
			}
			rest, _ := io.ReadAll(r)
			raw = string(rest)
		case len(cl) == 1:
			size, err := strconv.ParseUint(cl[0], 10, 63)
			if err != nil || size > uint64(len(raw)) {
				return fmt.Errorf("request %d: Content-Length %q with %d bytes left", n, cl[0], len(raw))
			}
			raw = raw[size:]
		}
	}
	return nil
}
