// Package cliout owns how the rampart commands print: the choice between
// text and JSON (--format, -o), the one JSON encoding, the one table
// style and the one "label: value" block. Commands build their result,
// then hand it here; none of them sets up an encoder or a tabwriter.
//
// Everything writes to the io.Writer it is given and keeps no state
// between calls; a Table is used by one goroutine.
package cliout

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Format is how a command prints its result.
type Format string

// The formats every command with a --format flag accepts.
const (
	// Text is for people: tables and label: value blocks. The default.
	Text Format = "text"
	// JSON is for programs: the result as one indented JSON document.
	JSON Format = "json"
)

// FormatUsage is the help text of a --format flag.
const FormatUsage = "output format: text or json"

// ParseFormat reads a --format value. The error says what is accepted;
// the caller prefixes the flag's name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Text, JSON:
		return f, nil
	}
	return "", fmt.Errorf("must be text or json, got %q", s)
}

// Print writes v as JSON when f is JSON, and calls text otherwise: the
// last step of every command that offers both.
func Print(w io.Writer, f Format, v any, text func(io.Writer) error) error {
	if f == JSON {
		return WriteJSON(w, v)
	}
	return text(w)
}

// WriteJSON writes v as one JSON document indented by two spaces and
// ended by a newline, with <, > and & escaped as encoding/json does by
// default.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// Table writes aligned columns: a header row in capitals, then one row per
// item, each column padded to its widest cell plus two spaces. A tab or a
// line break in a cell would break the columns (or forge a row), so each
// is written as a space.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table on w with the given column headers.
func NewTable(w io.Writer, headers ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.Row(headers...)
	return t
}

// cellReplacer turns what would break a table's layout into spaces. It is
// immutable and safe for concurrent use.
var cellReplacer = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

// Row adds a row. Errors are reported by Flush.
func (t *Table) Row(cells ...string) {
	clean := make([]string, len(cells))
	for i, c := range cells {
		clean[i] = cellReplacer.Replace(c)
	}
	_, _ = io.WriteString(t.tw, strings.Join(clean, "\t")+"\n")
}

// Flush writes the table out; call it once, after the last row.
func (t *Table) Flush() error {
	if err := t.tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

// Field is one line of a block: a label (without its colon) and a value.
type Field struct {
	Label, Value string
}

// WriteFields writes a block of "label: value" lines, the values aligned
// one space after the longest label's colon:
//
//	id:      k1
//	subject: bob
func WriteFields(w io.Writer, fields ...Field) error {
	width := 0
	for _, f := range fields {
		width = max(width, len(f.Label)+1)
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%-*s %s\n", width, f.Label+":", f.Value)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}
