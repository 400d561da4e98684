package findings

import (
	"encoding/xml"
	"fmt"
	"io"
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

// Options tune the renderers. The zero value renders plain text and
// leaves relative file paths relative.
type Options struct {
	// Color adds ANSI colours to the text format (severities, file
	// headers). Other formats ignore it; set it only for a terminal.
	Color bool
	// Root is the absolute directory that relative Location.File paths
	// are relative to (lint's working directory). SARIF names it
	// %SRCROOT% in originalUriBaseIds and turns paths that climb out of
	// it (../) into absolute file URIs. "" leaves every relative path
	// relative to %SRCROOT%.
	Root string
}

// Write renders r in format f with the zero Options.
func Write(w io.Writer, f Format, r *Report) error {
	return WriteWith(w, f, r, Options{})
}

// WriteWith renders r in format f.
func WriteWith(w io.Writer, f Format, r *Report, o Options) error {
	switch f {
	case Text:
		return WriteTextWith(w, r, o)
	case JSON:
		return writeJSON(w, r)
	case SARIF:
		return WriteSARIFWith(w, r, o)
	case HTML:
		return WriteHTML(w, r)
	case JUnit:
		return WriteJUnit(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
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
		Name      string `xml:"name,attr"`
		Classname string `xml:"classname,attr"`
		// File and Line are not in the JUnit schema, but GitLab and
		// most CI test reporters read them to link a case to its source.
		File    string   `xml:"file,attr,omitempty"`
		Line    int      `xml:"line,attr,omitempty"`
		Failure *failure `xml:"failure,omitempty"`
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
		tc := testcase{Name: f.RuleID + " " + where + keySuffix(f.Key), Classname: f.RuleID,
			Failure: &failure{Message: f.Title, Type: f.Severity.String(), Body: body}}
		if f.Location != nil {
			tc.File, tc.Line = f.Location.File, f.Location.Line
		}
		s.Cases = append(s.Cases, tc)
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
