package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

func testDocument() *Document {
	return &Document{
		FileName:     "bom.cdx.xml",
		MediaType:    "application/vnd.cyclonedx+xml",
		Content:      []byte("<?xml version=\"1.0\"?>\r\n<bom xmlns=\"http://cyclonedx.org/schema/bom/1.6\">&amp;</bom>\n\x00\xff"),
		DocumentType: "https://cyclonedx.org/bom/v1.6",
		Kind:         KindVEX,
		Format:       "CycloneDX 1.6 XML VDR/VEX",
		Title:        "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	d := testDocument()
	p, err := d.Predicate()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := d.Predicate()
	if !bytes.Equal(p, again) {
		t.Error("Predicate is not deterministic")
	}
	got, err := ParseDocument(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Content, d.Content) || got.FileName != d.FileName || got.MediaType != d.MediaType ||
		got.DocumentType != d.DocumentType || got.Kind != d.Kind || got.Format != d.Format || got.Title != d.Title {
		t.Errorf("ParseDocument(Predicate()) = %+v; want %+v", got, d)
	}

	// The statement's document is the content, byte for byte.
	st := testStatement(subject("pkg:generic/openssl@3.4.0"))
	st.PredicateType, st.Predicate = PredicateDocument, p
	payload := mustMarshalStatement(t, st)
	doc, mediaType, err := DocumentOf(payload)
	if err != nil || !bytes.Equal(doc, d.Content) || mediaType != d.MediaType {
		t.Errorf("DocumentOf = %q, %q, %v", doc, mediaType, err)
	}
	parsed, err := ParseStatement(payload)
	if err != nil {
		t.Fatal(err)
	}
	ref, kind, format, name, err := describe(payload, parsed)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Digest != sha256.Sum256(d.Content) || ref.Size != int64(len(d.Content)) || kind != KindVEX || format != d.Format || name != d.Title {
		t.Errorf("describe = %x %d %q %q %q", ref.Digest, ref.Size, kind, format, name)
	}
}

func TestParseDocumentRefusals(t *testing.T) {
	good, err := testDocument().Predicate()
	if err != nil {
		t.Fatal(err)
	}
	content := base64.StdEncoding.EncodeToString(testDocument().Content)
	sum := sha256.Sum256(testDocument().Content)
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("predicate does not contain %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	tampered := []byte(testDocument().Content)
	tampered[0] ^= 1
	tests := []struct {
		name, field, msg string
		in               []byte
	}{
		{"not an object", "predicate", "JSON object", []byte(`[]`)},
		{"no document", "predicate.document", "missing", []byte(`{"kind":"sbom"}`)},
		{"tampered content", "predicate.document.content", "the document was changed", replace(content, base64.StdEncoding.EncodeToString(tampered))},
		{"digest uppercase", "predicate.document.digest.sha256", "64 lowercase hex", replace(hex.EncodeToString(sum[:]), strings.ToUpper(hex.EncodeToString(sum[:])))},
		{"url-safe base64", "predicate.document.content", "standard, padded base64", replace(`"content":"`, `"content":"_`)},
		{"duplicate member", "predicate", "more than once", replace(`"kind":"vex"`, `"kind":"vex","kind":"sbom"`)},
		{"kind not of the type", "predicate.kind", "is \"provenance\"", replace(`"kind":"vex"`, `"kind":"provenance"`)},
		{"unknown kind", "predicate.kind", "not a kind", replace(`"kind":"vex"`, `"kind":"sboms"`)},
		{"type is document", "predicate.documentType", "must name what the document is", replace(`"https://cyclonedx.org/bom/v1.6"`, `"`+PredicateDocument+`"`)},
		{"type not a URI", "predicate.documentType", "not a URI", replace(`"https://cyclonedx.org/bom/v1.6"`, `"cyclonedx"`)},
		{"bad media type", "predicate.document.mediaType", "media type", replace(`"application/vnd.cyclonedx+xml"`, `"cyclonedx xml"`)},
		{"path in name", "predicate.document.name", "without directories", replace(`"bom.cdx.xml"`, `"/home/rm/bom.cdx.xml"`)},
		{"no format", "predicate.format", "1 to", replace(`"format":"CycloneDX 1.6 XML VDR/VEX"`, `"format":""`)},
		{"trailing data", "predicate", "data after", append(append([]byte{}, good...), `{}`...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDocument(tt.in)
			if d != nil {
				t.Error("ParseDocument returned a document with an error")
			}
			wantFieldError(t, err, tt.field, tt.msg)
		})
	}
}

// TestVerifyDocument: a node refuses a document attestation whose document
// was changed after signing, and reads what it is from a good one.
func TestVerifyDocument(t *testing.T) {
	key := testKey(3)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:generic/openssl"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := testDocument().Predicate()
	if err != nil {
		t.Fatal(err)
	}
	st := testStatement(subject("pkg:generic/openssl@3.4.0"))
	st.PredicateType, st.Predicate = PredicateDocument, p
	v, err := Verify(signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, st), key), trust)
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind != KindVEX || v.Document.MediaType != "application/vnd.cyclonedx+xml" || v.Document.Digest != sha256.Sum256(testDocument().Content) {
		t.Errorf("Verified: kind %q, document %+v", v.Kind, v.Document)
	}

	// The signer signed a digest that the content does not have.
	bad := bytes.Replace(p, []byte(`"content":"PD94`), []byte(`"content":"PD95`), 1)
	st.Predicate = bad
	_, err = Verify(signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, st), key), trust)
	wantFieldError(t, err, "predicate.document.content", "the document was changed")

	// A document attestation without its document.
	st.Predicate = nil
	_, err = Verify(signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, st), key), trust)
	wantFieldError(t, err, "predicate", "carries its document")
}

