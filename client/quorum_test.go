package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/policy"
	"github.com/evident-dev/evident/witness"
)

func TestQuorum(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	submitAll(t, newClient(t, n.URL, n.VerifierKey, Options{}),
		testEnvelope("pkg:pypi/requests@2.32.3", 1), testEnvelope("pkg:pypi/requests@2.32.3", 2))

	var ws []*witness.Cosigner
	for i := range 2 {
		w, err := witness.NewCosigner(fmt.Sprintf("witness.example/w%d", i), ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 20)}, 32)), nil)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	pol := func(text string) *policy.WitnessPolicy {
		text = strings.NewReplacer("LOG", n.VerifierKey, "W0", ws[0].Verifier().VerifierKey(), "W1", ws[1].Verifier().VerifierKey()).Replace(text)
		p, err := policy.Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cosign := func(by ...*witness.Cosigner) func(string) string {
		return func(signed string) string {
			nt, err := note.Open([]byte(signed), note.VerifierList(verifier(t, n.VerifierKey)))
			if err != nil {
				t.Error(err)
				return signed
			}
			var signers []note.Signer
			for _, w := range by {
				signers = append(signers, w)
			}
			b, err := note.Sign(nt, signers...)
			if err != nil {
				t.Error(err)
			}
			return string(b)
		}
	}
	both := "log LOG\nwitness w0 W0\nwitness w1 W1\ngroup both all w0 w1\nquorum both\n"
	tests := []struct {
		name    string
		policy  string
		cosign  []*witness.Cosigner
		wantErr string // "" means verified
	}{
		{"quorum met", both, ws, ""},
		{"one of two", both, ws[:1], "cosigned only by [w0]"},
		{"no cosignature", both, nil, "no witness of the policy cosigned"},
		{"any", "log LOG\nwitness w0 W0\nwitness w1 W1\ngroup any any w0 w1\nquorum any\n", ws[1:], ""},
		{"quorum none", "log LOG\nquorum none\n", nil, ""},
		{"log not in policy", "witness w0 W0\nquorum w0\n", ws, "lists no log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, url := startProxy(t, n)
			p.checkpoint = cosign(tt.cosign...)
			c := newClient(t, url, n.VerifierKey, Options{Policy: pol(tt.policy)})
			_, cpErr := c.Checkpoint(ctx)
			rs, err := c.Query(ctx, "pkg:pypi/requests@2.32.3")
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 {
				t.Fatalf("%d results, want 2", len(rs))
			}
			if tt.wantErr == "" {
				if cpErr != nil || !rs[0].Verified || !rs[1].Verified {
					t.Errorf("Checkpoint: %v; results: %v, %v", cpErr, rs[0].Err, rs[1].Err)
				}
				return
			}
			for _, err := range []error{cpErr, rs[0].Err, rs[1].Err} {
				var ve *VerificationError
				if !errors.As(err, &ve) || ve.Part != PartQuorum || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want a witness quorum failure saying %q", err, tt.wantErr)
				}
			}
		})
	}
}
