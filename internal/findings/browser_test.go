package findings

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write docs/scan-report.png from the HTML report test")

// browser returns the path of a headless-capable Chromium, or skips: set
// RAMPART_TEST_BROWSER=1 (as .ci/run does) to make a missing browser a
// failure.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("RAMPART_TEST_BROWSER") != "" {
		t.Fatal("RAMPART_TEST_BROWSER is set but no chromium is installed (apt-get install chromium)")
	}
	t.Skip("no chromium installed; set RAMPART_TEST_BROWSER=1 to require it (apt-get install chromium)")
	return ""
}

// The HTML report of a real demo scan (testdata/demo-scan.json) renders in
// headless Chromium: the chart has a bar segment per category and
// severity, every finding is an article, and nothing is fetched.
func TestHTMLReportInChromium(t *testing.T) {
	bin := browser(t)
	b, err := os.ReadFile("testdata/demo-scan.json")
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, &r); err != nil {
		t.Fatal(err)
	}
	f.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1200, 900), chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.ID("summary"))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	count := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	articles := int(count(`document.querySelectorAll("article.finding").length`))
	rects := int(count(`document.querySelectorAll("#chart rect").length`))
	badges := int(count(`document.querySelectorAll("article .badge").length`))
	chartHeight := count(`document.getElementById("chart").getBoundingClientRect().height`)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	if title == "" || articles != len(r.Findings) || badges != len(r.Findings) {
		t.Errorf("title %q, %d articles and %d badges for %d findings", title, articles, badges, len(r.Findings))
	}
	// One segment per (category, severity) pair that has findings.
	pairs := map[string]bool{}
	for _, f := range r.Findings {
		pairs[f.OWASP+f.Severity.String()] = true
	}
	if rects != len(pairs) || chartHeight < 20 {
		t.Errorf("chart has %d segments (want %d) and height %.0f", rects, len(pairs), chartHeight)
	}
	if len(shot) < 10000 {
		t.Errorf("screenshot of %d bytes: nothing rendered", len(shot))
	}
	if *updateScreenshot {
		view, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "scan-report.png"), view, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
