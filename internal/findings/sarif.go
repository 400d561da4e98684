package findings

import (
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// SARIF 2.1.0 (OASIS), the format code-scanning dashboards read. Only the
// parts Rampart fills are modelled.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	// OriginalURIBaseIDs says what %SRCROOT% stands for.
	OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult            `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name,omitempty"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  sarifText      `json:"fullDescription"`
	Help             sarifText      `json:"help"`
	Default          sarifConfig    `json:"defaultConfiguration"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc"`
	EndTimeUTC          string `json:"endTimeUtc"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations,omitempty"`
	PartialFingerprints sarifFingerprints `json:"partialFingerprints"`
	Properties          sarifProperties   `json:"properties"`
}

// sarifFingerprints is a result's partialFingerprints.
type sarifFingerprints struct {
	Rampart string `json:"rampartFingerprint/v1"`
}

// sarifProperties is a result's property bag. The fields stand in the
// order of their names, the order encoding/json gives a map's keys, which
// the bag was before it was a struct: the output stays the same.
type sarifProperties struct {
	Confidence       string     `json:"confidence"`
	Curl             string     `json:"curl,omitempty"`
	Evidence         []Exchange `json:"evidence,omitempty"`
	Method           string     `json:"method"`
	OperationID      string     `json:"operationId,omitempty"`
	OWASP            string     `json:"owasp"`
	PathTemplate     string     `json:"pathTemplate"`
	SecuritySeverity string     `json:"security-severity"`
	Severity         string     `json:"severity"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

// sarifArtifact is an artifactLocation: a URI, relative to the base
// named by URIBaseID when that is set, else absolute.
type sarifArtifact struct {
	URI         string     `json:"uri,omitempty"`
	URIBaseID   string     `json:"uriBaseId,omitempty"`
	Description *sarifText `json:"description,omitempty"`
}

// srcRoot is the URI base id relative artifact URIs are resolved
// against: the directory the tool ran in. GitHub code scanning resolves
// relative URIs against the repository root, so lint run from there
// lines up with the repository.
const srcRoot = "%SRCROOT%"

// artifact returns the artifactLocation of file (slash-separated, as
// lint's findings carry it). A relative path inside the root is a
// relative URI with uriBaseId %SRCROOT%, what GitHub code scanning
// wants. An absolute path, and with root known a relative one that
// climbs out of it (../), is an absolute file:// URI without uriBaseId:
// no relative reference to %SRCROOT% names it (SARIF 2.1.0 §3.4.3,
// §3.4.4: an absolute uri takes no uriBaseId).
func artifact(file, root string) sarifArtifact {
	p := filepath.Clean(filepath.FromSlash(file))
	if !filepath.IsAbs(p) && root != "" && (p == ".." || strings.HasPrefix(p, ".."+string(filepath.Separator))) {
		p = filepath.Join(root, p)
	}
	if filepath.IsAbs(p) {
		return sarifArtifact{URI: fileURI(p)}
	}
	return sarifArtifact{URI: (&url.URL{Path: filepath.ToSlash(p)}).String(), URIBaseID: srcRoot}
}

// fileURI is the file:// URI of an absolute path (RFC 8089), with a
// Windows drive as its first segment (file:///C:/x).
func fileURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// rootBase is the originalUriBaseIds entry of %SRCROOT%: the root's
// file:// URI, which SARIF wants ending in a slash (§3.14.14), or only a
// description when the root is not known.
func rootBase(root string) sarifArtifact {
	a := sarifArtifact{Description: &sarifText{"The directory rampart ran in; relative paths are relative to it."}}
	if root != "" {
		a.URI = strings.TrimSuffix(fileURI(root), "/") + "/"
	}
	return a
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// level maps a severity to SARIF's three levels; security-severity
// carries the finer grade (GitHub code scanning reads it).
func level(s Severity) string {
	switch {
	case s >= High:
		return "error"
	case s >= Medium:
		return "warning"
	}
	return "note"
}

func securitySeverity(s Severity) string {
	return [...]string{"0.0", "3.0", "5.5", "8.0", "9.5"}[s]
}

// WriteSARIF renders r as a SARIF 2.1.0 log with the zero Options.
func WriteSARIF(w io.Writer, r *Report) error {
	return WriteSARIFWith(w, r, Options{})
}

// WriteSARIFWith renders r as a SARIF 2.1.0 log with one run. Each result
// carries properties.owasp, properties.method and properties.pathTemplate,
// and partialFingerprints the finding's fingerprint, by which GitHub code
// scanning tells one alert across runs. A finding with a file has a
// physical location, its URI relative to %SRCROOT% (o.Root, the run's
// originalUriBaseIds say so) when the file is inside it and an absolute
// file:// URI otherwise; a finding with an operation has a logical one.
func WriteSARIFWith(w io.Writer, r *Report, o Options) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "rampart " + r.Tool, Version: r.Version,
			InformationURI: "https://github.com/rampart-gw/rampart/blob/main/docs/" + r.Tool + ".md"}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: r.Complete,
			StartTimeUTC: r.Started.UTC().Format("2006-01-02T15:04:05.000Z"), EndTimeUTC: r.Finished.UTC().Format("2006-01-02T15:04:05.000Z")}},
		Results: []sarifResult{},
	}
	index := map[string]int{}
	for i, ru := range r.Rules {
		index[ru.ID] = i
		props := map[string]any{"security-severity": securitySeverity(ru.Severity), "tags": []string{"security"}}
		if ru.OWASP != "" {
			props["owasp"] = ru.OWASP
			props["tags"] = []string{"security", "owasp-" + strings.ToLower(strings.ReplaceAll(ru.OWASP, ":", "-"))}
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: ru.ID, Name: ru.Name, ShortDescription: sarifText{ru.Name}, FullDescription: sarifText{ru.Description},
			Help: sarifText{ru.Help}, Default: sarifConfig{level(ru.Severity)}, Properties: props,
		})
	}
	// One artifact per file, and the base they are relative to if any
	// is: the envelope is written before the first result.
	arts := map[string]sarifArtifact{}
	for i := range r.Findings {
		if l := r.Findings[i].Location; l != nil && l.File != "" {
			if _, ok := arts[l.File]; !ok {
				a := artifact(l.File, o.Root)
				arts[l.File] = a
				if a.URIBaseID != "" {
					run.OriginalURIBaseIDs = map[string]sarifArtifact{srcRoot: rootBase(o.Root)}
				}
			}
		}
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	return writeStreamed(w, &log, "results", 3, len(r.Findings), func(i int) any {
		return sarifResultOf(&r.Findings[i], index, arts, r.Target)
	})
}

// sarifResultOf is the SARIF result of f.
func sarifResultOf(f *Finding, index map[string]int, arts map[string]sarifArtifact, target string) *sarifResult {
	res := &sarifResult{
		RuleID: f.RuleID, RuleIndex: index[f.RuleID], Level: level(f.Severity),
		Message:             sarifText{f.Title + ": " + f.Message},
		PartialFingerprints: sarifFingerprints{Rampart: f.Fingerprint},
		Properties: sarifProperties{
			OWASP: f.OWASP, Method: f.Method, PathTemplate: f.PathTemplate,
			Severity: f.Severity.String(), Confidence: string(f.Confidence),
			SecuritySeverity: securitySeverity(f.Severity),
			OperationID:      f.OperationID, Curl: f.Curl, Evidence: f.Evidence,
		},
	}
	if f.Location != nil && f.Location.File != "" {
		loc := sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: arts[f.Location.File]}}
		if f.Location.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Location.Line, StartColumn: f.Location.Column}
		}
		res.Locations = []sarifLocation{loc}
	} else if f.Method != "" {
		name := f.Method + " " + f.PathTemplate
		res.Locations = []sarifLocation{{LogicalLocations: []sarifLogical{{Name: name, FullyQualifiedName: target + " " + name, Kind: "function"}}}}
	}
	return res
}
