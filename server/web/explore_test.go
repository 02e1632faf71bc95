package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"crypto/rand"

	"github.com/chromedp/chromedp"
	"github.com/evident-dev/evident/mirror"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/evident-dev/evident/server/web"
	"golang.org/x/mod/sumdb/note"
)

func TestSearchOpensRelease(t *testing.T) {
	n := startNode(t)
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.1.0")
	p := newBrowser(t, 1280, 900)
	p.do(chromedp.Navigate(n.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "pkg:pypi/demo\n"))
	p.waitText("Releases of pkg:pypi/demo", "pkg:pypi/demo@1.0.0", "pkg:pypi/demo@1.1.0", "1 item holds for every release")
	// The node compares canonical purls: PyPI names are case-insensitive.
	p.do(chromedp.Navigate(n.URL + "/#/search/" + pathEscape("pkg:pypi/DEMO")))
	p.waitText("Releases of pkg:pypi/DEMO", "pkg:pypi/demo@1.0.0", "pkg:pypi/demo@1.1.0")
	p.do(chromedp.Navigate(n.URL + "/#/search/" + pathEscape("pkg:pypi/demo")))
	p.waitText("Releases of pkg:pypi/demo")
	p.do(chromedp.Click(chromedp.CSS(`a[href="#/release/pkg%3Apypi%2Fdemo%401.0.0"]`)))
	txt := p.waitText("Verified in your browser", "SBOMs", "VEX", "Provenance", "Security policy")
	t.Log(txt)
	p.noErrors()
}

// TestDownloadDocument downloads a release's SBOM from its page and checks
// the file is the document that was logged, byte for byte.
func TestDownloadDocument(t *testing.T) {
	n := startNode(t)
	s := seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	p := newBrowser(t, 1280, 900)
	next := p.downloads(t.TempDir())
	p.do(chromedp.Navigate(n.URL + "/#/release/" + pathEscape("pkg:pypi/demo@1.0.0")))
	p.waitText("Verified in your browser", s.sbomName)
	p.do(chromedp.Click(chromedp.CSS(`#kind-sbom button`)))
	got := next()
	if sha256Hex(got) != sha256Hex(s.sbom) {
		t.Errorf("downloaded %d bytes with SHA-256 %s; the logged SBOM is %d bytes, %s", len(got), sha256Hex(got), len(s.sbom), sha256Hex(s.sbom))
	}
	p.waitText("Downloaded; its SHA-256 matches the log entry: sha256:" + sha256Hex(s.sbom))
	// The document shown on the page is the same, formatted.
	p.do(chromedp.Click(chromedp.CSS(`#kind-sbom details.panel summary`)))
	p.waitText("SHA-256 checked in your browser", `"bomFormat": "CycloneDX"`, "Shown as formatted JSON")
	p.noErrors()
}

