package client

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/evidence"
	"github.com/evident-dev/evident/server/servertest"
)

// testBundle logs three envelopes about one release (and one other) on a
// new node and bundles the release.
func testBundle(t *testing.T) (*Bundle, *servertest.Node) {
	t.Helper()
	n := startNode(t)
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	submitAll(t, c,
		testEnvelope("pkg:pypi/requests@2.32.3", 1),
		testEnvelope("pkg:pypi/urllib3@2.2.3", 2),
		testEnvelope("pkg:pypi/requests@2.32.3", 3),
		testEnvelope("pkg:pypi/requests@2.32.3", 4),
	)
	b, err := c.Bundle(context.Background(), "pkg:pypi/requests@2.32.3", BundleOptions{SignerKeys: signerKeys()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Items) != 3 {
		t.Fatalf("bundle has %d items, want 3", len(b.Items))
	}
	return b, n
}

func verifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBundleRoundTrip(t *testing.T) {
	b, n := testBundle(t)
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("ParseBundle(Marshal(b)) differs (-want +got):\n%s", diff)
	}
	// The same key twice (from a configuration and a policy, say) is fine.
	rs, err := VerifyBundle(got, VerifyOptions{LogKeys: []note.Verifier{verifier(t, n.VerifierKey), verifier(t, n.VerifierKey)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil || r.Entry == nil || r.Statement == nil || r.Checkpoint == nil {
			t.Errorf("item %d: %+v", r.Item, r)
		}
		if r.Statement.Subject[0].Name != "pkg:pypi/requests@2.32.3" {
			t.Errorf("item %d is about %s", r.Item, r.Statement.Subject[0].Name)
		}
	}
	if rs[0].Index != 3 || rs[1].Index != 2 || rs[2].Index != 0 {
		t.Errorf("indexes %d %d %d, want 3 2 0", rs[0].Index, rs[1].Index, rs[2].Index)
	}
}

func TestBundleByIndex(t *testing.T) {
	n := startNode(t)
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	submitAll(t, c, testEnvelope("pkg:pypi/requests@2.32.3", 1), testEnvelope("pkg:pypi/urllib3@2.2.3", 2))
	b, err := c.Bundle(context.Background(), "1", BundleOptions{SignerKeys: signerKeys()})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := VerifyBundle(b, VerifyOptions{LogKeys: []note.Verifier{verifier(t, n.VerifierKey)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Index != 1 {
		t.Fatalf("got %+v, want entry 1", rs)
	}
}

func TestBundleMissingSignerKey(t *testing.T) {
	n := startNode(t)
	c := newClient(t, n.URL, n.VerifierKey, Options{})
	submitAll(t, c, testEnvelope("pkg:pypi/requests@2.32.3", 1))
	b, err := c.Bundle(context.Background(), "pkg:pypi/requests@2.32.3", BundleOptions{})
	if err == nil || !strings.Contains(err.Error(), "no public key for its signer") {
		t.Fatalf("Bundle without signer keys: got %v, want a missing key error", err)
	}
	if len(b.Items) != 0 {
		t.Errorf("the bundle holds %d items it could not complete", len(b.Items))
	}
}

// TestBundleTamper changes one thing in a bundle at a time; verification
// must fail, naming what failed.
func TestBundleTamper(t *testing.T) {
	b, n := testBundle(t)
	logKey := verifier(t, n.VerifierKey)
	other := startNode(t)
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, at int) { b[at] ^= 0x01 }
	// lineOf returns the offset of the first byte of line i of text.
	lineOf := func(text []byte, i int) int {
		off := 0
		for range i {
			off += bytes.IndexByte(text[off:], '\n') + 1
		}
		return off
	}

	tests := []struct {
		name     string
		change   func(it *BundleItem)
		opts     func(o *VerifyOptions)
		wantPart string
		wantMsg  string
	}{
		{"envelope byte", func(it *BundleItem) { flip(it.Envelope, len(it.Envelope)/2) }, nil, PartEnvelope, "SHA-256"},
		{"envelope appended", func(it *BundleItem) { it.Envelope = append(it.Envelope, ' ') }, nil, PartEnvelope, "SHA-256"},
		{"entry byte", func(it *BundleItem) { flip(it.Entry, lineOf(it.Entry, 4)+6) }, nil, PartProof, "entry"},
		{"entry time", func(it *BundleItem) {
			it.Entry = bytes.Replace(it.Entry, []byte("time 2"), []byte("time 1"), 1)
		}, nil, PartProof, "entry"},
		{"proof hash", func(it *BundleItem) { flip(it.Proof, lineOf(it.Proof, 2)+3) }, nil, PartProof, "proof"},
		{"proof index", func(it *BundleItem) {
			it.Proof = bytes.Replace(it.Proof, []byte("index 3\n"), []byte("index 1\n"), 1)
		}, nil, PartProof, "index"},
		{"proof hash removed", func(it *BundleItem) {
			start := lineOf(it.Proof, 2)
			it.Proof = append(it.Proof[:start:start], it.Proof[lineOf(it.Proof, 3):]...)
		}, nil, PartProof, "proof"},
		{"checkpoint root", func(it *BundleItem) {
			blank := bytes.Index(it.Proof, []byte("\n\n")) + 2
			flip(it.Proof, lineOf(it.Proof[blank:], 2)+blank+4)
		}, nil, PartCheckpoint, "checkpoint"},
		{"checkpoint signature", func(it *BundleItem) {
			it.Proof[len(it.Proof)-5] ^= 0x02
		}, nil, PartCheckpoint, "checkpoint"},
		{"signer key swapped", func(it *BundleItem) {
			it.Signers = []crypto.PublicKey{servertest.Public(servertest.KeyNPM)}
		}, nil, PartSignature, "no public key for signer"},
		{"signer key dropped", func(it *BundleItem) { it.Signers = nil }, nil, PartSignature, "no public key for signer"},
		{"wrong log key", nil, func(o *VerifyOptions) {
			o.LogKeys = []note.Verifier{verifier(t, other.VerifierKey)}
		}, PartCheckpoint, "not signed by a log key you trust"},
		{"untrusted signer", nil, func(o *VerifyOptions) {
			o.TrustedSigners = []crypto.PublicKey{servertest.Public(servertest.KeyNPM)}
		}, PartSigner, "none of which you trust"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case starts from a fresh copy of the file.
			tb, err := ParseBundle(data)
			if err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(&tb.Items[0])
			}
			opts := VerifyOptions{LogKeys: []note.Verifier{logKey}}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			rs, err := VerifyBundle(tb, opts)
			if err == nil {
				t.Fatal("VerifyBundle succeeded")
			}
			var ve *VerificationError
			if !errors.As(rs[0].Err, &ve) || ve.Part != tt.wantPart {
				t.Fatalf("item 0: got %v, want a failure of the %s", rs[0].Err, tt.wantPart)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), "item 0: "+tt.wantPart) {
				t.Errorf("error %q does not say %q about item 0's %s", err, tt.wantMsg, tt.wantPart)
			}
			// Untouched items still verify (unless the options reject all).
			if tt.opts == nil && (rs[1].Err != nil || rs[2].Err != nil) {
				t.Errorf("untouched items failed: %v / %v", rs[1].Err, rs[2].Err)
			}
		})
	}
}

func TestParseBundleErrors(t *testing.T) {
	b, _ := testBundle(t)
	good, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, data string
	}{
		{"empty", ""},
		{"not json", "c2sp.org/tlog-proof@v1\n"},
		{"other format", strings.Replace(string(good), BundleFormat, "https://example.com/bundle", 1)},
		{"unknown member", strings.Replace(string(good), `"items"`, `"extra": 1, "items"`, 1)},
		{"trailing data", string(good) + "{}"},
		{"bad signer key", strings.Replace(string(good), `"ed25519:`, `"ed25519:x`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseBundle([]byte(tt.data)); !errors.Is(err, ErrMalformedBundle) {
				t.Errorf("ParseBundle: got %v, want ErrMalformedBundle", err)
			}
		})
	}
	if _, err := VerifyBundle(&Bundle{}, VerifyOptions{}); err == nil {
		t.Error("VerifyBundle of an empty bundle succeeded")
	}
}

func TestVerifyEvidenceEnvelopeSize(t *testing.T) {
	b, n := testBundle(t)
	it := b.Items[0]
	p, err := ParseProof(it.Proof)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := VerifyCheckpoint(p.Checkpoint, []note.Verifier{verifier(t, n.VerifierKey)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := VerifyEvidence(cp, &Evidence{Index: p.Index, Entry: it.Entry, Proof: p.Hashes, Envelope: it.Envelope})
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != evidence.KindSBOM {
		t.Errorf("kind %q", e.Kind)
	}
	if _, err := VerifyEvidence(cp, &Evidence{Index: cp.Size, Entry: it.Entry, Proof: p.Hashes}); err == nil {
		t.Error("VerifyEvidence of an index beyond the tree succeeded")
	}
}
