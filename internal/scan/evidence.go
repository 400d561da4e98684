package scan

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/findings"
)

// excerptBytes bounds each body shown as evidence.
const excerptBytes = 1500

// redactor masks every sensitive value in evidence (cards, SSNs, keys,
// tokens) with the gateway's own DLP detectors.
var redactor = dlp.MustNew()

// Evidence renders an exchange as request and response excerpts, the
// identity's credential replaced by a placeholder and sensitive values
// masked.
func Evidence(label string, ex *Exchange) findings.Exchange {
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\n", ex.Req.Method, strings.TrimPrefix(ex.URL, schemeHost(ex.URL)))
	if ex.As != nil {
		fmt.Fprintf(&req, "%s: <%s's credential>\n", ex.As.Header(), ex.As.Name)
	}
	for _, k := range sortedHeaderKeys(ex.Req.Header) {
		fmt.Fprintf(&req, "%s: %s\n", k, strings.Join(ex.Req.Header[k], ", "))
	}
	if ex.Req.ContentType != "" {
		fmt.Fprintf(&req, "Content-Type: %s\n", ex.Req.ContentType)
	}
	if len(ex.Req.Body) > 0 {
		req.WriteString("\n")
		req.WriteString(excerpt(ex.Req.Body))
	}
	out := findings.Exchange{Label: label, Request: redact(req.String(), ex.Redacted)}
	if ex.Resp != nil {
		var resp strings.Builder
		if ex.Resp.Status == 0 {
			fmt.Fprintf(&resp, "(no response: %s)", excerpt(ex.Resp.Body))
		} else {
			fmt.Fprintf(&resp, "HTTP/1.1 %d %s   (%d ms)\n", ex.Resp.Status, http.StatusText(ex.Resp.Status), ex.Resp.Duration.Milliseconds())
			for _, k := range sortedHeaderKeys(ex.Resp.Header) {
				if k == "Set-Cookie" {
					fmt.Fprintf(&resp, "%s: <redacted>\n", k)
					continue
				}
				fmt.Fprintf(&resp, "%s: %s\n", k, strings.Join(ex.Resp.Header[k], ", "))
			}
			if len(ex.Resp.Body) > 0 {
				resp.WriteString("\n")
				resp.WriteString(excerpt(ex.Resp.Body))
			}
		}
		out.Response = redact(resp.String(), ex.Redacted)
	}
	return out
}

func schemeHost(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(u[i+3:], '/')
	if j < 0 {
		return u
	}
	return u[:i+3+j]
}

func sortedHeaderKeys(h http.Header) []string { return slices.Sorted(maps.Keys(h)) }

func excerpt(b []byte) string {
	if len(b) > excerptBytes {
		return string(b[:excerptBytes]) + fmt.Sprintf("\n… (%d more bytes)", len(b)-excerptBytes)
	}
	return string(b)
}

func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 6 {
			s = strings.ReplaceAll(s, v, "<redacted>")
		}
	}
	masked, _ := redactor.MaskString(s)
	return masked
}

// Curl returns a curl command that repeats the exchange. The identity's
// credential is a shell variable named after it (export BOB='Authorization:
// Bearer ...' first), never the secret itself.
func Curl(ex *Exchange) string {
	var b strings.Builder
	b.WriteString("curl -i")
	if ex.Req.Method != "GET" {
		fmt.Fprintf(&b, " -X %s", ex.Req.Method)
	}
	if ex.As != nil {
		fmt.Fprintf(&b, " -H \"$%s\"", envName(ex.As.Name))
	}
	for _, k := range sortedHeaderKeys(ex.Req.Header) {
		for _, v := range ex.Req.Header[k] {
			fmt.Fprintf(&b, " -H %s", shellQuote(k+": "+v))
		}
	}
	if ex.Req.ContentType != "" {
		fmt.Fprintf(&b, " -H %s", shellQuote("Content-Type: "+ex.Req.ContentType))
	}
	if len(ex.Req.Body) > 0 {
		body := ex.Req.Body
		if len(body) > 4096 {
			fmt.Fprintf(&b, " --data-binary @body.bin  # a %d-byte body", len(body))
		} else {
			fmt.Fprintf(&b, " --data-binary %s", shellQuote(string(body)))
		}
	}
	fmt.Fprintf(&b, " %s", shellQuote(ex.URL))
	return redact(b.String(), ex.Redacted)
}

// envName is the shell variable holding an identity's credential header.
func envName(name string) string {
	up := strings.ToUpper(strings.NewReplacer("-", "_", " ", "_", "(", "", ")", "").Replace(name))
	return up
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Finding starts a finding for rule on op (op may be nil), with the
// rule's severity and category.
func Finding(rule findings.Rule, op *Op, confidence findings.Confidence, title, message string) findings.Finding {
	f := findings.Finding{RuleID: rule.ID, Title: title, Severity: rule.Severity, Confidence: confidence, OWASP: rule.OWASP, Message: message}
	if op != nil {
		f.Method, f.PathTemplate, f.OperationID = op.Method, op.Path, op.Op.OperationID
	}
	return f
}
