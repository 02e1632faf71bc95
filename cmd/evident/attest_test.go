package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/evident-dev/evident/evidence"
)

// sharedTestdata returns the shared corpus of real evidence documents
// (../shared/testdata/evidence beside the repository, see its SOURCES.md),
// or the directory EVIDENT_TESTDATA names, and skips the test if it is
// absent.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "evidence")
	if d := os.Getenv("EVIDENT_TESTDATA"); d != "" {
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared test data not available: %v", err)
	}
	return dir
}

// attestKey writes a new signing key into dir and returns its file and a
// trust policy that trusts it for pkg:pypi.
func attestKey(t *testing.T, dir string) (string, ed25519.PrivateKey, *evidence.TrustedSigners) {
	t.Helper()
	pub, key, err := evidence.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := evidence.MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "signing.key")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: pub, Namespaces: []string{"pkg:pypi"}}})
	if err != nil {
		t.Fatal(err)
	}
	return path, key, trust
}

// runEvident runs the evident command in this process.
func runEvident(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"--config", filepath.Join(t.TempDir(), "config.yaml")}, args...)
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestAttestRealDocuments attests every document of the shared corpus in
// one call, about a release and about a package, and checks each envelope
// as a node would: it verifies, its kind is the one its directory holds,
// and the document it carries is the file, byte for byte. Attestations are
// refused as such.
func TestAttestRealDocuments(t *testing.T) {
	root := sharedTestdata(t)
	// Per directory: the kinds its documents may be; nil if attest must
	// refuse them (they are attestations, or Sigstore bundles that sign an
	// artifact).
	want := map[string][]evidence.Kind{
		"spdx":              {evidence.KindSBOM},
		"spdx3":             {evidence.KindSBOM},
		"cyclonedx":         {evidence.KindSBOM},
		"cyclonedx-vex":     {evidence.KindVEX},
		"openvex":           {evidence.KindVEX},
		"csaf":              {evidence.KindAdvisory, evidence.KindVEX}, // by category
		"scorecard":         {evidence.KindScorecard},
		"security-insights": {evidence.KindSecurityInsights},
		"security-txt":      {evidence.KindCVDPolicy},
		"security-policy":   {evidence.KindSecurityPolicy, evidence.KindCVDPolicy}, // by title
		"vuln-records":      {evidence.KindAdvisory},
		"support-period":    {evidence.KindSupportPeriod},
		"intoto":            nil,
		"sigstore":          nil,
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue // SOURCES.md describes the corpus
		}
		if _, ok := want[e.Name()]; !ok {
			t.Errorf("no expectation for directory %s", e.Name())
		}
		dirs = append(dirs, filepath.Join(root, e.Name()))
	}
	tmp := t.TempDir()
	keyFile, _, trust := attestKey(t, tmp)
	artifact := filepath.Join(tmp, "artifact.tar.gz")
	os.WriteFile(artifact, []byte("the release artifact"), 0o644)
	artifactSum := sha256.Sum256([]byte("the release artifact"))

	for _, subject := range []string{"pkg:pypi/example@1.0.0", "pkg:pypi/example"} {
		t.Run(subject, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"attest", "--key", keyFile, "--subject", subject, "-o", out}, dirs...)
			if strings.Contains(subject, "@") {
				args = append(args, "--artifact", artifact)
			}
			code, _, stderr := runEvident(t, args...)
			// The corpus's Sigstore bundles that sign artifacts are not
			// evidence: exit 1.
			if code != exitFailed {
				t.Errorf("exit %d, want %d\n%s", code, exitFailed, stderr)
			}
			n := 0
			for _, dir := range dirs {
				kinds := want[filepath.Base(dir)]
				files, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					n++
					path := filepath.Join(dir, f.Name())
					env, envErr := os.ReadFile(filepath.Join(out, f.Name()+".intoto.json"))
					line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(path) + `: (.*)$`).FindStringSubmatch(stderr)
					if line == nil {
						t.Errorf("%s: attest said nothing of it", path)
						continue
					}
					if kinds == nil {
						if envErr == nil || !strings.HasPrefix(line[1], "already an attestation") && !strings.HasPrefix(line[1], "not recognised") {
							t.Errorf("%s: %s; want it refused, nothing written", path, line[1])
						}
						continue
					}
					if envErr != nil || !strings.HasPrefix(line[1], "recognised ") {
						t.Errorf("%s: %s (%v)", path, line[1], envErr)
						continue
					}
					checkAttested(t, path, env, trust, subject, kinds, artifactSum)
				}
			}
			if n == 0 {
				t.Errorf("no documents in %s", root)
			}
		})
	}
}

