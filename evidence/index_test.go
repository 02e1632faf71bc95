package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// indexTestEntry is an OpenVEX entry about subjects.
func indexTestEntry(subjects ...EntrySubject) *Entry {
	return &Entry{
		EnvelopeDigest: sha256.Sum256([]byte("envelope")),
		EnvelopeSize:   8,
		Encoding:       EncodingDSSE,
		PredicateType:  PredicateOpenVEX,
		Kind:           Classify(PredicateOpenVEX),
		Document:       DocumentRef{Digest: sha256.Sum256([]byte("document")), Size: 8, MediaType: "application/json"},
		Format:         "OpenVEX v0.2.0",
		Name:           "vex",
		Signers:        []string{"ed25519:" + strings.Repeat("ab", 32)},
		Subjects:       subjects,
		Time:           time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC),
	}
}

// TestIdentity: the fast read of the envelope digest agrees with a full
// parse of a real entry, and anything else falls back to a key of its own.
func TestIdentity(t *testing.T) {
	e := indexTestEntry(EntrySubject{
		Purl:    "pkg:pypi/requests@2.32.3",
		Digests: []Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}},
	})
	b := e.Marshal()
	parsed, err := ParseEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := Identity(b); got != parsed.EnvelopeDigest {
		t.Errorf("identity %x, want the parsed envelope digest %x", got, parsed.EnvelopeDigest)
	}
	for _, bad := range []string{"", "garbage", EntryHeader + "\nenvelope sha256:" + strings.Repeat("zz", 32) + " 8 dsse\n", EntryHeader + "\nenvelope sha256:" + strings.Repeat("ab", 32) + "\n"} {
		if got := Identity([]byte(bad)); got != sha256.Sum256([]byte(bad)) {
			t.Errorf("Identity(%q) did not fall back to the entry's own hash", bad)
		}
	}
}

// TestIndexKeys: every release, package and digest of the subjects once,
// digests lowercased, and the predicate type.
func TestIndexKeys(t *testing.T) {
	e := indexTestEntry(
		EntrySubject{Purl: "pkg:pypi/requests@2.32.3", Digests: []Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}, {Alg: "sha512", Value: strings.Repeat("ef", 64)}}},
		EntrySubject{Purl: "pkg:pypi/requests@2.32.3?file_name=requests.whl", Digests: []Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}, {Alg: "x-custom", Value: "AbC="}}},
		EntrySubject{Purl: "pkg:pypi/urllib3@2.2.0", Digests: []Digest{{Alg: "sha256", Value: strings.Repeat("01", 32)}}},
		EntrySubject{Purl: "pkg:pypi/urllib3", Digests: []Digest{{Alg: "gitCommit", Value: strings.Repeat("02", 20)}}},
	)
	signer := "ed25519:" + strings.Repeat("ab", 32)
	want := []IndexKey{
		{IndexRelease, "pkg:pypi/requests@2.32.3"},
		{IndexRelease, "pkg:pypi/urllib3@2.2.0"},
		{IndexPackage, "pkg:pypi/requests"},
		{IndexPackage, "pkg:pypi/urllib3"},
		{IndexPackageLevel, "pkg:pypi/urllib3"},
		{IndexDigest, "sha256:" + strings.Repeat("cd", 32)},
		{IndexDigest, "sha512:" + strings.Repeat("ef", 64)},
		{IndexDigest, "x-custom:abc="},
		{IndexDigest, "sha256:" + strings.Repeat("01", 32)},
		{IndexDigest, "gitcommit:" + strings.Repeat("02", 20)},
		{IndexLineage, "vex - " + signer + " pkg:pypi/requests@2.32.3"},
		{IndexLineage, "vex - " + signer + " pkg:pypi/urllib3@2.2.0"},
		{IndexLineage, "vex - " + signer + " pkg:pypi/urllib3"},
		{IndexPredicate, PredicateOpenVEX},
		{IndexDocument, "sha256:" + hexSum("document")},
	}
	if diff := cmp.Diff(want, e.IndexKeys()); diff != "" {
		t.Errorf("IndexKeys (-want +got):\n%s", diff)
	}
}

