package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"strings"
)

// keyPrefix starts key ids and public keys in text form.
const keyPrefix = "ed25519:"

const maxKeyFileSize = 16 << 10

// KeyID returns the key id of pub, or "" if pub is not 32 bytes. A key id is
//
//	"ed25519:" + lowercase hex of SHA-256(the 32-byte raw public key)
//
// 72 ASCII characters in all. The whole digest is kept: key ids are written
// into log entries for good and should never collide, and anyone can
// recompute one from the raw key with sha256sum. Signers put it in the DSSE
// keyid of their signatures; nodes look trusted keys up by it.
func KeyID(pub ed25519.PublicKey) string {
	if len(pub) != ed25519.PublicKeySize {
		return ""
	}
	sum := sha256.Sum256(pub)
	return keyPrefix + hex.EncodeToString(sum[:])
}

// isKeyID reports whether s has the form of a key id.
func isKeyID(s string) bool {
	h, ok := strings.CutPrefix(s, keyPrefix)
	return ok && isLowerHex(h, sha256.Size*2)
}

// FormatPublicKey returns the text form of pub, as a node's configuration
// lists trusted keys: "ed25519:" + standard padded base64 of the 32-byte raw
// key (52 characters in all).
func FormatPublicKey(pub ed25519.PublicKey) string {
	return keyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey parses a public key in text form ("ed25519:<base64>") or as a
// PEM "PUBLIC KEY" block (PKIX, as `openssl pkey -pubout` writes).
// Surrounding white space is ignored.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	if len(s) > maxKeyFileSize {
		return nil, fieldErr("public key", "is longer than %d bytes", maxKeyFileSize)
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		k, err := parsePEMPublicKey(s)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fieldErr("public key", "is a %T; Evident uses Ed25519 keys", k)
		}
		return pub, nil
	}
	b64, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return nil, fieldErr("public key", "%s does not start with %q; write keys as ed25519:<base64 of the 32-byte key>", quote(s), keyPrefix)
	}
	if isLowerHex(b64, sha256.Size*2) {
		return nil, fieldErr("public key", "%s is a key id, not a public key; write the key itself as ed25519:<base64 of the 32-byte key>", quote(s))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || strings.ContainsAny(b64, "\r\n") {
		return nil, fieldErr("public key", "%s is not ed25519:<standard padded base64>", quote(s))
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fieldErr("public key", "decodes to %d bytes; an Ed25519 public key is %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// GenerateKey returns a new Ed25519 key pair read from rand, or from
// crypto/rand if rand is nil.
func GenerateKey(rnd io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	return ed25519.GenerateKey(rnd)
}

// MarshalPrivateKey returns key as a PEM "PRIVATE KEY" block holding PKCS #8
// (RFC 5958, RFC 8410), the private key file form Evident reads and
// `openssl genpkey -algorithm ed25519` writes.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fieldErr("private key", "is %d bytes; an Ed25519 private key is %d", len(key), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey parses a PEM "PRIVATE KEY" block (PKCS #8) holding an
// Ed25519 key, as written by [MarshalPrivateKey] or `openssl genpkey
// -algorithm ed25519`.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	if len(b) > maxKeyFileSize {
		return nil, fieldErr("private key", "file is longer than %d bytes", maxKeyFileSize)
	}
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fieldErr("private key", "file holds no PEM block; want -----BEGIN PRIVATE KEY-----")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fieldErr("private key", "file holds data after the PEM block; keep one key per file")
	}
	switch block.Type {
	case "PRIVATE KEY":
	case "ENCRYPTED PRIVATE KEY":
		return nil, fieldErr("private key", "is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	case "OPENSSH PRIVATE KEY":
		return nil, fieldErr("private key", "is in OpenSSH format; Evident reads PKCS #8 PEM keys, such as `openssl genpkey -algorithm ed25519` writes")
	default:
		return nil, fieldErr("private key", "is a PEM %q block; want \"PRIVATE KEY\" (PKCS #8)", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fieldErr("private key", "is not valid PKCS #8: %v", err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fieldErr("private key", "is a %T; Evident uses Ed25519 keys", k)
	}
	return key, nil
}

// isLowerHex reports whether s is n lowercase hex digits (any even length
// from 2 to -n if n < 0).
func isLowerHex(s string, n int) bool {
	if n >= 0 && len(s) != n {
		return false
	}
	if n < 0 && (len(s) < 2 || len(s) > -n || len(s)%2 != 0) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
