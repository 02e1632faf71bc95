package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/evident-dev/evident/evidence"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
	"github.com/evident-dev/evident/proto/evident/v1/evidentv1connect"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/server/node"
	"github.com/evident-dev/evident/server/servertest"
	"github.com/evident-dev/evident/witness"
	"golang.org/x/mod/sumdb/note"
)

var (
	chromiumFlag = flag.String("chromium", "", "the Chromium binary the browser tests drive (default: chromium or chromium-browser on $PATH)")
	shotsFlag    = flag.String("screenshots", "", "directory to write the screenshots of TestScreenshots to (default: none; the test skips)")
)

// chromium finds the browser, or skips the test: the browser tests need
// Debian's chromium package, which .ci/run installs. They skip in short
// mode too (make test-race runs ./server/... short, under the race
// detector): each starts a browser.
func chromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("short mode: no browser tests")
	}
	if *chromiumFlag != "" {
		return *chromiumFlag
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on $PATH (apt-get install chromium); the browser tests need one")
	return ""
}

// page is a headless Chromium tab, recording the page's JavaScript errors
// and the browser's error log (a Content-Security-Policy violation among
// them).
type page struct {
	t   testing.TB
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// newBrowser starts Chromium as this machine allows it (headless, no
// sandbox as root, no background networking: the network is closed) with a
// window of width x height.
func newBrowser(t testing.TB, width, height int) *page {
	t.Helper()
	bin := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("couldn't start Chromium (%s): %v", bin, err)
	}
	p := &page{t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				p.mu.Lock()
				p.errors = append(p.errors, m.String())
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// do runs actions with a deadline, failing the test on error.
func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v\npage errors: %q\npage text:\n%s", err, p.errorsSeen(), p.textNoFail())
	}
}

// eval evaluates js in the page and returns its value, decoded into T.
func eval[T any](p *page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("browser: evaluating %s: %v", js, err)
	}
	return v
}

// errorsSeen returns the page's errors so far and forgets them.
func (p *page) errorsSeen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.errors
	p.errors = nil
	return e
}

// noErrors fails the test if the page threw or logged an error.
func (p *page) noErrors() {
	p.t.Helper()
	for _, e := range p.errorsSeen() {
		p.t.Errorf("the page logged an error: %s", e)
	}
}

func (p *page) textNoFail() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// text is what the page shows (innerText of the body).
func (p *page) text() string {
	return eval[string](p, `document.body.innerText`)
}

// waitText waits until the page shows every one of want.
func (p *page) waitText(want ...string) string {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := p.textNoFail()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the page never showed %q; errors: %q; it shows:\n%s", missing, p.errorsSeen(), s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// downloads lets the browser save downloads into dir, named by their
// GUIDs, and returns a function that waits for the next one to complete and
// returns its bytes.
func (p *page) downloads(dir string) func() []byte {
	p.t.Helper()
	events := chromedp.BrowserEvents(p.ctx, browser.DownloadProgress)
	on := true
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on,
	}); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan string, 8)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				done <- ev.GUID
			}
		}
	}()
	return func() []byte {
		p.t.Helper()
		select {
		case guid := <-done:
			b, err := os.ReadFile(filepath.Join(dir, guid))
			if err != nil {
				p.t.Fatal(err)
			}
			return b
		case <-time.After(30 * time.Second):
			p.t.Fatalf("no download completed; the page shows:\n%s", p.textNoFail())
			return nil
		}
	}
}

// seed is test evidence on a node: what was logged about which release.
type seed struct {
	sbom     []byte // the SBOM document, a CycloneDX JSON file
	sbomName string
	markdown []byte // the security policy, package-level
}

// document returns a signed document attestation of content about purl.
func documentEnvelope(t testing.TB, key ed25519.PrivateKey, purl string, d evidence.Document) []byte {
	t.Helper()
	pred, err := d.Predicate()
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Envelope(key, purl, servertest.Digest(purl+string(d.Content)), evidence.PredicateDocument, pred)
}

func sbomDoc(title string, components int) []byte {
	var cs []string
	for i := range components {
		cs = append(cs, fmt.Sprintf(`{"type":"library","name":"dep%d","version":"1.%d.0","purl":"pkg:pypi/dep%d@1.%d.0"}`, i, i, i, i))
	}
	return fmt.Appendf(nil, `{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,"metadata":{"component":{"type":"library","name":%q}},"components":[%s]}`, title, strings.Join(cs, ","))
}

// submitAll logs envelopes at the node at url and waits for a checkpoint
// covering them.
func submitAll(t testing.TB, url string, envs ...[]byte) []uint64 {
	t.Helper()
	c := evidentv1connect.NewEvidenceServiceClient(http.DefaultClient, url)
	var idx []uint64
	for _, env := range envs {
		res, err := c.Submit(context.Background(), connect.NewRequest(&evidentv1.SubmitRequest{Envelope: env, WaitForCheckpoint: true}))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		idx = append(idx, res.Msg.GetResult().GetLogIndex())
	}
	return idx
}

