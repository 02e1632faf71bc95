package witness

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/checkpoint"
)

// c2sp.org/signed-note: 0x04 is the signature type of timestamped Ed25519
// witness cosignatures, as specified by c2sp.org/tlog-cosignature.
const sigTypeCosignatureV1 = 0x04

// cosignatureSize is the length of a cosignature/v1 signature (after the
// four-byte key ID): c2sp.org/tlog-cosignature's timestamped_signature, a u64
// timestamp followed by a 64-byte Ed25519 signature.
const cosignatureSize = 8 + ed25519.SignatureSize

// ErrKeyFormat is wrapped by every error about a malformed key encoding.
var ErrKeyFormat = errors.New("malformed witness key")

// Cosigner signs checkpoints with Ed25519 cosignature/v1 signatures
// (c2sp.org/tlog-cosignature). It implements note.Signer, so note.Sign can
// add a cosignature to a checkpoint note.
type Cosigner struct {
	name string
	hash uint32
	key  crypto.Signer
	pub  ed25519.PublicKey
	now  func() time.Time
}

// NewCosigner returns a Cosigner that signs as name with key: an
// ed25519.PrivateKey, or any crypto.Signer whose public key is an
// ed25519.PublicKey, such as a key held by an agent or an HSM. now gives the
// time written into each cosignature; nil means time.Now.
//
// c2sp.org/tlog-cosignature: cosignature/v1 signatures are Ed25519, so a
// signer of any other key type is refused.
func NewCosigner(name string, key crypto.Signer, now func() time.Time) (*Cosigner, error) {
	if !validKeyName(name) {
		return nil, fmt.Errorf("%w: invalid key name %q", ErrKeyFormat, name)
	}
	if key == nil {
		return nil, fmt.Errorf("%w: no signer", ErrKeyFormat)
	}
	// A malformed ed25519.PrivateKey panics in Public; say what is wrong
	// instead.
	if k, ok := key.(ed25519.PrivateKey); ok && len(k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 private key is %d bytes, want %d", ErrKeyFormat, len(k), ed25519.PrivateKeySize)
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: cosigner key is %T, want an Ed25519 key: cosignature/v1 (c2sp.org/tlog-cosignature) signs with Ed25519 only", ErrKeyFormat, key.Public())
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key is %d bytes, want %d", ErrKeyFormat, len(pub), ed25519.PublicKeySize)
	}
	if now == nil {
		now = time.Now
	}
	pub = append(ed25519.PublicKey(nil), pub...)
	return &Cosigner{name: name, hash: cosignatureKeyHash(name, pub), key: key, pub: pub, now: now}, nil
}

// Name returns the cosigner's key name.
func (c *Cosigner) Name() string { return c.name }

// KeyHash returns the key ID of c2sp.org/tlog-cosignature.
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// Verifier returns the verifier of c's cosignatures.
func (c *Cosigner) Verifier() *CosignatureVerifier {
	return &CosignatureVerifier{name: c.name, hash: c.hash, key: c.pub}
}

// Sign returns a cosignature/v1 signature (timestamp and Ed25519 signature,
// without the key ID note.Sign prepends) on msg, which must be a checkpoint
// note text. Sign refuses anything else: a cosignature is a statement about
// a checkpoint, and signing arbitrary text under the cosigner key would make
// that statement ambiguous.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	if _, err := checkpoint.Parse(msg); err != nil {
		return nil, fmt.Errorf("couldn't cosign: %w", err)
	}
	t := c.now().Unix()
	// c2sp.org/tlog-witness: the timestamp MUST NOT be zero. A clock before
	// 1970 is broken, not a reason to emit a timestamp the spec forbids.
	if t <= 0 {
		return nil, fmt.Errorf("couldn't cosign: clock reads %d, before the Unix epoch", t)
	}
	// crypto.Hash(0): Ed25519 signs the message itself, not a digest of it.
	s, err := c.key.Sign(nil, cosignedMessage(uint64(t), msg), crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("couldn't cosign: %w", err)
	}
	// A remote signer's answer is checked for shape: a wrong length would
	// make a signature line no verifier can parse.
	if len(s) != ed25519.SignatureSize {
		return nil, fmt.Errorf("couldn't cosign: the signer returned %d bytes, want a %d-byte Ed25519 signature", len(s), ed25519.SignatureSize)
	}
	sig := make([]byte, 8, cosignatureSize)
	binary.BigEndian.PutUint64(sig, uint64(t))
	return append(sig, s...), nil
}

