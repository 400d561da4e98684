package findings

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-gw/rampart/internal/findings/findingstest"
)

func sample() *Report {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	r := &Report{
		Tool: "scan", Version: "test", Target: "http://127.0.0.1:8080", Started: start, Finished: start.Add(3 * time.Second), Complete: true,
		Stats: map[string]int{"requests": 42, "operations": 5},
		Rules: []Rule{
			{ID: "rampart.scan.api1.bola", Name: "Broken object level authorization", Description: "d", Help: "h", OWASP: "API1:2023", Severity: High},
			{ID: "rampart.scan.api8.headers", Name: "Missing security headers", Description: "d", Help: "h", OWASP: "API8:2023", Severity: Low},
			{ID: "rampart.lint.spec.http-server", Name: "Plain HTTP server", Description: "d", Help: "h", Severity: Medium},
		},
		Findings: []Finding{
			{RuleID: "rampart.scan.api8.headers", Title: "No HSTS", Severity: Low, Confidence: Certain, OWASP: "API8:2023", Method: "GET", PathTemplate: "/health", Message: "m"},
			{RuleID: "rampart.scan.api1.bola", Title: "bob reads alice's user", Severity: High, Confidence: Certain, OWASP: "API1:2023",
				Method: "GET", PathTemplate: "/users/{id}", Key: "bob->alice", Message: "bob got alice's object",
				Evidence: []Exchange{{Label: "control", Request: "GET /users/alice", Response: "200 <script>alert(1)</script>"}},
				Curl:     `curl -H "Authorization: $BOB" http://127.0.0.1:8080/users/alice`},
			{RuleID: "rampart.lint.spec.http-server", Title: "http server", Severity: Medium, Confidence: Certain, Message: "m",
				Location: &Location{File: "openapi.yaml", Pointer: "/servers/0/url", Line: 3, Column: 9}},
		},
	}
	r.Finalize()
	return r
}