// checkAttested verifies an envelope attest wrote for the document at path
// about subject, and checks that it carries the document exactly.
func checkAttested(t *testing.T, path string, env []byte, trust *evidence.TrustedSigners, subject string, kinds []evidence.Kind, artifactSum [32]byte) {
	t.Helper()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fileSum := sha256.Sum256(file)
	v, err := evidence.Verify(env, trust)
	if err != nil {
		t.Errorf("%s: Verify: %v", path, err)
		return
	}
	if !slices.Contains(kinds, v.Kind) {
		t.Errorf("%s: kind %s, want one of %v", path, v.Kind, kinds)
	}
	if v.PredicateType != evidence.PredicateDocument || v.Document.Digest != fileSum || v.Document.Size != int64(len(file)) || v.Name == "" {
		t.Errorf("%s: entry records %s, document %x (%d bytes) named %q; want a document attestation of the file, %x (%d bytes)",
			path, v.PredicateType, v.Document.Digest, v.Document.Size, v.Name, fileSum, len(file))
	}
	doc, mediaType, err := evidence.DocumentOfEnvelope(env)
	if err != nil {
		t.Errorf("%s: DocumentOfEnvelope: %v", path, err)
		return
	}
	if sha256.Sum256(doc) != fileSum || mediaType != v.Document.MediaType {
		t.Errorf("%s: the document taken out of the envelope has SHA-256 %x (%s), want the file's %x", path, sha256.Sum256(doc), mediaType, fileSum)
	}
	// A release names the artifact; a package names the document itself.
	wantDigest := artifactSum
	if !strings.Contains(subject, "@") {
		wantDigest = fileSum
	}
	s := v.Statement.Subject
	if len(s) != 1 || s[0].Name != subject || s[0].Digest["sha256"] != hex.EncodeToString(wantDigest[:]) {
		t.Errorf("%s: subject %+v, want %s with sha256 %x", path, s, subject, wantDigest)
	}
}

