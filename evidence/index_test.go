package evidence

import (
	"crypto/sha256"
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
		{IndexPredicate, PredicateOpenVEX},
		{IndexDocument, "sha256:" + hexSum("document")},
	}
	if diff := cmp.Diff(want, e.IndexKeys()); diff != "" {
		t.Errorf("IndexKeys (-want +got):\n%s", diff)
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
