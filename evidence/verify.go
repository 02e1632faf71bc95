package evidence

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/evident-dev/evident/evidence/sigstore"
	"slices"
	"strings"
	"time"
)

// Verified is an envelope that passed [Verify].
type Verified struct {
	// EnvelopeDigest is the SHA-256 of the envelope exactly as submitted; the
	// log entry and the envelope store refer to the envelope by it.
	EnvelopeDigest [32]byte
	// EnvelopeSize is the length of the envelope in bytes.
	EnvelopeSize int64
	// Encoding says how the envelope packages the statement.
	Encoding  Encoding
	Envelope  *Envelope
	Statement *Statement
	// PredicateType is Statement.PredicateType, and Kind the kind of
	// evidence the statement's document is.
	PredicateType string
	Kind          Kind
	// Document identifies the statement's document (see DOCUMENT.md):
	// the document a document attestation carries, or the predicate, or
	// the statement. Format and Name describe it for people.
	Document     DocumentRef
	Format, Name string
	// SignerIDs are the ids of the trusted signers whose signatures
	// verified and that are allowed for at least one subject, sorted.
	SignerIDs []string
	// SubjectPurls are the canonical purls the statement's subjects are
	// filed under, in subject order: a subject's own name, or for a subject
	// named by file, the release it was filed under.
	SubjectPurls []string

	// entry is the log entry Verify made from the fields above (at time
	// zero), checking it; see EntryAt.
	entry *Entry
}

// Verify is the submission check a node runs on an envelope. In order, it:
//
//  1. parses the envelope ([ParseEnvelope]);
//  2. requires payloadType [PayloadTypeInToto];
//  3. verifies signatures: each signature whose keyid is the [KeyID] of a
//     key in trust is verified with that key over [PAE](payloadType,
//     payload); others are skipped (DSSE: the keyid only narrows which key
//     to try). If none verifies, it fails with [ErrBadSignature] when some
//     signature named a trusted key, else with [ErrUntrustedKey];
//  4. parses the payload as a statement ([ParseStatement]);
//  5. files each subject under a purl: its name if that is a purl, else
//     release (see [BindSubject]);
//  6. requires every subject's purl to be inside a namespace that some
//     verifying key is trusted for, else fails with a [*NamespaceError];
//  7. works out the statement's document, checking a document attestation's
//     content against its digest;
//  8. checks that the log entry for it would fit in [MaxEntrySize].
//
// Other failures are [*FieldError]s wrapping [ErrMalformed].
func Verify(envelope []byte, trust *TrustedSigners) (*Verified, error) {
	return VerifyFor(envelope, trust, "")
}

// VerifyFor is [Verify] with release: the purl under which subjects named by
// file rather than by purl are filed, or "".
func VerifyFor(envelope []byte, trust *TrustedSigners, release string) (*Verified, error) {
	if isSigstoreBundle(envelope) {
		return verifyBundle(envelope, trust, release)
	}
	env, err := parseInToto(envelope)
	if err != nil {
		return nil, err
	}
	signers, err := verifySignatures(env, trust, nil)
	if err != nil {
		return nil, err
	}
	return verifyStatement(envelope, env, signers, release)
}

// VerifyBatch is VerifyFor of each envelope and releases[i] (or "" if
// releases is shorter), with the same results and errors (verified[i] or
// errs[i] for envelopes[i]). It runs the steps of Verify
// over the whole batch one step at a time, so the signature checks run back
// to back and the Ed25519 code and tables stay in the CPU's caches.
func VerifyBatch(envelopes [][]byte, releases []string, trust *TrustedSigners) (verified []*Verified, errs []error) {
	verified, errs = make([]*Verified, len(envelopes)), make([]error, len(envelopes))
	envs := make([]*Envelope, len(envelopes))
	bundles := make([]bool, len(envelopes))
	for i, b := range envelopes {
		if bundles[i] = isSigstoreBundle(b); bundles[i] {
			release := ""
			if i < len(releases) {
				release = releases[i]
			}
			verified[i], errs[i] = verifyBundle(b, trust, release)
			continue
		}
		envs[i], errs[i] = parseInToto(b)
	}
	signers := make([][]*trustedKey, len(envelopes))
	var pae []byte // one buffer for every envelope's signed message
	for i, env := range envs {
		if errs[i] == nil && !bundles[i] {
			signers[i], errs[i] = verifySignatures(env, trust, &pae)
		}
	}
	for i, env := range envs {
		if errs[i] == nil && !bundles[i] {
			release := ""
			if i < len(releases) {
				release = releases[i]
			}
			verified[i], errs[i] = verifyStatement(envelopes[i], env, signers[i], release)
		}
	}
	return verified, errs
}

