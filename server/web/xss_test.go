package web_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/server/servertest"
)

// TestHostileEvidence logs evidence whose every free-text part is markup
// and script (the purl, the document's name and format, a predicate, a
// Markdown, an HTML and an XML document) and checks the pages show it all
// as text and run none of it. Peer names are in TestMisbehaviourAndPeers.
func TestHostileEvidence(t *testing.T) {
	n := startNode(t)
	key := servertest.KeyPyPIMaven
	const (
		purl     = `pkg:pypi/evil@1.0%3Cimg%20src%3Dx%20onerror%3Dwindow.__xss%3D1%3E`
		name     = `<img src=x onerror="window.__xss='name'"><script>window.__xss='name2'</script>`
		format   = `<b onmouseover="window.__xss='format'">bold</b>`
		markdown = "# Policy\n\n<script>window.__xss='md'</script>\n<img src=x onerror=\"window.__xss='md2'\">\n[x](javascript:window.__xss='md3')\n"
		html     = `<!doctype html><html><body onload="window.__xss='html'"><script>window.__xss='html2'</script><iframe src="javascript:parent.__xss='html3'"></iframe></body></html>`
		xml      = `<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6"><metadata><component><name>&lt;img src=x onerror=alert(1)&gt;</name></component></metadata><script xmlns="http://www.w3.org/1999/xhtml">window.__xss='xml'</script></bom>`
	)
	doc := func(content, mediaType, docType string, kind evidence.Kind) []byte {
		return documentEnvelope(t, key, purl, evidence.Document{FileName: `"><img src=x>.md`, MediaType: mediaType, Content: []byte(content),
			DocumentType: docType, Kind: kind, Format: format, Title: name})
	}
	submitAll(t, n.URL,
		doc(markdown, "text/markdown", evidence.DocumentTypeSecurityPolicyText, evidence.KindSecurityPolicy),
		doc(html, "text/html", evidence.DocumentTypeCVDPolicyText, evidence.KindCVDPolicy),
		doc(xml, "application/vnd.cyclonedx+xml", "https://cyclonedx.org/bom/v1.6", evidence.KindSBOM),
		rawStatement(t, key, purl, "https://example.org/attestation/v1",
			`{"note":"</pre><img src=x onerror=\"window.__xss='predicate'\"><script>window.__xss='predicate2'</script>","n":12345678901234567890123}`),
	)
	p := newBrowser(t, 1280, 900)
	p.do(chromedp.Navigate(n.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), purl+"\n"))
	p.waitText("Verified in your browser", name, format)
	// Open every document.
	p.do(chromedp.Evaluate[chromedp.Void](`for (const d of document.querySelectorAll('details')) d.open = true`))
	txt := p.waitText("<script>window.__xss='md'</script>", "<body onload=", `"note": "</pre><img src=x onerror=`, "12345678901234567890123", "<script xmlns=")
	_ = txt
	checkNoInjection(t, p)
	// The entry page of one of them, and the search results by digest.
	p.do(chromedp.Navigate(n.URL + "/#/entry/1"))
	p.waitText("Verified in your browser", name, "<body onload=")
	checkNoInjection(t, p)
	p.noErrors()
}

// rawStatement signs a statement whose predicate is exactly predicate:
// encoding/json would escape its '<' and '>'.
func rawStatement(t *testing.T, key ed25519.PrivateKey, purl, predicateType, predicate string) []byte {
	t.Helper()
	st := servertest.NewStatement(purl, servertest.Digest(predicate), predicateType, nil)
	st.Predicate = nil
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		t.Fatal(err)
	}
	payload := append(bytes.TrimSuffix(bytes.TrimSpace(b.Bytes()), []byte("}")), []byte(`,"predicate":`+predicate+"}")...)
	return servertest.Sign(key, evidence.PayloadTypeInToto, payload)
}
