package evidence

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on envelopes. Anything larger is refused as malformed.
const (
	// MaxEnvelopeSize is the largest envelope accepted, in bytes (64 MiB).
	// An SBOM for a container image can be tens of MiB, and base64 adds a
	// third.
	MaxEnvelopeSize = 64 << 20
	// MaxSignatures is the most signatures an envelope may carry.
	MaxSignatures = 16

	maxPayloadTypeLen = 256
	maxKeyIDLen       = 256
	maxSigLen         = 8 << 10 // decoded; room for any signature scheme, not just Ed25519
)

// Envelope is a DSSE envelope (github.com/secure-systems-lab/dsse,
// envelope.md), encoded in JSON exactly as that document describes.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"` // standard base64 in JSON
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature.
type Signature struct {
	// KeyID is the unauthenticated hint naming the signing key. Evident uses
	// it to pick the trusted key to verify with, so it must be the signer's
	// [KeyID].
	KeyID string `json:"keyid,omitempty"`
	Sig   []byte `json:"sig"` // standard base64 in JSON
}

var envelopeMembers = []string{"payloadType", "payload", "signatures"}
var signatureMembers = []string{"keyid", "sig"}

// ParseEnvelope parses a JSON DSSE envelope strictly: it must be a single
// JSON object of at most [MaxEnvelopeSize] bytes with only the members
// payloadType (non-empty), payload (non-empty) and signatures (1 to
// [MaxSignatures], each with a non-empty sig and an optional keyid), no member
// twice. Base64 may be standard or URL-safe, padded, as DSSE requires
// verifiers to accept either. It does not verify signatures.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fieldErr("envelope", "is %d bytes, over the %d-byte limit", len(b), MaxEnvelopeSize)
	}
	if !utf8.Valid(b) {
		return nil, fieldErr("envelope", "is not UTF-8 JSON")
	}
	m, err := decodeObject(b, "envelope", envelopeMembers, 64)
	if err != nil {
		return nil, err
	}
	if m.Has("dsseEnvelope") {
		return nil, fieldErr("envelope", "is a Sigstore bundle, not a DSSE envelope; submit the DSSE envelope "+
			"(the bundle's dsseEnvelope member) re-signed with an Ed25519 key the node trusts")
	}
	if m.Has("_type") {
		return nil, fieldErr("envelope", "is a bare in-toto statement; sign it into a DSSE envelope first")
	}
	for _, name := range m.Names {
		if !slices.Contains(envelopeMembers, name) {
			return nil, fieldErr("envelope", "has unknown member %s; a DSSE envelope has only payloadType, payload and signatures", quote(name))
		}
	}

	e := new(Envelope)
	raw := m.Get("payloadType")
	if raw == nil {
		return nil, fieldErr("payloadType", "is missing; for in-toto statements use %q", PayloadTypeInToto)
	}
	if e.PayloadType, err = decodeString(raw, "payloadType"); err != nil {
		return nil, err
	}
	if e.PayloadType == "" || len(e.PayloadType) > maxPayloadTypeLen {
		return nil, fieldErr("payloadType", "must be 1 to %d bytes", maxPayloadTypeLen)
	}

	raw = m.Get("payload")
	if raw == nil {
		return nil, fieldErr("payload", "is missing")
	}
	if e.Payload, err = decodeBase64(raw, "payload", MaxEnvelopeSize); err != nil {
		return nil, err
	}
	if len(e.Payload) == 0 {
		return nil, fieldErr("payload", "is empty")
	}

	raw = m.Get("signatures")
	if raw == nil {
		return nil, fieldErr("signatures", "is missing; the envelope must be signed")
	}
	sigs, err := decodeArray(raw, "signatures", MaxSignatures, "sign with fewer keys")
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, fieldErr("signatures", "is empty; the envelope must be signed")
	}
	for i, rawSig := range sigs {
		field := fmt.Sprintf("signatures[%d]", i)
		sm, err := decodeObject(rawSig, field, signatureMembers, 16)
		if err != nil {
			return nil, err
		}
		for _, name := range sm.Names {
			if !slices.Contains(signatureMembers, name) {
				return nil, fieldErr(field, "has unknown member %s; a DSSE signature has only keyid and sig", quote(name))
			}
		}
		var s Signature
		if raw := sm.Get("keyid"); raw != nil {
			if s.KeyID, err = decodeString(raw, field+".keyid"); err != nil {
				return nil, err
			}
			if len(s.KeyID) > maxKeyIDLen {
				return nil, fieldErr(field+".keyid", "is longer than %d bytes", maxKeyIDLen)
			}
		}
		raw := sm.Get("sig")
		if raw == nil {
			return nil, fieldErr(field+".sig", "is missing")
		}
		if s.Sig, err = decodeBase64(raw, field+".sig", maxSigLen); err != nil {
			return nil, err
		}
		if len(s.Sig) == 0 {
			return nil, fieldErr(field+".sig", "is empty")
		}
		e.Signatures = append(e.Signatures, s)
	}
	return e, nil
}

// UnmarshalJSON parses e with the rules of [ParseEnvelope].
func (e *Envelope) UnmarshalJSON(b []byte) error {
	p, err := ParseEnvelope(b)
	if err != nil {
		return err
	}
	*e = *p
	return nil
}

// Marshal returns the JSON encoding of e, with standard base64.
func (e *Envelope) Marshal() ([]byte, error) {
	return json.Marshal(e)
}

