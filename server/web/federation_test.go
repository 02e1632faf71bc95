package web_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"crypto/rand"

	"github.com/chromedp/chromedp"
	"github.com/evident-dev/evident/ledger"
	"github.com/evident-dev/evident/server/federation"
	"github.com/evident-dev/evident/witness"
	"golang.org/x/mod/sumdb/note"
)

// TestCosignatures checks the witnesses' cosignatures in the browser: a
// checkpoint cosigned by every peer verifies, and one whose cosignature was
// changed on the way does not.
func TestCosignatures(t *testing.T) {
	fed := startFederation(t, []string{"apache", "eclipse"}, []string{"Apache", "Eclipse Foundation"}, nil)
	a := fed[0]
	seedRelease(t, a.url, "pkg:pypi/demo", "1.0.0")
	_, size := a.node.Ledger.Checkpoint()
	waitCosigned(t, a, fed[1:], size)
	release := "/#/release/" + pathEscape("pkg:pypi/demo@1.0.0")

	p := newBrowser(t, 1280, 900)
	p.do(chromedp.Navigate(a.url + release))
	p.waitText("Verified in your browser", "cosigned by 1 of the 1 witnesses")
	p.do(chromedp.Click(chromedp.CSS(`.summary details summary`)))
	p.waitText("Eclipse Foundation", "cosignature verified")
	p.noErrors()

	// The cosignature line's signature, after the key ID and timestamp.
	sigLine := regexp.MustCompile(`(?m)^\x{2014} eclipse\.example/log/witness (\S+)$`)
	tamper := func(m map[string]any) {
		cp := m["checkpoint"].(string)
		loc := sigLine.FindStringSubmatchIndex(cp)
		if loc == nil {
			t.Errorf("no cosignature in %q", cp)
			return
		}
		m["checkpoint"] = cp[:loc[2]] + flipB64(cp[loc[2]:loc[3]], 20) + cp[loc[3]:]
	}
	proxy := tamperProxy(t, a.url, map[string]func([]byte) []byte{queryPath: editJSON(t, tamper), "/api/v1/log": editJSON(t, tamper)})
	for _, page := range []string{release, "/#/log"} {
		p := newBrowser(t, 1280, 900)
		p.do(chromedp.Navigate(proxy + page))
		txt := p.waitText("Verification failed in your browser", "The cosignature of witness Eclipse Foundation does not verify.", "cosignature does not verify")
		if strings.Contains(txt, "Verified in your browser") {
			t.Errorf("%s: the page says it verified a checkpoint with a bad cosignature:\n%s", page, txt)
		}
		p.noErrors()
	}
}

// rogueLog signs two different trees of one size with one key.
type rogueLog struct {
	logKey   note.Verifier
	cosigner *witness.Cosigner
	a, b     []byte // two signed checkpoints of size 10
}

func newRogue(t *testing.T) *rogueLog {
	origin := "rogue.example/log"
	skey, vkey, _ := note.GenerateKey(rand.Reader, origin)
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	wskey, _, _ := witness.GenerateKey(rand.Reader, origin+"/witness")
	cs, _ := witness.ParseCosignerKey(wskey, nil)
	r := &rogueLog{logKey: v, cosigner: cs}
	for i, cp := range []*[]byte{&r.a, &r.b} {
		l, err := ledger.Open(t.Context(), filepath.Join(t.TempDir(), "fork.db"), ledger.Options{Signer: s, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		var es [][]byte
		for k := range 10 {
			es = append(es, fmt.Appendf(nil, "history %d entry %d", i, k))
		}
		if _, err := l.Append(context.Background(), es); err != nil {
			t.Fatal(err)
		}
		*cp, _ = l.Checkpoint()
		l.Close()
	}
	return r
}

// TestMisbehaviourAndPeers shows a federation's peers, with a hostile
// peer name, and a proof of misbehaviour the node caught, which the page
// offers as a file that verifies offline.
func TestMisbehaviourAndPeers(t *testing.T) {
	r := newRogue(t)
	rogue := federation.Peer{Name: "rogue", URL: "http://127.0.0.1:1", Origin: r.logKey.Name(), LogKey: r.logKey, WitnessKey: r.cosigner.Verifier()}
	const evilName = `<img src=x onerror="window.__xss='peer'">Eclipse`
	fed := startFederation(t, []string{"apache", "eclipse"}, []string{"Apache", evilName}, nil, rogue)
	// The rogue shows history A to apache and B to eclipse; apache's
	// gossip with eclipse catches it.
	for i, cp := range [][]byte{r.a, r.b} {
		if code := addCheckpoint(t, fed[i].url, cp); code != 200 {
			t.Fatalf("%s refused the rogue's checkpoint: %d", fed[i].name, code)
		}
	}
	fed[0].node.Federation.GossipOnce(context.Background())

	p := newBrowser(t, 1280, 900)
	next := p.downloads(t.TempDir())
	p.do(chromedp.Navigate(fed[0].url + "/#/log"))
	p.waitText(evilName, "rogue.example/log: signed two different trees of the same size (sizes 10 and 10).")
	checkNoInjection(t, p)
	p.do(chromedp.Click(chromedp.CSS(`li.alert button`)))
	proof := next()
	m, err := witness.ParseMisbehaviour(proof)
	if err != nil {
		t.Fatalf("the downloaded proof doesn't parse: %v\n%s", err, proof)
	}
	if err := witness.VerifyMisbehaviour(m, r.logKey); err != nil {
		t.Errorf("the downloaded proof doesn't verify offline: %v", err)
	}
	p.noErrors()
}