// parseInToto is step 1 of Verify and step 2's payloadType check.
func parseInToto(envelope []byte) (*Envelope, error) {
	env, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	if env.PayloadType != PayloadTypeInToto {
		return nil, fieldErr("payloadType", "is %s; Evident accepts in-toto statements, payloadType %q", quote(env.PayloadType), PayloadTypeInToto)
	}
	return env, nil
}

// verifyStatement is steps 4 to 8 of Verify, for an envelope whose
// signatures by signers verified.
func verifyStatement(envelope []byte, env *Envelope, signers []*trustedKey, release string) (*Verified, error) {
	// DSSE protocol.md: parse the payload only after a signature verified.
	st, err := ParseStatement(env.Payload)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(signers))
	for i, k := range signers {
		ids[i] = k.id
	}
	v, err := checkStatement(env.Payload, st, ids, func(id string, p Purl) bool {
		for _, k := range signers {
			if k.id == id {
				return k.allows(p)
			}
		}
		return false
	}, release)
	if err != nil {
		return nil, err
	}
	v.EnvelopeDigest = sha256.Sum256(envelope)
	v.EnvelopeSize = int64(len(envelope))
	v.Encoding = EncodingDSSE
	v.Envelope = env
	// The time line has a fixed length, so any time gives the real size.
	e, err := NewEntry(v, time.Unix(0, 0))
	if err != nil {
		return nil, err
	}
	v.entry = e
	return v, nil
}

// isSigstoreBundle reports whether b is a JSON object whose mediaType says
// it is a Sigstore bundle, rather than a DSSE envelope.
func isSigstoreBundle(b []byte) bool {
	m, err := decodeObject(b, "envelope", []string{"mediaType"}, maxMembers)
	if err != nil {
		return false
	}
	raw := m.Get("mediaType")
	if raw == nil {
		return false
	}
	mt, err := decodeString(raw, "mediaType")
	return err == nil && strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle")
}

// verifyBundle is Verify of a Sigstore bundle: the bundle is verified
// offline against the trust policy's trusted root and identity rules
// (package sigstore), then its statement is checked as a DSSE envelope's
// is, with the identity's signer id in place of a key id.
func verifyBundle(b []byte, trust *TrustedSigners, release string) (*Verified, error) {
	if trust == nil || trust.sigstore == nil {
		if _, err := sigstore.Parse(b); err != nil {
			return nil, bundleError(err)
		}
		return nil, &signatureError{
			msg:  "evidence: the envelope is a Sigstore bundle, and this node trusts no Sigstore identity; ask the node operator to trust the signer's identity (OIDC issuer and certificate identity) for this namespace",
			kind: ErrUntrustedKey,
		}
	}
	res, err := trust.sigstore.Verify(b)
	if err != nil {
		return nil, bundleError(err)
	}
	st, err := ParseStatement(res.Payload)
	if err != nil {
		return nil, err
	}
	v, err := checkStatement(res.Payload, st, []string{res.SignerID}, func(_ string, p Purl) bool {
		for _, r := range res.Rules {
			for _, n := range trust.identities[r] {
				if n.Match(p) {
					return true
				}
			}
		}
		return false
	}, release)
	if err != nil {
		return nil, err
	}
	v.EnvelopeDigest = sha256.Sum256(b)
	v.EnvelopeSize = int64(len(b))
	v.Encoding = EncodingSigstoreBundle
	e, err := NewEntry(v, time.Unix(0, 0))
	if err != nil {
		return nil, err
	}
	v.entry = e
	return v, nil
}

// bundleError classifies a refusal of package sigstore for the RPC
// boundary: a bundle that is not one Evident can read is malformed; one
// whose signer is trusted by no rule, or whose certificate chains to no
// trusted root, is untrusted; one that fails any other check is a bad
// signature.
func bundleError(err error) error {
	msg := "evidence: Sigstore bundle: " + err.Error()
	switch {
	case errors.Is(err, sigstore.ErrMalformed), errors.Is(err, sigstore.ErrUnsupported):
		return fieldErr("envelope", "Sigstore bundle: %v", err)
	case errors.Is(err, sigstore.ErrIdentity), errors.Is(err, sigstore.ErrUntrustedRoot):
		return &signatureError{msg: msg, kind: ErrUntrustedKey}
	}
	return &signatureError{msg: msg, kind: ErrBadSignature}
}

