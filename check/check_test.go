package check

import (
	"bytes"
	"context"
	"crypto"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/evident-dev/evident/client"
	evidentv1 "github.com/evident-dev/evident/proto/evident/v1"
)

const (
	laravelSBOM  = "cyclonedx/CycloneDX_cyclonedx-php-composer__demo_laravel-7.12.0_bom.1.6.xml"
	cpythonSBOM  = "spdx/python_cpython__Misc_externals.spdx.json"
	brickMath    = "pkg:composer/brick/math@0.9.3"
	doctrine     = "pkg:composer/doctrine/lexer@1.2.3"
	opensslHash  = "ebaaba68e727233bda99cbb4164bdfa0894f3a1cab90a2cbcaca9d3cadebe8cd"
	openSSLGenrc = "pkg:generic/openssl@3.0.20"
)

// world is a federation holding real evidence about components of the
// real SBOMs in testdata:
//   - php: for brick/math 0.9.3 an SPDX SBOM, an OpenVEX document, and,
//     for the whole package, a security policy and a support period; for
//     doctrine/lexer 1.2.3 a security policy signed by a key the
//     manufacturer does not know;
//   - generic: an SPDX SBOM of OpenSSL 3.0.20 whose subject digest is the
//     one CPython's SBOM gives for it (which has no purl).
func world(t *testing.T) *federation {
	t.Helper()
	f := startFederation(t)
	f.submit(t, "php",
		attest(t, keyPHP, "spdx/spdx_spdx-examples__example8_examplemaven-0.0.1.spdx.json", brickMath, ""),
		attest(t, keyPHP, "openvex/openvex_vexctl__demo.vex.json", brickMath, ""),
		attest(t, keyPHP, "security-policy/python_cpython__SECURITY.md", "pkg:composer/brick/math", ""),
		attest(t, keyPHP, "support-period/openssl_release-metadata__data.json", "pkg:composer/brick/math", ""),
		attest(t, keyStranger, "security-policy/elixir-lang_elixir__SECURITY.md", doctrine, ""),
	)
	f.submit(t, "generic",
		attest(t, keyGeneric, "spdx/spdx_spdx-spec__SPDXJSONExample-v2.3.spdx.json", openSSLGenrc, opensslHash))
	f.waitCosigned(t)
	return f
}

func options(f *federation, t *testing.T, urls map[string]string) Options {
	return Options{
		Nodes:       f.clients(t, urls),
		SignerKeys:  []crypto.PublicKey{pub(keyPHP), pub(keyEclipse), pub(keyGeneric)},
		SignerNames: map[string]string{keyID(t, keyPHP): "PHP release managers"},
		Now:         func() time.Time { return time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC) },
	}
}

func findComponent(t *testing.T, rep *Report, purl string) *Component {
	t.Helper()
	for i := range rep.Components {
		if rep.Components[i].Purl == purl {
			return &rep.Components[i]
		}
	}
	t.Fatalf("no component %s in the report", purl)
	return nil
}

func kind(c *Component, k string) KindResult {
	for _, kr := range c.Kinds {
		if kr.Kind == k {
			return kr
		}
	}
	return KindResult{Kind: k}
}

