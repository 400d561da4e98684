package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// MassAssignmentCheck is the mass-assignment half of API3:2023.
type MassAssignmentCheck struct{}

// Name implements scan.Check.
func (MassAssignmentCheck) Name() string { return "mass-assignment" }

// Rules implements scan.Check.
func (MassAssignmentCheck) Rules() []findings.Rule { return []findings.Rule{MassAssignment} }

// privilegedProps are property names that a caller should never set on
// its own object.
var privilegedProps = []string{"role", "roles", "is_admin", "isAdmin", "admin", "permissions", "scopes", "groups",
	"owner", "owner_id", "ownerId", "account_type", "accountType", "plan", "tier", "verified", "email_verified",
	"emailVerified", "is_verified", "approved", "balance", "credits", "credit"}

// Run implements scan.Check: on each object the scan may change (created
// by it, or any with --allow-writes), the owner sends only a privileged
// property with a new value, then reads the object back. A changed value
// is the proof; the old value is written back at once. Then the same at
// creation (assignOnCreate).
func (MassAssignmentCheck) Run(ctx context.Context, s *scan.Session) error {
	if !s.Enabled(MassAssignment.ID) {
		return nil
	}
	skipped := 0
	for _, op := range s.Ops {
		if (op.Method != "PUT" && op.Method != "PATCH") || len(op.Params) == 0 {
			continue
		}
		get := s.FindOp("GET", op.Path)
		if get == nil {
			continue
		}
		for _, o := range s.Objects(op.Path) {
			if o.Owner == nil {
				continue
			}
			if !s.Writable(o) {
				skipped++
				continue
			}
			if err := assign(ctx, s, op, get, o); err != nil {
				return err
			}
		}
	}
	if skipped > 0 {
		s.Note("mass assignment: %d objects not created by the scan were left alone; --allow-writes tests them", skipped)
	}
	return assignOnCreate(ctx, s)
}

// assignOnCreate is mass assignment at creation: each unprivileged
// identity creates an object with one privileged property set to an
// escalated value, and reads it back. The control is the object the same
// identity created in discovery without it: its value must differ. The
// new objects are the scan's own and are deleted at the end.
func assignOnCreate(ctx context.Context, s *scan.Session) error {
	for _, get := range s.Ops {
		if get.Method != "GET" || len(get.Params) == 0 {
			continue
		}
		post := s.CreationOp(get.Path)
		if post == nil {
			continue
		}
		for _, id := range s.Identities {
			if id.Privileged {
				continue
			}
			own := s.OwnObject(get.Path, id)
			if own == nil || !own.Created {
				continue
			}
			control, err := s.Send(ctx, s.Build(get, own.Values()), id)
			if err != nil {
				return err
			}
			if !scan.Success(control) {
				continue
			}
			var doc map[string]any
			if json.Unmarshal(control.Resp.Body, &doc) != nil {
				continue
			}
			for _, prop := range candidates(post, doc) {
				attack := attackValue(prop, doc[prop], s, id)
				if reflect.DeepEqual(doc[prop], attack) {
					continue
				}
				body := map[string]any{}
				if b := s.Build(post, nil).Body; len(b) > 0 {
					_ = json.Unmarshal(b, &body) // a sample that is not an object is replaced
				}
				body[prop] = attack
				ex, o, err := s.CreateWith(ctx, post, id, s.BuildJSON(post, nil, body))
				if err != nil {
					return err
				}
				if o == nil {
					continue
				}
				after, err := s.Send(ctx, s.Build(get, o.Values()), id)
				if err != nil {
					return err
				}
				var now map[string]any
				if json.Unmarshal(after.Resp.Body, &now) != nil || !reflect.DeepEqual(now[prop], attack) {
					continue
				}
				a, _ := json.Marshal(attack)
				f := scan.Finding(MassAssignment, post, findings.Certain,
					fmt.Sprintf("%s creates an object with its own %q", id.Name, prop),
					fmt.Sprintf("POST %s as %s with %q: %s answered %d, and reading the new object back shows that value; the object %s created without it has %s.",
						post.Path, id.Name, prop, a, ex.Resp.Status, id.Name, jsonOf(doc[prop])))
				f.Key = "create:" + prop
				f.Evidence = []findings.Exchange{scan.Evidence("an object created without it (control)", control), scan.Evidence("the creation", ex), scan.Evidence("the new object read back", after)}
				f.Curl = scan.Curl(ex)
				s.Report(f)
			}
			break // one identity proves it
		}
	}
	return nil
}

func jsonOf(v any) string {
	if v == nil {
		return "none"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func assign(ctx context.Context, s *scan.Session, op, get *scan.Op, o *scan.Object) error {
	before, err := s.Send(ctx, s.Build(get, o.Values()), o.Owner)
	if err != nil || !scan.Success(before) {
		return err
	}
	var doc map[string]any
	if json.Unmarshal(before.Resp.Body, &doc) != nil {
		return nil
	}
	for _, prop := range candidates(op, doc) {
		old, had := doc[prop]
		attack := attackValue(prop, old, s, o.Owner)
		if had && reflect.DeepEqual(old, attack) {
			continue
		}
		ex, err := s.Send(ctx, s.BuildJSON(op, o.Values(), map[string]any{prop: attack}), o.Owner)
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
		var now map[string]any
		if json.Unmarshal(after.Resp.Body, &now) != nil || !reflect.DeepEqual(now[prop], attack) {
			continue
		}
		if had {
			if _, err := s.Send(ctx, s.BuildJSON(op, o.Values(), map[string]any{prop: old}), o.Owner); err != nil {
				return err
			}
		}
		a, _ := json.Marshal(attack)
		f := scan.Finding(MassAssignment, op, findings.Certain,
			fmt.Sprintf("%s sets its own %q", o.Owner.Name, prop),
			fmt.Sprintf("%s %s as %s with {%q: %s} answered %d, and reading the object back shows the new value (it was restored).",
				op.Method, op.Path, o.Owner.Name, prop, a, ex.Resp.Status))
		f.Key = prop
		f.Evidence = []findings.Exchange{scan.Evidence("the object before (control)", before), scan.Evidence("the write", ex), scan.Evidence("the object read back", after)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
	}
	return nil
}

// candidates are the privileged properties the object or the operation's
// request schema has.
func candidates(op *scan.Op, doc map[string]any) []string {
	var out []string
	props := map[string]bool{}
	for k := range doc {
		props[k] = true
	}
	for k := range op.BodyProperties() {
		props[k] = true
	}
	for _, p := range privilegedProps {
		if props[p] {
			out = append(out, p)
		}
	}
	return out
}

// attackValue is what a caller escalating its privileges would send.
func attackValue(prop string, old any, s *scan.Session, self *scan.Identity) any {
	switch v := old.(type) {
	case bool:
		return !v
	case float64:
		return v + 1000
	case []any:
		return append(slices.Clone(v), "admin")
	}
	switch strings.ToLower(prop) {
	case "owner", "owner_id", "ownerid":
		for _, id := range s.Identities {
			if id != self && id.Subject != "" {
				return id.Subject
			}
		}
		return "rampart-scan-owner"
	case "is_admin", "isadmin", "admin", "verified", "email_verified", "emailverified", "is_verified", "approved":
		return true
	case "roles", "permissions", "scopes", "groups":
		return []any{"admin"}
	case "balance", "credits", "credit":
		return 1000000.0
	case "plan", "tier", "account_type", "accounttype":
		return "enterprise"
	}
	return "admin"
}
