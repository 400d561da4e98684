package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

func setAuditDefaults(a *Audit, dataDir string) {
	setAnomalyDefaults(&a.Anomalies)
	for i := range a.Sinks {
		if a.Sinks[i].Queue == 0 {
			a.Sinks[i].Queue = 10000
		}
	}
	if a.Enabled {
		if a.Dir == "" {
			a.Dir = filepath.Join(dataDir, "audit")
		}
		setDuration(&a.CheckpointInterval, time.Minute)
		setSize(&a.MaxSegmentBytes, 64<<20)
		setDuration(&a.MaxSegmentAge, 24*time.Hour)
	}
}

// setAnomalyDefaults gives each detector that is on its default window
// (and the rate spike its floor).
func setAnomalyDefaults(an *Anomalies) {
	if en := &an.Enumeration; en.MaxDistinct > 0 {
		setDuration(&en.Window, 10*time.Minute)
	}
	if rs := &an.RateSpike; rs.Factor > 0 && rs.Min == 0 {
		rs.Min = 100
	}
	if sc := &an.Scraping; sc.Enabled {
		setDuration(&sc.Window, time.Hour)
	}
	if af := &an.AuthFailures; af.Max > 0 {
		setDuration(&af.Window, time.Minute)
		setDuration(&af.Ban, 15*time.Minute)
	}
}

// audit checks the audit section: the log's segments, the anomaly
// detectors, the origin, the witnesses and the sinks. The checks run in
// this order, which is the order of the problems Validate returns.
func (v *validator) audit(a *Audit) {
	v.auditSegments(a)
	v.authFailures(a.Anomalies.AuthFailures)
	v.enumeration(a.Anomalies.Enumeration)
	if len(a.Sinks) > 0 && !a.Enabled {
		v.errorf("audit.sinks", "copy the audit log's events: set audit.enabled")
	}
	if a.Origin != "" {
		if err := validOrigin(a.Origin); err != nil {
			v.errorf("audit.origin", "%v", err)
		}
	}
	v.witnesses(a)
	for i, s := range a.Sinks {
		v.auditSink(fmt.Sprintf("audit.sinks[%d]", i), s)
	}
	v.rateSpike(a.Anomalies.RateSpike)
	if a.Anomalies.NewNetwork.Learn < 0 {
		v.errorf("audit.anomalies.new_network.learn", "must be positive (0 turns it off)")
	}
}

// auditSegments checks how the log is cut into segments and how long they
// are kept.
func (v *validator) auditSegments(a *Audit) {
	if a.Enabled && a.CheckpointInterval.Std() < time.Second {
		v.errorf("audit.checkpoint_interval", "must be at least 1s")
	}
	if a.Enabled && a.MaxSegmentBytes < 64<<10 {
		v.errorf("audit.max_segment_bytes", "must be at least 64KiB")
	}
	if a.Enabled && a.MaxSegmentAge.Std() < time.Minute {
		v.errorf("audit.max_segment_age", "must be at least 1m")
	}
	if a.Retention != 0 && a.Retention.Std() < a.MaxSegmentAge.Std() {
		v.errorf("audit.retention", "must be at least max_segment_age (or 0 to keep everything)")
	}
}

func (v *validator) authFailures(af AuthFailures) {
	switch {
	case af.Max < 0:
		v.errorf("audit.anomalies.auth_failures.max", "must be positive (0 turns the detector off)")
	case af.Max > 0 && af.Window.Std() < time.Second:
		v.errorf("audit.anomalies.auth_failures.window", "must be at least 1s")
	}
}

func (v *validator) enumeration(en Enumeration) {
	if en.MaxDistinct < 0 || (en.MaxDistinct > 0 && en.Window.Std() < time.Second) {
		v.errorf("audit.anomalies.enumeration", "max_distinct must be positive and window at least 1s")
	}
}

func (v *validator) rateSpike(rs RateSpike) {
	if rs.Factor < 0 || (rs.Factor > 0 && rs.Factor < 2) || rs.Min < 0 {
		v.errorf("audit.anomalies.rate_spike", "factor must be at least 2 (0 turns it off) and min positive")
	}
}

// witnesses checks the witnesses of the log's checkpoints; two may not
// share a name (by default the host of their URL).
func (v *validator) witnesses(a *Audit) {
	if len(a.Witnesses) > 0 && !a.Enabled {
		v.errorf("audit.witnesses", "witness the audit log's checkpoints: set audit.enabled")
	}
	names := map[string]bool{}
	for i, w := range a.Witnesses {
		p := fmt.Sprintf("audit.witnesses[%d]", i)
		u, err := url.Parse(w.URL)
		v.witnessURL(p+".url", u, err)
		if parts := strings.SplitN(w.PublicKey, "+", 3); len(parts) != 3 || parts[0] == "" || len(parts[1]) != 8 || parts[2] == "" {
			v.errorf(p+".public_key", "must be a note verifier key, name+hash+key")
		}
		name := w.Name
		if name == "" && err == nil {
			name = u.Host
		}
		if names[name] {
			v.errorf(p+".name", "%q names two witnesses", name)
		}
		names[name] = true
	}
}

// witnessURL checks a witness's URL, u as url.Parse returned it with err.
func (v *validator) witnessURL(p string, u *url.URL, err error) {
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		v.errorf(p, "must be an https URL (http only to a loopback address)")
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		v.errorf(p, "http is allowed only to a loopback address; use https")
	case u.RawQuery != "" || u.Fragment != "":
		v.errorf(p, "must be a prefix, without a query or fragment")
	}
}

// auditSink checks one sink, at path p.
func (v *validator) auditSink(p string, s AuditSink) {
	switch s.Type {
	case "stdout":
	case "file":
		if s.Path == "" {
			v.errorf(p+".path", "required for a file sink")
		}
	case "syslog":
		if s.Network != "udp" && s.Network != "tcp" && s.Network != "tls" {
			v.errorf(p+".network", "must be udp, tcp or tls")
		}
		if err := validAddress(s.Address); err != nil {
			v.errorf(p+".address", "%v", err)
		}
	case "webhook":
		if u, err := url.Parse(s.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(p+".url", "must be an https URL")
		}
	default:
		v.errorf(p+".type", "must be stdout, file, syslog or webhook, got %q", s.Type)
	}
	if s.Queue < 0 {
		v.errorf(p+".queue", "must be positive")
	}
}

// validOrigin is the rule for a log's origin (it is also the name of its
// signing key, https://c2sp.org/signed-note): non-empty, at most 255
// bytes, printable, no spaces and no '+'. audit.CheckOrigin applies the
// same rule when the log is opened; config cannot import audit.
func validOrigin(s string) error {
	if len(s) > 255 || !utf8.ValidString(s) {
		return errors.New("must be at most 255 bytes of UTF-8")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || r == '+' || !unicode.IsPrint(r) {
			return fmt.Errorf("must not contain %q (no spaces, '+' or control characters), such as rampart.example.com/gw1", r)
		}
	}
	return nil
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
