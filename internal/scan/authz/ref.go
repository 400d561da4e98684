package authz

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/scan"
)

// idSlot is where an operation takes an object's id: a parameter of its
// path template, a query parameter, or a top-level member of its JSON
// body.
type idSlot struct {
	in   string // "path", "query" or "body"
	name string
}

// request builds op with id in the slot; o gives the other path values.
func (sl idSlot) request(s *scan.Session, op *scan.Op, o *scan.Object, id string) *scan.Request {
	switch sl.in {
	case "query":
		return s.Build(op, map[string]string{"?" + sl.name: id})
	case "body":
		body := map[string]any{}
		if b := s.Build(op, nil).Body; len(b) > 0 {
			_ = json.Unmarshal(b, &body) // a sample that is not an object is replaced
		}
		var v any = id
		if _, isNum := body[sl.name].(float64); isNum {
			if n, err := strconv.ParseFloat(id, 64); err == nil {
				v = n
			}
		}
		body[sl.name] = v
		return s.BuildJSON(op, nil, body)
	}
	v := o.Values()
	v[o.Param] = id
	return s.Build(op, v)
}

// through says, for a title, where the id went ("" for the path).
func (sl idSlot) through() string {
	switch sl.in {
	case "query":
		return " through query parameter " + sl.name
	case "body":
		return " through body member " + sl.name
	}
	return ""
}

// key distinguishes the slot in a finding's key; path ids keep the keys
// they had before query and body ids were tried.
func (sl idSlot) key() string {
	if sl.in == "path" {
		return ""
	}
	return sl.in + ":" + sl.name + ":"
}

// readByReference is BOLA through query and body ids: an operation
// without path parameters that names an object by a query parameter (GET)
// or a body member (a POST that creates nothing, or any with
// --allow-writes; only with objects the scan may change),
// such as GET /invoice?invoice_id= or POST /export {"note_id": ...}. The
// judge is the path check's: the other identity's answer must show the
// owner's object, and a nonexistent id must not answer the same.
func readByReference(ctx context.Context, s *scan.Session, op *scan.Op) error {
	var slots []idSlot
	switch {
	case op.Method == "GET":
		for _, p := range op.Parameters() {
			if p.In == "query" {
				slots = append(slots, idSlot{in: "query", name: p.Name})
			}
		}
	case op.Method == "POST" && (!s.IsCreation(op) || s.AllowWrites):
		// A POST that names an object and creates nothing (an export, a
		// lookup); a creation would leave objects behind on every try.
		for _, name := range slices.Sorted(maps.Keys(op.BodyProperties())) {
			slots = append(slots, idSlot{in: "body", name: name})
		}
	}
	for _, sl := range slots {
		owners := map[*scan.Identity]bool{}
		for _, o := range s.AllObjects() {
			if o.Owner == nil || owners[o.Owner] || !refersTo(sl.name, op, o) || s.CreationOp(o.Path) == op {
				continue
			}
			if sl.in == "body" && !s.Writable(o) {
				continue
			}
			owners[o.Owner] = true // one object per owner and slot is proof enough
			if err := readOther(ctx, s, op, o, sl); err != nil {
				return err
			}
		}
	}
	return nil
}

// refersTo reports whether a parameter or member called name names
// objects like o: note_id, noteId or note-id for /notes/{id}, the
// template's own parameter name (noteId), or a bare id on an operation
// under the object's collection (/notes/lookup?id=).
func refersTo(name string, op *scan.Op, o *scan.Object) bool {
	n := normName(name)
	coll := o.Path[:strings.LastIndex(o.Path, "/")]
	if n == "id" {
		return coll != "" && (op.Path == coll || strings.HasPrefix(op.Path, coll+"/"))
	}
	if p := normName(o.Param); p != "id" && n == p {
		return true
	}
	kind := coll[strings.LastIndex(coll, "/")+1:]
	if strings.HasPrefix(kind, "{") {
		return false
	}
	return n == singular(normName(kind))+"id"
}

func normName(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
}

func singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "sses"):
		return strings.TrimSuffix(s, "es")
	case strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss"):
		return strings.TrimSuffix(s, "s")
	}
	return s
}
