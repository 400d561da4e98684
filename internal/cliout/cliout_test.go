package cliout

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path) // #nosec G304 -- a test's own golden file
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"text", "json"} {
		if f, err := ParseFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	for _, s := range []string{"", "xml", "JSON", "sarif"} {
		if _, err := ParseFormat(s); err == nil || !strings.Contains(err.Error(), "must be text or json") {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tb := NewTable(&b, "ID", "SUBJECT", "NAME", "EXPIRES")
	tb.Row("k_1", "bob", "ci deploy", "2030-01-02T03:04:05Z")
	tb.Row("k_22222", "alice@example.com", "", "-")
	row := []string{"k_3", "tab\there", "line\nbreak\r\nand\rreturn", "-"}
	tb.Row(row...)
	if row[1] != "tab\there" {
		t.Error("Row changed its caller's cells")
	}
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.txt", b.Bytes())
	if n := strings.Count(b.String(), "\n"); n != 4 {
		t.Errorf("%d lines, want a header and 3 rows", n)
	}
}

func TestFields(t *testing.T) {
	var b bytes.Buffer
	err := WriteFields(&b, Field{"id", "k_1"}, Field{"subject", "bob"}, Field{"expires", "-"}, Field{"checkpoints", "3 (store copies: 1)"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "fields.txt", b.Bytes())
	b.Reset()
	if err := WriteFields(&b); err != nil || b.Len() != 0 {
		t.Errorf("no fields: %q, %v", b.String(), err)
	}
}

func TestJSON(t *testing.T) {
	v := struct {
		ID     string   `json:"id"`
		Roles  []string `json:"roles"`
		Note   string   `json:"note,omitempty"`
		Script string   `json:"script"`
	}{ID: "k_1", Roles: []string{"reader", "writer"}, Script: "<a&b>"}
	var b bytes.Buffer
	if err := WriteJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	golden(t, "value.json", b.Bytes())
	if err := WriteJSON(io.Discard, func() {}); err == nil || !strings.Contains(err.Error(), "writing JSON") {
		t.Errorf("a func encoded: %v", err)
	}
}

func TestPrint(t *testing.T) {
	errText := errors.New("text called")
	text := func(w io.Writer) error {
		_, _ = io.WriteString(w, "as text\n")
		return errText
	}
	var b bytes.Buffer
	if err := Print(&b, Text, map[string]int{"n": 1}, text); err != errText || b.String() != "as text\n" {
		t.Errorf("text: %q, %v", b.String(), err)
	}
	b.Reset()
	if err := Print(&b, JSON, map[string]int{"n": 1}, text); err != nil || b.String() != "{\n  \"n\": 1\n}\n" {
		t.Errorf("json: %q, %v", b.String(), err)
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	tb := NewTable(failWriter{}, "A", "B")
	tb.Row("1", "2")
	if err := tb.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("table: %v", err)
	}
	if err := WriteFields(failWriter{}, Field{"a", "b"}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("fields: %v", err)
	}
}
