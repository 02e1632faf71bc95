package evidence

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// addCorpusFiles adds the files of a shared corpus directory as seeds, if the
// corpus is present.
func addCorpusFiles(f *testing.F, dirs ...string) {
	for _, d := range dirs {
		dir := filepath.Join("..", "..", "shared", "testdata", "evidence", d)
		files, _ := os.ReadDir(dir)
		for _, file := range files {
			if b, err := os.ReadFile(filepath.Join(dir, file.Name())); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(signedEnvelope(f, PayloadTypeInToto, mustMarshalStatement(f, testStatement(subject("pkg:pypi/requests@2.32.3"))), testKey(1), testKey(2)))
	f.Add([]byte(`{"payload":"aGVsbG8gd29ybGQ=","payloadType":"http://example.com/HelloWorld","signatures":[{"sig":"A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}`))
	f.Add([]byte(`{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k","sig":"-_-_"}],"payload":"e30="}`))
	f.Add([]byte(`{"payloadType":"t\ud800","payload":"e30=","signatures":[{"ſig":"AAAA"}]}`))
	addCorpusFiles(f, "intoto", "sigstore")
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e2, err := ParseEnvelope(out)
		if err != nil {
			t.Fatalf("ParseEnvelope(Marshal(e)): %v\n%s", err, out)
		}
		if diff := cmp.Diff(e, e2); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	sha := hexSum("x")
	f.Add(mustMarshalStatement(f, testStatement(subject("pkg:pypi/requests@2.32.3"), subject("pkg:maven/org.apache/x@1?type=jar#a/b"))))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"pkg:npm/@angular/core@17.0.0","digest":{"sha256":"` + sha + `","gitCommit":"` + sha[:40] + `","x":"A+/="}}],"predicateType":"https://openvex.dev/ns","predicate":{"a":[1,{"b":null}]},"extra":true}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"pkg:generic/a%20b@1","digest":{"sha256":"` + sha + `"}}],"predicateType":"urn:x","Subject":[]}`))
	addCorpusFiles(f, "intoto")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatement(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed statement: %v", err)
		}
		s2, err := ParseStatement(out)
		if err != nil {
			t.Fatalf("ParseStatement(Marshal(s)): %v\n%s", err, out)
		}
		out2, err := s2.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Errorf("Marshal is not stable:\n%s\n%s", out, out2)
		}
		for _, sub := range s.Subject {
			if p, err := ParsePurl(sub.Name); err != nil || !p.HasVersion() {
				t.Errorf("accepted subject %q: %v", sub.Name, err)
			}
		}
	})
}

func FuzzParseEntry(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "entry-v2.txt")); err == nil {
		f.Add(b)
		f.Add(bytes.Replace(b, []byte("kind cyclonedx"), []byte("kind other"), 1))
		f.Add(b[:len(b)/2])
	}
	e, err := NewEntry(goldenVerified(f), entryTime)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(e.Marshal(), b) {
			t.Fatalf("Marshal(ParseEntry(b)) != b:\n%q\n%q", e.Marshal(), b)
		}
		if len(e.Releases()) == 0 || len(e.Packages()) == 0 || len(e.Digests()) == 0 {
			t.Errorf("entry indexes nothing: %q", b)
		}
	})
}

func FuzzNamespaceMatch(f *testing.F) {
	seeds := [][2]string{
		{"pkg:maven/org.apache", "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"},
		{"pkg:npm/@angular", "pkg:npm/@angular/core@17.0.0"},
		{"pkg:pypi/Django_Rest", "pkg:pypi/django-rest@1.0?x=y#a/b"},
		{"pkg:golang/github.com/Foo", "pkg:golang/github.com/foo/bar@v1.0.0"},
		{"pkg:generic/a%20b", "pkg:generic/a%2Fb/c@1"},
		{"*", "pkg:deb/debian/curl@8.0?arch=amd64&distro=bookworm"},
		{"pkg:maven/a%2Fb", "pkg:maven/a/b/c@1"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, purl string) {
		n, nerr := ParseNamespace(pattern)
		p, perr := ParsePurl(purl)
		if nerr == nil {
			n2, err := ParseNamespace(n.String())
			if err != nil {
				t.Fatalf("ParseNamespace(%q) (from %q): %v", n.String(), pattern, err)
			}
			if diff := cmp.Diff(n, n2, cmp.AllowUnexported(Namespace{})); diff != "" {
				t.Fatalf("ParseNamespace(String()) mismatch (-want +got):\n%s", diff)
			}
			if perr == nil && n.Match(p) != n2.Match(p) {
				t.Errorf("%q and %q disagree on %q", pattern, n.String(), p)
			}
		} else if !errors.Is(nerr, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", nerr)
		}
		if perr != nil {
			if !errors.Is(perr, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", perr)
			}
			return
		}
		// The canonical form is a fixed point.
		p2, err := ParsePurl(p.String())
		if err != nil || p2.String() != p.String() {
			t.Fatalf("ParsePurl(%q) = %q, %v", p.String(), p2.String(), err)
		}
		for _, s := range []string{p.String(), p.Package(), p.Release()} {
			if strings.ContainsAny(s, " \t\r\n") {
				t.Errorf("canonical form %q has white space", s)
			}
		}
		// A purl is inside "*", its type, and its own package.
		for _, pat := range []string{"*", "pkg:" + p.Type(), p.Package()} {
			n, err := ParseNamespace(pat)
			if err != nil {
				if pat == p.Package() && strings.Contains(pat, "%2F") {
					continue // a "/" inside a segment cannot be a pattern
				}
				t.Fatalf("ParseNamespace(%q): %v", pat, err)
			}
			if !n.Match(p) {
				t.Errorf("%q does not match %q", pat, p)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	key := testKey(1)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:pypi", "pkg:maven/org.apache"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signedEnvelope(f, PayloadTypeInToto, mustMarshalStatement(f, testStatement(subject("pkg:pypi/requests@2.32.3"))), key))
	f.Add(signedEnvelope(f, PayloadTypeInToto, mustMarshalStatement(f, testStatement(subject("pkg:npm/x@1"))), key))
	f.Add(signedEnvelope(f, PayloadTypeInToto, []byte(`{"_type":"x"}`), key))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Verify(b, trust)
		if err != nil {
			n := 0
			for _, s := range []error{ErrMalformed, ErrBadSignature, ErrUntrustedKey, ErrNamespace} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %v wraps %d sentinels; want 1", err, n)
			}
			return
		}
		e, err := NewEntry(v, entryTime)
		if err != nil {
			t.Fatalf("NewEntry of a verified envelope: %v", err)
		}
		if _, err := ParseEntry(e.Marshal()); err != nil {
			t.Fatalf("ParseEntry(NewEntry(...).Marshal()): %v", err)
		}
	})
}
