package evidence

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
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
	Envelope     *Envelope
	Statement    *Statement
	// PredicateType is Statement.PredicateType, and Kind its [Classify].
	PredicateType string
	Kind          Kind
	// SignerKeyIDs are the ids of the trusted keys whose signatures verified
	// and that are allowed for at least one subject, sorted.
	SignerKeyIDs []string

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
//  5. requires every subject to be inside a namespace that some verifying
//     key is trusted for, else fails with a [*NamespaceError];
//  6. checks that the log entry for it would fit in [MaxEntrySize].
//
// Other failures are [*FieldError]s wrapping [ErrMalformed].
func Verify(envelope []byte, trust *TrustPolicy) (*Verified, error) {
	env, err := parseInToto(envelope)
	if err != nil {
		return nil, err
	}
	signers, err := verifySignatures(env, trust, nil)
	if err != nil {
		return nil, err
	}
	return verifyStatement(envelope, env, signers)
}

// VerifyBatch is Verify of each envelope, with the same results and errors
// (verified[i] or errs[i] for envelopes[i]). It runs the steps of Verify
// over the whole batch one step at a time, so the signature checks run back
// to back and the Ed25519 code and tables stay in the CPU's caches.
func VerifyBatch(envelopes [][]byte, trust *TrustPolicy) (verified []*Verified, errs []error) {
	verified, errs = make([]*Verified, len(envelopes)), make([]error, len(envelopes))
	envs := make([]*Envelope, len(envelopes))
	for i, b := range envelopes {
		envs[i], errs[i] = parseInToto(b)
	}
	signers := make([][]*trustedKey, len(envelopes))
	var pae []byte // one buffer for every envelope's signed message
	for i, env := range envs {
		if errs[i] == nil {
			signers[i], errs[i] = verifySignatures(env, trust, &pae)
		}
	}
	for i, env := range envs {
		if errs[i] == nil {
			verified[i], errs[i] = verifyStatement(envelopes[i], env, signers[i])
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

// verifyStatement is steps 4 to 6 of Verify, for an envelope whose
// signatures by signers verified.
func verifyStatement(envelope []byte, env *Envelope, signers []*trustedKey) (*Verified, error) {
	// DSSE protocol.md: parse the payload only after a signature verified.
	st, err := ParseStatement(env.Payload)
	if err != nil {
		return nil, err
	}

	allowed := make(map[string]bool)
	for i, sub := range st.Subject {
		p, err := releasePurl(sub.Name, subjectField(i, "name"))
		if err != nil {
			return nil, err // unreachable: ParseStatement validated it
		}
		ok := false
		for _, k := range signers {
			if k.allows(p) {
				allowed[k.id] = true
				ok = true
			}
		}
		if !ok {
			ids := make([]string, len(signers))
			for j, k := range signers {
				ids[j] = k.id
			}
			return nil, &NamespaceError{Subject: p.String(), KeyIDs: ids}
		}
	}
	ids := make([]string, 0, len(allowed))
	for id := range allowed {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	v := &Verified{
		EnvelopeDigest: sha256.Sum256(envelope),
		EnvelopeSize:   int64(len(envelope)),
		Envelope:       env,
		Statement:      st,
		PredicateType:  st.PredicateType,
		Kind:           Classify(st.PredicateType),
		SignerKeyIDs:   ids,
	}
	// The time line has a fixed length, so any time gives the real size.
	e, err := NewEntry(v, time.Unix(0, 0))
	if err != nil {
		return nil, err
	}
	v.entry = e
	return v, nil
}

// verifySignatures returns the trusted keys with a valid signature on env,
// sorted by id. If buf is not nil, the signed message is built in *buf.
func verifySignatures(env *Envelope, trust *TrustPolicy, buf *[]byte) ([]*trustedKey, error) {
	var (
		pae                        []byte
		verified                   []*trustedKey
		failed, unknown, anonymous []string
	)
	if buf == nil {
		buf = new([]byte)
	}
	for i, s := range env.Signatures {
		if s.KeyID == "" {
			anonymous = append(anonymous, fmt.Sprint(i))
			continue
		}
		var k *trustedKey
		if trust != nil {
			k = trust.keys[s.KeyID]
		}
		if k == nil {
			unknown = append(unknown, quote(s.KeyID))
			continue
		}
		if slices.Contains(verified, k) {
			continue
		}
		if pae == nil {
			*buf = appendPAE((*buf)[:0], env.PayloadType, env.Payload)
			pae = *buf
		}
		if !ed25519.Verify(k.pub, pae, s.Sig) {
			failed = append(failed, k.id)
			continue
		}
		verified = append(verified, k)
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
		fmt.Fprintf(&b, " (signature key ids: %s)", strings.Join(unknown, ", "))
	}
	if len(anonymous) > 0 {
		fmt.Fprintf(&b, "; signatures %s have no keyid, and Evident looks keys up by keyid", strings.Join(anonymous, ", "))
	}
	b.WriteString("; set keyid to the signing key's Evident key id (ed25519:<hex SHA-256 of the public key>) and ask the node operator to trust that key")
	return nil, &signatureError{msg: b.String(), kind: ErrUntrustedKey}
}
