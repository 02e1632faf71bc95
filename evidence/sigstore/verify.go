package sigstore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// maxTrustedRootSize bounds the trusted root file. Public-good's is 7 KB.
const maxTrustedRootSize = 4 << 20

// Verifier verifies Sigstore bundles offline against one trusted root and
// matches their signers against identity rules. It is safe for concurrent
// use.
type Verifier struct {
	trusted *root.TrustedRoot
	sv      *verify.Verifier
	policy  verify.PolicyBuilder
	rules   []compiledRule
}

// NewVerifier returns a Verifier for the trusted root in trustedRootJSON
// (a Sigstore trusted_root.json, media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1, as TUF
// distributes it) and the identity rules. With no rules every bundle is
// refused with [ErrIdentity], whose error names the bundle's identity.
//
// The trusted root describes its Sigstore instance, and the Verifier asks
// for the evidence that instance produces, as sigstore-go's and cosign's
// verifiers do for it:
//
//   - an observer timestamp, always: the time of signing, from a log
//     entry's signed entry timestamp or an RFC 3161 timestamp, at which the
//     short-lived Fulcio certificate must be valid
//     (verify.WithObserverTimestamps(1));
//   - if the root lists transparency logs, an entry in one of them with a
//     verified inclusion proof or promise (verify.WithTransparencyLog(1));
//   - if it lists CT logs, an SCT in the certificate from one of them
//     (verify.WithSignedCertificateTimestamps(1)).
//
// For the public-good root, which lists all three, that is the set
// sigstore-go documents for public-good bundles. A root that lists no logs,
// as an instance without a public log (such as GitHub's own, for private
// repositories) has, asks only for an RFC 3161 timestamp.
func NewVerifier(trustedRootJSON []byte, rules []Rule) (*Verifier, error) {
	if len(trustedRootJSON) > maxTrustedRootSize {
		return nil, fmt.Errorf("trusted root is %d bytes, over the limit of %d", len(trustedRootJSON), maxTrustedRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(trustedRootJSON)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the trusted root: %w", err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, fmt.Errorf("the trusted root lists no certificate authority, so no Fulcio certificate could verify")
	}
	if len(tr.RekorLogs()) == 0 && len(tr.TimestampingAuthorities()) == 0 {
		return nil, fmt.Errorf("the trusted root lists no transparency log and no timestamp authority, so nothing could vouch for when a bundle was signed")
	}
	opts := []verify.VerifierOption{
		verify.WithObserverTimestamps(1),
		// Evident reads the statement from Payload itself; sigstore-go
		// would otherwise build a tree of every predicate node.
		verify.WithoutStatementPredicate(),
	}
	if len(tr.RekorLogs()) > 0 {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	if len(tr.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	sv, err := verify.NewVerifier(tr, opts...)
	if err != nil {
		return nil, fmt.Errorf("couldn't make a sigstore-go verifier: %w", err)
	}
	v := &Verifier{
		trusted: tr,
		sv:      sv,
		// No artifact: the registry logs statements about artifacts it
		// does not have, so it cannot match the subject digests against
		// one, and the DSSE signature covers the statement and its
		// subjects whole. The node instead checks each subject against
		// the purl namespaces the matched rules allow.
		// No identities here: sigstore-go returns one matching identity
		// with unanchored regexps; Verify matches every rule itself, after
		// sigstore-go has verified the certificate.
		policy: verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithoutIdentitiesUnsafe()),
	}
	for i, r := range rules {
		c, err := compileRule(i, r)
		if err != nil {
			return nil, err
		}
		v.rules = append(v.rules, c)
	}
	return v, nil
}

// Result is a verified bundle.
type Result struct {
	// MediaType is the bundle's media type.
	MediaType string
	// Version is the bundle version: "v0.1", "v0.2" or "v0.3".
	Version string
	// PayloadType is the DSSE payload type, always [PayloadTypeInToto].
	PayloadType string
	// Payload is the signed in-toto statement, byte for byte as in the
	// bundle.
	Payload []byte
	// Identity is the verified signer.
	Identity Identity
	// SignerID is Identity.SignerID(), for log entries.
	SignerID string
	// Rules are the indexes, ascending, of the rules the identity matched;
	// there is at least one.
	Rules []int
	// SignedAt is the earliest verified time of signing: a log entry's
	// integrated time under its signed entry timestamp, or an RFC 3161
	// timestamp. The certificate was valid then.
	SignedAt time.Time
}

// Verify parses bundleJSON as [Parse] does, verifies it, and matches its
// signer against the rules. Verification is offline: the certificate chain
// to a Fulcio CA of the trusted root at the time of signing, the
// transparency evidence the root calls for (see [NewVerifier]), and the
// DSSE signature over the statement. The statement's subjects are not
// checked against any artifact.
//
// Refusals wrap [ErrMalformed] or [ErrUnsupported] (from Parse), or are a
// [*VerifyError] wrapping [ErrUntrustedRoot], [ErrCertificateTime],
// [ErrTransparency], [ErrTampered], [ErrIdentity] or [ErrInvalid].
func (v *Verifier) Verify(bundleJSON []byte) (res *Result, err error) {
	defer recoverPanic(&err, ErrInvalid)
	b, err := Parse(bundleJSON)
	if err != nil {
		return nil, err
	}
	vr, err := v.sv.Verify(b.sg, v.policy)
	if err != nil {
		return nil, v.diagnose(b, err)
	}
	var matched []int
	for i := range v.rules {
		if v.rules[i].matches(&b.Identity) {
			matched = append(matched, i)
		}
	}
	if len(matched) == 0 {
		return nil, &VerifyError{
			Kind:     ErrIdentity,
			Reason:   fmt.Sprintf("signed by %s, which matches no trusted identity rule; ask the node operator to trust this identity", describe(&b.Identity)),
			Identity: b.Identity,
		}
	}
	var signedAt time.Time
	for _, ts := range vr.VerifiedTimestamps {
		if signedAt.IsZero() || ts.Timestamp.Before(signedAt) {
			signedAt = ts.Timestamp
		}
	}
	return &Result{
		MediaType:   b.MediaType,
		Version:     b.Version,
		PayloadType: b.PayloadType,
		Payload:     b.Payload,
		Identity:    b.Identity,
		SignerID:    b.Identity.SignerID(),
		Rules:       matched,
		SignedAt:    signedAt.UTC(),
	}, nil
}

// describe names an identity for a message, in full: the operator needs
// all of it to write a rule. Parse bounded its length.
func describe(id *Identity) string {
	s := fmt.Sprintf("issuer %q, SAN %q", id.Issuer, id.SAN)
	if id.SourceRepositoryURI != "" {
		s += fmt.Sprintf(", source repository %q", id.SourceRepositoryURI)
	}
	return s
}

// diagnose says why sigstore-go refused b. sigstore-go's errors are plain
// strings, so diagnose repeats the checks one at a time, most basic first,
// with sigstore-go's own functions where they are exported, and reports the
// first that fails; sigstore-go's error rides along as the cause. It runs
// only on refusals, so the extra work costs nothing on the accepting path.
func (v *Verifier) diagnose(b *Bundle, cause error) error {
	refuse := func(kind error, format string, args ...any) error {
		return &VerifyError{Kind: kind, Reason: fmt.Sprintf(format, args...), Identity: b.Identity, Cause: cause}
	}
	leaf := b.leaf
	tr := v.trusted

	// The chain, at a time the certificate was valid.
	var chains [][]*x509.Certificate
	for _, ca := range tr.FulcioCertificateAuthorities() {
		if c, err := ca.Verify(leaf, leaf.NotBefore); err == nil {
			chains = c
			break
		}
	}
	if chains == nil {
		return refuse(ErrUntrustedRoot, "the signing certificate, issued by %s, does not chain to a certificate authority of the trusted root: "+
			"the bundle comes from another Sigstore instance, or its certificate is forged; "+
			"to accept it the operator must trust that instance's trusted_root.json",
			quote(leaf.Issuer.String()))
	}

	sigContent, err := b.sg.SignatureContent()
	if err != nil {
		return refuse(ErrInvalid, "couldn't read the bundle's signature: %s", short(err))
	}
	verContent, err := b.sg.VerificationContent()
	if err != nil {
		return refuse(ErrInvalid, "couldn't read the bundle's certificate: %s", short(err))
	}
	entries, err := b.sg.TlogEntries()
	if err != nil {
		return refuse(ErrTransparency, "couldn't read the transparency-log entries: %s", short(err))
	}

	// Entries from logs the root trusts, and the times their signed entry
	// timestamps vouch for.
	logs := tr.RekorLogs()
	var (
		known   []int
		foreign []string
		times   []time.Time
		badSET  string
	)
	for i, e := range entries {
		id := hex.EncodeToString([]byte(e.LogKeyID()))
		if _, ok := logs[id]; !ok {
			foreign = append(foreign, id)
			continue
		}
		known = append(known, i)
		if e.HasInclusionPromise() {
			if err := tlog.VerifySET(e, logs); err != nil {
				badSET = fmt.Sprintf("entry %d (log index %d) does not verify with the log's key in the trusted root: %s", i, e.LogIndex(), short(err))
				continue
			}
			times = append(times, e.IntegratedTime())
		}
	}
	if len(logs) > 0 && len(known) == 0 {
		if len(entries) == 0 {
			return refuse(ErrTransparency, "the bundle has no transparency-log entry, and the trusted root requires one")
		}
		return refuse(ErrTransparency, "the bundle has no entry from a transparency log of the trusted root (its entries are from log ids %s)",
			strings.Join(foreign, ", "))
	}
	if badSET != "" && len(times) == 0 {
		return refuse(ErrTransparency, "the signed entry timestamp of transparency-log %s; the entry was changed", badSET)
	}
	tsaTimes, _, err := verify.VerifySignedTimestamp(b.sg, tr)
	if err == nil {
		for _, t := range tsaTimes {
			times = append(times, t.Time)
		}
	}
	if len(times) == 0 {
		return refuse(ErrTransparency, "no verified time of signing: no signed entry timestamp from a trusted transparency log and no RFC 3161 timestamp from a trusted authority, "+
			"so the short-lived certificate can't be checked")
	}
	for _, t := range times {
		if t.Before(leaf.NotBefore) || t.After(leaf.NotAfter) {
			return refuse(ErrCertificateTime, "signed at %s, outside the certificate's validity from %s to %s",
				t.UTC().Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	}

	if len(tr.CTLogs()) > 0 {
		if err := verify.VerifySignedCertificateTimestamp(chains, 1, tr); err != nil {
			return refuse(ErrTransparency, "the certificate has no valid SCT from a CT log of the trusted root")
		}
	}

	// Tampering: the Rekor v1 entries record the signature, the payload's
	// hash and the certificate; the DSSE signature covers the payload.
	payloadHash := sha256.Sum256(b.Payload)
	for _, i := range known {
		e := entries[i]
		if e.IsRekorV2() {
			continue // its entry hash commits to all three; VerifyTlogEntry checks it below
		}
		if !bytes.Equal(e.Signature(), sigContent.Signature()) {
			return refuse(ErrTampered, "transparency-log entry %d (log index %d) records a different signature than the bundle", i, e.LogIndex())
		}
		h, ok := e.GetDssePayloadHash()
		if !ok {
			return refuse(ErrTampered, "transparency-log entry %d (log index %d) is not a DSSE or in-toto entry, so it does not record this envelope", i, e.LogIndex())
		}
		if !bytes.Equal(h, payloadHash[:]) {
			return refuse(ErrTampered, "transparency-log entry %d (log index %d) records a different payload than the bundle's statement", i, e.LogIndex())
		}
		if !verContent.CompareKey(e.PublicKey(), tr) {
			return refuse(ErrTampered, "transparency-log entry %d (log index %d) records a different certificate than the bundle", i, e.LogIndex())
		}
	}
	if !dsseVerifies(b, sigContent, verContent, tr) {
		return refuse(ErrTampered, "the DSSE signature does not verify over the payload with the certificate's key: the statement or the signature was changed after signing")
	}
	if len(logs) > 0 {
		if _, err := verify.VerifyTlogEntry(b.sg, tr, 1, false); err != nil {
			return refuse(ErrTransparency, "the transparency-log entry does not verify: %s", short(err))
		}
	}
	return refuse(ErrInvalid, "the bundle does not verify: %s", short(cause))
}

// dsseVerifies reports whether the DSSE signature verifies with the leaf's
// key. Like sigstore-go's verifier for bundles up to v0.3, it also accepts
// a P-384 or P-521 key's signature over a SHA-256 digest, which old clients
// made.
func dsseVerifies(b *Bundle, sc verify.SignatureContent, vc verify.VerificationContent, tr root.TrustedMaterial) bool {
	if verify.VerifySignature(sc, vc, tr) == nil {
		return true
	}
	pub, ok := b.leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve == elliptic.P256() {
		return false
	}
	digest := sha256.Sum256(dsse.PAE(b.PayloadType, b.Payload))
	return ecdsa.VerifyASN1(pub, digest[:], sc.Signature())
}
