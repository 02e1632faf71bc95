package evidence_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/evident-dev/evident/evidence"
)

// A release manager signs an SPDX SBOM for a release, carried byte for byte
// in a document attestation; the node verifies the envelope against its
// trust policy and logs it. The entry names the document by its SHA-256,
// the file's own.
func ExampleVerify() {
	// The release manager's key (deterministic here; use GenerateKey).
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

	// The document, exactly as the project publishes it.
	doc := []byte("{\n  \"spdxVersion\": \"SPDX-2.3\",\n  \"name\": \"requests\"\n}\n")
	predicate, err := (&evidence.Document{
		FileName:     "requests-2.32.3.spdx.json",
		MediaType:    "application/spdx+json",
		Content:      doc,
		DocumentType: evidence.PredicateSPDX23,
		Kind:         evidence.KindSBOM,
		Format:       "SPDX 2.3 JSON",
	}).Predicate()
	if err != nil {
		panic(err)
	}

	// The statement: which release, which artifact, what evidence.
	st := &evidence.Statement{
		Type: evidence.StatementTypeV1,
		Subject: []evidence.Subject{{
			Name:   "pkg:pypi/requests@2.32.3",
			Digest: map[string]string{"sha256": "0ffa6dda3e7e0ef2d27d84b4e6ab2cc1e5d9cd1a4d18b3d4cbbc65dc36c5a41f"},
		}},
		PredicateType: evidence.PredicateDocument,
		Predicate:     predicate,
	}
	payload, err := st.Marshal()
	if err != nil {
		panic(err)
	}
	env, err := evidence.Sign(evidence.PayloadTypeInToto, payload, key, "")
	if err != nil {
		panic(err)
	}
	submitted, err := env.Marshal()
	if err != nil {
		panic(err)
	}

	// The node trusts the key for the requests package only.
	trust, err := evidence.NewTrustedKeys([]evidence.TrustedKey{{
		PublicKey:  key.Public().(ed25519.PublicKey),
		Namespaces: []string{"pkg:pypi/requests"},
	}})
	if err != nil {
		panic(err)
	}
	v, err := evidence.Verify(submitted, trust)
	if err != nil {
		panic(err)
	}
	entry, err := evidence.NewEntry(v, time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(entry.Marshal())
	fmt.Println(v.Document.Digest == sha256.Sum256(doc))

	// The same key may not sign for another package.
	st.Subject[0].Name = "pkg:pypi/urllib3@2.2.3"
	payload, _ = st.Marshal()
	env, _ = evidence.Sign(evidence.PayloadTypeInToto, payload, key, "")
	submitted, _ = env.Marshal()
	_, err = evidence.Verify(submitted, trust)
	fmt.Println(errors.Is(err, evidence.ErrNamespace))

	// Output:
	// evident.dev/entry/v2
	// envelope sha256:57e84a8ed7e3f5fd9a27b2e602faf1068539df7b94827c2efdc0cee2c90b4880 1052 dsse
	// type https://evident.dev/attestation/document/v1
	// kind sbom
	// document sha256:dc21153d9bd2899a6f95005d6ea75e1e884b4dc1b670b3de012c919422e07f96 54 application/spdx+json
	// format SPDX 2.3 JSON
	// name requests-2.32.3.spdx.json
	// signer ed25519:fe812c12f3ab4ce6ac5db69ac352f906cb1b11ef43fb33e252ef7ff552263889
	// subject pkg:pypi/requests@2.32.3 sha256:0ffa6dda3e7e0ef2d27d84b4e6ab2cc1e5d9cd1a4d18b3d4cbbc65dc36c5a41f
	// time 2026-11-25T08:00:00Z
	// true
	// true
}
