package evidence

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
)

// Signers may sign with keys of these algorithms. Ed25519 is what Evident's
// own tools make; the others are what cosign's keyed mode (ECDSA P-256) and
// other in-toto tooling (ECDSA, RSA) sign DSSE envelopes with.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256"
	AlgECDSAP384 = "ecdsa-p384"
	AlgRSA       = "rsa"
)

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// KeyAlg returns the algorithm name of a public key Evident accepts, or an
// error saying why it does not.
func KeyAlg(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fieldErr("public key", "is %d bytes; an Ed25519 public key is %d", len(k), ed25519.PublicKeySize)
		}
		return AlgEd25519, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return AlgECDSAP256, nil
		case elliptic.P384():
			return AlgECDSAP384, nil
		}
		return "", fieldErr("public key", "is an ECDSA key on curve %s; Evident accepts P-256 and P-384", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fieldErr("public key", "is a %d-bit RSA key; Evident accepts RSA keys of %d bits or more", k.N.BitLen(), minRSABits)
		}
		return AlgRSA, nil
	}
	return "", fieldErr("public key", "is a %T; Evident accepts Ed25519, ECDSA P-256 and P-384, and RSA keys", pub)
}

// keyBytes returns pub's algorithm and the bytes a key id hashes: the raw
// 32-byte key for Ed25519 (so that ids stay as Evident has always written
// them), the PKIX DER encoding for the others.
func keyBytes(pub crypto.PublicKey) (string, []byte, error) {
	alg, err := KeyAlg(pub)
	if err != nil {
		return "", nil, err
	}
	if k, ok := pub.(ed25519.PublicKey); ok {
		return alg, k, nil
	}
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", nil, fieldErr("public key", "couldn't encode it: %v", err)
	}
	return alg, b, nil
}

// SignerKeyID returns the key id of pub: its algorithm name, ":", and the
// lowercase hex SHA-256 of its raw bytes (Ed25519) or PKIX DER encoding
// (ECDSA, RSA). For Ed25519 it is [KeyID].
func SignerKeyID(pub crypto.PublicKey) (string, error) {
	alg, b, err := keyBytes(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return alg + ":" + hex.EncodeToString(sum[:]), nil
}

// FormatSignerKey returns the text form of pub: its algorithm name, ":" and
// the standard padded base64 of the bytes [SignerKeyID] hashes. For Ed25519
// it is [FormatPublicKey].
func FormatSignerKey(pub crypto.PublicKey) (string, error) {
	alg, b, err := keyBytes(pub)
	if err != nil {
		return "", err
	}
	return alg + ":" + base64.StdEncoding.EncodeToString(b), nil
}

// ParseSignerKey parses a public key of any algorithm Evident accepts: the
// text form [FormatSignerKey] writes, or a PEM "PUBLIC KEY" block (PKIX, as
// `openssl pkey -pubout` and `cosign generate-key-pair` write). Surrounding
// white space is ignored.
func ParseSignerKey(s string) (crypto.PublicKey, error) {
	if len(s) > maxKeyFileSize {
		return nil, fieldErr("public key", "is longer than %d bytes", maxKeyFileSize)
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		k, err := parsePEMPublicKey(s)
		if err != nil {
			return nil, err
		}
		if _, err := KeyAlg(k); err != nil {
			return nil, err
		}
		return k, nil
	}
	alg, b64, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fieldErr("public key", "%s is not <algorithm>:<base64>; write e.g. ed25519:<base64 of the 32-byte key>, ecdsa-p256:<base64 of the PKIX key>, or a PEM PUBLIC KEY block", quote(s))
	}
	if alg == AlgEd25519 {
		return ParsePublicKey(s)
	}
	if alg != AlgECDSAP256 && alg != AlgECDSAP384 && alg != AlgRSA {
		return nil, fieldErr("public key", "has algorithm %s; Evident accepts %s, %s, %s and %s", quote(alg), AlgEd25519, AlgECDSAP256, AlgECDSAP384, AlgRSA)
	}
	if isLowerHex(b64, sha256.Size*2) {
		return nil, fieldErr("public key", "%s is a key id, not a public key; write the key itself", quote(s))
	}
	der, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || strings.ContainsAny(b64, "\r\n") {
		return nil, fieldErr("public key", "%s is not %s:<standard padded base64 of the PKIX key>", quote(s), alg)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fieldErr("public key", "is not a valid PKIX public key: %v", err)
	}
	got, err := KeyAlg(k)
	if err != nil {
		return nil, err
	}
	if got != alg {
		return nil, fieldErr("public key", "is labelled %s but is a %s key", alg, got)
	}
	return k, nil
}

// parsePEMPublicKey parses a single PEM "PUBLIC KEY" block (PKIX).
func parsePEMPublicKey(s string) (crypto.PublicKey, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fieldErr("public key", "is not a single PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fieldErr("public key", "is a PEM %q block; want \"PUBLIC KEY\"", block.Type)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fieldErr("public key", "is not a valid PKIX public key: %v", err)
	}
	return k, nil
}

// verifySignature checks sig over msg (a DSSE pre-authentication encoding)
// with pub, as the signing tools of each algorithm sign DSSE: Ed25519 over
// the message; ECDSA (ASN.1 DER signature) over its SHA-256 for P-256 and
// SHA-384 for P-384; RSA over its SHA-256, PKCS #1 v1.5 (cosign) or PSS
// (securesystemslib).
func verifySignature(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			h := sha512.Sum384(msg)
			return ecdsa.VerifyASN1(k, h[:], sig)
		}
		h := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, h[:], sig)
	case *rsa.PublicKey:
		if len(sig) != k.Size() {
			return false
		}
		h := sha256.Sum256(msg)
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil {
			return true
		}
		return rsa.VerifyPSS(k, crypto.SHA256, h[:], sig, nil) == nil
	}
	return false
}

// verifySig is verifySignature; tests count the verifications through it.
var verifySig = verifySignature
