package evidence

import (
	"bytes"
	"cmp"
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

// TestRealDocumentsAsEvidence carries each real document in a document
// attestation about a release, signs it, verifies it, logs it, and takes
// the document back out: byte for byte the file, with the file's digest.
func TestRealDocumentsAsEvidence(t *testing.T) {
	sharedTestdata(t, "")
	key := testKey(9)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:generic/evident-test"}}})
	if err != nil {
		t.Fatal(err)
	}
	dirs := []struct {
		dir          string
		documentType string
		kind         Kind
	}{
		{"spdx", PredicateSPDX23, KindSBOM},
		{"spdx3", PredicateSPDX3, KindSBOM},
		{"cyclonedx", PredicateCycloneDX, KindSBOM},
		{"cyclonedx-vex", "https://cyclonedx.org/bom/v1.6", KindVEX},
		{"openvex", PredicateOpenVEX, KindVEX},
		{"csaf", PredicateCSAF, KindAdvisory},
		{"scorecard", PredicateScorecard, KindScorecard},
		{"security-insights", PredicateSecurityInsights, KindSecurityInsights},
		{"security-policy", DocumentTypeSecurityPolicyText, KindSecurityPolicy},
		{"security-txt", DocumentTypeSecurityTxt, KindCVDPolicy},
		{"vuln-records", PredicateVulnerabilityRecord, KindAdvisory},
		{"support-period", DocumentTypeSupportTable, KindSupportPeriod},
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
				sum := sha256.Sum256(doc)
				purl := "pkg:generic/evident-test/" + unsafe.ReplaceAllString(name, "-") + "@1.0.0"
				predicate, err := (&Document{
					FileName: name, MediaType: "application/octet-stream", Content: doc,
					DocumentType: d.documentType, Kind: d.kind, Format: d.dir,
				}).Predicate()
				if err != nil {
					t.Fatal(err)
				}
				st := &Statement{
					Type:          StatementTypeV1,
					Subject:       []Subject{{Name: purl, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
					PredicateType: PredicateDocument,
					Predicate:     predicate,
				}
				env := signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, st), key)
				v, err := Verify(env, trust)
				if err != nil {
					t.Fatal(err)
				}
				if v.Kind != d.kind || v.Document.Digest != sum || v.Document.Size != int64(len(doc)) || v.Name != name {
					t.Errorf("Kind %q, document %x (%d bytes), name %q; want %q, %x (%d bytes), %q", v.Kind, v.Document.Digest, v.Document.Size, v.Name, d.kind, sum, len(doc), name)
				}
				got, mediaType, err := DocumentOf(v.Envelope.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, doc) || mediaType != "application/octet-stream" {
					t.Errorf("DocumentOf: %d bytes of %s, not the file's %d", len(got), mediaType, len(doc))
				}
				e, err := NewEntry(v, entryTime)
				if err != nil {
					t.Fatal(err)
				}
				b := e.Marshal()
				back, err := ParseEntry(b)
				if err != nil {
					t.Fatalf("ParseEntry(%q): %v", b, err)
				}
				if back.Document.Digest != sum || back.Name != name {
					t.Errorf("entry names document %x %q", back.Document.Digest, back.Name)
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
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(testKey(1)), Namespaces: []string{"*"}}})
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
		st, err := ParseStatement(env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		_, err = BindSubject(st.Subject[0].Name, "pkg:generic/alpine@3.20", "subject[0].name")
		wantFieldError(t, err, "subject[0].name", "does not carry the name and version")
	})

	bundles := []struct {
		file, release, msg, predicateType string // msg "": the subject binds to release
	}{
		{"cli_cli__sigstore-js-2.1.0-bundle.json", "", "", PredicateSLSAProvenance},
		{"slsa-framework_slsa-verifier__bcr_rules_lint-v1.3.1.tar.gz.intoto.jsonl", "pkg:github/aspect-build/rules_lint@v1.3.1", "", PredicateSLSAProvenance},
		{"slsa-framework_slsa-verifier__bcr_rules_lint-v1.3.1.tar.gz.intoto.jsonl", "pkg:github/aspect-build/rules_lint@v1.3.2", "does not carry the name and version", PredicateSLSAProvenance},
		{"slsa-framework_slsa-verifier__gha_generic_v2.1.0_push-v14.intoto.jsonl", "", "is not a Package URL", PredicateSLSAProvenance02},
		{"slsa-framework_slsa-verifier__gha_delegator_v2.1.0_push-v14.build.slsa", "pkg:github/slsa-framework/example-package@v14", "does not carry the name and version", PredicateSLSAProvenance},
		{"slsa-framework_slsa-verifier__gha_container-based_v2.1.0_push-v14.intoto.build.slsa", "pkg:github/slsa-framework/gha_container-based-binary-linux-amd64@v14", "", PredicateSLSAProvenance},
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
			parsed, err := ParseStatement(env.Payload)
			if err != nil {
				t.Fatal(err)
			}
			p, err := BindSubject(parsed.Subject[0].Name, tt.release, "subject[0].name")
			if tt.msg == "" {
				if err != nil {
					t.Errorf("BindSubject: %v", err)
				} else if want := cmp.Or(tt.release, parsed.Subject[0].Name); p.String() != want {
					t.Errorf("BindSubject = %s; want %s", p, want)
				}
			} else {
				wantFieldError(t, err, "subject[0].name", tt.msg)
			}
			var st struct {
				PredicateType string `json:"predicateType"`
			}
			if err := json.Unmarshal(env.Payload, &st); err != nil {
				t.Fatal(err)
			}
			if st.PredicateType != tt.predicateType || Classify(st.PredicateType) != KindProvenance {
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