func TestSeverity(t *testing.T) {
	for _, s := range []Severity{Info, Low, Medium, High, Critical} {
		got, err := ParseSeverity(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseSeverity("severe"); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("bad severity: %v", err)
	}
}

func TestFinalizeSortsAndFingerprints(t *testing.T) {
	r := sample()
	if r.Findings[0].Severity != High || r.Findings[2].Severity != Low {
		t.Errorf("not sorted by severity: %v", r.Findings)
	}
	a := r.Findings[0]
	b := a
	b.Message, b.Evidence, b.Curl, b.Fingerprint = "other text", nil, "", ""
	if ComputeFingerprint(&b) != a.Fingerprint {
		t.Error("fingerprint depends on message or evidence")
	}
	b.Key = "carol->alice"
	if ComputeFingerprint(&b) == a.Fingerprint {
		t.Error("fingerprint ignores the key")
	}
	if r.AtOrAbove(High) != 1 || r.AtOrAbove(Low) != 3 || r.AtOrAbove(Critical) != 0 {
		t.Errorf("AtOrAbove wrong: %d %d", r.AtOrAbove(High), r.AtOrAbove(Low))
	}
}

func TestBaseline(t *testing.T) {
	r := sample()
	var buf bytes.Buffer
	if err := WriteBaseline(&buf, &Report{Findings: r.Findings[:1]}); err != nil {
		t.Fatal(err)
	}
	bl, err := ParseBaseline("b.json", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	bl.Apply(r)
	if len(r.Findings) != 2 || r.Suppressed != 1 || r.Findings[0].Severity == High {
		t.Errorf("baseline not applied: %d findings, %d suppressed", len(r.Findings), r.Suppressed)
	}
	// A JSON report works as a baseline too.
	var rep bytes.Buffer
	_ = Write(&rep, JSON, sample())
	if bl, err := ParseBaseline("report.json", rep.Bytes()); err != nil || len(bl.fingerprints) != 3 {
		t.Errorf("report as baseline: %v", err)
	}
	for _, bad := range []string{`{"fingerprints": ["nothex"]}`, `[`, `{"fingerprints": [1]}`} {
		if _, err := ParseBaseline("bad.json", []byte(bad)); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("ParseBaseline(%s) = %v", bad, err)
		}
	}
}

// The SARIF log validates against the official OASIS SARIF 2.1.0 schema
// (findingstest embeds it, from oasis-tcs/sarif-spec), and each
// result carries the OWASP category, method and path template.
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	sch := findingstest.Schema(t)
	findingstest.ValidateSARIF(t, buf.Bytes())
	// The schema is not a rubber stamp: a broken log fails it.
	broken := strings.Replace(buf.String(), `"level": "error"`, `"level": "severe"`, 1)
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(broken))
	if err := sch.Validate(bad); err == nil {
		t.Fatal("schema accepted an invalid level")
	}
	var log struct {
		Runs []struct {
			Results []struct {
				Properties map[string]any `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	p := log.Runs[0].Results[0].Properties
	if p["owasp"] != "API1:2023" || p["method"] != "GET" || p["pathTemplate"] != "/users/{id}" {
		t.Errorf("result properties = %v", p)
	}
}

func TestJSONHasSameFields(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, JSON, sample()); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	f := r.Findings[0]
	for k, want := range map[string]string{"owasp": "API1:2023", "method": "GET", "pathTemplate": "/users/{id}", "severity": "high", "ruleId": "rampart.scan.api1.bola", "confidence": "certain"} {
		if f[k] != want {
			t.Errorf("json %s = %v, want %s", k, f[k], want)
		}
	}
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			File    string `xml:"file,attr"`
			Line    int    `xml:"line,attr"`
			Failure *struct {
				Type string `xml:"type,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Failures != 3 || s.Tests != 3 || s.Cases[0].Failure.Type != "high" {
		t.Errorf("junit = %+v", s)
	}
	// A static finding names its file and line for CI reporters; a
	// dynamic one names none.
	files := 0
	for _, c := range s.Cases {
		if c.File != "" {
			files++
			if c.Line == 0 {
				t.Errorf("case %q has a file and no line", c.Name)
			}
		}
	}
	if files != 1 {
		t.Errorf("%d cases name a file, want 1 (the sample's static finding): %+v", files, s.Cases)
	}
}

func TestTextAndHTML(t *testing.T) {
	var txt, page bytes.Buffer
	r := sample()
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HIGH     rampart.scan.api1.bola", "reproduce: curl", "3 findings: 0 critical, 1 high, 1 medium, 1 low", "requests 42"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	h := page.String()
	if strings.Contains(h, "<script>alert") || !strings.Contains(h, "&lt;script&gt;alert") {
		t.Error("evidence is not escaped in the HTML report")
	}
	// Self-contained: no scripts, stylesheets, images or fonts from
	// anywhere (the target URL appears only as text).
	for _, bad := range []string{"<link", "<script", " src=", "url(", "@import"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML report holds %q", bad)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

// TestTextGolden pins the scan layout byte for byte.
func TestTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.txt", b.Bytes())
}

// staticSample is a lint report: findings in two files, out of position
// order, one without a column, one without a line, one with an operation,
// one outside the root and one about no file.
func staticSample() *Report {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	r := &Report{
		Tool: "lint", Version: "test", Target: "api/openapi.yaml, rampart.yaml", Started: start, Finished: start.Add(1500 * time.Millisecond), Complete: true,
		Stats: map[string]int{"inputs": 2, "rules": 4},
		Notes: []string{"go: no Go patterns given"},
		Rules: []Rule{
			{ID: "rampart.lint.spec.http-server", Name: "Plain-HTTP server", Description: "d", Help: "h", OWASP: "API8:2023", Severity: High},
			{ID: "rampart.lint.config.audit-off", Name: "Audit log off", Description: "d", Help: "h", Severity: Medium},
			{ID: "rampart.lint.config.public-write", Name: "Public route that writes", Description: "d", Help: "h", OWASP: "API2:2023", Severity: Critical},
			{ID: "rampart.lint.go.timeouts", Name: "Server without timeouts", Description: "d", Help: "h", Severity: Low},
		},
		Findings: []Finding{
			{RuleID: "rampart.lint.config.audit-off", Title: "Audit log off", Severity: Medium, Confidence: Certain, Message: "the audit log is off",
				Location: &Location{File: "rampart.yaml", Line: 3, Column: 1}},
			{RuleID: "rampart.lint.config.public-write", Title: "Public route that writes", Severity: Critical, Confidence: Firm, OWASP: "API2:2023",
				Method: "POST", PathTemplate: "/signup", Message: "route \"signup\" is public\nand writes",
				Location: &Location{File: "rampart.yaml", Pointer: "/routes/0/public", Line: 43, Column: 5}},
			{RuleID: "rampart.lint.spec.http-server", Title: "Plain-HTTP server", Severity: High, Confidence: Certain, Message: "Server http://api uses plain http.",
				Location: &Location{File: "api/openapi.yaml", Pointer: "/servers/0/url", Line: 6, Column: 5}},
			{RuleID: "rampart.lint.config.audit-off", Title: "Audit log off", Severity: Medium, Confidence: Certain, Message: "a file-level finding",
				Location: &Location{File: "rampart.yaml"}},
			{RuleID: "rampart.lint.go.timeouts", Title: "Server without timeouts", Severity: Low, Confidence: Firm, Message: "http.ListenAndServe has no timeouts",
				Location: &Location{File: "../shared/srv.go", Line: 12}},
			{RuleID: "rampart.lint.go.timeouts", Title: "Server without timeouts", Severity: Info, Confidence: Tentative, Message: "outside the root",
				Location: &Location{File: "/opt/vendor/x.go", Line: 1, Column: 2}},
			{RuleID: "rampart.lint.spec.http-server", Title: "No spec", Severity: Info, Confidence: Tentative, Message: "a finding about no file"},
		},
	}
	r.Finalize()
	return r
}

// TestTextGroupedByFile pins the static layout: findings without a file
// first, then a header per file and its findings by line and column, in
// plain text and in colour.
func TestTextGroupedByFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		color bool
	}{{"static.txt", false}, {"static-color.txt", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteTextWith(&b, staticSample(), Options{Color: tc.color}); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
			hasESC := bytes.Contains(b.Bytes(), []byte("\x1b["))
			if hasESC != tc.color {
				t.Errorf("colour %v, escape sequences %v", tc.color, hasESC)
			}
		})
	}
	// Without colour the plain text holds no escape sequence whatever the
	// findings say; the coloured text is the plain text plus SGR codes.
	var plain, colored bytes.Buffer
	_ = WriteTextWith(&plain, staticSample(), Options{})
	_ = WriteTextWith(&colored, staticSample(), Options{Color: true})
	stripped := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAll(colored.Bytes(), nil)
	if !bytes.Equal(stripped, plain.Bytes()) {
		t.Errorf("coloured text less its colours differs from the plain text:\n%s", stripped)
	}
	for _, want := range []string{"\x1b[1mrampart.yaml\x1b[0m\n", "\x1b[1;31mCRITICAL\x1b[0m", "\x1b[31mHIGH\x1b[0m     ", "\x1b[33mMEDIUM\x1b[0m", "\x1b[36mLOW\x1b[0m", "\x1b[2mINFO\x1b[0m"} {
		if !strings.Contains(colored.String(), want) {
			t.Errorf("coloured text lacks %q", want)
		}
	}
	// Within a file, position order: 3:1 before 43:5 before nothing.
	txt := plain.String()
	if i, j := strings.Index(txt, "  3:1 "), strings.Index(txt, "  43:5 "); i < 0 || j < i {
		t.Errorf("rampart.yaml's findings not by line:\n%s", txt)
	}
}

