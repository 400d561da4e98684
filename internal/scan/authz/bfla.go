package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// BFLACheck is API5:2023.
type BFLACheck struct{}

// Name implements scan.Check.
func (BFLACheck) Name() string { return "bfla" }

// Rules implements scan.Check.
func (BFLACheck) Rules() []findings.Rule { return []findings.Rule{BFLA} }

// Run implements scan.Check. An operation is administrative when the spec
// says so (an admin/internal/management tag or path segment, or
// x-rampart-privileged: true). Each unprivileged identity's answer from
// discovery counts when it succeeds and, if a privileged identity is
// configured, looks like the privileged identity's answer (the control).
// Administrative writes are tried on fresh objects only (adminWrites).
func (BFLACheck) Run(ctx context.Context, s *scan.Session) error {
	if !s.Enabled(BFLA.ID) {
		return nil
	}
	low := s.Unprivileged()
	if len(low) == 0 {
		s.Note("BFLA needs an unprivileged identity; skipped")
		return nil
	}
	for _, op := range s.Ops {
		if !op.Privileged || !op.Safe() {
			continue
		}
		var control *scan.Exchange
		for _, p := range s.Privileged() {
			if v := s.View(op, p.Name); scan.Success(v) {
				control = v
				break
			}
		}
		if len(s.Privileged()) > 0 && control == nil {
			continue // even an administrator cannot call it: nothing to compare
		}
		for _, id := range low {
			v := s.View(op, id.Name)
			if !scan.Success(v) {
				continue
			}
			conf := findings.Tentative
			msg := fmt.Sprintf("%s %s is administrative (by its tags or path) and answered %d to %s, an unprivileged identity.", op.Method, op.Path, v.Resp.Status, id.Name)
			ev := []findings.Exchange{}
			if control != nil {
				sim := scan.Compare(control.Resp.Body, v.Resp.Body)
				if sim.Structure < 0.7 {
					continue
				}
				conf = findings.Firm
				msg += fmt.Sprintf(" Its answer has the shape of %s's (similarity %.2f).", control.As.Name, sim.Structure)
				ev = append(ev, scan.Evidence(control.As.Name+" (privileged) calls it (control)", control))
			}
			ev = append(ev, scan.Evidence(id.Name+" (unprivileged) calls it", v))
			f := scan.Finding(BFLA, op, conf, fmt.Sprintf("%s calls an administrative operation", id.Name), msg)
			f.Key = id.Name
			f.Evidence = ev
			f.Curl = scan.Curl(v)
			s.Report(f)
		}
	}
	return adminWrites(ctx, s, low)
}

// adminWrites tries the administrative DELETE, PUT and PATCH operations
// that address objects the scan can create (DELETE /admin/notes/{id} next
// to POST /notes): a fresh object is created for the purpose, owned by
// another identity (the privileged one when there is one), and each
// unprivileged identity calls the operation on it. The owner reading the
// object back (gone, or carrying the marker) is the proof; a fresh object
// is used for each try, so no one's data is touched.
func adminWrites(ctx context.Context, s *scan.Session, low []*scan.Identity) error {
	for _, op := range s.Ops {
		if !op.Privileged || (op.Method != "DELETE" && op.Method != "PUT" && op.Method != "PATCH") || len(op.Params) == 0 {
			continue
		}
		item := addressed(s, op)
		get, post := s.FindOp("GET", item), s.CreationOp(item)
		if item == "" || get == nil || post == nil {
			continue
		}
		for _, b := range low {
			owner := ownerFor(s, b)
			if owner == nil {
				continue
			}
			ex, after, what, err := adminWrite(ctx, s, op, get, post, owner, b)
			if err != nil {
				return err
			}
			if what == "" {
				continue
			}
			f := scan.Finding(BFLA, op, findings.Certain, fmt.Sprintf("%s calls an administrative operation", b.Name),
				fmt.Sprintf("%s %s is administrative (by its tags or path); as %s, an unprivileged identity, it answered %d on a fresh object of %s's, and %s then %s.",
					op.Method, op.Path, b.Name, ex.Resp.Status, owner.Name, owner.Name, what))
			f.Key = "write:" + b.Name
			f.Evidence = []findings.Exchange{scan.Evidence(b.Name+" (unprivileged) calls it", ex), scan.Evidence(owner.Name+" reads the object afterwards", after)}
			f.Curl = scan.Curl(ex)
			s.Report(f)
		}
	}
	return nil
}

// adminWrite creates a victim for owner and has b call op on it; what
// describes the proof, "" when there is none.
func adminWrite(ctx context.Context, s *scan.Session, op, get, post *scan.Op, owner, b *scan.Identity) (ex, after *scan.Exchange, what string, err error) {
	_, victim, err := s.Create(ctx, post, owner)
	if err != nil || victim == nil {
		return nil, nil, "", err
	}
	values := victim.Values()
	for _, p := range op.Params {
		if _, ok := values[p]; !ok {
			// The operation names its parameters otherwise than the item
			// path: a guessed value could hit an object that is not ours.
			return nil, nil, "", nil
		}
	}
	// The owner reads the fresh object first: a later 404 is proof only
	// if this one answered.
	before, err := s.Send(ctx, s.Build(get, values), owner)
	if err != nil || !scan.Success(before) {
		return nil, nil, "", err
	}
	var marker, field string
	if op.Method == "DELETE" {
		ex, err = s.Send(ctx, s.Build(op, values), b)
	} else {
		var doc map[string]any
		if json.Unmarshal(before.Resp.Body, &doc) != nil {
			return nil, nil, "", nil
		}
		if field = markerField(doc); field == "" {
			return nil, nil, "", nil
		}
		marker = "rampart-scan-" + s.Canary.Token()[:8]
		ex, err = s.Send(ctx, s.BuildJSON(op, values, map[string]any{field: marker}), b)
	}
	if err != nil || !scan.Success(ex) {
		return nil, nil, "", err
	}
	if after, err = s.Send(ctx, s.Build(get, values), owner); err != nil {
		return nil, nil, "", err
	}
	switch {
	case op.Method == "DELETE" && (after.Resp.Status == http.StatusNotFound || after.Resp.Status == http.StatusGone):
		s.Forget(victim)
		return ex, after, fmt.Sprintf("got %d for it", after.Resp.Status), nil
	case marker != "" && bytes.Contains(after.Resp.Body, []byte(marker)):
		return ex, after, fmt.Sprintf("read the marker back in %q", field), nil
	}
	return nil, nil, "", nil
}

// addressed returns the item path whose objects op addresses: its own
// path when objects are read there, else its path without the
// administrative segments (/admin/notes/{id} addresses /notes/{id}).
func addressed(s *scan.Session, op *scan.Op) string {
	if s.FindOp("GET", op.Path) != nil {
		return op.Path
	}
	var kept []string
	for _, seg := range strings.Split(op.Path, "/") {
		if !scan.PrivilegedSegment(seg) {
			kept = append(kept, seg)
		}
	}
	return strings.Join(kept, "/")
}

// ownerFor picks who owns the victim of b's try: a privileged identity,
// else another unprivileged one.
func ownerFor(s *scan.Session, b *scan.Identity) *scan.Identity {
	if p := s.Privileged(); len(p) > 0 {
		return p[0]
	}
	for _, id := range s.Identities {
		if id != b {
			return id
		}
	}
	return nil
}
