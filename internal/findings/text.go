package findings

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// WriteText renders r for a person, without colours.
func WriteText(w io.Writer, r *Report) error {
	return WriteTextWith(w, r, Options{})
}

// WriteTextWith renders r for a person. Findings without a file (all of
// rampart scan's, which name an operation instead) come first, one block
// each, in report order. Findings with a file follow, grouped under a
// header line per file (files in name order) and sorted by line and
// column, one head line each ("  12:3  HIGH      rule  title") with the
// operation, the pointer and the message indented below it, the way
// eslint's stylish formatter and golangci-lint print. A summary closes
// the report. With o.Color, severities are coloured and file headers
// bold.
func WriteTextWith(w io.Writer, r *Report, o Options) error {
	p := palette{on: o.Color}
	c := &chunked{w: w}
	b := &c.buf
	byFile := map[string][]*Finding{}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Location == nil || f.Location.File == "" {
			writeOperationFinding(b, p, f)
			if err := c.flushFull(); err != nil {
				return err
			}
			continue
		}
		byFile[f.Location.File] = append(byFile[f.Location.File], f)
	}
	for _, file := range slices.Sorted(maps.Keys(byFile)) {
		if err := writeFileGroup(c, p, file, byFile[file]); err != nil {
			return err
		}
	}
	writeSummary(b, p, r)
	return c.flush()
}

// writeOperationFinding writes a finding without a file: the severity, the
// rule and the title, then the operation and the message indented.
func writeOperationFinding(b *bytes.Buffer, p palette, f *Finding) {
	const indent = "         "
	fmt.Fprintf(b, "%s %s  %s\n", p.severity(f.Severity, 8), f.RuleID, f.Title)
	if f.Method != "" {
		fmt.Fprintf(b, "%s%s\n", indent, operation(f))
	}
	if f.Location != nil && f.Location.Pointer != "" {
		fmt.Fprintf(b, "%sat %s\n", indent, f.Location.Pointer)
	}
	writeDetails(b, indent, f)
	b.WriteByte('\n')
}

// writeFileGroup writes the header line of file and its findings by
// position, the positions padded to one width so that the severities
// line up.
func writeFileGroup(c *chunked, p palette, file string, fs []*Finding) error {
	b := &c.buf
	slices.SortStableFunc(fs, func(a, b *Finding) int {
		return cmp.Or(cmp.Compare(a.Location.Line, b.Location.Line), cmp.Compare(a.Location.Column, b.Location.Column))
	})
	width := 0
	for _, f := range fs {
		width = max(width, len(position(f.Location)))
	}
	indent := strings.Repeat(" ", 2+width+2+8+2)
	b.WriteString(p.bold(file))
	b.WriteByte('\n')
	for _, f := range fs {
		fmt.Fprintf(b, "  %-*s  %s  %s  %s\n", width, position(f.Location), p.severity(f.Severity, 8), f.RuleID, f.Title)
		var where []string
		if f.Method != "" {
			where = append(where, operation(f))
		}
		if f.Location.Pointer != "" {
			where = append(where, "at "+f.Location.Pointer)
		}
		if len(where) > 0 {
			fmt.Fprintf(b, "%s%s\n", indent, strings.Join(where, "   "))
		}
		writeDetails(b, indent, f)
		if err := c.flushFull(); err != nil {
			return err
		}
	}
	b.WriteByte('\n')
	return nil
}

// position is "line:column", "line" without a column, "-" without a
// line.
func position(l *Location) string {
	switch {
	case l.Line <= 0:
		return "-"
	case l.Column <= 0:
		return strconv.Itoa(l.Line)
	}
	return strconv.Itoa(l.Line) + ":" + strconv.Itoa(l.Column)
}

// operation is "METHOD /path", with the OWASP category and the confidence
// when the finding has a category.
func operation(f *Finding) string {
	s := f.Method + " " + f.PathTemplate
	if f.OWASP != "" {
		s += fmt.Sprintf("   (%s, confidence %s)", f.OWASP, f.Confidence)
	}
	return s
}

// writeDetails writes the message, a line of it per line, and the command
// that reproduces the finding.
func writeDetails(b *bytes.Buffer, indent string, f *Finding) {
	for _, line := range strings.Split(f.Message, "\n") {
		fmt.Fprintf(b, "%s%s\n", indent, line)
	}
	if f.Curl != "" {
		fmt.Fprintf(b, "%sreproduce: %s\n", indent, f.Curl)
	}
}

// writeSummary writes the counts, the stats, the notes and why an
// incomplete run stopped.
func writeSummary(b *bytes.Buffer, p palette, r *Report) {
	c := r.Counts()
	fmt.Fprintf(b, "%d findings: %d %s, %d %s, %d %s, %d %s, %d %s", len(r.Findings),
		c[Critical], p.count(Critical, c), c[High], p.count(High, c), c[Medium], p.count(Medium, c), c[Low], p.count(Low, c), c[Info], p.count(Info, c))
	if r.Suppressed > 0 {
		fmt.Fprintf(b, " (%d more accepted by the baseline)", r.Suppressed)
	}
	b.WriteByte('\n')
	if len(r.Stats) > 0 {
		keys := slices.Sorted(maps.Keys(r.Stats))
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), r.Stats[k]))
		}
		fmt.Fprintf(b, "%s in %s\n", strings.Join(parts, ", "), r.Finished.Sub(r.Started).Round(1e7))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "note: %s\n", n)
	}
	if !r.Complete {
		fmt.Fprintf(b, "%s %s\n", p.wrap(sgrRed, "incomplete:"), r.StopReason)
	}
}
