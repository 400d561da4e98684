package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// preflight proves that each identity is authenticated: on an operation
// the spec says needs credentials, the identity is not refused with 401
// where an anonymous request is. An identity refused everywhere stops the
// scan (ErrNotAuthenticated); one that cannot be proven because the
// target asks nobody for credentials gets a note, and the missing-
// authentication check reports the target.
func (s *Session) preflight(ctx context.Context) error {
	if len(s.Identities) == 0 {
		s.Note("no identities given: the authorization checks (BOLA, BFLA, mass assignment) need two or more")
		return nil
	}
	var cands []*Op
	for _, op := range s.Ops {
		if op.Method == "GET" && op.RequiresAuth {
			cands = append(cands, op)
		}
	}
	slices.SortStableFunc(cands, func(a, b *Op) int { return len(a.Params) - len(b.Params) })
	if len(cands) > 4 {
		cands = cands[:4]
	}
	if len(cands) == 0 {
		s.Note("the spec declares no GET operation that needs credentials: the identities' credentials could not be proven before the scan")
		return nil
	}
	anon := make([]*Exchange, len(cands))
	for i, op := range cands {
		ex, err := s.Send(ctx, s.Build(op, nil), nil)
		if err != nil {
			return err
		}
		anon[i] = ex
		s.setView(op, "", ex)
	}
	for _, id := range s.Identities {
		proven, open, refused := false, false, 0
		var last *Exchange
		for i, op := range cands {
			ex, err := s.Send(ctx, s.Build(op, nil), id)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				return fmt.Errorf("%w: %s: %v", ErrNotAuthenticated, id.Name, err)
			}
			last = ex
			switch {
			case ex.Resp.Status == http.StatusUnauthorized, Denied(ex) && ex.Resp.Status == anon[i].Resp.Status:
				// Refused like an anonymous caller (a 403 for everyone is
				// a ban or a firewall, not a proof).
				refused++
			case Denied(anon[i]):
				proven = true
			case Success(anon[i]):
				open = true
			}
		}
		switch {
		case proven:
		case refused == len(cands):
			return fmt.Errorf("%w: %s: %s %s answered %d with its credentials (check the token or key, and --identity %s='Header: value')",
				ErrNotAuthenticated, id.Name, last.Req.Method, last.Req.Path, last.Resp.Status, id.Name)
		case open:
			s.Note("%s: the target answers without credentials too, so the identity's credentials could not be proven", id.Name)
		default:
			s.Note("%s: not proven authenticated (no operation refused an anonymous request and answered the identity)", id.Name)
		}
	}
	return nil
}

// discover exercises every safe operation as every identity, with real ids
// where it knows them, learns object ids from list and item responses
// and from creations, and records each identity's view for the checks.
func (s *Session) discover(ctx context.Context) error {
	s.useSeeds()
	if err := s.create(ctx); err != nil {
		return err
	}
	gets := make([]*Op, 0, len(s.Ops))
	for _, op := range s.Ops {
		if op.Method == "GET" {
			gets = append(gets, op)
		}
	}
	slices.SortStableFunc(gets, func(a, b *Op) int { return len(a.Params) - len(b.Params) })
	// Lists first, so that their ids feed the item operations; an item
	// operation without a known id falls back to the identity's subject,
	// then to the spec's example.
	for round := 0; round < 2; round++ {
		for _, op := range gets {
			for _, id := range s.Identities {
				if v := s.View(op, id.Name); Success(v) {
					continue
				}
				values, ok := s.valuesFor(op, id, round > 0)
				if !ok {
					continue
				}
				ex, err := s.Send(ctx, s.Build(op, values), id)
				if err != nil {
					return err
				}
				if prev := s.View(op, id.Name); prev == nil || Success(ex) {
					s.setView(op, id.Name, ex)
				}
				s.learn(op, ex, id)
			}
		}
	}
	s.ownersFromLists()
	return nil
}

// valuesFor picks the path parameter values identity id reads op with:
// its own object, else its subject, else (last round) the spec's example.
func (s *Session) valuesFor(op *Op, id *Identity, fallback bool) (map[string]string, bool) {
	if len(op.Params) == 0 {
		return nil, true
	}
	if o := s.OwnObject(op.Path, id); o != nil {
		return o.Values(), true
	}
	last := op.Params[len(op.Params)-1]
	if len(op.Params) == 1 && id.Subject != "" && !s.tried(op, id) {
		s.markTried(op, id)
		return map[string]string{last: id.Subject}, true
	}
	if objs := s.Objects(op.Path); len(objs) > 0 {
		return objs[0].Values(), true
	}
	return nil, fallback
}

func (s *Session) tried(op *Op, id *Identity) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subjectTried[op.Key()+"\x00"+id.Name]
}

func (s *Session) markTried(op *Op, id *Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subjectTried == nil {
		s.subjectTried = map[string]bool{}
	}
	s.subjectTried[op.Key()+"\x00"+id.Name] = true
}