// cosignedMessage is the Ed25519 signed message of c2sp.org/tlog-cosignature:
// the header line "cosignature/v1", the line "time <timestamp>", then the
// whole checkpoint note text.
func cosignedMessage(t uint64, text []byte) []byte {
	m := make([]byte, 0, 40+len(text))
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	return append(m, text...)
}

// CosignatureVerifier verifies cosignature/v1 signatures of one cosigner. It
// implements note.Verifier, for use with note.Open.
type CosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

// NewCosignatureVerifier parses a witness verifier key (vkey) of
// c2sp.org/signed-note: "<name>+<key ID as 8 hex digits>+<base64 of 0x04 ||
// 32-byte Ed25519 public key>", as written by VerifierKey. Parsing is strict:
// the key ID must match the key and the encoding must be canonical.
func NewCosignatureVerifier(vkey string) (*CosignatureVerifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: vkey must be name+hash+key", ErrKeyFormat)
	}
	if !validKeyName(name) {
		return nil, fmt.Errorf("%w: invalid key name %q", ErrKeyFormat, name)
	}
	hash, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil || len(hash16) != 8 || strings.ToLower(hash16) != hash16 {
		return nil, fmt.Errorf("%w: key ID %q is not 8 lowercase hex digits", ErrKeyFormat, hash16)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || base64.StdEncoding.EncodeToString(key) != key64 {
		return nil, fmt.Errorf("%w: key is not canonical base64", ErrKeyFormat)
	}
	if len(key) == 0 || key[0] != sigTypeCosignatureV1 {
		// c2sp.org/tlog-cosignature: Ed25519 cosigner keys are vkeys with
		// signature type 0x04. 0x06 (ML-DSA-44) is not supported.
		return nil, fmt.Errorf("%w: not an Ed25519 cosignature/v1 key (signature type 0x04)", ErrKeyFormat)
	}
	if len(key) != 1+ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key is %d bytes, want %d", ErrKeyFormat, len(key)-1, ed25519.PublicKeySize)
	}
	v, err := CosignatureVerifierFromKey(name, key[1:])
	if err != nil {
		return nil, err
	}
	if uint32(hash) != v.hash {
		return nil, fmt.Errorf("%w: key ID %s doesn't match the key (want %08x)", ErrKeyFormat, hash16, v.hash)
	}
	return v, nil
}

// CosignatureVerifierFromKey returns the verifier of cosignatures made as
// name with the private key of pub.
func CosignatureVerifierFromKey(name string, pub ed25519.PublicKey) (*CosignatureVerifier, error) {
	if !validKeyName(name) {
		return nil, fmt.Errorf("%w: invalid key name %q", ErrKeyFormat, name)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key is %d bytes, want %d", ErrKeyFormat, len(pub), ed25519.PublicKeySize)
	}
	pub = append(ed25519.PublicKey(nil), pub...)
	return &CosignatureVerifier{name: name, hash: cosignatureKeyHash(name, pub), key: pub}, nil
}

// Name returns the cosigner's key name.
func (v *CosignatureVerifier) Name() string { return v.name }

// KeyHash returns the key ID of c2sp.org/tlog-cosignature.
func (v *CosignatureVerifier) KeyHash() uint32 { return v.hash }

// PublicKey returns the cosigner's Ed25519 public key.
func (v *CosignatureVerifier) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), v.key...)
}

// VerifierKey returns v as a vkey, the form NewCosignatureVerifier parses.
func (v *CosignatureVerifier) VerifierKey() string {
	return fmt.Sprintf("%s+%08x+%s", v.name, v.hash,
		base64.StdEncoding.EncodeToString(append([]byte{sigTypeCosignatureV1}, v.key...)))
}

// Verify reports whether sig (without the key ID) is a valid cosignature/v1
// signature on the note text msg.
func (v *CosignatureVerifier) Verify(msg, sig []byte) bool {
	t, ok := cosignatureTime(sig)
	return ok && ed25519.Verify(v.key, cosignedMessage(t, msg), sig[8:])
}

