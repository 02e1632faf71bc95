// Package sigstore verifies Sigstore bundles that carry in-toto
// attestations, offline, and unwraps the files bundles are published in.
//
// A Sigstore bundle (media types v0.1, v0.2 and v0.3 of
// github.com/sigstore/protobuf-specs bundle/v1) holds a DSSE envelope and
// what it takes to verify it without asking anyone: a short-lived Fulcio
// certificate naming the signer's OIDC identity, entries of a transparency
// log (Rekor) with their inclusion proofs and promises, and RFC 3161
// timestamps. [Verifier.Verify] checks a bundle with sigstore-go against a
// trusted_root.json the operator configures, then matches the signer
// against the operator's identity [Rule]s, and returns the statement byte
// for byte with the verified [Identity], its [Identity.SignerID] for log
// entries, and the time of signing. Message-signature bundles, which sign
// an artifact's digest rather than a statement, are refused.
//
// [Unwrap] finds the bundles in the files projects publish: bundles and
// JSON lines of them, npm's and GitHub's attestation API responses, and
// PyPI's PEP 740 attestation objects and provenance files, which it
// converts into bundles.
//
// Every input is hostile: sizes are bounded, no input makes the package
// panic (a panic in a dependency becomes a refusal), and every refusal says
// what is wrong. Errors wrap one of the package's sentinel errors:
//
//   - [ErrMalformed], [ErrUnsupported]: not a bundle Evident can verify;
//   - [ErrUntrustedRoot], [ErrCertificateTime], [ErrTransparency],
//     [ErrTampered], [ErrInvalid]: the bundle does not verify;
//   - [ErrIdentity]: it verifies, but its signer matches no rule.
//
// The package does no I/O and takes no context.
package sigstore
