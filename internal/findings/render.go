package findings

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Format is an output format.
type Format string

// Formats.
const (
	Text  Format = "text"
	JSON  Format = "json"
	SARIF Format = "sarif"
	HTML  Format = "html"
	JUnit Format = "junit"
)

// Formats lists every format, for help texts.
var Formats = []Format{Text, JSON, SARIF, HTML, JUnit}

// ParseFormat reads a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == strings.ToLower(s) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q: want one of text, json, sarif, html, junit", s)
}

// Write renders r in format f.
func Write(w io.Writer, f Format, r *Report) error {
	switch f {
	case Text:
		return WriteText(w, r)
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case SARIF:
		return WriteSARIF(w, r)
	case HTML:
		return WriteHTML(w, r)
	case JUnit:
		return WriteJUnit(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}

// WriteText renders r for a person at a terminal.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%-8s %s  %s\n", strings.ToUpper(f.Severity.String()), f.RuleID, f.Title)
		if f.Method != "" {
			fmt.Fprintf(&b, "         %s %s", f.Method, f.PathTemplate)
			if f.OWASP != "" {
				fmt.Fprintf(&b, "   (%s, confidence %s)", f.OWASP, f.Confidence)
			}
			b.WriteByte('\n')
		}
		if f.Location != nil {
			fmt.Fprintf(&b, "         %s:%d:%d %s\n", f.Location.File, f.Location.Line, f.Location.Column, f.Location.Pointer)
		}
		for _, line := range strings.Split(f.Message, "\n") {
			fmt.Fprintf(&b, "         %s\n", line)
		}
		if f.Curl != "" {
			fmt.Fprintf(&b, "         reproduce: %s\n", f.Curl)
		}
		b.WriteByte('\n')
	}
	c := r.Counts()
	fmt.Fprintf(&b, "%d findings: %d critical, %d high, %d medium, %d low, %d info", len(r.Findings), c[Critical], c[High], c[Medium], c[Low], c[Info])
	if r.Suppressed > 0 {
		fmt.Fprintf(&b, " (%d more accepted by the baseline)", r.Suppressed)
	}
	b.WriteByte('\n')
	if len(r.Stats) > 0 {
		keys := slices.Sorted(maps.Keys(r.Stats))
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), r.Stats[k]))
		}
		fmt.Fprintf(&b, "%s in %s\n", strings.Join(parts, ", "), r.Finished.Sub(r.Started).Round(1e7))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if !r.Complete {
		fmt.Fprintf(&b, "incomplete: %s\n", r.StopReason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJUnit renders r as JUnit XML: one test case per rule and
// operation, failed when it has findings, so that CI systems show them.
func WriteJUnit(w io.Writer, r *Report) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Body    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	s := suite{Name: r.Tool, Time: fmt.Sprintf("%.3f", r.Finished.Sub(r.Started).Seconds())}
	for _, f := range r.Findings {
		where := strings.TrimSpace(f.Method + " " + f.PathTemplate)
		if where == "" && f.Location != nil {
			where = fmt.Sprintf("%s:%d", f.Location.File, f.Location.Line)
		}
		body := f.Message
		if f.Curl != "" {
			body += "\nreproduce: " + f.Curl
		}
		s.Cases = append(s.Cases, testcase{Name: f.RuleID + " " + where + keySuffix(f.Key), Classname: f.RuleID,
			Failure: &failure{Message: f.Title, Type: f.Severity.String(), Body: body}})
	}
	// Rules without findings pass.
	seen := map[string]bool{}
	for _, f := range r.Findings {
		seen[f.RuleID] = true
	}
	for _, ru := range r.Rules {
		if !seen[ru.ID] {
			s.Cases = append(s.Cases, testcase{Name: ru.ID, Classname: ru.ID})
		}
	}
	s.Tests, s.Failures = len(s.Cases), len(r.Findings)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func keySuffix(k string) string {
	if k == "" {
		return ""
	}
	return " [" + k + "]"
}