func unescape(seg string) string {
	if v, err := url.PathUnescape(seg); err == nil {
		return v
	}
	return seg
}

// itemPaths returns the item templates next to the collection at path
// (path + "/{x}"), each with its parameter x.
func (s *Session) itemPaths(path string) map[string]string {
	out := map[string]string{}
	for _, op := range s.Ops {
		if !strings.HasPrefix(op.Path, path+"/{") || len(op.Params) == 0 {
			continue
		}
		rest := op.Path[len(path)+1:]
		if strings.Count(rest, "/") == 0 && strings.HasSuffix(rest, "}") {
			out[op.Path] = op.Params[len(op.Params)-1]
		}
	}
	return out
}

// learn reads object ids out of a response: the items of a list feed the
// item operation next to it; an item's own id confirms it exists.
func (s *Session) learn(op *Op, ex *Exchange, id *Identity) {
	if !Success(ex) {
		return
	}
	var doc any
	if json.Unmarshal(ex.Resp.Body, &doc) != nil {
		return
	}
	parents := s.PathValues(op, ex)
	s.followLinks(op, ex, doc, id, false)
	for itemPath, param := range s.itemPaths(op.Path) {
		for _, item := range listItems(doc) {
			v, ok := idOf(item, param)
			if !ok {
				continue
			}
			o := &Object{Path: itemPath, Param: param, ID: v, Parents: parents}
			if id.Subject != "" && v == id.Subject {
				o.Owner = id
			}
			o = s.AddObject(o)
			s.seenInList(o, id)
		}
	}
	if len(op.Params) > 0 {
		last := op.Params[len(op.Params)-1]
		if m, ok := doc.(map[string]any); ok {
			if v, ok := idOf(m, last); ok && v == parents[last] {
				o := &Object{Path: op.Path, Param: last, ID: v, Parents: without(parents, last)}
				if id.Subject != "" && v == id.Subject {
					o.Owner = id
				}
				s.AddObject(o)
			}
		}
	}
}

// followLinks applies the spec's links of the answered response: a
// parameter given as $response.body#/pointer feeds the linked operation's
// path parameter, so an id one operation returns reaches the next. created
// marks the objects as the scan's own (the answer of a creation).
func (s *Session) followLinks(op *Op, ex *Exchange, doc any, id *Identity, created bool) {
	if op.Op.Responses == nil {
		return
	}
	resp := op.Op.Responses.Value(strconv.Itoa(ex.Resp.Status))
	if resp == nil || resp.Value == nil {
		return
	}
	for _, l := range resp.Value.Links {
		if l == nil || l.Value == nil {
			continue
		}
		var target *Op
		for _, o := range s.Ops {
			if l.Value.OperationID != "" && o.Op.OperationID == l.Value.OperationID {
				target = o
			}
		}
		if target == nil {
			continue
		}
		values := map[string]string{}
		for name, expr := range l.Value.Parameters {
			e, ok := expr.(string)
			if !ok {
				continue
			}
			name = strings.TrimPrefix(name, "path.")
			ptr, ok := strings.CutPrefix(e, "$response.body#")
			if !ok {
				continue
			}
			if v, ok := pointer(doc, ptr); ok {
				values[name] = v
			}
		}
		if len(target.Params) == 0 {
			continue
		}
		last := target.Params[len(target.Params)-1]
		v, ok := values[last]
		if !ok {
			continue
		}
		o := &Object{Path: target.Path, Param: last, ID: v, Parents: without(values, last), Created: created}
		if created || (id.Subject != "" && v == id.Subject) {
			o.Owner = id
		}
		s.AddObject(o)
	}
}

// pointer reads an RFC 6901 JSON pointer from a decoded document as a
// string id.
func pointer(doc any, ptr string) (string, bool) {
	cur := doc
	if ptr != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch x := cur.(type) {
			case map[string]any:
				cur = x[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(x) {
					return "", false
				}
				cur = x[i]
			default:
				return "", false
			}
		}
	}
	switch v := cur.(type) {
	case string:
		return v, v != ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// PathValues recovers the path parameter values of a sent request.
func (s *Session) PathValues(op *Op, ex *Exchange) map[string]string {
	out := map[string]string{}
	tmpl := strings.Split(op.Path, "/")
	got := strings.Split(ex.Req.Path, "/")
	if len(tmpl) != len(got) {
		return out
	}
	for i, seg := range tmpl {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out[seg[1:len(seg)-1]] = unescape(got[i])
		}
	}
	return out
}

func without(m map[string]string, k string) map[string]string {
	out := map[string]string{}
	for kk, v := range m {
		if kk != k {
			out[kk] = v
		}
	}
	return out
}