// decodeBase64 decodes a JSON string holding base64 of at most max decoded
// bytes. DSSE protocol.md: "Either standard or URL-safe base64 encodings are
// allowed. Signers may use either, and verifiers MUST accept either."
// Padding is required (RFC 4648 section 3.2) and, to keep the encoding
// unique, so are zero trailing bits and the absence of line breaks.
func decodeBase64(raw json.RawMessage, field string, max int) ([]byte, error) {
	s, err := stringValue(raw, field) // shares raw's memory: only read it
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.DecodedLen(len(s)) > max {
		return nil, fieldErr(field, "decodes to more than %d bytes", max)
	}
	enc := strictStdEncoding
	if bytes.IndexByte(s, '-') >= 0 || bytes.IndexByte(s, '_') >= 0 {
		enc = strictURLEncoding
	}
	if bytes.IndexByte(s, '\r') >= 0 || bytes.IndexByte(s, '\n') >= 0 {
		return nil, fieldErr(field, "must be base64 without line breaks")
	}
	b := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(b, s)
	if err != nil {
		return nil, fieldErr(field, "is not padded standard or URL-safe base64 (%v)", err)
	}
	return b[:n], nil
}

// Strict returns a new Encoding each time; make them once.
var (
	strictStdEncoding = base64.StdEncoding.Strict()
	strictURLEncoding = base64.URLEncoding.Strict()
)

// PAE returns the DSSE pre-authentication encoding of payloadType and payload,
// the bytes that are actually signed. DSSE protocol.md:
//
//	PAE(type, body) = "DSSEv1" + SP + LEN(type) + SP + type + SP + LEN(body) + SP + body
//	LEN(s) = ASCII decimal encoding of the byte length of s, with no leading zeros
func PAE(payloadType string, payload []byte) []byte {
	return appendPAE(nil, payloadType, payload)
}

// appendPAE appends PAE(payloadType, payload) to dst.
func appendPAE(dst []byte, payloadType string, payload []byte) []byte {
	dst = slices.Grow(dst, len("DSSEv1")+2*(1+20+1)+len(payloadType)+len(payload))
	dst = append(dst, "DSSEv1 "...)
	dst = strconv.AppendInt(dst, int64(len(payloadType)), 10)
	dst = append(append(append(dst, ' '), payloadType...), ' ')
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	return append(append(dst, ' '), payload...)
}

// Sign returns a new envelope of payload signed with key. keyID is the
// signature's key id hint; if empty it is [KeyID] of key's public key, which
// is what Evident nodes look keys up by.
func Sign(payloadType string, payload []byte, key ed25519.PrivateKey, keyID string) (*Envelope, error) {
	if payloadType == "" || len(payloadType) > maxPayloadTypeLen {
		return nil, fieldErr("payloadType", "must be 1 to %d bytes", maxPayloadTypeLen)
	}
	if len(payload) == 0 {
		return nil, fieldErr("payload", "is empty")
	}
	e := &Envelope{PayloadType: payloadType, Payload: bytes.Clone(payload)}
	if err := e.AddSignature(key, keyID); err != nil {
		return nil, err
	}
	return e, nil
}

// AddSignature signs e with key and appends the signature. keyID is as for
// [Sign].
func (e *Envelope) AddSignature(key ed25519.PrivateKey, keyID string) error {
	if len(key) != ed25519.PrivateKeySize {
		return fieldErr("private key", "is %d bytes; an Ed25519 private key is %d", len(key), ed25519.PrivateKeySize)
	}
	if len(e.Signatures) >= MaxSignatures {
		return fieldErr("signatures", "already holds %d signatures, the most allowed", MaxSignatures)
	}
	if keyID == "" {
		keyID = KeyID(key.Public().(ed25519.PublicKey))
	}
	if len(keyID) > maxKeyIDLen {
		return fieldErr("keyid", "is longer than %d bytes", maxKeyIDLen)
	}
	sig := ed25519.Sign(key, PAE(e.PayloadType, e.Payload))
	e.Signatures = append(e.Signatures, Signature{KeyID: keyID, Sig: sig})
	return nil
}

// Verify reports whether e carries a valid signature by pub, a key of any
// algorithm [KeyAlg] accepts. Signatures whose keyid names another Evident
// key id are skipped; the others (the key's own id, an empty keyid, or a
// name some other tool gave the key) are tried, at most [MaxSignatures]. It
// returns nil, or an error wrapping [ErrBadSignature] (no tried signature
// verified) or [ErrUntrustedKey] (no signature could be pub's).
func (e *Envelope) Verify(pub crypto.PublicKey) error {
	id, err := SignerKeyID(pub)
	if err != nil {
		return err
	}
	pae := PAE(e.PayloadType, e.Payload)
	tried := false
	for _, s := range e.Signatures {
		if s.KeyID != id && isSignerKeyID(s.KeyID) {
			continue
		}
		tried = true
		if verifySignature(pub, pae, s.Sig) {
			return nil
		}
	}
	if tried {
		return &signatureError{
			msg:  fmt.Sprintf("evidence: no signature verifies under key %s; was the payload or payloadType changed after signing?", id),
			kind: ErrBadSignature,
		}
	}
	return &signatureError{
		msg:  fmt.Sprintf("evidence: envelope has no signature with key id %s", id),
		kind: ErrUntrustedKey,
	}
}

// isSignerKeyID reports whether s has the form of an Evident key id of some
// algorithm: <algorithm>:<64 lowercase hex digits>.
func isSignerKeyID(s string) bool {
	alg, h, ok := strings.Cut(s, ":")
	return ok && (alg == AlgEd25519 || alg == AlgECDSAP256 || alg == AlgECDSAP384 || alg == AlgRSA) && isLowerHex(h, 64)
}