// TestIndexKeysWithdrawal: a withdrawal is filed under its status subjects
// in the withdrawal index and under the withdrawn envelope's digest, and
// never in a lineage (a withdrawal supersedes nothing and is superseded by
// nothing); evidence with two signers is in the lineage of the pair.
func TestIndexKeysWithdrawal(t *testing.T) {
	target := strings.Repeat("7e", 32)
	w := indexTestEntry(
		EntrySubject{Purl: "pkg:pypi/requests@2.32.3?file_name=x.whl", Digests: []Digest{{Alg: "sha256", Value: target}}},
		EntrySubject{Purl: "pkg:pypi/requests", Digests: []Digest{{Alg: "sha256", Value: target}}},
	)
	w.PredicateType, w.Kind = PredicateWithdrawal, KindWithdrawal
	want := []IndexKey{
		{IndexRelease, "pkg:pypi/requests@2.32.3"},
		{IndexPackage, "pkg:pypi/requests"},
		{IndexPackageLevel, "pkg:pypi/requests"},
		{IndexDigest, "sha256:" + target},
		{IndexWithdrawal, "pkg:pypi/requests@2.32.3"},
		{IndexWithdrawal, "pkg:pypi/requests"},
		{IndexPredicate, PredicateWithdrawal},
		{IndexDocument, "sha256:" + hexSum("document")},
	}
	if diff := cmp.Diff(want, w.IndexKeys()); diff != "" {
		t.Errorf("withdrawal IndexKeys (-want +got):\n%s", diff)
	}
	if d, ok := w.WithdrawnEnvelope(); !ok || hexOf(d[:]) != target {
		t.Errorf("WithdrawnEnvelope = %x, %v; want %s", d, ok, target)
	}

	two := indexTestEntry(EntrySubject{Purl: "pkg:pypi/requests@2.32.3", Digests: []Digest{{Alg: "sha256", Value: target}}})
	two.Signers = []string{"ed25519:" + strings.Repeat("01", 32), "sigstore:x:y"}
	var lineage []string
	for _, k := range two.IndexKeys() {
		if k.Index == IndexLineage {
			lineage = append(lineage, k.Key)
		}
		if k.Index == IndexWithdrawal {
			t.Errorf("evidence filed as a withdrawal: %v", k)
		}
	}
	wantLineage := []string{"vex - ed25519:" + strings.Repeat("01", 32) + " sigstore:x:y pkg:pypi/requests@2.32.3"}
	if diff := cmp.Diff(wantLineage, lineage); diff != "" {
		t.Errorf("lineage keys (-want +got):\n%s", diff)
	}
	if _, ok := two.WithdrawnEnvelope(); ok {
		t.Error("WithdrawnEnvelope of evidence that is not a withdrawal")
	}
}

// TestCheckEnvelope: the envelope an entry names passes; another of the
// same size, or the same bytes cut short, do not; nor does a malformed entry.
func TestCheckEnvelope(t *testing.T) {
	e := indexTestEntry(EntrySubject{
		Purl:    "pkg:pypi/requests@2.32.3",
		Digests: []Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}},
	})
	entry := e.Marshal()
	if err := CheckEnvelope(entry, []byte("envelope")); err != nil {
		t.Errorf("the named envelope: %v", err)
	}
	for _, other := range []string{"envelopf", "envelop", ""} {
		if err := CheckEnvelope(entry, []byte(other)); err == nil {
			t.Errorf("CheckEnvelope accepted %q", other)
		}
	}
	if err := CheckEnvelope([]byte("garbage"), []byte("envelope")); err == nil {
		t.Error("CheckEnvelope accepted a malformed entry")
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// TestSeries: a document attestation's VEX document or advisory is a series
// of its own, named by the document; SBOMs are one series per format; other
// evidence one per kind.
func TestSeries(t *testing.T) {
	for _, tt := range []struct {
		kind                  Kind
		predicateType, format string
		name, want            string
	}{
		{KindVEX, PredicateDocument, "CSAF 2.0 VEX", "RHSA-2024:0001", "RHSA-2024:0001"},
		{KindAdvisory, PredicateDocument, "CSAF 2.0 security advisory", "BSI 2022 0001", "BSI%202022%200001"},
		{KindVEX, PredicateOpenVEX, "OpenVEX v0.2.0", "pkg:pypi/requests@2.32.3", "-"},
		{KindSBOM, PredicateDocument, "SPDX 2.3 JSON", "example-1.0.0", "spdx"},
		{KindSBOM, PredicateDocument, "CycloneDX 1.6 XML SBOM", "urn:uuid:1", "cyclonedx"},
		{KindSBOM, "https://spdx.dev/Document/v2.3", "SPDX v2.3", "pkg:pypi/requests@2.32.3", "spdx"},
		{KindSupportPeriod, PredicateDocument, "Evident support period v1", "x", "-"},
	} {
		e := &Entry{Kind: tt.kind, PredicateType: tt.predicateType, Format: tt.format, Name: tt.name}
		if got := e.Series(); got != tt.want {
			t.Errorf("%s %s %q %q: Series %q, want %q", tt.kind, tt.predicateType, tt.format, tt.name, got, tt.want)
		}
	}
}
