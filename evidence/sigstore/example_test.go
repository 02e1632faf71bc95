package sigstore_test

import (
	"fmt"

	"github.com/evident-dev/evident/evidence/sigstore"
)

func ExampleIdentity_SignerID() {
	id := sigstore.Identity{
		Issuer: "https://token.actions.githubusercontent.com",
		SAN:    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
	}
	fmt.Println(id.SignerID())
	// Output:
	// sigstore:https%3A%2F%2Ftoken.actions.githubusercontent.com:https%3A%2F%2Fgithub.com%2Fsigstore%2Fsigstore-js%2F.github%2Fworkflows%2Frelease.yml%40refs%2Fheads%2Fmain
}

func ExampleUnwrap() {
	npm := []byte(`{"attestations":[{"predicateType":"https://slsa.dev/provenance/v1","bundle":{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}]}`)
	format, bundles, err := sigstore.Unwrap(npm)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%v: %s\n", format, bundles[0])
	// Output:
	// attestations API response (npm, GitHub): {"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}
}