// TestPackageLevel: a statement about a package (a purl without version)
// names the document's digest or a commit, and is logged as such.
func TestPackageLevel(t *testing.T) {
	key := testKey(4)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:github/sigstore"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, digest := range []map[string]string{
		{"sha256": hexSum("SECURITY.md")},
		{"gitCommit": strings.Repeat("ab", 20)},
	} {
		st := testStatement(Subject{Name: "pkg:github/sigstore/cosign", Digest: digest})
		v, err := Verify(signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, st), key), trust)
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEntry(v, entryTime)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.PackageLevel(); len(got) != 1 || got[0] != "pkg:github/sigstore/cosign" || len(e.Releases()) != 0 || !e.Subjects[0].PackageLevel() {
			t.Errorf("PackageLevel %q, Releases %q", got, e.Releases())
		}
	}
	st := testStatement(Subject{Name: "pkg:github/sigstore/cosign", Digest: map[string]string{"sha1": strings.Repeat("ab", 20)}})
	_, err = st.Marshal()
	wantFieldError(t, err, "subject[0].digest", "gitCommit")
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(signedEnvelope(t, PayloadTypeInToto, payload, key), trust)
	wantFieldError(t, err, "subject[0].digest", "gitCommit")
}

func TestBindSubject(t *testing.T) {
	tests := []struct {
		name, release, want, msg string
	}{
		{"pkg:pypi/requests@2.32.3", "", "pkg:pypi/requests@2.32.3", ""},
		{"pkg:pypi/requests@2.32.3", "pkg:pypi/other@1", "pkg:pypi/requests@2.32.3", ""},
		{"rfc8785-0.1.2-py3-none-any.whl", "pkg:pypi/rfc8785@0.1.2", "pkg:pypi/rfc8785@0.1.2", ""},
		{"pypi_attestations-0.0.19.tar.gz", "pkg:pypi/pypi-attestations@0.0.19", "pkg:pypi/pypi-attestations@0.0.19", ""},
		{"dist/Django-5.1.tar.gz", "pkg:pypi/django@5.1", "pkg:pypi/django@5.1", ""},
		{"rules_lint-v1.3.1.tar.gz", "pkg:github/aspect-build/rules_lint@v1.3.1", "pkg:github/aspect-build/rules_lint@v1.3.1", ""},
		{"openssl-3.4.0.tar.gz", "pkg:generic/openssl@v3.4.0", "pkg:generic/openssl@v3.4.0", ""},
		{"openssl-3.4.0", "pkg:generic/openssl@3.4.0", "pkg:generic/openssl@3.4.0", ""},
		{"rfc8785-0.1.2-py3-none-any.whl", "pkg:pypi/rfc8785@0.1.3", "", "does not carry"},
		{"rfc8785-0.1.20-py3-none-any.whl", "pkg:pypi/rfc8785@0.1.2", "", "does not carry"},
		{"rfc8785-0x1x2.whl", "pkg:pypi/rfc8785@0.1.2", "", "does not carry"},
		{"rfc87850-0.1.2.whl", "pkg:pypi/rfc8785@0.1.2", "", "does not carry"},
		{"evil/rfc8785-0.1.2.whl", "pkg:pypi/other@0.1.2", "", "does not carry"},
		{"rfc8785-0.1.2.whl", "pkg:pypi/rfc8785", "", "has no version"},
		{"rfc8785-0.1.2.whl", "", "", "evident submit --release"},
		{"rfc8785-0.1.2.whl", "pkg:/bad", "", "not a valid purl"},
		{"", "pkg:pypi/rfc8785@0.1.2", "", "is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.release, func(t *testing.T) {
			p, err := BindSubject(tt.name, tt.release, "subject[0].name")
			if tt.msg != "" {
				wantFieldError(t, err, "", tt.msg)
				return
			}
			if err != nil || p.String() != tt.want {
				t.Errorf("BindSubject = %s, %v; want %s", p, err, tt.want)
			}
		})
	}
}

// TestVerifyFor: a statement about a file is filed under the release the
// file name carries, and the trust check applies to that release.
func TestVerifyFor(t *testing.T) {
	key := testKey(5)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:pypi/rfc8785"}}})
	if err != nil {
		t.Fatal(err)
	}
	st := testStatement(Subject{Name: "rfc8785-0.1.2-py3-none-any.whl", Digest: map[string]string{"sha256": hexSum("whl")}})
	st.PredicateType, st.Predicate = "https://docs.pypi.org/attestations/publish/v1", []byte(`{}`)
	// Statement.Marshal refuses file names: Evident's own statements name
	// purls. Other producers' do not.
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	env := signedEnvelope(t, PayloadTypeInToto, payload, key)
	v, err := VerifyFor(env, trust, "pkg:pypi/rfc8785@0.1.2")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.SubjectPurls) != 1 || v.SubjectPurls[0] != "pkg:pypi/rfc8785@0.1.2" || v.Kind != KindProvenance || v.Name != "rfc8785-0.1.2-py3-none-any.whl" {
		t.Errorf("Verified: %q %q %q", v.SubjectPurls, v.Kind, v.Name)
	}
	_, err = Verify(env, trust)
	wantFieldError(t, err, "subject[0].name", "is not a Package URL")
	_, err = VerifyFor(env, trust, "pkg:pypi/rfc8785@0.1.3")
	wantFieldError(t, err, "subject[0].name", "does not carry")
	other, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"pkg:pypi/requests"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFor(env, other, "pkg:pypi/rfc8785@0.1.2"); err == nil || !strings.Contains(err.Error(), "pkg:pypi/rfc8785@0.1.2 is outside") {
		t.Errorf("VerifyFor under a key for another namespace: %v", err)
	}
}