func TestUseColor(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	tests := []struct {
		name     string
		mode     string
		terminal bool
		env      func(string) (string, bool)
		want     bool
	}{
		{"auto on a terminal", "auto", true, env("TERM", "xterm-256color"), true},
		{"default is auto", "", true, env(), true},
		{"auto into a pipe or file", "auto", false, env(), false},
		{"auto with NO_COLOR", "auto", true, env("NO_COLOR", "1"), false},
		{"auto with NO_COLOR empty (no-color.org: ignored)", "auto", true, env("NO_COLOR", ""), true},
		{"auto with TERM=dumb", "auto", true, env("TERM", "dumb"), false},
		{"always into a pipe", "always", false, env(), true},
		{"always beats NO_COLOR", "always", false, env("NO_COLOR", "1"), true},
		{"never on a terminal", "never", true, env(), false},
		{"mode is case-insensitive", "NEVER", true, env(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseColorMode(tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got := UseColor(m, tc.terminal, tc.env); got != tc.want {
				t.Errorf("UseColor(%s, terminal %v) = %v, want %v", m, tc.terminal, got, tc.want)
			}
		})
	}
	if _, err := ParseColorMode("sometimes"); err == nil || !strings.Contains(err.Error(), "auto, always or never") {
		t.Errorf("ParseColorMode(sometimes) = %v", err)
	}
}

// sarifLog decodes the parts of a SARIF log the tests look at.
type sarifDoc struct {
	Runs []struct {
		OriginalURIBaseIDs map[string]struct {
			URI         string `json:"uri"`
			Description *struct {
				Text string `json:"text"`
			} `json:"description"`
		} `json:"originalUriBaseIds"`
		Results []struct {
			RuleID              string            `json:"ruleId"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Locations           []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
		} `json:"results"`
	} `json:"runs"`
}

// TestSARIFLocations: files inside the root are relative URIs with
// uriBaseId %SRCROOT% (GitHub code scanning resolves them against the
// repository), the run says what %SRCROOT% is, and files outside it are
// absolute file:// URIs without uriBaseId; every result has a partial
// fingerprint. The log validates against the schema.
func TestSARIFLocations(t *testing.T) {
	if filepath.VolumeName(must(filepath.Abs("."))) != "" {
		t.Skip("POSIX paths")
	}
	var buf bytes.Buffer
	if err := WriteSARIFWith(&buf, staticSample(), Options{Root: "/work/p q"}); err != nil {
		t.Fatal(err)
	}
	findingstest.ValidateSARIF(t, buf.Bytes())
	golden(t, "static.sarif", buf.Bytes())
	var log sarifDoc
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if base := run.OriginalURIBaseIDs["%SRCROOT%"]; base.URI != "file:///work/p%20q/" {
		t.Errorf("originalUriBaseIds = %+v, want %%SRCROOT%% = file:///work/p%%20q/", run.OriginalURIBaseIDs)
	}
	got := map[string]string{}
	for _, res := range run.Results {
		if res.PartialFingerprints["rampartFingerprint/v1"] == "" {
			t.Errorf("%s has no partial fingerprint", res.RuleID)
		}
		if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation == nil {
			got[res.Message.Text] = "none"
			continue
		}
		a := res.Locations[0].PhysicalLocation.ArtifactLocation
		got[res.Message.Text] = a.URIBaseID + "|" + a.URI
	}
	want := map[string]string{
		"Audit log off: the audit log is off":                              "%SRCROOT%|rampart.yaml",
		"Plain-HTTP server: Server http://api uses plain http.":            "%SRCROOT%|api/openapi.yaml",
		"Server without timeouts: http.ListenAndServe has no timeouts":     "|file:///work/shared/srv.go",
		"Server without timeouts: outside the root":                        "|file:///opt/vendor/x.go",
		"No spec: a finding about no file":                                 "none",
		"Audit log off: a file-level finding":                              "%SRCROOT%|rampart.yaml",
		"Public route that writes: route \"signup\" is public\nand writes": "%SRCROOT%|rampart.yaml",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("location of %q = %q, want %q", k, got[k], w)
		}
	}

	// A path that climbs out only after cleaning is outside too.
	if a := artifact("api/../../x.go", "/work/p"); a.URI != "file:///work/x.go" || a.URIBaseID != "" {
		t.Errorf("artifact(api/../../x.go) = %+v, want file:///work/x.go without uriBaseId", a)
	}

	// Without a root: relative paths stay relative to %SRCROOT%, which
	// is only described; absolute ones are still file:// URIs.
	buf.Reset()
	if err := WriteSARIF(&buf, staticSample()); err != nil {
		t.Fatal(err)
	}
	findingstest.ValidateSARIF(t, buf.Bytes())
	log = sarifDoc{}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if base := log.Runs[0].OriginalURIBaseIDs["%SRCROOT%"]; base.URI != "" || base.Description == nil {
		t.Errorf("without a root, %%SRCROOT%% = %+v, want a description only", base)
	}
	for _, res := range log.Runs[0].Results {
		if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation == nil {
			continue
		}
		a := res.Locations[0].PhysicalLocation.ArtifactLocation
		if strings.HasPrefix(a.URI, "..") && a.URIBaseID != "%SRCROOT%" {
			t.Errorf("without a root, %s is not relative to %%SRCROOT%%: %+v", a.URI, a)
		}
	}

	// A scan report (no files) has no %SRCROOT% to explain.
	buf.Reset()
	scan := sample()
	scan.Findings = slices.DeleteFunc(scan.Findings, func(f Finding) bool { return f.Location != nil })
	if err := WriteSARIFWith(&buf, scan, Options{Root: "/work/p"}); err != nil {
		t.Fatal(err)
	}
	findingstest.ValidateSARIF(t, buf.Bytes())
	if strings.Contains(buf.String(), "SRCROOT") {
		t.Errorf("a report without files names %%SRCROOT%%:\n%s", buf.String())
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