// listItems returns the objects of a list response: a top-level array, or
// the first member holding an array of objects ({"data": [...]}).
func listItems(doc any) []map[string]any {
	objs := func(a []any) []map[string]any {
		var out []map[string]any
		for _, v := range a {
			if m, ok := v.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	switch x := doc.(type) {
	case []any:
		return objs(x)
	case map[string]any:
		for _, k := range []string{"data", "items", "results", "records", "content", "values"} {
			if a, ok := x[k].([]any); ok {
				return objs(a)
			}
		}
		for _, v := range x {
			if a, ok := v.([]any); ok {
				if o := objs(a); len(o) > 0 {
					return o
				}
			}
		}
	}
	return nil
}

// idOf reads the id of an object for a path parameter: the member named
// like the parameter (userId, user_id), else "id".
func idOf(m map[string]any, param string) (string, bool) {
	for _, k := range []string{param, "id", "ID", "Id", "uuid", "_id"} {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v, true
			}
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), true
		}
	}
	return "", false
}

// seenInList records which identities saw an object in a list, so that
// an object only one identity's list holds can be counted as its own.
func (s *Session) seenInList(o *Object, id *Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listSeen == nil {
		s.listSeen = map[*Object]map[*Identity]bool{}
	}
	if s.listSeen[o] == nil {
		s.listSeen[o] = map[*Identity]bool{}
	}
	s.listSeen[o][id] = true
}

func (s *Session) ownersFromLists() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.Identities) < 2 {
		return
	}
	for o, who := range s.listSeen {
		if o.Owner != nil || len(who) != 1 {
			continue
		}
		for id := range who {
			// Only when the other identities listed the same collection
			// and did not see it.
			o.Owner = id
		}
	}
}

// create makes one object per identity with each creation operation (a
// POST on a collection that has an item operation), so that the write
// checks have objects they may change. Created objects are deleted at the
// end where the spec allows it.
func (s *Session) create(ctx context.Context) error {
	for _, op := range s.Ops {
		if op.Method != "POST" || len(op.Params) > 0 || (len(s.itemPaths(op.Path)) == 0 && !hasLinks(op)) {
			continue
		}
		for _, id := range s.Identities {
			ex, _, err := s.Create(ctx, op, id)
			if err != nil {
				return err
			}
			s.setView(op, id.Name, ex)
		}
	}
	return nil
}

func hasLinks(op *Op) bool {
	if op.Op.Responses == nil {
		return false
	}
	for _, r := range op.Op.Responses.Map() {
		if r != nil && r.Value != nil && len(r.Value.Links) > 0 {
			return true
		}
	}
	return false
}

// IsCreation reports whether op (a POST) looks like it creates something:
// it is the creation operation of an item path, its path also lists (a
// GET on the same path), or it declares a 201 answer. Checks that send
// many variants of a write keep away from creations unless writes are
// allowed, since each variant may leave an object behind.
func (s *Session) IsCreation(op *Op) bool {
	if op.Method != "POST" {
		return false
	}
	if s.FindOp("GET", op.Path) != nil {
		return true
	}
	if op.Op.Responses != nil && op.Op.Responses.Value("201") != nil {
		return true
	}
	for _, other := range s.Ops {
		if len(other.Params) > 0 && other.Method == "GET" && s.CreationOp(other.Path) == op {
			return true
		}
	}
	return false
}

// CreationOp returns the POST that creates objects read at itemPath.
func (s *Session) CreationOp(itemPath string) *Op {
	i := strings.LastIndex(itemPath, "/")
	if i <= 0 {
		return nil
	}
	return s.FindOp("POST", itemPath[:i])
}

// Create sends op (a POST on a collection) as id and records the object it
// returns as created by the scan and owned by id; obj is nil when the
// answer holds no id.
func (s *Session) Create(ctx context.Context, op *Op, id *Identity) (*Exchange, *Object, error) {
	return s.CreateWith(ctx, op, id, s.Build(op, nil))
}

// CreateWith is Create with the request r (for example a built body with
// one member changed); the object it creates is the scan's, deleted at the
// end like the others.
func (s *Session) CreateWith(ctx context.Context, op *Op, id *Identity, r *Request) (*Exchange, *Object, error) {
	ex, err := s.Send(ctx, r, id)
	if err != nil || !Success(ex) {
		return ex, nil, err
	}
	var m map[string]any
	if json.Unmarshal(ex.Resp.Body, &m) != nil {
		return ex, nil, nil
	}
	s.followLinks(op, ex, m, id, true)
	var obj *Object
	for itemPath, param := range s.itemPaths(op.Path) {
		if v, ok := idOf(m, param); ok {
			obj = s.AddObject(&Object{Path: itemPath, Param: param, ID: v, Owner: id, Created: true, Parents: map[string]string{}})
		}
	}
	return ex, obj, nil
}

// Forget drops an object that no longer exists.
func (s *Session) Forget(o *Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects = slices.DeleteFunc(s.objects, func(x *Object) bool { return x == o })
	s.created = slices.DeleteFunc(s.created, func(x *Object) bool { return x == o })
}
