package findings

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
)

// Baseline is a set of accepted findings, by fingerprint. The file is
// JSON: {"fingerprints": ["...", ...]}; a JSON report is also accepted, so
// that last run's report can be today's baseline.
type Baseline struct {
	fingerprints map[string]bool
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// LoadBaseline reads a baseline file.
func LoadBaseline(path string) (*Baseline, error) {
	f, err := os.Open(path) // #nosec G304 -- the user's own --baseline file
	if err != nil {
		return nil, fmt.Errorf("reading baseline: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading baseline %s: %w", path, err)
	}
	return ParseBaseline(path, b)
}

// ParseBaseline reads a baseline document; name is used in errors.
func ParseBaseline(name string, b []byte) (*Baseline, error) {
	var doc struct {
		Fingerprints []string `json:"fingerprints"`
		Findings     []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading baseline %s: %w", name, err)
	}
	bl := &Baseline{fingerprints: map[string]bool{}}
	all := slices.Clone(doc.Fingerprints)
	for _, f := range doc.Findings {
		all = append(all, f.Fingerprint)
	}
	for i, fp := range all {
		if !fingerprintRE.MatchString(fp) {
			return nil, fmt.Errorf("reading baseline %s: entry %d: %q is not a fingerprint (32 hex digits)", name, i, fp)
		}
		bl.fingerprints[fp] = true
	}
	return bl, nil
}

// Apply removes the baseline's findings from r and counts them in
// r.Suppressed. Call it after Finalize.
func (bl *Baseline) Apply(r *Report) {
	if bl == nil {
		return
	}
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if bl.fingerprints[f.Fingerprint] {
			r.Suppressed++
			continue
		}
		kept = append(kept, f)
	}
	r.Findings = kept
}

// WriteBaseline writes r's findings as a baseline.
func WriteBaseline(w io.Writer, r *Report) error {
	fps := []string{}
	for _, f := range r.Findings {
		fps = append(fps, f.Fingerprint)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string][]string{"fingerprints": fps})
}