// checkStatement files st's subjects under purls, checks that some signer in
// ids is allowed for each, and describes st's document.
func checkStatement(payload []byte, st *Statement, ids []string, allows func(id string, p Purl) bool, release string) (*Verified, error) {
	allowed := make(map[string]bool)
	purls := make([]string, len(st.Subject))
	for i, sub := range st.Subject {
		p, err := BindSubject(sub.Name, release, subjectField(i, "name"))
		if err != nil {
			return nil, err
		}
		purls[i] = p.String()
		ok := false
		for _, id := range ids {
			if allows(id, p) {
				allowed[id] = true
				ok = true
			}
		}
		if !ok {
			return nil, &NamespaceError{Subject: p.String(), KeyIDs: ids}
		}
	}
	signerIDs := make([]string, 0, len(allowed))
	for id := range allowed {
		signerIDs = append(signerIDs, id)
	}
	slices.Sort(signerIDs)
	ref, kind, format, name, err := describe(payload, st)
	if err != nil {
		return nil, err
	}
	return &Verified{
		Statement:     st,
		PredicateType: st.PredicateType,
		Kind:          kind,
		Document:      ref,
		Format:        format,
		Name:          name,
		SignerIDs:     signerIDs,
		SubjectPurls:  purls,
	}, nil
}

// verifySignatures returns the trusted keys with a valid signature on env,
// sorted by id. If buf is not nil, the signed message is built in *buf.
//
// Key ids are public, so a hostile envelope may name a trusted key in every
// signature: each trusted key is tried at most once per envelope, whatever
// the number of signatures naming it, and a keyid names at most
// maxKeysPerKeyID keys.
func verifySignatures(env *Envelope, trust *TrustedSigners, buf *[]byte) ([]*trustedKey, error) {
	var (
		pae                        []byte
		verified, tried            []*trustedKey
		failed, unknown, anonymous []string
	)
	if buf == nil {
		buf = new([]byte)
	}
	for i, s := range env.Signatures {
		var cands []*trustedKey
		if trust != nil {
			cands = trust.byHint[s.KeyID]
		}
		if len(cands) == 0 {
			if s.KeyID == "" {
				anonymous = append(anonymous, fmt.Sprint(i))
			} else {
				unknown = append(unknown, quote(s.KeyID))
			}
			continue
		}
		for _, k := range cands {
			if slices.Contains(tried, k) {
				continue
			}
			tried = append(tried, k)
			if pae == nil {
				*buf = appendPAE((*buf)[:0], env.PayloadType, env.Payload)
				pae = *buf
			}
			if !verifySig(k.pub, pae, s.Sig) {
				failed = append(failed, k.id)
				continue
			}
			verified = append(verified, k)
		}
	}
	if len(verified) > 0 {
		slices.SortFunc(verified, func(a, b *trustedKey) int { return strings.Compare(a.id, b.id) })
		return verified, nil
	}
	if len(failed) > 0 {
		return nil, &signatureError{
			msg: fmt.Sprintf("evidence: the signature by trusted key %s does not verify; "+
				"sign the DSSE pre-authentication encoding of exactly this payloadType and payload", strings.Join(failed, ", ")),
			kind: ErrBadSignature,
		}
	}
	var b strings.Builder
	b.WriteString("evidence: the envelope is not signed by a key this node trusts")
	if len(unknown) > 0 {
		fmt.Fprintf(&b, " (signature key ids: %s); if the key id is right, ask the node operator to trust that key", strings.Join(unknown, ", "))
	}
	if len(anonymous) > 0 {
		fmt.Fprintf(&b, "; signatures %s have no keyid: set keyid to the signing key's Evident key id (<algorithm>:<hex SHA-256 of the public key>), or ask the node operator to accept keyid \"\" for the key (keyids: [\"\"])", strings.Join(anonymous, ", "))
	}
	return nil, &signatureError{msg: b.String(), kind: ErrUntrustedKey}
}
