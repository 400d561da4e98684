package authz

import (
	"context"
	"fmt"

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
// Only safe methods are sent to administrative operations.
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
	return nil
}