// tamperProxy serves the node at target through a proxy whose responses
// to the paths in change pass through the function given for the path.
func tamperProxy(t *testing.T, target string, change map[string]func([]byte) []byte) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		// Uncompressed answers, to change them.
		r.Out.Header.Del("Accept-Encoding")
		r.Out.Header.Del("Connect-Accept-Encoding")
	}}
	rp.ModifyResponse = func(res *http.Response) error {
		f := change[res.Request.URL.Path]
		if f == nil {
			return nil
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		b = f(b)
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// editJSON applies f to a JSON object.
func editJSON(t *testing.T, f func(m map[string]any)) func([]byte) []byte {
	return func(b []byte) []byte {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("tamper: %v", err)
			return b
		}
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
}

// flipB64 flips one bit of the i'th byte of base64 data.
func flipB64(s string, i int) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		panic("flipB64: " + s)
	}
	b[i%len(b)] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

const (
	queryPath = "/evident.v1.EvidenceService/QueryEvidence"
	getPath   = "/evident.v1.EvidenceService/GetEvidence"
	docPath   = "/evident.v1.EvidenceService/GetDocument"
)

// TestTamperedAnswersFail sends the page through a proxy that changes one
// thing in the node's answers, and checks the page then fails to verify and
// never says it verified.
func TestTamperedAnswersFail(t *testing.T) {
	n := startNode(t)
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.1.0")
	release := "/#/release/" + pathEscape("pkg:pypi/demo@1.0.0")
	firstItem := func(f func(ev map[string]any)) func(m map[string]any) {
		return func(m map[string]any) {
			if ev, ok := m["evidence"].([]any); ok {
				f(ev[0].(map[string]any))
			} else {
				f(m["evidence"].(map[string]any))
			}
		}
	}
	for _, tc := range []struct {
		name   string
		path   string
		change func(m map[string]any)
		page   string
		want   []string
	}{
		{"a hash of an inclusion proof", queryPath, firstItem(func(ev map[string]any) {
			hs := ev["inclusionProof"].(map[string]any)["hashes"].([]any)
			hs[0] = flipB64(hs[0].(string), 7)
		}), release, []string{"proof fails: the proof does not lead to the checkpoint's root hash"}},
		{"the entry", queryPath, firstItem(func(ev map[string]any) {
			e, _ := base64.StdEncoding.DecodeString(ev["entry"].(string))
			ev["entry"] = base64.StdEncoding.EncodeToString(bytes.Replace(e, []byte("name "), []byte("name Trusted "), 1))
		}), release, []string{"Trusted", "proof fails"}},
		{"the proof's index", queryPath, firstItem(func(ev map[string]any) {
			ev["inclusionProof"].(map[string]any)["logIndex"] = "1e3"
		}), release, []string{"proof fails: the proof is malformed"}},
		{"the checkpoint's root", queryPath, func(m map[string]any) {
			cp := m["checkpoint"].(string)
			lines := strings.SplitN(cp, "\n", 4)
			lines[2] = flipB64(lines[2], 3)
			m["checkpoint"] = strings.Join(lines, "\n")
		}, release, []string{"The log's signature on the checkpoint does not verify."}},
		{"the proof of one entry", getPath, firstItem(func(ev map[string]any) {
			hs := ev["inclusionProof"].(map[string]any)["hashes"].([]any)
			hs[len(hs)-1] = flipB64(hs[len(hs)-1].(string), 0)
		}), "/#/entry/1", []string{"An inclusion proof fails"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := tamperProxy(t, n.URL, map[string]func([]byte) []byte{tc.path: editJSON(t, tc.change)})
			p := newBrowser(t, 1280, 900)
			p.do(chromedp.Navigate(proxy + tc.page))
			txt := p.waitText(append([]string{"Verification failed in your browser"}, tc.want...)...)
			if strings.Contains(txt, "Verified in your browser") {
				t.Errorf("the page says it verified a tampered answer:\n%s", txt)
			}
			p.noErrors()
		})
	}
	t.Run("the document", func(t *testing.T) {
		// A document changed on the way is refused: neither shown nor saved.
		proxy := tamperProxy(t, n.URL, map[string]func([]byte) []byte{docPath: func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"chunk":"`)) + len(`"chunk":"`) + 10
			c := byte('A')
			if b[i] == 'A' {
				c = 'B'
			}
			b[i] = c
			return b
		}})
		p := newBrowser(t, 1280, 900)
		p.do(chromedp.Navigate(proxy + release))
		p.waitText("Verified in your browser")
		p.do(chromedp.Click(chromedp.CSS(`#kind-sbom button`)))
		p.waitText("Couldn't download the document: the node sent a document whose SHA-256 is")
		p.do(chromedp.Click(chromedp.CSS(`#kind-sbom details.panel summary`)))
		txt := p.waitText("Couldn't show the document")
		if strings.Contains(txt, "bomFormat") {
			t.Error("the page shows a document that doesn't match its digest")
		}
	})
}

// TestMirrorPages serves a mirror's pages: search, entries and proofs from
// its data, verified in the browser with the log's key, documents when it
// holds the envelopes, and what a mirror can't answer says so.
func TestMirrorPages(t *testing.T) {
	n := startNode(t)
	s := seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.1.0")
	for _, envelopes := range []bool{true, false} {
		t.Run(fmt.Sprintf("envelopes=%v", envelopes), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := mirror.Sync(t.Context(), mirror.Options{URL: n.URL, Dir: dir, LogKey: n.Verifier, Envelopes: envelopes, NoSync: true}); err != nil {
				t.Fatal(err)
			}
			m, err := mirror.Open(dir, n.Verifier)
			if err != nil {
				t.Fatal(err)
			}
			h, err := web.MirrorHandler(t.Context(), dir, m, n.VerifierKey)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			p := newBrowser(t, 1280, 900)
			p.do(chromedp.Navigate(srv.URL + "/#/log"))
			p.waitText("mirror (read-only)", "a mirror of the log (read-only)", "Verified in your browser", "The log grew from 1 to 7 entries",
				"Not available on this mirror: the peers and the sizes they cosigned.", "Not available on this mirror: misbehaviour alerts")
			p.do(chromedp.Navigate(srv.URL+"/#/search/"+pathEscape("pkg:pypi/demo")),
				chromedp.Click(chromedp.CSS(`a[href="#/release/pkg%3Apypi%2Fdemo%401.0.0"]`)))
			p.waitText("Verified in your browser: all 4 items are in the log", s.sbomName, "for every release")
			p.do(chromedp.Click(chromedp.CSS(`#kind-sbom details.panel summary`)))
			if envelopes {
				p.waitText("SHA-256 checked in your browser", `"bomFormat": "CycloneDX"`)
			} else {
				p.waitText("Documents are not available here")
			}
			p.do(chromedp.Navigate(srv.URL + "/#/entry/2"))
			p.waitText("Log entry #2", "Verified in your browser")
			p.noErrors()
		})
	}
}

// TestPinnedKey pins the log's key in the browser: a node serving another
// key then fails verification, and the right key verifies. The SBOM check
// page says it is not available and checks nothing.
func TestPinnedKey(t *testing.T) {
	n := startNode(t)
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	_, other, err := note.GenerateKey(rand.Reader, servertest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	p := newBrowser(t, 1280, 900)
	logPage := n.URL + "/#/log"
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{other, []string{"Verification failed in your browser", "The node serves a log key other than the one you pinned on the Keys page."}},
		{n.VerifierKey, []string{"Verified in your browser", "verified with your pinned key"}},
	} {
		p.do(chromedp.Navigate(n.URL+"/#/keys"),
			chromedp.WaitVisible(chromedp.ID("pin")),
			chromedp.SetValue(chromedp.ID("pin"), tc.key),
			chromedp.Click(chromedp.CSS(`form.pin button`)))
		p.waitText("Pinned. Every page now checks with this key.")
		p.do(chromedp.Navigate("about:blank"), chromedp.Navigate(logPage))
		p.waitText(tc.want...)
		if strings.Contains(tc.want[0], "failed") && strings.Contains(p.text(), "Verified in your browser") {
			t.Error("the page verified with a key other than the pinned one")
		}
	}
	p.do(chromedp.Navigate(n.URL + "/#/check"))
	txt := p.waitText("SBOM check", "Not available yet.")
	if eval[int](p, `document.querySelectorAll('main form, main input').length`) != 0 {
		t.Errorf("the SBOM check placeholder has a form:\n%s", txt)
	}
	p.noErrors()
}

// TestStatusMarks: the release page shows the mark a node gives each item
// (current, superseded or withdrawn: evidence/STATUS.md). The node marks
// its items current; a proxy then marks three of them otherwise, as a node
// would for superseded and withdrawn evidence.
func TestStatusMarks(t *testing.T) {
	n := startNode(t)
	seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	release := "/#/release/" + pathEscape("pkg:pypi/demo@1.0.0")
	p := newBrowser(t, 1280, 900)
	p.do(chromedp.Navigate(n.URL + release))
	p.waitText("Verified in your browser")
	if got := eval[[]string](p, `[...document.querySelectorAll('.status')].map(e => e.textContent)`); len(got) != 4 || slices.ContainsFunc(got, func(s string) bool { return s != "current" }) {
		t.Errorf("status marks %q, want current on all 4 items", got)
	}
	statuses := []string{"EVIDENCE_STATUS_CURRENT", "EVIDENCE_STATUS_SUPERSEDED", "EVIDENCE_STATUS_WITHDRAWN"}
	proxy := tamperProxy(t, n.URL, map[string]func([]byte) []byte{queryPath: editJSON(t, func(m map[string]any) {
		for i, ev := range m["evidence"].([]any) {
			if i < len(statuses) {
				ev.(map[string]any)["status"] = statuses[i]
			}
		}
	})})
	p.do(chromedp.Navigate(proxy + release))
	p.waitText("Verified in your browser")
	got := eval[[]string](p, `[...document.querySelectorAll('.status')].map(e => e.textContent).sort()`)
	if want := []string{"current", "current", "superseded", "withdrawn"}; !slices.Equal(got, want) {
		t.Errorf("status marks %q, want %q", got, want)
	}
	p.noErrors()
}

// TestSearchByDigestAndIndex searches by document digest, artifact digest
// and log index, and opens a document with the keyboard only.
func TestSearchByDigestAndIndex(t *testing.T) {
	n := startNode(t)
	s := seedRelease(t, n.URL, "pkg:pypi/demo", "1.0.0")
	p := newBrowser(t, 1280, 900)
	search := func(q string) {
		p.do(chromedp.Navigate(n.URL+"/"),
			chromedp.WaitVisible(chromedp.ID("q")),
			chromedp.SendKeys(chromedp.ID("q"), q+"\n"))
	}
	search("sha256:" + sha256Hex(s.sbom))
	p.waitText("Documents with this digest", s.sbomName, "Verified in your browser", "pkg:pypi/demo@1.0.0")
	search("sha256:" + servertest.Digest("pkg:pypi/demo@1.0.0"))
	p.waitText("Artifacts with this digest", "OpenVEX", "Verified in your browser: the item is in the log")
	search("3")
	p.waitText("Log entry #3", "Security policy", "Verified in your browser", "# Security policy")
	// The keyboard alone: Tab to the first item's Document panel and open
	// it with Enter.
	search("pkg:pypi/demo@1.0.0")
	p.waitText("Verified in your browser")
	focused := ""
	for range 60 {
		p.do(chromedp.KeyEvent("\t"))
		focused = eval[string](p, `document.activeElement.closest('#kind-sbom details.panel') && document.activeElement.tagName === 'SUMMARY' ? 'doc' : ''`)
		if focused != "" {
			break
		}
	}
	if focused == "" {
		t.Fatal("Tab never reached the SBOM's Document panel")
	}
	p.do(chromedp.KeyEvent("\r"))
	p.waitText("SHA-256 checked in your browser", `"bomFormat": "CycloneDX"`)
	p.noErrors()
}