// TestAttestOutcomes checks what attest says and writes, and its exit code,
// for documents it signs, refuses and can't write.
func TestAttestOutcomes(t *testing.T) {
	dir := t.TempDir()
	keyFile, key, trust := attestKey(t, dir)
	csaf := `{"document":{"csaf_version":"2.0","category":"csaf_security_advisory","tracking":{"id":"EX-1"}}}`
	files := map[string]string{
		"docs/a/SECURITY.md":        "# Security Policy\r\n\r\nReport vulnerabilities to <security@example.com> & we fix them.\r\n",
		"docs/b/SECURITY.md":        "# Security\n\nPlease see the example security policy at https://example.org/security\n",
		"docs/advisory.csaf.json":   csaf + "\n",
		"docs/garbage.csaf.json":    csaf + "\ngarbage\n",
		"docs/notes.txt":            "Release notes: proxies work again.\n",
		"docs/.git/config":          "[core]\n",
		"atts/envelope.intoto.json": `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`,
		"single/osv.yaml":           "id: PYSEC-2026-1\nmodified: '2026-01-01T00:00:00Z'\ndetails: a & b\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	at := func(name string) string { return filepath.Join(dir, name) }
	digest := "sha256:" + strings.Repeat("ab", 32)
	release := []string{"attest", "--key", keyFile, "--subject", "pkg:pypi/example@1.0.0", "--digest", digest}

	t.Run("directory", func(t *testing.T) {
		out := at("docs/out") // inside the input: skipped when walking
		code, _, stderr := runEvident(t, append(release, "-o", out, at("docs"), at("atts"))...)
		if code != exitFailed {
			t.Errorf("exit %d, want %d (garbage.csaf.json and notes.txt are not recognised)\n%s", code, exitFailed, stderr)
		}
		for _, re := range []string{
			`(?m)^.*docs/a/SECURITY.md: recognised security policy \(Markdown\) \(kind security-policy\); wrote .*out/SECURITY.md.intoto.json$`,
			`(?m)^.*docs/b/SECURITY.md: recognised security policy pointer \(Markdown\) \(kind security-policy\); wrote .*out/SECURITY.md.2.intoto.json$`,
			`(?m)^.*docs/advisory.csaf.json: recognised CSAF 2.0 security advisory \(kind advisory\)`,
			`(?m)^.*docs/garbage.csaf.json: not recognised: is not a valid JSON object \(has data after the JSON object\)$`,
			`(?m)^.*docs/notes.txt: not recognised: is text of no known kind$`,
			`(?m)^.*atts/envelope.intoto.json: already an attestation \(a DSSE envelope\): submit it with evident submit$`,
			`(?m)^attested 3 of 6 documents into .*out, signed by ed25519:`,
			`(?m)^  already attestations: 1 `,
			`(?m)^  not recognised or refused: 2 `,
		} {
			if !regexp.MustCompile(re).MatchString(stderr) {
				t.Errorf("stderr lacks %s:\n%s", re, stderr)
			}
		}
		if strings.Contains(stderr, "garbage.csaf.json: recognised") || strings.Contains(stderr, ".git") {
			t.Errorf("stderr says garbage.csaf.json was recognised, or reads .git:\n%s", stderr)
		}
		got, _ := filepath.Glob(filepath.Join(out, "*"))
		for i := range got {
			got[i] = filepath.Base(got[i])
		}
		if w := []string{"SECURITY.md.2.intoto.json", "SECURITY.md.intoto.json", "advisory.csaf.json.intoto.json"}; !slices.Equal(got, w) {
			t.Errorf("wrote %v, want %v", got, w)
		}
		env, _ := os.ReadFile(filepath.Join(out, "SECURITY.md.intoto.json"))
		checkAttested(t, at("docs/a/SECURITY.md"), env, trust, "pkg:pypi/example@1.0.0", []evidence.Kind{evidence.KindSecurityPolicy}, [32]byte(mustHex(t, digest[len("sha256:"):])))
		// Again: the output directory inside docs is not read.
		code, _, stderr = runEvident(t, append(release, "-o", out, at("docs"))...)
		if code != exitFailed || strings.Contains(stderr, ".intoto.json: already an attestation") {
			t.Errorf("second run: exit %d\n%s", code, stderr)
		}
	})

	t.Run("attestations alone", func(t *testing.T) {
		code, _, stderr := runEvident(t, append(release, at("atts/envelope.intoto.json"))...)
		if code != exitFailed || !strings.Contains(stderr, "already an attestation (a DSSE envelope): submit it with evident submit") {
			t.Errorf("exit %d, want %d\n%s", code, exitFailed, stderr)
		}
	})

	t.Run("attestations among documents", func(t *testing.T) {
		code, _, stderr := runEvident(t, append(release, "-o", t.TempDir(), at("atts"), at("single"))...)
		if code != exitOK {
			t.Errorf("exit %d, want %d\n%s", code, exitOK, stderr)
		}
	})

	t.Run("package-level", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "osv.intoto.json")
		code, _, stderr := runEvident(t, "attest", "--key", keyFile, "--subject", "pkg:pypi/example", "-o", out, at("single/osv.yaml"))
		if code != exitOK || !strings.Contains(stderr, "recognised OSV YAML (kind advisory); wrote "+out+", signed by "+evidence.KeyID(key.Public().(ed25519.PublicKey))) {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		env, _ := os.ReadFile(out)
		checkAttested(t, at("single/osv.yaml"), env, trust, "pkg:pypi/example", []evidence.Kind{evidence.KindAdvisory}, [32]byte{})
		commit := strings.Repeat("0123456789", 4)
		code, stdout, stderr := runEvident(t, "attest", "--key", keyFile, "--subject", "pkg:pypi/example", "--digest", "gitCommit:"+commit, "-o", "-", at("single/osv.yaml"))
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		v, err := evidence.Verify([]byte(stdout), trust)
		if err != nil || v.Statement.Subject[0].Digest["gitCommit"] != commit {
			t.Errorf("Verify: %v; subject %+v, want gitCommit %s", err, v.Statement.Subject, commit)
		}
	})

	t.Run("one document into a directory", func(t *testing.T) {
		out := t.TempDir()
		code, _, stderr := runEvident(t, append(release, "-o", out, at("single/osv.yaml"))...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "osv.yaml.intoto.json")); err != nil {
			t.Error(err)
		}
	})

	t.Run("too large", func(t *testing.T) {
		big := filepath.Join(t.TempDir(), "big.json")
		f, err := os.Create(big)
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(evidence.MaxDocumentSize + 1) // sparse: no disk written
		f.Close()
		code, _, stderr := runEvident(t, append(release, "-o", t.TempDir(), big, at("single/osv.yaml"))...)
		if code != exitFailed || !strings.Contains(stderr, "big.json: refused: it is larger than the 37748736 bytes a document attestation carries") {
			t.Errorf("exit %d, want %d\n%s", code, exitFailed, stderr)
		}
	})

	t.Run("predicate type given", func(t *testing.T) {
		code, stdout, stderr := runEvident(t, append(release, "--predicate-type", "https://example.org/release-notes/v1", "-o", "-", at("docs/notes.txt"))...)
		if code != exitOK || !strings.Contains(stderr, "not recognised; attested as text/plain of type https://example.org/release-notes/v1 (kind other), as given") {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		v, err := evidence.Verify([]byte(stdout), trust)
		if err != nil || v.Format != "unrecognised (text/plain)" || v.Kind != evidence.KindOther {
			t.Errorf("Verify: %v, %+v", err, v)
		}
	})

	t.Run("standard input", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		in := strings.NewReader(files["docs/a/SECURITY.md"])
		code := run(context.Background(), append(release, "-"), in, &stdout, &stderr)
		if code != exitOK || !strings.HasPrefix(stderr.String(), "standard input: recognised security policy (Markdown)") {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
		doc, _, err := evidence.DocumentOfEnvelope(stdout.Bytes())
		if err != nil || string(doc) != files["docs/a/SECURITY.md"] {
			t.Errorf("document %q (%v), want the input", doc, err)
		}
	})

	t.Run("write fails", func(t *testing.T) {
		out := t.TempDir()
		// A directory where the envelope should go: the rename fails.
		os.Mkdir(filepath.Join(out, "advisory.csaf.json.intoto.json"), 0o755)
		code, _, stderr := runEvident(t, append(release, "-o", out, at("docs/advisory.csaf.json"), at("single/osv.yaml"))...)
		if code != exitError {
			t.Errorf("exit %d, want %d\n%s", code, exitError, stderr)
		}
		if !regexp.MustCompile(`(?m)^.*advisory.csaf.json: failed: couldn't write the envelope: `).MatchString(stderr) || strings.Contains(stderr, "advisory.csaf.json: recognised") {
			t.Errorf("stderr does not say only that the write failed:\n%s", stderr)
		}
		if !strings.Contains(stderr, "osv.yaml: recognised OSV YAML") {
			t.Errorf("the other document was not attested:\n%s", stderr)
		}
	})

	t.Run("could not run", func(t *testing.T) {
		notDir := at("docs/notes.txt")
		for _, args := range [][]string{
			{"attest", "--key", keyFile, at("docs")},                             // no subject
			append(slices.Clone(release[:len(release)-2]), at("docs/notes.txt")), // a release without its digest
			{"attest", "--key", keyFile, "--subject", "pkg:pypi/example", "--digest", "md5:" + strings.Repeat("ab", 16), at("single/osv.yaml")},
			append(release, at("docs")),                                                                    // several without -o
			append(release, "-o", filepath.Join(notDir, "out"), at("docs")),                                // -o can't be made
			append(release, "-o", t.TempDir(), at("docs/.git/missing")),                                    // no such file
			append(release, "-o", t.TempDir(), t.TempDir()),                                                // nothing found
			{"attest", "--key", at("missing.key"), "--subject", "pkg:pypi/example", at("single/osv.yaml")}, // no key
		} {
			code, _, stderr := runEvident(t, args...)
			if code != exitError || !strings.HasPrefix(stderr, "evident: ") {
				t.Errorf("%v: exit %d, want %d\n%s", args, code, exitError, stderr)
			}
		}
	})
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
