package policy_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
	"github.com/evident-dev/evident/policy"
	"github.com/evident-dev/evident/witness"
)

func Example() {
	// A log key and three witness keys; fixed seeds keep the output stable.
	skey, logVKey, _ := note.GenerateKey(bytes.NewReader(make([]byte, 32)), "example.com/log")
	logSigner, _ := note.NewSigner(skey)
	at := func() time.Time { return time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC) }
	var cosigners []*witness.Cosigner
	for i := range 3 {
		key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
		c, _ := witness.NewCosigner(fmt.Sprintf("witness.example/w%d", i+1), key, at)
		cosigners = append(cosigners, c)
	}

	p, err := policy.Parse([]byte(fmt.Sprintf(`# Trust example.com/log when two of three witnesses saw its checkpoint.
log %s https://log.example.com/
witness w1 %s
witness w2 %s
witness w3 %s
group two-of-three 2 w1 w2 w3
quorum two-of-three
`, logVKey, cosigners[0].Verifier().VerifierKey(), cosigners[1].Verifier().VerifierKey(), cosigners[2].Verifier().VerifierKey())))
	if err != nil {
		fmt.Println(err)
		return
	}

	text := checkpoint.Checkpoint{Origin: "example.com/log", Size: 1234, Hash: [32]byte{1}}.Marshal()
	signed, _ := note.Sign(&note.Note{Text: string(text)}, logSigner, cosigners[0], cosigners[2])
	r, err := p.Verify(signed)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("trusted:", r.Checkpoint.Origin, r.Checkpoint.Size, "cosigned by", r.Cosigned, "at", r.Times["w1"].Format(time.DateOnly))

	// One cosignature is not enough.
	signed, _ = note.Sign(&note.Note{Text: string(text)}, logSigner, cosigners[1])
	_, err = p.Verify(signed)
	var qerr *policy.QuorumError
	fmt.Println("quorum error:", errors.As(err, &qerr), qerr.Cosigned)

	// Output:
	// trusted: example.com/log 1234 cosigned by [w1 w3] at 2026-05-01
	// quorum error: true [w2]
}
