package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Tests on real documents from the shared corpus
// (/work/shared/testdata/evidence, see its SOURCES.md). They skip if the
// corpus is absent.

// TestRealDocumentsAsEvidence wraps each real document in a statement about
// a release, signs it, verifies it, and logs it.
func TestRealDocumentsAsEvidence(t *testing.T) {
	sharedTestdata(t, "")
	key := testKey(9)
	trust, err := NewTrustPolicy([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:generic/evident-test"}}})
	if err != nil {
		t.Fatal(err)
	}
	dirs := []struct {
		dir           string
		predicateType string
		kind          Kind
	}{
		{"spdx", PredicateSPDX23, KindSPDX},
		{"spdx3", PredicateSPDX3, KindSPDX},
		{"cyclonedx", PredicateCycloneDX, KindCycloneDX},
		{"cyclonedx-vex", "https://cyclonedx.org/bom/v1.6", KindCycloneDX},
		{"openvex", PredicateOpenVEX, KindOpenVEX},
		{"csaf", PredicateCSAF, KindCSAF},
		{"scorecard", PredicateScorecard, KindScorecard},
		{"security-insights", PredicateSecurityInsights, KindSecurityInsights},
		{"security-policy", PredicateSecurityPolicy, KindSecurityPolicy},
		{"security-txt", PredicateCVDPolicy, KindCVDPolicy},
		{"vuln-records", PredicateVulnerabilityRecord, KindVulnerabilityRecord},
		{"support-period", PredicateSupportPeriod, KindSupportPeriod},
	}
	unsafe := regexp.MustCompile(`[^A-Za-z0-9._-]`)
	n := 0
	for _, d := range dirs {
		dir := sharedTestdata(t, d.dir)
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name := f.Name()
			t.Run(d.dir+"/"+name, func(t *testing.T) {
				doc, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				// JSON documents are the predicate; others (XML, YAML,
				// Markdown, tag-value) are carried as text.
				predicate := json.RawMessage(doc)
				if trimmed := bytes.TrimSpace(doc); len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(doc) {
					predicate, err = json.Marshal(map[string]string{"mediaType": "text/plain", "content": string(doc)})
					if err != nil {
						t.Fatal(err)
					}
				}
				sum := sha256.Sum256(doc)
				purl := "pkg:generic/evident-test/" + unsafe.ReplaceAllString(name, "-") + "@1.0.0"
				st := &Statement{
					Type:          StatementTypeV1,
					Subject:       []Subject{{Name: purl, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
					PredicateType: d.predicateType,
					Predicate:     predicate,
				}
				env := signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, st), key)
				v, err := Verify(env, trust)
				if err != nil {
					t.Fatal(err)
				}
				if v.Kind != d.kind {
					t.Errorf("Kind = %q; want %q", v.Kind, d.kind)
				}
				if !json.Valid(v.Statement.Predicate) {
					t.Error("predicate is not valid JSON after the round trip")
				}
				e, err := NewEntry(v, entryTime)
				if err != nil {
					t.Fatal(err)
				}
				b := e.Marshal()
				if _, err := ParseEntry(b); err != nil {
					t.Fatalf("ParseEntry(%q): %v", b, err)
				}
				if got := e.Digests(); len(got) != 1 || got[0] != "sha256:"+hex.EncodeToString(sum[:]) {
					t.Errorf("Digests = %q", got)
				}
				if got := e.Releases(); len(got) != 1 || got[0] != purl {
					t.Errorf("Releases = %q; want [%q]", got, purl)
				}
			})
			n++
		}
	}
	if n == 0 {
		t.Error("no documents found")
	}
}

// TestRealEnvelopes parses the real DSSE envelopes, Sigstore bundles and
// in-toto statements of the corpus. None is acceptable to Evident as it
// stands (foreign keys, subjects named by file name, no sha256), and each
// refusal must say why.
func TestRealEnvelopes(t *testing.T) {
	dir := sharedTestdata(t, "intoto")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Skipf("corpus file missing: %v", err)
		}
		if strings.HasSuffix(name, ".jsonl") {
			b, _, _ = bytes.Cut(b, []byte("\n"))
		}
		return b
	}
	dsseOf := func(t *testing.T, bundle []byte) []byte {
		var b struct {
			DSSEEnvelope json.RawMessage `json:"dsseEnvelope"`
		}
		if err := json.Unmarshal(bundle, &b); err != nil || b.DSSEEnvelope == nil {
			t.Fatalf("no dsseEnvelope in bundle: %v", err)
		}
		return b.DSSEEnvelope
	}
	trust, err := NewTrustPolicy([]TrustedKey{{PublicKey: pubOf(testKey(1)), Namespaces: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("witness DSSE envelope", func(t *testing.T) {
		b := read("in-toto_witness__cdx-att.json")
		env, err := ParseEnvelope(b)
		if err != nil {
			t.Fatal(err)
		}
		if env.PayloadType != PayloadTypeInToto || len(env.Signatures) != 1 {
			t.Errorf("envelope: payloadType %q, %d signatures", env.PayloadType, len(env.Signatures))
		}
		_, err = Verify(b, trust)
		if !errors.Is(err, ErrUntrustedKey) || !strings.Contains(err.Error(), "ae2dcc98") {
			t.Errorf("Verify: %v; want ErrUntrustedKey naming the signature's key id", err)
		}
		_, err = ParseStatement(env.Payload)
		wantFieldError(t, err, "subject[0].name", "not a valid purl")
	})

	bundles := []struct {
		file, field, msg, predicateType string
	}{
		{"cli_cli__sigstore-js-2.1.0-bundle.json", "subject[0].digest", "no sha256", PredicateSLSAProvenance},
		{"slsa-framework_slsa-verifier__bcr_rules_lint-v1.3.1.tar.gz.intoto.jsonl", "subject[0].name", "not a valid purl", PredicateSLSAProvenance},
		{"slsa-framework_slsa-verifier__gha_generic_v2.1.0_push-v14.intoto.jsonl", "subject[0].name", "not a valid purl", PredicateSLSAProvenance02},
		{"slsa-framework_slsa-verifier__gha_delegator_v2.1.0_push-v14.build.slsa", "subject[0].name", "not a valid purl", PredicateSLSAProvenance},
		{"slsa-framework_slsa-verifier__gha_container-based_v2.1.0_push-v14.intoto.build.slsa", "subject[0].name", "not a valid purl", PredicateSLSAProvenance},
	}
	for _, tt := range bundles {
		t.Run(tt.file, func(t *testing.T) {
			bundle := read(tt.file)
			_, err := ParseEnvelope(bundle)
			wantFieldError(t, err, "envelope", "Sigstore bundle")

			env, err := ParseEnvelope(dsseOf(t, bundle))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseStatement(env.Payload)
			wantFieldError(t, err, tt.field, tt.msg)
			var st struct {
				PredicateType string `json:"predicateType"`
			}
			if err := json.Unmarshal(env.Payload, &st); err != nil {
				t.Fatal(err)
			}
			if st.PredicateType != tt.predicateType || Classify(st.PredicateType) != KindSLSAProvenance {
				t.Errorf("predicateType %q classified %q", st.PredicateType, Classify(st.PredicateType))
			}
			// The Sigstore signature is by a certificate Evident does not know.
			b, _ := env.Marshal()
			if _, err := Verify(b, trust); !errors.Is(err, ErrUntrustedKey) {
				t.Errorf("Verify: %v; want ErrUntrustedKey", err)
			}
		})
	}

	t.Run("bare statement", func(t *testing.T) {
		b := read("guacsec_guac__oci-kubectl-linux-amd64-in-toto.json")
		_, err := ParseEnvelope(b)
		wantFieldError(t, err, "envelope", "bare in-toto statement")
		// 75 subjects, named by file path.
		_, err = ParseStatement(b)
		wantFieldError(t, err, "subject", "more than 64")
	})

	t.Run("PEP 740 attestation", func(t *testing.T) {
		b := read("trailofbits_pypi-attestations__pypi_attestations-0.0.19.tar.gz.slsa.attestation")
		_, err := ParseEnvelope(b)
		wantFieldError(t, err, "envelope", "unknown member")
	})
}
