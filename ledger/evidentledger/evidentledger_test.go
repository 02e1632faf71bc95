package evidentledger

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/ledger"
	"github.com/google/go-cmp/cmp"
)

// TestKeys: the keys a node files an entry under, computed from the entry it
// made, are exactly those the ledger's Index option computes from the stored
// encoding (which Open rebuilds the newest keys with, and Verify checks the
// index against).
func TestKeys(t *testing.T) {
	e := &evidence.Entry{
		EnvelopeDigest: sha256.Sum256([]byte("envelope")),
		EnvelopeSize:   8,
		Encoding:       evidence.EncodingDSSE,
		PredicateType:  evidence.PredicateOpenVEX,
		Kind:           evidence.Classify(evidence.PredicateOpenVEX),
		Document:       evidence.DocumentRef{Digest: sha256.Sum256([]byte("document")), Size: 8, MediaType: "application/json"},
		Format:         "OpenVEX",
		Name:           "vex",
		Signers:        []string{"ed25519:" + strings.Repeat("ab", 32)},
		Subjects: []evidence.EntrySubject{
			{Purl: "pkg:pypi/requests@2.32.3", Digests: []evidence.Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}, {Alg: "sha512", Value: strings.Repeat("ef", 64)}}},
			{Purl: "pkg:pypi/requests@2.32.3?file_name=requests.whl", Digests: []evidence.Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}}},
			{Purl: "pkg:pypi/urllib3@2.2.0", Digests: []evidence.Digest{{Alg: "sha256", Value: strings.Repeat("01", 32)}}},
		},
		Time: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC),
	}
	opts := Options(ledger.Options{})
	fromBytes, err := opts.Index(e.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromBytes, Keys(e)); diff != "" {
		t.Errorf("Keys differs from the Index option (-bytes +struct):\n%s", diff)
	}
	if len(fromBytes) != 2+2+3+2+1+1 {
		t.Errorf("%d keys, want 2 releases, 2 packages, 3 digests, 2 lineages, 1 predicate type and 1 document: %v", len(fromBytes), fromBytes)
	}
	if _, err := opts.Index([]byte("garbage")); err == nil {
		t.Error("the Index option accepted a malformed entry")
	}
	if opts.Identity(e.Marshal()) != e.EnvelopeDigest {
		t.Error("the Identity option is not the envelope digest")
	}
	if opts.CheckBlob(e.Marshal(), []byte("envelope")) != nil || opts.CheckBlob(e.Marshal(), []byte("envelopf")) == nil {
		t.Error("the CheckBlob option does not check the envelope against its entry")
	}
}
