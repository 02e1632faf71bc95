package detect

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/evident-dev/evident/evidence"
)

// sharedTestdata returns the shared corpus of real evidence documents
// (/work/shared/testdata/evidence, see its SOURCES.md), or the directory
// EVIDENT_TESTDATA names, and skips the test if it is absent.
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

// TestRealDocuments detects every document of the shared corpus, and checks
// its kind against the directory it is filed in.
func TestRealDocuments(t *testing.T) {
	root := sharedTestdata(t)
	// Per directory: the kinds a document may be detected as, or nil if it
	// must be refused.
	want := map[string][]evidence.Kind{
		"spdx":              {evidence.KindSBOM},
		"spdx3":             {evidence.KindSBOM},
		"cyclonedx":         {evidence.KindSBOM},
		"cyclonedx-vex":     {evidence.KindVEX},
		"openvex":           {evidence.KindVEX},
		"csaf":              {evidence.KindAdvisory, evidence.KindVEX},
		"scorecard":         {evidence.KindScorecard},
		"security-insights": {evidence.KindSecurityInsights},
		"security-txt":      {evidence.KindCVDPolicy},
		"security-policy":   {evidence.KindSecurityPolicy, evidence.KindCVDPolicy},
		"vuln-records":      {evidence.KindAdvisory},
		"support-period":    {evidence.KindSupportPeriod},
		"intoto":            nil,
		"sigstore":          nil,
	}
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		kinds, known := want[d.Name()]
		if !known {
			t.Errorf("no expectation for directory %s", d.Name())
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.IsDir() {
				continue
			}
			n++
			path := filepath.Join(root, d.Name(), f.Name())
			t.Run(d.Name()+"/"+f.Name(), func(t *testing.T) {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				r, err := Detect(f.Name(), b)
				if kinds == nil {
					if err == nil {
						t.Fatalf("Detect = %q (%s), want it refused", r.Format, r.PredicateType)
					}
					if !errors.Is(err, ErrAttestation) && !errors.Is(err, ErrUnrecognized) {
						t.Fatalf("Detect error %v wraps neither ErrAttestation nor ErrUnrecognized", err)
					}
					t.Logf("refused: %v", err)
					return
				}
				if err != nil {
					t.Fatalf("Detect: %v", err)
				}
				if !slices.Contains(kinds, r.Kind) {
					t.Errorf("Kind = %s, want one of %v", r.Kind, kinds)
				}
				checkResult(t, f.Name(), b, r)
				t.Logf("%s (%s): %s, title %q", r.Format, r.MediaType, r.PredicateType, r.Title)
			})
		}
	}
	if n == 0 {
		t.Errorf("no documents in %s", root)
	}
}

// checkResult checks the invariants of every result: its kind fits its
// type, it names a format and a media type, its title is one clean line,
// and it makes a document attestation that carries content byte for byte.
func checkResult(t *testing.T, name string, content []byte, r *Result) {
	t.Helper()
	if !evidence.KindFits(r.PredicateType, r.Kind) {
		t.Errorf("Kind = %s, but predicate type %s classifies as %s", r.Kind, r.PredicateType, evidence.Classify(r.PredicateType))
	}
	if r.Kind == evidence.KindOther || r.Format == "" || r.MediaType == "" {
		t.Errorf("result %+v lacks a kind, format or media type", r)
	}
	if len(r.Title) > MaxTitle || !utf8.ValidString(r.Title) || strings.ContainsFunc(r.Title, unicode.IsControl) || strings.TrimSpace(r.Title) != r.Title {
		t.Errorf("title %q is not one clean line of at most %d bytes", r.Title, MaxTitle)
	}
	p, err := r.Document(name, content).Predicate()
	if err != nil {
		t.Fatalf("document predicate: %v", err)
	}
	d, err := evidence.ParseDocument(p)
	if err != nil {
		t.Fatalf("ParseDocument: %v", err)
	}
	if !bytes.Equal(d.Content, content) || d.DocumentType != r.PredicateType || d.Kind != r.Kind || d.MediaType != r.MediaType || d.Title != r.Title {
		t.Errorf("the document attestation does not carry the document and what Detect said of it")
	}
	// The result must make a valid statement.
	st := &evidence.Statement{
		Type:          evidence.StatementTypeV1,
		Subject:       []evidence.Subject{{Name: "pkg:generic/example@1.0.0", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}},
		PredicateType: evidence.PredicateDocument,
		Predicate:     p,
	}
	if _, err := st.Marshal(); err != nil {
		t.Errorf("statement: %v", err)
	}
}
