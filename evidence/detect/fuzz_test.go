package detect

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/evident-dev/evident/evidence"
)

func FuzzDetect(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	sub, _ := filepath.Glob(filepath.Join("testdata", "*", "*"))
	files = append(files, sub...)
	if d := os.Getenv("EVIDENT_TESTDATA"); d != "" {
		more, _ := filepath.Glob(filepath.Join(d, "*", "*"))
		files = append(files, more...)
	} else {
		more, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "testdata", "evidence", "*", "*"))
		files = append(files, more...)
	}
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 {
			f.Add(filepath.Base(file), b)
		}
	}
	for _, s := range []string{
		`{"spdxVersion":"SPDX-2.3"}`,
		`{"@context":"https://openvex.dev/ns/v0.2.0"}`,
		`{"document":{"csaf_version":"2.0","category":"csaf_vex"}}`,
		`{"v1":{"eol":"x"}}`,
		`[{"cycle":"1","eol":false}]`,
		"a: &a {<<: *a}",
		"header:\n  schema-version: 1\nproject: &p\n  x: *p\n",
		"spdxVersion: SPDX-2.3\n? [a]\n: b",
		"<bom xmlns=\"http://cyclonedx.org/schema/bom/1.6\"><vulnerabilities><vulnerability/></vulnerabilities></bom>",
		"-----BEGIN PGP SIGNED MESSAGE-----\n\nContact: x\n-----BEGIN PGP SIGNATURE-----\n",
		"---\ntitle: Security Policy\n---\nreport vulnerabilities",
	} {
		f.Add("doc", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		r, err := Detect(name, b)
		if err != nil {
			if r != nil {
				t.Fatalf("Detect returned both a result and %v", err)
			}
			if !errors.Is(err, ErrUnrecognized) && !errors.Is(err, ErrAttestation) {
				t.Fatalf("error %v wraps neither ErrUnrecognized nor ErrAttestation", err)
			}
			return
		}
		if len(b) <= evidence.MaxDocumentSize {
			p, err := r.Document(name, b).Predicate()
			if err != nil {
				t.Fatalf("document predicate: %v", err)
			}
			if d, err := evidence.ParseDocument(p); err != nil || !bytes.Equal(d.Content, b) {
				t.Fatalf("the document attestation does not carry the document (%v)", err)
			}
		}
		if !evidence.KindFits(r.PredicateType, r.Kind) || r.Kind == evidence.KindOther {
			t.Fatalf("kind %s for predicate type %q", r.Kind, r.PredicateType)
		}
		if r.Format == "" || r.MediaType == "" {
			t.Fatal("no format or media type")
		}
		if len(r.Title) > MaxTitle || !utf8.ValidString(r.Title) {
			t.Fatalf("title %q", r.Title)
		}
	})
}
