package evidence

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evident-dev/evident/evidence/sigstore"
)

const githubActions = "https://token.actions.githubusercontent.com"

// publicGoodRoot returns the Sigstore public-good trusted root of the
// shared test data (sigstore-roots/SOURCES.md: as sigstore-python ships
// it), skipping the test if it is absent.
func publicGoodRoot(t *testing.T) []byte {
	t.Helper()
	dir := filepath.Join(filepath.Dir(sharedTestdata(t, "")), "sigstore-roots")
	b, err := os.ReadFile(filepath.Join(dir, "public-good.trusted_root.json"))
	if err != nil {
		t.Skipf("trusted root not available: %v", err)
	}
	return b
}

// TestVerifySigstoreBundles logs real Sigstore bundles of PyPI, npm and
// GitHub releases as a node does: accepted under an identity trusted for
// the release's namespace, refused (and nothing to log) under an identity
// that does not match, or one trusted for another namespace.
func TestVerifySigstoreBundles(t *testing.T) {
	root := publicGoodRoot(t)
	tests := []struct {
		file, release, namespace string
		id                       TrustedIdentity
		wantPurl                 string
		wantKind                 Kind
	}{
		{
			file: "intoto/cli_cli__sigstore-js-2.1.0-bundle.json", namespace: "pkg:npm/sigstore",
			id:       TrustedIdentity{Issuer: githubActions, SAN: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"},
			wantPurl: "pkg:npm/sigstore@2.1.0", wantKind: KindProvenance,
		},
		{
			file: "intoto/slsa-framework_slsa-verifier__bcr_rules_lint-v1.3.1.tar.gz.intoto.jsonl", release: "pkg:github/aspect-build/rules_lint@v1.3.1", namespace: "pkg:github/aspect-build",
			id:       TrustedIdentity{Issuer: githubActions, SANRegexp: `https://github\.com/bazel-contrib/\.github/\.github/workflows/release_ruleset\.yaml@refs/tags/v[0-9.]+`, SourceRepositoryURI: "https://github.com/aspect-build/rules_lint"},
			wantPurl: "pkg:github/aspect-build/rules_lint@v1.3.1", wantKind: KindProvenance,
		},
		{
			file: "intoto/trailofbits_pypi-attestations__pypi_attestations-0.0.19.tar.gz.slsa.attestation", release: "pkg:pypi/pypi-attestations@0.0.19", namespace: "pkg:pypi/pypi-attestations",
			id:       TrustedIdentity{Issuer: githubActions, SANRegexp: `https://github\.com/trailofbits/pypi-attestations/\.github/workflows/release\.yml@refs/tags/v.*`},
			wantPurl: "pkg:pypi/pypi-attestations@0.0.19", wantKind: KindProvenance,
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(sharedTestdata(t, ""), tt.file))
			if err != nil {
				t.Skipf("corpus file missing: %v", err)
			}
			_, bundles, err := sigstore.Unwrap(data)
			if err != nil || len(bundles) != 1 {
				t.Fatalf("Unwrap: %d bundles, %v", len(bundles), err)
			}
			b := bundles[0]
			id := tt.id
			id.Namespaces = []string{tt.namespace}
			trust, err := NewTrustedSigners(SignerConfig{Identities: []TrustedIdentity{id}, SigstoreTrustedRoot: root})
			if err != nil {
				t.Fatal(err)
			}
			v, err := VerifyFor(b, trust, tt.release)
			if err != nil {
				t.Fatal(err)
			}
			if v.Encoding != EncodingSigstoreBundle || v.SubjectPurls[0] != tt.wantPurl || v.Kind != tt.wantKind ||
				len(v.SignerIDs) != 1 || !strings.HasPrefix(v.SignerIDs[0], "sigstore:https%3A%2F%2Ftoken.actions.githubusercontent.com:") {
				t.Errorf("Verified: encoding %s, subject %s, kind %s, signers %q", v.Encoding, v.SubjectPurls[0], v.Kind, v.SignerIDs)
			}
			e, err := NewEntry(v, entryTime)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := ParseEntry(e.Marshal()); err != nil || back.Encoding != EncodingSigstoreBundle {
				t.Fatalf("entry %q: %v", e.Marshal(), err)
			}
			doc, _, err := DocumentOfEnvelope(b)
			if err != nil || int64(len(doc)) != v.Document.Size {
				t.Errorf("DocumentOfEnvelope: %d bytes, %v; the entry says %d", len(doc), err, v.Document.Size)
			}

			// Another identity: refused as untrusted.
			other := id
			other.SAN, other.SANRegexp, other.SourceRepositoryURI = "https://github.com/evident-dev/evident/.github/workflows/release.yml@refs/heads/main", "", ""
			wrong, err := NewTrustedSigners(SignerConfig{Identities: []TrustedIdentity{other}, SigstoreTrustedRoot: root})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyFor(b, wrong, tt.release); !errors.Is(err, ErrUntrustedKey) || !strings.Contains(err.Error(), "matches no trusted identity") {
				t.Errorf("under another identity: %v; want ErrUntrustedKey", err)
			}
			// The right identity, for another namespace.
			elsewhere := id
			elsewhere.Namespaces = []string{"pkg:generic/other"}
			ns, err := NewTrustedSigners(SignerConfig{Identities: []TrustedIdentity{elsewhere}, SigstoreTrustedRoot: root})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyFor(b, ns, tt.release); !errors.Is(err, ErrNamespace) {
				t.Errorf("identity trusted for another namespace: %v; want ErrNamespace", err)
			}
			// A node that trusts only keys.
			keys, _ := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(testKey(1)), Namespaces: []string{"*"}}})
			if _, err := VerifyFor(b, keys, tt.release); !errors.Is(err, ErrUntrustedKey) || !strings.Contains(err.Error(), "trusts no Sigstore identity") {
				t.Errorf("node without identities: %v", err)
			}
		})
	}

	// A message-signature bundle is malformed evidence, with its reason.
	data, err := os.ReadFile(filepath.Join(sharedTestdata(t, ""), "sigstore/sigstore_sigstore-python__Python-3.12.5.tgz.sigstore"))
	if err == nil {
		trust, _ := NewTrustedSigners(SignerConfig{Identities: []TrustedIdentity{{Issuer: githubActions, SANRegexp: ".*", Namespaces: []string{"*"}}}, SigstoreTrustedRoot: root})
		_, err := Verify(data, trust)
		wantFieldError(t, err, "envelope", "message-signature bundle")
	}
	if _, err := NewTrustedSigners(SignerConfig{Identities: []TrustedIdentity{{Issuer: githubActions, SAN: "x", Namespaces: []string{"*"}}}}); err == nil {
		t.Error("identities without a trusted root: no error")
	}
}
