package client_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/client"
	"github.com/evident-dev/evident/evidence"
)

// A manufacturer keeps a bundle of evidence with the technical
// documentation of a product and checks it years later, offline, with the
// public key of the log it came from.
func ExampleVerifyBundle() {
	// A release manager signs an SBOM (deterministic keys, for the example).
	signer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	st := &evidence.Statement{
		Type: evidence.StatementTypeV1,
		Subject: []evidence.Subject{{
			Name:   "pkg:pypi/requests@2.32.3",
			Digest: map[string]string{"sha256": "0ffa6dda3e7e0ef2d27d84b4e6ab2cc1e5d9cd1a4d18b3d4cbbc65dc36c5a41f"},
		}},
		PredicateType: evidence.PredicateSPDX23,
		Predicate:     json.RawMessage(`{"spdxVersion":"SPDX-2.3","name":"requests"}`),
	}
	payload, _ := st.Marshal()
	env, _ := evidence.Sign(evidence.PayloadTypeInToto, payload, signer, "")
	envelope, _ := env.Marshal()

	// A node logs it as entry 0 of a one-entry log and signs a checkpoint;
	// the inclusion proof of the only leaf is empty.
	pub := signer.Public().(ed25519.PublicKey)
	trust, _ := evidence.NewTrustedKeys([]evidence.TrustedKey{{PublicKey: pub, Namespaces: []string{"pkg:pypi"}}})
	v, _ := evidence.Verify(envelope, trust)
	e, _ := evidence.NewEntry(v, time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	entry := e.Marshal()
	skey, vkey, _ := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 32)), "evident.example.org/log")
	logSigner, _ := note.NewSigner(skey)
	body := checkpoint.Checkpoint{Origin: "evident.example.org/log", Size: 1, Hash: [32]byte(rfc6962.DefaultHasher.HashLeaf(entry))}.Marshal()
	signed, _ := note.Sign(&note.Note{Text: string(body)}, logSigner)

	// The bundle, as `evident bundle` writes it.
	b := &client.Bundle{Items: []client.BundleItem{{
		Envelope: envelope,
		Entry:    entry,
		Proof:    (&client.Proof{Index: 0, Checkpoint: signed}).Marshal(),
		Signers:  []crypto.PublicKey{pub},
	}}}
	file, _ := b.Marshal()

	// Years later: no network, only the log's public key.
	logKey, _ := note.NewVerifier(vkey)
	kept, err := client.ParseBundle(file)
	if err != nil {
		panic(err)
	}
	results, err := client.VerifyBundle(kept, client.VerifyOptions{LogKeys: []note.Verifier{logKey}})
	fmt.Println("verified:", err == nil)
	for _, r := range results {
		fmt.Println(r.Entry.Subjects[0].Purl, r.Entry.Kind, "entry", r.Index, "in", r.Checkpoint.Origin)
	}

	// One changed byte in the envelope, and verification says what failed.
	kept.Items[0].Envelope[len(envelope)-3] ^= 1
	results, _ = client.VerifyBundle(kept, client.VerifyOptions{LogKeys: []note.Verifier{logKey}})
	var ve *client.VerificationError
	if errors.As(results[0].Err, &ve) {
		fmt.Println("failed:", ve.Part)
	}

	// Output:
	// verified: true
	// pkg:pypi/requests@2.32.3 sbom entry 0 in evident.example.org/log
	// failed: envelope
}

// A manufacturer asks a node what evidence exists for a release. Every
// result is verified (checkpoint signature, witness quorum if a policy is
// given, inclusion proof, entry) before it is reported as verified; results
// that fail are returned too, with the reason.
func ExampleClient_Query() {
	c, err := client.New("https://evident.example.org", client.Options{
		Name:   "Example Foundation",
		LogKey: "evident.example.org/log+abf0ee6c+Af0XJDhaoMdbZPt4zWAvodmR/ev3axPFjtcC6sg16fYY",
	})
	if err != nil {
		panic(err)
	}
	results, err := c.Query(context.Background(), "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1")
	if err != nil {
		fmt.Println("couldn't ask:", err)
		return
	}
	for _, r := range results {
		if !r.Verified {
			fmt.Println("entry", r.Index, "FAILED:", r.Err)
			continue
		}
		fmt.Println("entry", r.Index, r.Entry.Kind, r.Entry.PredicateType, "signed by", r.Entry.Signers)
	}
}

// A release manager submits a directory of signed envelopes. SubmitBulk
// reads them as it fills batches, sends a few calls at once, retries what
// got no answer, and reports what became of each.
func ExampleClient_SubmitBulk() {
	c, err := client.New("https://evident.example.org", client.Options{
		LogKey: "evident.example.org/log+abf0ee6c+Af0XJDhaoMdbZPt4zWAvodmR/ev3axPFjtcC6sg16fYY",
	})
	if err != nil {
		panic(err)
	}
	files, _ := filepath.Glob("release-2.24.1/*.intoto.json")
	logged, retry := 0, 0
	err = c.SubmitBulk(context.Background(), len(files),
		func(i int) ([]byte, error) { return os.ReadFile(files[i]) },
		func(o client.BulkOutcome) {
			var refused *client.RefusedError
			switch {
			case o.Err == nil:
				logged++
			case errors.As(o.Err, &refused):
				fmt.Println(files[o.Index], "refused:", refused.Message)
			default: // not sent, unreadable, or no answer: running again may do
				retry++
			}
		},
		client.BulkOptions{})
	fmt.Println(logged, "logged,", retry, "to try again")
	if err != nil {
		fmt.Println("stopped early:", err)
	}
}

// A c2sp.org/tlog-proof names an entry, proves it is in a tree, and carries
// the signed checkpoint of that tree.
func ExampleParseProof() {
	text := "c2sp.org/tlog-proof@v1\n" +
		"index 2\n" +
		"gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n" +
		"B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n" +
		"\n" +
		"example.com/log\n" +
		"3\n" +
		"sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n" +
		"\n" +
		"— example.com/log Az3grmdVTBKbjd5rhuXlqwLcTnsK7VwN8lzQlw8ZxrzrV0S9EJtQlJ2YUgc3HTQAUKRtTU+XbGBwZw0RUO2HH/rqyQQ=\n"
	p, err := client.ParseProof([]byte(text))
	if err != nil {
		panic(err)
	}
	fmt.Println("index", p.Index, "with", len(p.Hashes), "proof hashes")
	fmt.Printf("checkpoint of %q\n", bytes.SplitN(p.Checkpoint, []byte("\n"), 2)[0])
	fmt.Println(bytes.Equal(p.Marshal(), []byte(text)))
	// Output:
	// index 2 with 2 proof hashes
	// checkpoint of "example.com/log"
	// true
}
