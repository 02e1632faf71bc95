// Package evidence implements Evident's evidence format: DSSE envelopes
// carrying in-toto Statements about software releases named by Package URLs,
// the Ed25519 keys that sign them, the trust policy a node applies to them, and
// the canonical log entry (the Merkle leaf) that records an accepted envelope.
//
// Everything here parses bytes from the network. Every size is bounded, no
// input makes the package panic, and every refusal is an error that says what
// to fix. Errors are classified for the RPC boundary:
//
//   - [ErrMalformed]: the input is not well formed; the concrete error is a
//     [*FieldError] naming the offending field.
//   - [ErrBadSignature]: a signature from a trusted key failed to verify.
//   - [ErrUntrustedKey]: no signature came from a key the node trusts.
//   - [ErrNamespace]: the signer is trusted, but not for the subject's purl
//     namespace; the concrete error is a [*NamespaceError].
//
// The submission check is [Verify]; its result becomes a log entry with
// [NewEntry]. The entry encoding is specified in [Entry] and in ENTRY.md.
//
// The package is pure: it does no I/O and takes no context.
package evidence
