package check

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser returns the path of a Chromium to drive, or skips the test.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on this machine (apt-get install chromium)")
	return ""
}

// TestHTMLInChromium opens a real report, with hostile text planted in what
// comes from documents and nodes, in headless Chromium: the page shows the
// report, runs nothing, fetches nothing, and prints.
func TestHTMLInChromium(t *testing.T) {
	exe := browser(t)
	f := world(t)
	opts := options(f, t, nil)
	opts.Requirements = &Requirements{Require: []string{"security-policy", "support-period", "vex"}}
	res, err := Run(context.Background(), readReal(t, laravelSBOM), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	// Hostile text, as a document name or a node's error could carry it.
	const hostile = `<script>document.title="pwned"</script><img src="http://127.0.0.1:9/x" onerror="document.title='pwned'">`
	bm := findComponent(t, rep, brickMath)
	bm.Items[0].Name = hostile
	rep.Nodes[0].Error = hostile
	var page1 bytes.Buffer
	if err := WriteHTML(&page1, rep); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, page1.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	allocCtx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	var title, verdict, summary, components, evidence string
	var scripts, images int
	var pdf []byte
	text := func(sel string, dst *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			var err error
			*dst, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
			return err
		})
	}
	count := func(js string, dst *int) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			var err error
			*dst, err = chromedp.Run(ctx, chromedp.Evaluate[int](js))
			return err
		})
	}
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
			return err
		}),
		chromedp.Navigate("file://"+file),
		chromedp.WaitVisible(chromedp.CSS("#components")),
		chromedp.Sleep(200*time.Millisecond), // an onerror would have fired
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			var err error
			title, err = chromedp.Run(ctx, chromedp.Title())
			return err
		}),
		text("#verdict", &verdict),
		text("#summary", &summary),
		text("#components", &components),
		text("section.component", &evidence),
		count(`document.getElementsByTagName("script").length`, &scripts),
		count(`document.getElementsByTagName("img").length`, &images),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			res, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{})
			pdf = res.Data
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if title != "Evidence report: cyclonedx-php-composer-demo dev-master" {
		t.Errorf("title %q", title)
	}
	if verdict != "Requirements not met" {
		t.Errorf("verdict %q", verdict)
	}
	for _, want := range []string{"Components\t63", "With evidence\t2", "Evidence items verified\t4", "Evidence items that failed verification\t1", "Components failing the requirements\t61"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q lacks %q", summary, want)
		}
	}
	for _, want := range []string{brickMath + "\t1/1\t1/1\t1/1\t1/1\t–\t–\tmet", doctrine + "\t–\t–\t0/1\t–\t–\t–\tnot-met"} {
		if !strings.Contains(components, want) {
			t.Errorf("components table lacks %q", want)
		}
	}
	// The hostile text is shown as text, and did nothing.
	if !strings.Contains(evidence, hostile) || !strings.Contains(evidence, "vex: 1 document found; current status not resolved") {
		t.Errorf("evidence section %q lacks the hostile name as text, or the VEX status", evidence)
	}
	if scripts != 0 || images != 0 {
		t.Errorf("%d scripts and %d images in the page", scripts, images)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if u != "file://"+file {
			t.Errorf("the page requested %s", u)
		}
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 10<<10 {
		t.Errorf("printing made %d bytes, not a PDF of the report", len(pdf))
	}
	if dir := os.Getenv("EVIDENT_HTML_SHOTS"); dir != "" {
		// For a person to look at: the top of the page, as PNG.
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1200, 1400)); err != nil {
			t.Fatal(err)
		}
		if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(dir, "report.png"), png, 0o644)
			os.WriteFile(filepath.Join(dir, "report.pdf"), pdf, 0o644)
		}
	}
}