func TestRun(t *testing.T) {
	f := world(t)
	ctx := context.Background()
	opts := options(f, t, nil)
	opts.Requirements = &Requirements{Require: []string{"security-policy", "support-period", "vex"}}
	res, err := Run(ctx, readReal(t, laravelSBOM), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Schema != ReportSchema || rep.SBOM.Format != "CycloneDX 1.6 XML" || rep.SBOM.Components != 63 {
		t.Errorf("report head: %+v", rep.SBOM)
	}
	if rep.Status != StatusNotMet {
		t.Errorf("status %q; want %q", rep.Status, StatusNotMet)
	}
	for _, n := range rep.Nodes {
		if n.Error != "" || len(n.Checkpoints) == 0 && n.Name == "php" {
			t.Errorf("node %+v", n)
		}
	}

	bm := findComponent(t, rep, brickMath)
	if bm.Status != StatusMet || len(bm.Failures) > 0 || bm.NoEvidence || bm.MatchedBy != "purl" {
		t.Errorf("brick/math: status %q, failures %v, unchecked %v", bm.Status, bm.Failures, bm.Unchecked)
	}
	for _, k := range []string{"sbom", "vex", "security-policy", "support-period"} {
		if kr := kind(bm, k); kr.Found != 1 || kr.Verified != 1 {
			t.Errorf("brick/math %s: %+v; want 1 found, 1 verified", k, kr)
		}
	}
	if kr := kind(bm, "vex"); kr.Status == nil || kr.Status.Resolved || kr.Status.Summary != "1 document found; current status not resolved" {
		t.Errorf("brick/math VEX status %+v; want it said unresolved", kr.Status)
	}
	if kr := kind(bm, "support-period"); kr.Status == nil || kr.Status.Resolved || kr.Status.CoversToday != nil || !strings.Contains(kr.Status.Summary, "covers today not resolved") {
		t.Errorf("brick/math support status %+v; want it said unresolved", kr.Status)
	}
	for _, it := range bm.Items {
		if !it.Verified || it.Node != "php" || it.PackItem == nil || it.Checkpoint == "" || it.Signers[0] != keyID(t, keyPHP) || it.SignerNames[0] != "PHP release managers" {
			t.Errorf("brick/math item %+v", it)
		}
		if it.PackageLevel != (it.Kind == "security-policy" || it.Kind == "support-period") {
			t.Errorf("brick/math %s item: package_level %v", it.Kind, it.PackageLevel)
		}
	}

	dl := findComponent(t, rep, doctrine)
	if len(dl.Items) != 1 || dl.Items[0].Verified || dl.Items[0].FailedPart != client.PartSignature || !strings.Contains(dl.Items[0].Error, "no public key for signer") {
		t.Errorf("doctrine/lexer's item by an unknown key: %+v", dl.Items)
	}
	if dl.Status != StatusNotMet || len(dl.Failures) != 3 {
		t.Errorf("doctrine/lexer: status %q, failures %v", dl.Status, dl.Failures)
	}
	s := rep.Summary
	if s.Components != 63 || s.Primary != 1 || s.WithEvidence != 2 || s.WithoutEvidence != 61 || s.Items != 5 || s.VerifiedItems != 4 || s.FailedItems != 1 || s.Failing != 61 {
		t.Errorf("summary %+v", s)
	}
	if len(res.Bundle.Items) != 4 {
		t.Errorf("bundle of %d items; want the 4 verified", len(res.Bundle.Items))
	}
	// The bundle verifies offline with the logs' keys and the policy.
	vopts := client.VerifyOptions{Policy: f.policy}
	for _, m := range f.Members {
		vopts.LogKeys = append(vopts.LogKeys, verifier(t, m.Keys.VerifierKey))
	}
	if _, err := client.VerifyBundle(res.Bundle, vopts); err != nil {
		t.Errorf("VerifyBundle: %v", err)
	}

	// Without requirements: a listing, not met because an item failed.
	opts.Requirements = nil
	res, err = Run(ctx, readReal(t, laravelSBOM), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Status != StatusNotMet || findComponent(t, res.Report, brickMath).Status != "" {
		t.Errorf("without requirements: status %q", res.Report.Status)
	}

	// --until: whether the support period covers a date is not resolved by
	// this version, so the check can't be made; never a yes.
	opts.Requirements = &Requirements{Require: []string{"support-period"}, Until: "2031-12-31", Ignore: []string{"pkg:composer/", "pkg:generic/"}}
	res, err = Run(ctx, readReal(t, laravelSBOM), opts)
	if err != nil {
		t.Fatal(err)
	}
	bm = findComponent(t, res.Report, brickMath)
	if bm.Status != "" || !bm.Ignored {
		t.Errorf("ignored component: status %q, ignored %v", bm.Status, bm.Ignored)
	}
	opts.Requirements.Ignore = nil
	res, err = Run(ctx, readReal(t, laravelSBOM), opts)
	if err != nil {
		t.Fatal(err)
	}
	bm = findComponent(t, res.Report, brickMath)
	if bm.Status != StatusCouldNotCheck || res.Report.Status != StatusCouldNotCheck || !strings.Contains(strings.Join(bm.Unchecked, " "), "whether it covers 2031-12-31 is not resolved") {
		t.Errorf("--until: brick/math %q %v, report %q", bm.Status, bm.Unchecked, res.Report.Status)
	}
}

// TestRunByHash: CPython's SBOM names its externals without purls; OpenSSL
// is found by its SHA-256.
func TestRunByHash(t *testing.T) {
	f := world(t)
	res, err := Run(context.Background(), readReal(t, cpythonSBOM), options(f, t, nil))
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Summary.WithoutPurl != 9 || rep.Summary.MatchedByHash != 9 || rep.Summary.WithEvidence != 1 || rep.Status != StatusMet {
		t.Errorf("summary %+v, status %q", rep.Summary, rep.Status)
	}
	for _, c := range rep.Components {
		if c.Name != "openssl" {
			continue
		}
		if len(c.Items) != 1 || !c.Items[0].Verified || c.Items[0].Kind != "sbom" || c.Items[0].Subjects[0] != openSSLGenrc || c.MatchedBy != "hash" {
			t.Errorf("openssl: %+v", c)
		}
		return
	}
	t.Error("no openssl component")
}

// TestRunTampering: a node that sends a wrong proof, drops an item it
// lists, or serves a checkpoint without the witnesses' cosignatures gets
// its items reported as not verified, and the requirements they would
// have met as not met; never as verified.
func TestRunTampering(t *testing.T) {
	f := world(t)
	tests := []struct {
		name  string
		batch func(*evidentv1.BatchQueryResponse)
		part  string
		// bad is how many of brick/math's 4 items must fail.
		bad int
	}{
		{"wrong proof", func(m *evidentv1.BatchQueryResponse) {
			for _, ev := range m.GetEvidence() {
				if h := ev.GetInclusionProof().GetHashes(); len(h) > 0 {
					h[len(h)-1] = bytes.Repeat([]byte{7}, 32)
				}
			}
		}, client.PartProof, 4},
		{"dropped item", func(m *evidentv1.BatchQueryResponse) {
			for i, ev := range m.GetEvidence() {
				if strings.Contains(string(ev.GetEntry()), "kind vex") {
					m.Evidence = append(m.Evidence[:i], m.Evidence[i+1:]...)
					return
				}
			}
		}, client.PartProof, 1},
		{"checkpoint without quorum", func(m *evidentv1.BatchQueryResponse) {
			if m.Checkpoint != "" {
				m.Checkpoint = logSignatureOnly(m.Checkpoint)
			}
		}, client.PartQuorum, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := startProxy(t, f.member("php").URL, tt.batch)
			opts := options(f, t, map[string]string{"php": url})
			opts.Requirements = &Requirements{Require: []string{"vex"}}
			res, err := Run(context.Background(), readReal(t, laravelSBOM), opts)
			if err != nil {
				t.Fatal(err)
			}
			bm := findComponent(t, res.Report, brickMath)
			bad := 0
			for _, it := range bm.Items {
				if it.Verified {
					continue
				}
				bad++
				if it.FailedPart != tt.part || it.PackItem != nil {
					t.Errorf("%s item failed with %q (%s), pack item %v; want a %s failure, not in the pack", it.Kind, it.FailedPart, it.Error, it.PackItem, tt.part)
				}
			}
			if bad != tt.bad || len(bm.Items) != 4 {
				t.Errorf("%d of %d items failed; want %d of 4", bad, len(bm.Items), tt.bad)
			}
			if kind(bm, "vex").Verified != 0 || bm.Status != StatusNotMet {
				t.Errorf("vex verified %d, status %q; want 0, not met", kind(bm, "vex").Verified, bm.Status)
			}
			if len(res.Bundle.Items) != 4-tt.bad+0 && len(res.Bundle.Items) != 4-tt.bad {
				t.Errorf("bundle of %d items", len(res.Bundle.Items))
			}
		})
	}
}

// logSignatureOnly keeps a signed note's first signature (the log's) and
// drops the witnesses' cosignatures.
func logSignatureOnly(signed string) string {
	text, sigs, _ := strings.Cut(signed, "\n\n")
	first, _, _ := strings.Cut(sigs, "\n")
	return text + "\n\n" + first + "\n"
}

// TestRunNodeDown: a node that can't be reached makes the components whose
// requirements the others do not meet could-not-check, never not-met or
// met, and the report names the node.
func TestRunNodeDown(t *testing.T) {
	f := world(t)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	opts := options(f, t, map[string]string{"eclipse": down})
	opts.Requirements = &Requirements{Require: []string{"vex"}}
	res, err := Run(context.Background(), readReal(t, laravelSBOM), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Status != StatusCouldNotCheck {
		t.Errorf("status %q; want %q", rep.Status, StatusCouldNotCheck)
	}
	for _, n := range rep.Nodes {
		if (n.Error != "") != (n.Name == "eclipse") {
			t.Errorf("node %s: error %q", n.Name, n.Error)
		}
	}
	// brick/math's VEX is on php, which answered: met all the same.
	if bm := findComponent(t, rep, brickMath); bm.Status != StatusMet {
		t.Errorf("brick/math: %q %v", bm.Status, bm.Unchecked)
	}
	if dl := findComponent(t, rep, doctrine); dl.Status != StatusCouldNotCheck || !strings.Contains(strings.Join(dl.Unchecked, " "), "no answer from eclipse") {
		t.Errorf("doctrine/lexer: %q %v", dl.Status, dl.Unchecked)
	}
}
