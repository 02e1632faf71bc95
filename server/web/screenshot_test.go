package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/server/servertest"
)

// steppingClock returns a clock that starts at start and moves on by step
// at each reading, so that the log's entries spread over days.
func steppingClock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	t := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}

// TestScreenshots writes screenshots of the pages at a laptop's and a
// phone's width, for people to look at: go test ./server/web -run
// TestScreenshots -screenshots DIR.
func TestScreenshots(t *testing.T) {
	if *shotsFlag == "" {
		t.Skip("give -screenshots DIR to write the screenshots")
	}
	if err := os.MkdirAll(*shotsFlag, 0o755); err != nil {
		t.Fatal(err)
	}
	fed := startFederation(t, []string{"apache", "eclipse", "python"}, []string{"Apache Software Foundation", "Eclipse Foundation", "Python Software Foundation"},
		steppingClock(time.Now().Add(-60*24*time.Hour), 2*time.Hour))
	a := fed[0]
	key := servertest.KeyPyPIMaven
	for i := range 40 {
		purl := fmt.Sprintf("pkg:maven/org.apache.commons/commons-text@1.%d.0", i)
		submitAll(t, a.url, servertest.Envelope(key, purl, servertest.Digest(purl), evidence.PredicateSLSAProvenance,
			json.RawMessage(`{"buildDefinition":{"buildType":"https://example.org/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://ci.apache.org"}}}`)))
	}
	release := "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"
	seedRelease(t, a.url, "pkg:maven/org.apache.logging.log4j/log4j-core", "2.24.1")
	_, size := a.node.Ledger.Checkpoint()
	waitCosigned(t, a, fed[1:], size)

	shot := func(p *page, name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		defer cancel()
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, *shotsFlag, name+".png", b)
	}
	for _, v := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"laptop", 1280, 800, false}, {"phone", 390, 844, true}} {
		p := newBrowser(t, int(v.width), int(v.height))
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
		if v.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		p.do(chromedp.EmulateViewport(v.width, v.height, opts...))
		p.do(chromedp.Navigate(a.url + "/#/search/pkg%3Amaven%2Forg.apache.commons%2Fcommons-text"))
		p.waitText("Releases of")
		shot(p, v.name+"-search")
		p.do(chromedp.Navigate(a.url + "/#/release/" + pathEscape(release)))
		p.waitText("Verified in your browser")
		shot(p, v.name+"-release")
		p.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('.item details.panel').open = true`))
		p.waitText("Shown as formatted JSON")
		p.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('.item details.panel').scrollIntoView()`))
		shot(p, v.name+"-document")
		p.do(chromedp.Navigate(a.url + "/#/entry/40"))
		p.waitText("Verified in your browser", "Inclusion proof")
		p.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('.proof').scrollIntoView()`))
		shot(p, v.name+"-proof")
		p.do(chromedp.Navigate(a.url + "/#/log"))
		p.waitText("Cosigned this log at size", "The log grew from")
		shot(p, v.name+"-log")
		p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('growth-h').scrollIntoView()`))
		shot(p, v.name+"-growth")
		p.noErrors()
	}
	t.Logf("screenshots in %s", filepath.Clean(*shotsFlag))
}
