package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes decoded from one document, aliases expanded, so
// that an alias bomb ("billion laughs") is an error, not an outage.
const maxNodes = 200_000

// position is where a value stands in the file.
type position struct{ line, column int }

// decoder turns a YAML node tree into the config types strictly: unknown
// fields, duplicate keys and wrong types are problems, all collected, each
// with its path and line.
type decoder struct {
	problems  []Problem
	positions map[string]position
	nodes     int
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

var (
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// kindName names a YAML node's type the way a user wrote it.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", truncate(n.Value))
		case "!!int":
			return "the integer " + truncate(n.Value)
		case "!!bool":
			return "the boolean " + n.Value
		case "!!float":
			return "the number " + truncate(n.Value)
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%q", truncate(n.Value))
	}
	return "an unsupported node"
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// decode reads n into v, at path; each node counts against maxNodes.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, path, "document too large: more than %d values (alias expansion included)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, path, "unresolved alias")
			return
		}
		d.decode(n.Alias, v, path)
		return
	}
	if _, seen := d.positions[path]; !seen {
		d.positions[path] = position{n.Line, n.Column}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value leaves the default in place
	}
	switch t := v.Type(); {
	case t == durationType || t == byteSizeType:
		d.decodeUnit(n, v, path)
	default:
		d.decodeKind(n, v, path)
	}
}

// decodeUnit reads a Duration or a ByteSize, which parse their own scalar.
func (d *decoder) decodeUnit(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a scalar, got %s", kindName(n))
		return
	}
	var err error
	if v.Type() == durationType {
		err = v.Addr().Interface().(*Duration).parseScalar(n.Value)
	} else {
		err = v.Addr().Interface().(*ByteSize).parseScalar(n.Value)
	}
	if err != nil {
		d.fail(n, path, "%v", err)
	}
}

// decodeKind reads n into v by v's kind.
func (d *decoder) decodeKind(n *yaml.Node, v reflect.Value, path string) {
	switch t := v.Type(); t.Kind() {
	case reflect.Pointer:
		elem := reflect.New(t.Elem())
		d.decode(n, elem.Elem(), path)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.fail(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		d.decodeBool(n, v, path)
	case reflect.Int, reflect.Int64:
		d.decodeInt(n, v, path)
	default:
		// Only reachable if a field of an unsupported type is added to the
		// config types; TestEveryFieldDecodable guards it.
		d.fail(n, path, "internal error: unsupported config type %s", t)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// decodeBool reads true or false only: yes, on and the like are refused,
// not guessed (YAML 1.1 reads them as booleans, YAML 1.2 as strings).
func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.fail(n, path, "expected true or false, got %s", kindName(n))
		return
	}
	switch n.Value {
	case "true", "True", "TRUE":
		v.SetBool(true)
	case "false", "False", "FALSE":
		v.SetBool(false)
	default: // an explicit !!bool tag on yes, on, 1 ...
		d.fail(n, path, "expected true or false, got %q", truncate(n.Value))
	}
}

// decodeInt reads a decimal integer that fits v.
func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.fail(n, path, "expected an integer, got %s", kindName(n))
		return
	}
	digits := strings.TrimPrefix(n.Value, "-")
	if len(digits) > 1 && digits[0] == '0' {
		// YAML 1.1 reads 0443 as octal 291, YAML 1.2 as 443: refuse
		// to guess.
		d.fail(n, path, "write %s in decimal without a leading zero", truncate(n.Value))
		return
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil || v.OverflowInt(i) {
		d.fail(n, path, "%s is not a decimal integer in range", truncate(n.Value))
		return
	}
	v.SetInt(i)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldIndex maps the yaml names of a struct type's fields to their index.
func fieldIndex(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name := yamlName(t.Field(i))
		if name == "" {
			continue
		}
		m[name] = i
	}
	return m
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := fieldIndex(v.Type())
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be strings, got %s", kindName(k))
			continue
		}
		if k.Value == "<<" {
			d.fail(k, path, "merge keys (<<) are not supported; write the fields out")
			continue
		}
		fp := join(path, k.Value)
		if seen[k.Value] {
			d.fail(k, fp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			msg := "unknown field"
			if s := suggest(k.Value, fields); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(k, fp, "%s", msg)
			continue
		}
		d.positions[fp] = position{k.Line, k.Column}
		d.decode(val, v.Field(idx), fp)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.fail(k, path, "keys must be strings, got %s", kindName(k))
			continue
		}
		fp := join(path, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.fail(k, fp, "duplicate key")
			continue
		}
		d.positions[fp] = position{k.Line, k.Column}
		e := reflect.New(t.Elem()).Elem()
		d.decode(val, e, fp)
		m.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
	v.Set(m)
}

// suggest returns the known field closest to name, if it is close enough
// to be a typo.
func suggest(name string, fields map[string]int) string {
	best, bestDist := "", 3
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if dist := levenshtein(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeDocument parses data as one YAML document into c.
func decodeDocument(data []byte, c *Config) (map[string]position, []Problem) {
	d := &decoder{positions: map[string]position{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&root)
	if errors.Is(err, io.EOF) {
		return d.positions, []Problem{{Message: "the file is empty"}}
	}
	if err == nil {
		var extra yaml.Node
		if err2 := dec.Decode(&extra); !errors.Is(err2, io.EOF) {
			line := extra.Line
			if err2 != nil {
				line = 0
			}
			return d.positions, []Problem{{Line: line, Message: "more than one YAML document (---): a config is one document"}}
		}
	}
	if err != nil {
		var p Problem
		p.Message = strings.TrimPrefix(err.Error(), "yaml: ")
		var te *yaml.TypeError
		if errors.As(err, &te) {
			p.Message = strings.Join(te.Errors, "; ")
		}
		if line, rest, ok := parseYAMLLine(p.Message); ok {
			p.Line, p.Message = line, rest
		}
		return d.positions, []Problem{p}
	}
	if root.Kind == 0 {
		return d.positions, []Problem{{Message: "the file is empty"}}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	d.decode(doc, reflect.ValueOf(c).Elem(), "")
	return d.positions, d.problems
}

// parseYAMLLine splits "line 3: message" from a yaml syntax error.
func parseYAMLLine(msg string) (int, string, bool) {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg, false
	}
	num, after, ok := strings.Cut(rest, ": ")
	if !ok {
		return 0, msg, false
	}
	line, err := strconv.Atoi(num)
	if err != nil {
		return 0, msg, false
	}
	return line, after, true
}