// seedRelease logs a small release's evidence: an SBOM (a document
// attestation), an OpenVEX predicate, provenance, and a package-level
// security policy in Markdown.
func seedRelease(t testing.TB, url, pkg, version string) seed {
	t.Helper()
	key := servertest.KeyPyPIMaven
	purl := pkg + "@" + version
	s := seed{sbom: sbomDoc(pkg+" "+version, 5), sbomName: "SBOM of " + pkg + " " + version}
	s.markdown = []byte("# Security policy\n\nReport vulnerabilities to security@example.org.\n")
	submitAll(t, url,
		documentEnvelope(t, key, purl, evidence.Document{FileName: "bom.cdx.json", MediaType: "application/vnd.cyclonedx+json", Content: s.sbom,
			DocumentType: "https://cyclonedx.org/bom/v1.6", Kind: evidence.KindSBOM, Format: "CycloneDX 1.6 JSON", Title: s.sbomName}),
		servertest.Envelope(key, purl, servertest.Digest(purl), evidence.PredicateOpenVEX,
			json.RawMessage(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.org/vex/1","author":"Example","timestamp":"2026-01-01T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"CVE-2026-0001"},"products":[{"@id":"`+purl+`"}],"status":"not_affected","justification":"vulnerable_code_not_present"}]}`)),
		servertest.Envelope(key, purl, servertest.Digest(purl+"wheel"), evidence.PredicateSLSAProvenance,
			json.RawMessage(`{"buildDefinition":{"buildType":"https://example.org/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.org/builder"}}}`)),
		documentEnvelope(t, key, pkg, evidence.Document{FileName: "SECURITY.md", MediaType: "text/markdown", Content: s.markdown,
			DocumentType: evidence.DocumentTypeSecurityPolicyText, Kind: evidence.KindSecurityPolicy, Format: "Markdown", Title: "Security policy"}),
	)
	return s
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func startNode(t testing.TB) *servertest.Node {
	t.Helper()
	n, err := servertest.Start(servertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func writeFile(t testing.TB, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fedNode is one node of a test federation.
type fedNode struct {
	name     string
	url      string
	vkey     string
	logKey   note.Verifier
	signer   note.Signer
	cosigner *witness.Cosigner
	lis      net.Listener
	node     *node.Node
}

func (m *fedNode) peer(name string) federation.Peer {
	return federation.Peer{Name: name, URL: m.url, Origin: m.logKey.Name(), LogKey: m.logKey, WitnessKey: m.cosigner.Verifier()}
}

// startFederation starts len(names) nodes that witness each other; peers
// know each other under the names peerNames[i] (default: names[i]). The
// nodes trust servertest's keys and stamp entries with now (default
// time.Now).
func startFederation(t testing.TB, names []string, peerNames []string, now func() time.Time, extra ...federation.Peer) []*fedNode {
	t.Helper()
	if peerNames == nil {
		peerNames = names
	}
	var ms []*fedNode
	for _, name := range names {
		origin := name + ".example/log"
		skey, vkey, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := note.NewSigner(skey)
		v, _ := note.NewVerifier(vkey)
		wskey, _, err := witness.GenerateKey(rand.Reader, origin+"/witness")
		if err != nil {
			t.Fatal(err)
		}
		cs, err := witness.ParseCosignerKey(wskey, nil)
		if err != nil {
			t.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, &fedNode{name: name, url: "http://" + lis.Addr().String(), vkey: vkey, logKey: v, signer: s, cosigner: cs, lis: lis})
	}
	for i, m := range ms {
		var peers []federation.Peer
		for j, o := range ms {
			if j != i {
				peers = append(peers, o.peer(peerNames[j]))
			}
		}
		peers = append(peers, extra...)
		n, err := node.Start(node.Config{
			Data: t.TempDir(), Listener: m.lis, Signer: m.signer, LogKey: m.logKey, LogVerifierKey: m.vkey,
			Cosigner: m.cosigner, Trust: servertest.DefaultTrust(), Peers: peers, GossipInterval: time.Hour, NoSync: true, Now: now,
		})
		if err != nil {
			t.Fatal(err)
		}
		m.node = n
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n.Close(ctx)
		})
	}
	return ms
}

// waitCosigned waits until m serves a checkpoint of at least size with
// want valid cosignatures.
func waitCosigned(t testing.TB, m *fedNode, others []*fedNode, size uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cp, s := m.node.Federation.Checkpoint()
		ok := s >= size
		for _, o := range others {
			if _, err := note.Open(cp, note.VerifierList(o.cosigner.Verifier())); err != nil {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no checkpoint of size %d cosigned by every peer", m.name, size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pathEscape escapes s as the pages' routes do (encodeURIComponent).
func pathEscape(s string) string {
	return strings.NewReplacer(":", "%3A", "/", "%2F", "@", "%40", "?", "%3F", "#", "%23", "=", "%3D", "&", "%26", "+", "%2B", " ", "%20").Replace(s)
}

// addCheckpoint sends a checkpoint to a node's witness, first contact
// (c2sp.org/tlog-witness), and returns the status code.
func addCheckpoint(t testing.TB, url string, cp []byte) int {
	t.Helper()
	body := append([]byte("old 0\n\n"), cp...)
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// checkNoInjection fails the test if evidence text became markup or ran:
// the page itself has no image, inline script, frame or event-handler
// attribute, so any of them is injected.
func checkNoInjection(t testing.TB, p *page) {
	t.Helper()
	found := eval[[]string](p, `[...document.querySelectorAll('img, iframe, object, embed, svg:not(.chart), script:not([type=module]), a[href^="javascript:"], [onerror], [onload], [onclick], [onmouseover], [onfocus], [style]')].map(e => e.outerHTML)`)
	if len(found) > 0 {
		t.Errorf("markup from the evidence is on the page: %q", found)
	}
	if x := eval[string](p, `String(window.__xss ?? '')`); x != "" {
		t.Errorf("script from the evidence ran: window.__xss = %q", x)
	}
	if n := eval[int](p, `document.scripts.length`); n != 1 {
		t.Errorf("%d scripts on the page, want the one module", n)
	}
}
