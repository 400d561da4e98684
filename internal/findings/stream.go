package findings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// writeStreamed writes v as json.Encoder with SetIndent("", "  ") would,
// except that the array under key, at depth levels of nesting, which v
// must hold as an empty slice, is written as the n values elem returns,
// each encoded as it is written. A report of a hundred thousand findings
// is then never held as one document in memory, nor indented in one pass
// over it: the two took more time than linting a 5 MB spec.
//
// The array is found in v's own encoding: its key, indented to depth,
// with an empty array as its value. json escapes control characters in
// strings, so no string value can hold that line; writeStreamed checks
// that it occurs exactly once all the same.
func writeStreamed(w io.Writer, v any, key string, depth, n int, elem func(i int) any) error {
	head, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	marker := []byte("\n" + strings.Repeat("  ", depth) + `"` + key + `": []`)
	if c := bytes.Count(head, marker); c != 1 {
		return fmt.Errorf("writing the report: %q found %d times in its envelope", key, c)
	}
	at := bytes.Index(head, marker) + len(marker) - len("[]")
	c := &chunked{w: w}
	bw := &c.buf
	bw.Write(head[:at])
	if n == 0 {
		bw.WriteString("[]")
	} else {
		prefix := strings.Repeat("  ", depth+1)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent(prefix, "  ")
		bw.WriteString("[\n")
		for i := range n {
			buf.Reset()
			if err := enc.Encode(elem(i)); err != nil {
				return err
			}
			if i > 0 {
				bw.WriteString(",\n")
			}
			bw.WriteString(prefix)
			bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			if err := c.flushFull(); err != nil {
				return err
			}
		}
		bw.WriteString("\n" + strings.Repeat("  ", depth) + "]")
	}
	bw.Write(head[at+len("[]"):])
	bw.WriteByte('\n')
	return c.flush()
}

// chunked gathers a report in memory a chunk at a time and writes each
// chunk to w, checking every write: a bytes.Buffer's own writes cannot
// fail.
type chunked struct {
	buf bytes.Buffer
	w   io.Writer
}

// chunkSize is how much chunked gathers before it writes.
const chunkSize = 64 << 10

// flushFull writes what is gathered once it is a chunk.
func (c *chunked) flushFull() error {
	if c.buf.Len() < chunkSize {
		return nil
	}
	return c.flush()
}

// flush writes what is gathered.
func (c *chunked) flush() error {
	_, err := c.w.Write(c.buf.Bytes())
	c.buf.Reset()
	return err
}

// writeJSON writes r as indented JSON, its findings streamed.
func writeJSON(w io.Writer, r *Report) error {
	if r.Findings == nil {
		// Encoded as null, as it always was.
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	envelope := *r
	envelope.Findings = []Finding{}
	return writeStreamed(w, &envelope, "findings", 1, len(r.Findings), func(i int) any { return &r.Findings[i] })
}