// Timestamp returns the time written in a cosignature by v's key. sig is a
// signature note.Open returned in Note.Sigs after verifying it with v (the
// time of an unverified signature means nothing).
func (v *CosignatureVerifier) Timestamp(sig note.Signature) (time.Time, error) {
	if sig.Name != v.name || sig.Hash != v.hash {
		return time.Time{}, fmt.Errorf("couldn't read cosignature time: signature by %s+%08x, not %s+%08x", sig.Name, sig.Hash, v.name, v.hash)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(raw) != 4+cosignatureSize {
		return time.Time{}, errors.New("couldn't read cosignature time: not a cosignature/v1 signature")
	}
	t, ok := cosignatureTime(raw[4:])
	if !ok {
		return time.Time{}, errors.New("couldn't read cosignature time: not a cosignature/v1 signature")
	}
	return time.Unix(int64(t), 0).UTC(), nil
}

// cosignatureTime returns the timestamp of a timestamped_signature, and
// whether sig has the right length and a timestamp the spec allows.
func cosignatureTime(sig []byte) (uint64, bool) {
	if len(sig) != cosignatureSize {
		return 0, false
	}
	t := binary.BigEndian.Uint64(sig)
	// c2sp.org/tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
	return t, t <= math.MaxInt64
}

// cosignatureKeyHash is the c2sp.org/tlog-cosignature key ID:
// SHA-256(<name> || "\n" || 0x04 || 32-byte Ed25519 public key)[:4].
func cosignatureKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', sigTypeCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validKeyName reports whether name is a valid note key name.
// c2sp.org/signed-note: key names MUST be non-empty and MUST NOT contain any
// Unicode spaces or plus (U+002B) characters; notes MUST NOT contain control
// characters, so a name with one could never appear in a signature line.
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.Contains(name, "+") &&
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// GenerateKey generates a cosigner key pair named name, encoded as text:
// skey for ParseCosignerKey (keep it secret) and vkey for
// NewCosignatureVerifier. rand nil means crypto/rand.
//
// The skey encoding is Evident's own, shaped like golang.org/x/mod/sumdb/note
// signer keys: "PRIVATE+KEY+<name>+<key ID>+<base64 of 0x04 || 32-byte
// Ed25519 seed>".
func GenerateKey(rand io.Reader, name string) (skey, vkey string, err error) {
	if !validKeyName(name) {
		return "", "", fmt.Errorf("%w: invalid key name %q", ErrKeyFormat, name)
	}
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return "", "", fmt.Errorf("couldn't generate key: %w", err)
	}
	hash := cosignatureKeyHash(name, pub)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, hash,
		base64.StdEncoding.EncodeToString(append([]byte{sigTypeCosignatureV1}, priv.Seed()...)))
	v := &CosignatureVerifier{name: name, hash: hash, key: pub}
	return skey, v.VerifierKey(), nil
}

// ParseCosignerKey returns the Cosigner of an skey written by GenerateKey.
// now is as for NewCosigner.
func ParseCosignerKey(skey string, now func() time.Time) (*Cosigner, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, fmt.Errorf("%w: skey must start with PRIVATE+KEY+", ErrKeyFormat)
	}
	name, rest, ok1 := strings.Cut(rest, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: skey must be PRIVATE+KEY+name+hash+key", ErrKeyFormat)
	}
	hash, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil || len(hash16) != 8 || strings.ToLower(hash16) != hash16 {
		return nil, fmt.Errorf("%w: key ID %q is not 8 lowercase hex digits", ErrKeyFormat, hash16)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || base64.StdEncoding.EncodeToString(key) != key64 ||
		len(key) != 1+ed25519.SeedSize || key[0] != sigTypeCosignatureV1 {
		return nil, fmt.Errorf("%w: key is not the base64 of 0x04 and a 32-byte Ed25519 seed", ErrKeyFormat)
	}
	c, err := NewCosigner(name, ed25519.NewKeyFromSeed(key[1:]), now)
	if err != nil {
		return nil, err
	}
	if c.hash != uint32(hash) {
		return nil, fmt.Errorf("%w: key ID %s doesn't match the key", ErrKeyFormat, hash16)
	}
	return c, nil
}
