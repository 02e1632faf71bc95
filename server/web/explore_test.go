package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestSearchOpensRelease(t *testing.T) {
	n := startNode(t)
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.1.0")
	p := newBrowser(t, 1280, 900)
	p.do(chromedp.Navigate(n.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "pkg:pypi/demo\n"))
	p.waitText("Releases of pkg:pypi/demo", "pkg:pypi/demo@1.0.0", "pkg:pypi/demo@1.1.0")
	p.do(chromedp.Click(chromedp.CSS(`a[href="#/release/pkg%3Apypi%2Fdemo%401.0.0"]`)))
	txt := p.waitText("Verified in your browser", "SBOMs", "VEX", "Provenance", "Security policy")
	t.Log(txt)
	p.noErrors()
}
