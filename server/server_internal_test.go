package server

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/evident-dev/evident/evidence"
	"github.com/google/go-cmp/cmp"
)

// TestEntryIdentity: the fast read of the envelope digest agrees with a full
// parse of a real entry, and anything else falls back to a key of its own.
func TestEntryIdentity(t *testing.T) {
	e := testEntry(evidence.EntrySubject{
		Purl:    "pkg:pypi/requests@2.32.3",
		Digests: []evidence.Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}},
	})
	b := e.Marshal()
	parsed, err := evidence.ParseEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := entryIdentity(b); got != parsed.EnvelopeDigest {
		t.Errorf("identity %x, want the parsed envelope digest %x", got, parsed.EnvelopeDigest)
	}
	for _, bad := range []string{"", "garbage", evidence.EntryHeader + "\nenvelope sha256:" + strings.Repeat("zz", 32) + "\n"} {
		if got := entryIdentity([]byte(bad)); got != sha256.Sum256([]byte(bad)) {
			t.Errorf("entryIdentity(%q) did not fall back to the entry's own hash", bad)
		}
	}
}

// TestIndexKeysOf: the keys submission files an entry under, computed from
// the entry it made, are exactly those the ledger's Index option computes from
// the stored encoding (which Open rebuilds the newest keys with, and Verify
// checks the index against).
func TestIndexKeysOf(t *testing.T) {
	e := testEntry(
		evidence.EntrySubject{Purl: "pkg:pypi/requests@2.32.3", Digests: []evidence.Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}, {Alg: "sha512", Value: strings.Repeat("ef", 64)}}},
		evidence.EntrySubject{Purl: "pkg:pypi/requests@2.32.3?file_name=requests.whl", Digests: []evidence.Digest{{Alg: "sha256", Value: strings.Repeat("cd", 32)}}},
		evidence.EntrySubject{Purl: "pkg:pypi/urllib3@2.2.0", Digests: []evidence.Digest{{Alg: "sha256", Value: strings.Repeat("01", 32)}}},
	)
	fromBytes, err := entryIndexKeys(e.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromBytes, indexKeysOf(e)); diff != "" {
		t.Errorf("indexKeysOf differs from entryIndexKeys (-bytes +struct):\n%s", diff)
	}
	if len(fromBytes) != 2+2+3+1 {
		t.Errorf("%d keys, want 2 releases, 2 packages, 3 digests and 1 predicate type: %v", len(fromBytes), fromBytes)
	}
}

// testEntry is an OpenVEX entry about subjects.
func testEntry(subjects ...evidence.EntrySubject) *evidence.Entry {
	return &evidence.Entry{
		EnvelopeDigest: sha256.Sum256([]byte("envelope")),
		EnvelopeSize:   8,
		PredicateType:  evidence.PredicateOpenVEX,
		Kind:           evidence.Classify(evidence.PredicateOpenVEX),
		Signers:        []string{"ed25519:" + strings.Repeat("ab", 32)},
		Subjects:       subjects,
		Time:           time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC),
	}
}

// TestWorkerPool: run returns once f has run, and a panic in f is raised in
// the caller, leaving the pool working.
func TestWorkerPool(t *testing.T) {
	p := newWorkerPool(2)
	ran := false
	p.run(func() { ran = true })
	if !ran {
		t.Fatal("run returned before f ran")
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic of f", r)
			}
		}()
		p.run(func() { panic("boom") })
	}()
	for range 4 {
		ran = false
		p.run(func() { ran = true })
		if !ran {
			t.Fatal("the pool stopped working after a panic")
		}
	}
}
