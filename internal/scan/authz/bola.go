package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// BOLACheck is API1:2023.
type BOLACheck struct{}

// Name implements scan.Check.
func (BOLACheck) Name() string { return "bola" }

// Rules implements scan.Check.
func (BOLACheck) Rules() []findings.Rule { return []findings.Rule{BOLA} }

// Run implements scan.Check: for every object with a known owner A, each
// other unprivileged identity B reads it; B's answer counts only when it
// shows A's object (similar to A's own view, and more like it than like
// B's own object) and a request for an id that does not exist does not
// answer the same. Writes and deletes are tried on objects the scan may
// change, proven by A reading the object afterwards.
func (BOLACheck) Run(ctx context.Context, s *scan.Session) error {
	if !s.Enabled(BOLA.ID) {
		return nil
	}
	if len(s.Identities) < 2 {
		s.Note("BOLA needs two identities; skipped")
		return nil
	}
	for _, op := range s.Ops {
		if len(op.Params) == 0 {
			if err := readByReference(ctx, s, op); err != nil {
				return err
			}
			continue
		}
		for _, o := range s.Objects(op.Path) {
			if o.Owner == nil {
				continue
			}
			var err error
			switch op.Method {
			case "GET":
				err = readOther(ctx, s, op, o, idSlot{in: "path", name: o.Param})
			case "PUT", "PATCH":
				if s.Writable(o) {
					err = writeOther(ctx, s, op, o)
				}
			case "DELETE":
				if o.Created {
					err = deleteOther(ctx, s, op, o)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func readOther(ctx context.Context, s *scan.Session, op *scan.Op, o *scan.Object, sl idSlot) error {
	own, err := s.Send(ctx, sl.request(s, op, o, o.ID), o.Owner)
	if err != nil || !scan.Success(own) {
		return err
	}
	for _, b := range s.Identities {
		if b == o.Owner || b.Privileged {
			continue
		}
		ex, err := s.Send(ctx, sl.request(s, op, o, o.ID), b)
		if err != nil {
			return err
		}
		if !scan.Success(ex) {
			continue
		}
		var bOwn []byte
		if mine := s.OwnObject(o.Path, b); mine != nil && (sl.in != "body" || s.Writable(mine)) {
			if v, err := s.Send(ctx, sl.request(s, op, mine, mine.ID), b); err != nil {
				return err
			} else if scan.Success(v) {
				bOwn = v.Resp.Body
			}
		}
		same, sim := scan.SameObject(own.Resp.Body, ex.Resp.Body, bOwn)
		if !same {
			continue
		}
		control, err := s.Send(ctx, sl.request(s, op, o, missingID(o)), b)
		if err != nil {
			return err
		}
		if scan.Success(control) {
			if c, _ := scan.SameObject(own.Resp.Body, control.Resp.Body, nil); c {
				continue // the API answers the same for any id: not this object
			}
		}
		f := scan.Finding(BOLA, op, findings.Certain,
			fmt.Sprintf("%s reads %s's object%s", b.Name, o.Owner.Name, sl.through()),
			fmt.Sprintf("%s %s with %s's id %q%s answered %d to %s with the same object %s sees (similarity: shape %.2f, values %.2f); a nonexistent id answered %d.",
				op.Method, op.Path, o.Owner.Name, o.ID, sl.through(), ex.Resp.Status, b.Name, o.Owner.Name, sim.Structure, sim.Values, control.Resp.Status))
		f.Key = "read:" + sl.key() + b.Name + "->" + o.Owner.Name
		f.Evidence = []findings.Exchange{scan.Evidence(o.Owner.Name+" reads its own object (control)", own),
			scan.Evidence(b.Name+" reads "+o.Owner.Name+"'s object", ex), scan.Evidence(b.Name+" reads a nonexistent id (control)", control)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
	}
	return nil
}

// missingID returns an id that does not exist, of the same kind as o's
// (numeric ids stay numeric).
func missingID(o *scan.Object) string {
	if _, err := strconv.ParseFloat(o.ID, 64); err == nil {
		return "987654321"
	}
	return "rampart-scan-no-such-object"
}

// writeOther has another identity change a harmless string property of
// o to a marker, and the owner read it back. The owner restores it.
func writeOther(ctx context.Context, s *scan.Session, op *scan.Op, o *scan.Object) error {
	get := s.FindOp("GET", op.Path)
	if get == nil {
		return nil
	}
	before, err := s.Send(ctx, s.Build(get, o.Values()), o.Owner)
	if err != nil || !scan.Success(before) {
		return err
	}
	var doc map[string]any
	if json.Unmarshal(before.Resp.Body, &doc) != nil {
		return nil
	}
	field := markerField(doc)
	if field == "" {
		return nil
	}
	for _, b := range s.Identities {
		if b == o.Owner || b.Privileged {
			continue
		}
		marker := "rampart-scan-" + s.Canary.Token()[:8]
		ex, err := s.Send(ctx, s.BuildJSON(op, o.Values(), map[string]any{field: marker}), b)
		if err != nil {
			return err
		}
		if !scan.Success(ex) {
			continue
		}
		after, err := s.Send(ctx, s.Build(get, o.Values()), o.Owner)
		if err != nil {
			return err
		}
		if !bytes.Contains(after.Resp.Body, []byte(marker)) {
			continue
		}
		if _, err := s.Send(ctx, s.BuildJSON(op, o.Values(), map[string]any{field: doc[field]}), o.Owner); err != nil {
			return err
		}
		f := scan.Finding(BOLA, op, findings.Certain,
			fmt.Sprintf("%s changes %s's object", b.Name, o.Owner.Name),
			fmt.Sprintf("%s %s on %s's id %q as %s set %q to a marker, and %s read the marker back (the value was restored).",
				op.Method, op.Path, o.Owner.Name, o.ID, b.Name, field, o.Owner.Name))
		f.Key = "write:" + b.Name + "->" + o.Owner.Name
		f.Evidence = []findings.Exchange{scan.Evidence(o.Owner.Name+" reads its object before (control)", before),
			scan.Evidence(b.Name+" writes "+o.Owner.Name+"'s object", ex), scan.Evidence(o.Owner.Name+" reads the marker back", after)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
		return nil
	}
	return nil
}

// markerField picks a plain text property to mark: a name, title or
// description, never an id, a role or anything sensitive.
func markerField(doc map[string]any) string {
	for _, k := range []string{"name", "title", "description", "nickname", "display_name", "displayName", "note", "notes", "comment", "label"} {
		if _, ok := doc[k].(string); ok {
			return k
		}
	}
	return ""
}

// deleteOther has another identity delete a fresh object the scan
// creates for the owner just for this (so the other checks keep theirs);
// the owner's read afterwards proves it.
func deleteOther(ctx context.Context, s *scan.Session, op *scan.Op, o *scan.Object) error {
	get, post := s.FindOp("GET", op.Path), s.CreationOp(op.Path)
	if get == nil || post == nil {
		return nil
	}
	for _, b := range s.Identities {
		if b == o.Owner || b.Privileged {
			continue
		}
		_, victim, err := s.Create(ctx, post, o.Owner)
		if err != nil || victim == nil {
			return err
		}
		ex, err := s.Send(ctx, s.Build(op, victim.Values()), b)
		if err != nil {
			return err
		}
		if !scan.Success(ex) {
			continue
		}
		after, err := s.Send(ctx, s.Build(get, victim.Values()), o.Owner)
		if err != nil {
			return err
		}
		if after.Resp.Status != http.StatusNotFound && after.Resp.Status != http.StatusGone {
			continue
		}
		s.Forget(victim)
		f := scan.Finding(BOLA, op, findings.Certain,
			fmt.Sprintf("%s deletes %s's object", b.Name, o.Owner.Name),
			fmt.Sprintf("DELETE %s on %s's id %q as %s answered %d, and %s then got %d for it.",
				op.Path, o.Owner.Name, victim.ID, b.Name, ex.Resp.Status, o.Owner.Name, after.Resp.Status))
		f.Key = "delete:" + b.Name + "->" + o.Owner.Name
		f.Evidence = []findings.Exchange{scan.Evidence(b.Name+" deletes "+o.Owner.Name+"'s object", ex), scan.Evidence(o.Owner.Name+" reads it afterwards", after)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
		return nil
	}
	return nil
}
