package witness_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/witness"
)

// TestCosignatureInterop checks Evident's cosignature/v1 against an
// implementation Evident did not write (filippo.io/torchwood): the same key
// gives the same verifier key, and each side verifies the other's
// cosignatures on an Evident checkpoint.
func TestCosignatureInterop(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	const name = "witness.example/w1"
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ours, err := witness.NewCosigner(name, key, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := torchwood.NewCosignatureSigner(name, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ours.Verifier().VerifierKey(), theirs.Verifier().String(); got != want {
		t.Fatalf("verifier keys differ:\n ours   %s\n theirs %s", got, want)
	}

	skey, vkey, _ := note.GenerateKey(rand.Reader, "log.example/evident")
	logSigner, _ := note.NewSigner(skey)
	logVerifier, _ := note.NewVerifier(vkey)
	text := checkpoint.Checkpoint{Origin: "log.example/evident", Size: 1234, Hash: [32]byte{1, 2, 3}}.Marshal()

	// Ours, verified by theirs.
	signed, err := note.Sign(&note.Note{Text: string(text)}, logSigner, ours)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed, note.VerifierList(theirs.Verifier())); err != nil {
		t.Errorf("torchwood does not verify Evident's cosignature: %v", err)
	}

	// Theirs, verified by ours (from the vkey text alone), with its time.
	signed, err = note.Sign(&note.Note{Text: string(text)}, logSigner, theirs)
	if err != nil {
		t.Fatal(err)
	}
	v, err := witness.NewCosignatureVerifier(theirs.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v, logVerifier))
	if err != nil {
		t.Fatalf("Evident does not verify torchwood's cosignature: %v", err)
	}
	var found bool
	for _, s := range n.Sigs {
		if s.Name == name {
			found = true
			ts, err := v.Timestamp(s)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(ts); d < 0 || d > time.Minute {
				t.Errorf("cosignature time %v is not now", ts)
			}
		}
	}
	if !found {
		t.Fatal("torchwood's cosignature is not among the verified signatures")
	}
	// A cosignature on another checkpoint does not verify.
	other := checkpoint.Checkpoint{Origin: "log.example/evident", Size: 1235, Hash: [32]byte{1, 2, 3}}.Marshal()
	forged := append(append([]byte(nil), other...), signed[len(text):]...)
	if _, err := note.Open(forged, note.VerifierList(v)); err == nil {
		t.Error("a cosignature verified on a checkpoint it did not sign")
	}
}
