package findings

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
)

//go:embed report.html.tmpl
var reportTemplate string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
	"duration": func(r *Report) string {
		return r.Finished.Sub(r.Started).Round(1e7).String()
	},
}).Parse(reportTemplate))

// chartRow is one bar of the summary chart: a category and its findings
// per severity.
type chartRow struct {
	Category    string
	Segments    []chartSegment
	Total       int
	TextY, EndX float64
}

type chartSegment struct {
	Severity    string
	Count       int
	X, Y, Width float64
}

type htmlData struct {
	R        *Report
	Counts   []chartSegment
	Rows     []chartRow
	Height   int
	Findings []htmlFinding
}

type htmlFinding struct {
	Finding
	Rule Rule
	N    int
}

// WriteHTML renders r as one self-contained HTML page (inline CSS and an
// inline SVG chart, no scripts, no external assets): a summary chart of
// findings by category and severity, then each finding with its evidence.
func WriteHTML(w io.Writer, r *Report) error {
	d := htmlData{R: r}
	c := r.Counts()
	for s := Critical; s >= Info; s-- {
		d.Counts = append(d.Counts, chartSegment{Severity: s.String(), Count: c[s]})
	}
	byCat := map[string]*chartRow{}
	var cats []string
	for _, f := range r.Findings {
		cat := f.OWASP
		if cat == "" {
			cat = "other"
		}
		row, ok := byCat[cat]
		if !ok {
			row = &chartRow{Category: cat}
			for s := Critical; s >= Info; s-- {
				row.Segments = append(row.Segments, chartSegment{Severity: s.String()})
			}
			byCat[cat] = row
			cats = append(cats, cat)
		}
		row.Segments[Critical-f.Severity].Count++
		row.Total++
	}
	slices.Sort(cats)
	max := 1
	for _, cat := range cats {
		if byCat[cat].Total > max {
			max = byCat[cat].Total
		}
	}
	const barWidth, left = 520.0, 100.0
	for n, cat := range cats {
		row := byCat[cat]
		x, y := left, float64(28*n+4)
		for i := range row.Segments {
			wd := barWidth * float64(row.Segments[i].Count) / float64(max)
			row.Segments[i].X, row.Segments[i].Y, row.Segments[i].Width = x, y, wd
			x += wd
		}
		row.TextY, row.EndX = y+15, x+6
		d.Rows = append(d.Rows, *row)
	}
	d.Height = 28*len(d.Rows) + 10
	for i, f := range r.Findings {
		ru, _ := r.Rule(f.RuleID)
		d.Findings = append(d.Findings, htmlFinding{Finding: f, Rule: ru, N: i + 1})
	}
	if err := htmlTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("rendering html report: %w", err)
	}
	return nil
}
