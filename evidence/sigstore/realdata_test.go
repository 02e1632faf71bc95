package sigstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tests on the real attestations in the shared corpus (intoto/ and
// sigstore/, see ../shared/testdata/evidence/SOURCES.md) against the
// public-good trusted root. They skip if the corpus is absent.

const githubActions = "https://token.actions.githubusercontent.com"

// slsaGenerator matches the builders of slsa-github-generator v2.1.0. They
// sign for every repository that calls them, so the rules that use it also
// name the source repository.
const slsaGenerator = `https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/[a-z_-]+_slsa3\.yml@refs/tags/v2\.1\.0`

type realBundle struct {
	file     string
	format   Format
	version  string
	signedAt string // RFC 3339
	rule     Rule   // matches the signer
	wrong    []Rule // each matches no signer in the corpus
}

var realBundles = []realBundle{
	{
		file: "intoto/cli_cli__sigstore-js-2.1.0-bundle.json", format: FormatBundle, version: "v0.3",
		signedAt: "2023-08-29T15:40:23Z",
		rule:     Rule{Issuer: githubActions, SAN: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"},
		wrong: []Rule{
			// Unanchored, this would match the SAN.
			{Issuer: githubActions, SANRegexp: `github\.com/sigstore/sigstore-js/.*`},
			{Issuer: "https://accounts.google.com", SAN: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"},
		},
	},
	{
		file: "intoto/slsa-framework_slsa-verifier__bcr_rules_lint-v1.3.1.tar.gz.intoto.jsonl", format: FormatBundle, version: "v0.3",
		signedAt: "2025-03-26T23:47:15Z",
		rule: Rule{Issuer: githubActions,
			SANRegexp:           `https://github\.com/bazel-contrib/\.github/\.github/workflows/release_ruleset\.yaml@refs/tags/v[0-9.]+`,
			SourceRepositoryURI: "https://github.com/aspect-build/rules_lint"},
		wrong: []Rule{{Issuer: githubActions,
			SANRegexp:           `https://github\.com/bazel-contrib/\.github/\.github/workflows/release_ruleset\.yaml@refs/tags/v[0-9.]+`,
			SourceRepositoryURI: "https://github.com/aspect-build/rules_go"}},
	},
	{
		file: "intoto/slsa-framework_slsa-verifier__gha_container-based_v2.1.0_push-v14.intoto.build.slsa", format: FormatBundle, version: "v0.2",
		signedAt: "2025-02-25T21:11:49Z",
		rule:     Rule{Issuer: githubActions, SANRegexp: slsaGenerator, SourceRepositoryURI: "https://github.com/slsa-framework/example-package"},
		wrong:    []Rule{{Issuer: githubActions, SANRegexp: slsaGenerator, SourceRepositoryURI: "https://github.com/slsa-framework/slsa-verifier"}},
	},
	{
		file: "intoto/slsa-framework_slsa-verifier__gha_delegator_v2.1.0_push-v14.build.slsa", format: FormatBundle, version: "v0.2",
		signedAt: "2025-02-25T21:12:14Z",
		rule:     Rule{Issuer: githubActions, SANRegexp: slsaGenerator, SourceRepositoryURI: "https://github.com/slsa-framework/example-package"},
	},
	{
		file: "intoto/slsa-framework_slsa-verifier__gha_generic_v2.1.0_push-v14.intoto.jsonl", format: FormatBundle, version: "v0.3",
		signedAt: "2025-02-25T21:12:17Z",
		rule:     Rule{Issuer: githubActions, SANRegexp: slsaGenerator, SourceRepositoryURI: "https://github.com/slsa-framework/example-package"},
	},
	{
		file: "intoto/trailofbits_pypi-attestations__pypi_attestations-0.0.19.tar.gz.slsa.attestation", format: FormatPEP740, version: "v0.3",
		signedAt: "2024-12-04T23:13:46Z",
		rule:     Rule{Issuer: githubActions, SAN: "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19"},
		wrong:    []Rule{{Issuer: githubActions, SAN: "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.18"}},
	},
	{
		file: "sigstore/cli_cli__reusable-workflow-attestation.sigstore.json", format: FormatBundle, version: "v0.3",
		signedAt: "2024-05-24T19:14:24Z",
		rule: Rule{Issuer: githubActions,
			SANRegexp:           `https://github\.com/github/artifact-attestations-workflows/\.github/workflows/attest\.yml@[0-9a-f]{40}`,
			SourceRepositoryURI: "https://github.com/malancas/attest-demo"},
		wrong: []Rule{{Issuer: githubActions,
			SANRegexp:           `https://github\.com/github/artifact-attestations-workflows/\.github/workflows/attest\.yml@[0-9a-f]{40}`,
			SourceRepositoryURI: "https://github.com/cli/cli"}},
	},
}

// TestRealBundlesVerify verifies each real DSSE bundle that chains to
// public-good under a rule naming its signer, and refuses it under rules
// that name others.
func TestRealBundlesVerify(t *testing.T) {
	trusted := publicGoodRoot(t)
	everyone := []Rule{{Name: "any GitHub workflow", Issuer: githubActions, SANRegexp: `https://github\.com/.*`}}
	for _, rb := range realBundles {
		t.Run(filepath.Base(rb.file), func(t *testing.T) {
			data := readShared(t, rb.file)
			format, bundles, err := Unwrap(data)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if format != rb.format || len(bundles) != 1 {
				t.Fatalf("Unwrap = %v with %d bundles, want %v with 1", format, len(bundles), rb.format)
			}

			// The rule under test is the second, after one for someone else.
			v, err := NewVerifier(trusted, append([]Rule{{Issuer: githubActions, SAN: "https://github.com/evident-dev/evident/.github/workflows/release.yml@refs/heads/main"}}, rb.rule))
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(bundles[0])
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if len(res.Rules) != 1 || res.Rules[0] != 1 {
				t.Errorf("Rules = %v, want [1]", res.Rules)
			}
			if res.Version != rb.version {
				t.Errorf("Version = %q, want %q", res.Version, rb.version)
			}
			if got := res.SignedAt.Format(time.RFC3339); got != rb.signedAt {
				t.Errorf("SignedAt = %s, want %s", got, rb.signedAt)
			}
			if want := signedPayload(t, data, rb.format); !bytes.Equal(res.Payload, want) {
				t.Errorf("Payload differs from the statement in the file")
			}
			if !json.Valid(res.Payload) || !bytes.Contains(res.Payload, []byte(`"_type"`)) {
				t.Errorf("Payload is not an in-toto statement: %.100q", res.Payload)
			}
			if res.Identity.Issuer != githubActions || !strings.HasPrefix(res.SignerID, "sigstore:https%3A%2F%2Ftoken.actions.githubusercontent.com:https%3A%2F%2Fgithub.com%2F") {
				t.Errorf("Identity = %+v, SignerID %q", res.Identity, res.SignerID)
			}

			if res, err := mustVerifier(t, trusted, everyone).Verify(bundles[0]); err != nil || res.Rules[0] != 0 {
				t.Errorf("under a rule for any GitHub workflow: %v", err)
			}
			wrong := append([]Rule{{Issuer: githubActions, SANRegexp: `https://github\.com/evident-dev/.*`}}, rb.wrong...)
			for i, r := range wrong {
				_, err := mustVerifier(t, trusted, []Rule{r}).Verify(bundles[0])
				if !errors.Is(err, ErrIdentity) {
					t.Errorf("wrong rule %d: %v, want ErrIdentity", i, err)
					continue
				}
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Identity != res.Identity {
					t.Errorf("wrong rule %d: the error does not carry the identity: %v", i, err)
				}
				if !strings.Contains(err.Error(), res.Identity.SAN) {
					t.Errorf("wrong rule %d: the error does not name the SAN: %v", i, err)
				}
			}
		})
	}
}

// TestRealBundlesRefused checks the real bundles that Evident must refuse,
// and why.
func TestRealBundlesRefused(t *testing.T) {
	trusted := publicGoodRoot(t)
	tests := []struct {
		file     string
		rule     Rule
		want     error
		contains string
	}{
		// Signed on Sigstore's staging instance (its log entry is in
		// rekor.sigstage.dev), whose CA public-good does not trust.
		{"intoto/trailofbits_pypi-attestations__rfc8785-0.1.2-py3-none-any.whl.publish.attestation",
			Rule{Issuer: "https://github.com/login/oauth", SAN: "william@yossarian.net"},
			ErrUntrustedRoot, "does not chain"},
		{"sigstore/sigstore_sigstore-python__Python-3.12.5.tgz.sigstore",
			Rule{Issuer: "https://github.com/login/oauth", SANRegexp: ".*"},
			ErrUnsupported, "a message-signature bundle signs an artifact digest, not an in-toto statement; Evident logs attestations"},
		{"sigstore/sigstore_sigstore-python__bundle_v3_github.whl.sigstore",
			Rule{Issuer: githubActions, SAN: "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"},
			ErrUnsupported, "message-signature bundle"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			_, bundles, err := Unwrap(readShared(t, tt.file))
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			_, err = mustVerifier(t, trusted, []Rule{tt.rule}).Verify(bundles[0])
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("Verify: %v; want %v containing %q", err, tt.want, tt.contains)
			}
		})
	}
}

// TestRealFilesUnwrap runs Unwrap over every file of intoto/ and sigstore/:
// bundles and PEP 740 objects unwrap, the bare statement and the bare DSSE
// envelope are not containers.
func TestRealFilesUnwrap(t *testing.T) {
	dir := sharedEvidence(t)
	want := map[string]Format{
		"guacsec_guac__oci-kubectl-linux-amd64-in-toto.json":                                0,
		"in-toto_witness__cdx-att.json":                                                     0,
		"trailofbits_pypi-attestations__rfc8785-0.1.2-py3-none-any.whl.publish.attestation": FormatPEP740,
		"sigstore_sigstore-python__Python-3.12.5.tgz.sigstore":                              FormatBundle,
		"sigstore_sigstore-python__bundle_v3_github.whl.sigstore":                           FormatBundle,
	}
	for _, rb := range realBundles {
		want[filepath.Base(rb.file)] = rb.format
	}
	for _, sub := range []string{"intoto", "sigstore"} {
		files, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Name() == "SOURCES.md" {
				continue
			}
			t.Run(f.Name(), func(t *testing.T) {
				wf, ok := want[f.Name()]
				if !ok {
					t.Fatalf("new file in the corpus: add it to this test")
				}
				data := readShared(t, filepath.Join(sub, f.Name()))
				format, bundles, err := Unwrap(data)
				if wf == 0 {
					if !errors.Is(err, ErrNotContainer) {
						t.Fatalf("Unwrap = %v, %v; want ErrNotContainer", format, err)
					}
					return
				}
				if err != nil || format != wf || len(bundles) != 1 {
					t.Fatalf("Unwrap = %v, %d bundles, %v; want %v", format, len(bundles), err, wf)
				}
				if !wf.Converted() && !bytes.Equal(bundles[0], data) {
					t.Errorf("the bundle is not the file byte for byte")
				}
			})
		}
	}
}

func mustVerifier(t testing.TB, trusted []byte, rules []Rule) *Verifier {
	t.Helper()
	v, err := NewVerifier(trusted, rules)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signedPayload returns the statement a real file carries, decoded
// independently of the code under test.
func signedPayload(t testing.TB, data []byte, format Format) []byte {
	t.Helper()
	var f struct {
		DSSEEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
		Envelope struct {
			Statement string `json:"statement"`
		} `json:"envelope"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	s := f.DSSEEnvelope.Payload
	if format == FormatPEP740 {
		s = f.Envelope.Statement
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
