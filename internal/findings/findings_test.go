package findings

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
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
// (testdata/sarif-schema-2.1.0.json, from oasis-tcs/sarif-spec), and each
// result carries the OWASP category, method and path template.
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("sarif-schema-2.1.0.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF does not validate: %v\n%s", err, buf.String())
	}
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
