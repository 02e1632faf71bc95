package witness_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/evident-dev/evident/witness"
)

const sampleCheckpoint = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

// TestCosignatureMessage checks a cosignature against the signed message of
// c2sp.org/tlog-cosignature, built here independently of the package.
func TestCosignatureMessage(t *testing.T) {
	seed := bytes.Repeat([]byte{1}, 32)
	key := ed25519.NewKeyFromSeed(seed)
	c, err := witness.NewCosigner("witness.example.com/w1", key, func() time.Time { return time.Unix(1679315147, 0) })
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: sampleCheckpoint}, c)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimPrefix(string(signed), sampleCheckpoint+"\n— witness.example.com/w1 ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(line, "\n"))
	if err != nil || len(raw) != 4+8+64 {
		t.Fatalf("signature %q: %d bytes, %v", line, len(raw), err)
	}
	pub := key.Public().(ed25519.PublicKey)
	// Key ID: SHA-256(<name> || "\n" || 0x04 || public key)[:4].
	id := sha256.Sum256(append([]byte("witness.example.com/w1\n\x04"), pub...))
	if !bytes.Equal(raw[:4], id[:4]) {
		t.Errorf("key ID %x, want %x", raw[:4], id[:4])
	}
	// Timestamp: u64 big-endian.
	if ts := binary.BigEndian.Uint64(raw[4:12]); ts != 1679315147 {
		t.Errorf("timestamp %d, want 1679315147", ts)
	}
	msg := "cosignature/v1\ntime 1679315147\n" + sampleCheckpoint
	if !ed25519.Verify(pub, []byte(msg), raw[12:]) {
		t.Error("signature isn't over the cosignature/v1 message")
	}
}

func TestCosignatureRoundTrip(t *testing.T) {
	c := testCosigner(t, "witness.example/w1")
	v, err := witness.NewCosignatureVerifier(c.Verifier().VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	log := testCosigner(t, "example.com/log") // any other key will do as "the log"
	signed, err := note.Sign(&note.Note{Text: sampleCheckpoint}, log, c)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open = %v", err)
	}
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 {
		t.Fatalf("verified %d, unverified %d signatures; want 1 and 1", len(n.Sigs), len(n.UnverifiedSigs))
	}
	ts, err := v.Timestamp(n.Sigs[0])
	if err != nil || !ts.Equal(testTime) {
		t.Errorf("Timestamp = %v, %v; want %v", ts, err, testTime)
	}
	if _, err := v.Timestamp(n.UnverifiedSigs[0]); err == nil {
		t.Error("Timestamp of another key's signature succeeded")
	}

	// Any change to the text breaks the cosignature.
	tampered := bytes.Replace(signed, []byte("20852163"), []byte("20852164"), 1)
	var invalid *note.InvalidSignatureError
	if _, err := note.Open(tampered, note.VerifierList(v)); !errors.As(err, &invalid) {
		t.Errorf("note.Open(tampered) = %v, want InvalidSignatureError", err)
	}
	// Another cosigner's verifier ignores it.
	other := testCosigner(t, "witness.example/w2").Verifier()
	var unverified *note.UnverifiedNoteError
	if _, err := note.Open(signed, note.VerifierList(other)); !errors.As(err, &unverified) {
		t.Errorf("note.Open(other key) = %v, want UnverifiedNoteError", err)
	}
}

func TestCosignatureVerify(t *testing.T) {
	seed := bytes.Repeat([]byte{3}, 32)
	key := ed25519.NewKeyFromSeed(seed)
	v, err := witness.CosignatureVerifierFromKey("w", key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// sign makes a timestamped signature by hand, for timestamps the
	// Cosigner won't produce.
	sign := func(ts uint64, text string) []byte {
		msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, text)
		return append(binary.BigEndian.AppendUint64(nil, ts), ed25519.Sign(key, []byte(msg))...)
	}
	for _, tc := range []struct {
		name string
		sig  []byte
		want bool
	}{
		{"valid", sign(1700000000, sampleCheckpoint), true},
		{"zero time", sign(0, sampleCheckpoint), true},
		{"max time", sign(math.MaxInt64, sampleCheckpoint), true},
		// c2sp.org/tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
		{"time over 2^63-1", sign(math.MaxInt64+1, sampleCheckpoint), false},
		{"other text", sign(1700000000, "other\n1\n"+strings.Repeat("A", 43)+"=\n"), false},
		{"timestamp changed", func() []byte {
			s := sign(1700000000, sampleCheckpoint)
			s[7]++
			return s
		}(), false},
		{"short", sign(1700000000, sampleCheckpoint)[:71], false},
		{"long", append(sign(1700000000, sampleCheckpoint), 0), false},
		{"plain Ed25519 signature", ed25519.Sign(key, []byte(sampleCheckpoint)), false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := v.Verify([]byte(sampleCheckpoint), tc.sig); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCosignerRefusesNonCheckpoints(t *testing.T) {
	c := testCosigner(t, "w")
	for _, text := range []string{"", "hello\n", "origin\n10\n", "origin\n010\n" + strings.Repeat("A", 43) + "=\n"} {
		if _, err := c.Sign([]byte(text)); err == nil {
			t.Errorf("Sign(%q) succeeded", text)
		}
	}
	c, err := witness.NewCosigner("w", ed25519.NewKeyFromSeed(make([]byte, 32)), func() time.Time { return time.Unix(0, 0) })
	if err != nil {
		t.Fatal(err)
	}
	// c2sp.org/tlog-witness: the timestamp MUST NOT be zero.
	if _, err := c.Sign([]byte(sampleCheckpoint)); err == nil {
		t.Error("Sign at the epoch succeeded")
	}
}

func TestKeyEncoding(t *testing.T) {
	// A key whose ID has hex letters, to check that uppercase is refused.
	var skey, vkey string
	for i := byte(0); ; i++ {
		var err error
		skey, vkey, err = witness.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{i}, 32)), "witness.example/w1")
		if err != nil {
			t.Fatal(err)
		}
		if _, hash, _ := splitKey(vkey); strings.ToUpper(hash) != hash {
			break
		}
	}
	c, err := witness.ParseCosignerKey(skey, nil)
	if err != nil {
		t.Fatalf("ParseCosignerKey = %v", err)
	}
	v, err := witness.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatalf("NewCosignatureVerifier = %v", err)
	}
	if c.Verifier().VerifierKey() != vkey || v.VerifierKey() != vkey {
		t.Errorf("vkey doesn't round-trip: %q, %q, %q", vkey, c.Verifier().VerifierKey(), v.VerifierKey())
	}
	if v.Name() != c.Name() || v.KeyHash() != c.KeyHash() {
		t.Error("verifier and signer disagree on name or key ID")
	}
	sig, err := c.Sign([]byte(sampleCheckpoint))
	if err != nil || !v.Verify([]byte(sampleCheckpoint), sig) {
		t.Errorf("generated key doesn't sign and verify: %v", err)
	}
	// x/mod/sumdb/note must not take a cosigner key for a log key.
	if _, err := note.NewVerifier(vkey); err == nil {
		t.Error("note.NewVerifier accepted a cosignature vkey")
	}

	name, hash, key := splitKey(vkey)
	raw, _ := base64.StdEncoding.DecodeString(key)
	ed01 := base64.StdEncoding.EncodeToString(append([]byte{0x01}, raw[1:]...))
	for _, tc := range []struct{ name, vkey string }{
		{"empty", ""},
		{"no key", name + "+" + hash},
		{"bad name", "a b+" + hash + "+" + key},
		{"plus in name", "a+b+" + hash + "+" + key},
		{"uppercase hash", name + "+" + strings.ToUpper(hash) + "+" + key},
		{"short hash", name + "+" + hash[1:] + "+" + key},
		{"wrong hash", name + "+00000000+" + key},
		{"other name", "witness.example/w2+" + hash + "+" + key},
		{"not base64", name + "+" + hash + "+" + key[1:]},
		{"signature type 0x01", name + "+" + hash + "+" + ed01},
		{"short key", name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(raw[:32])},
		{"trailing data", vkey + "+"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := witness.NewCosignatureVerifier(tc.vkey); !errors.Is(err, witness.ErrKeyFormat) {
				t.Errorf("NewCosignatureVerifier(%q) = %v, want ErrKeyFormat", tc.vkey, err)
			}
		})
	}
	for _, bad := range []string{"", "PRIVATE+KEY+w", strings.Replace(skey, "+KEY+", "+KEE+", 1), skey[:len(skey)-2] + "A="} {
		if _, err := witness.ParseCosignerKey(bad, nil); err == nil {
			t.Errorf("ParseCosignerKey(%q) succeeded", bad)
		}
	}
}

func splitKey(vkey string) (name, hash, key string) {
	parts := strings.SplitN(vkey, "+", 3)
	return parts[0], parts[1], parts[2]
}

// FuzzCosignatureVerifier feeds arbitrary vkeys, texts and signatures to the
// parser and the verifier: no panics, vkeys round-trip, and only the real
// signature verifies.
func FuzzCosignatureVerifier(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	c, err := witness.NewCosigner("w.example/1", key, func() time.Time { return testTime })
	if err != nil {
		f.Fatal(err)
	}
	good, err := c.Sign([]byte(sampleCheckpoint))
	if err != nil {
		f.Fatal(err)
	}
	vkey := c.Verifier().VerifierKey()
	f.Add(vkey, []byte(sampleCheckpoint), good)
	f.Add(vkey, []byte(sampleCheckpoint), good[:40])
	f.Add("w+00000000+BA==", []byte("x\n"), []byte{})
	f.Add("", []byte{}, bytes.Repeat([]byte{0xff}, 72))
	f.Fuzz(func(t *testing.T, vkey string, text, sig []byte) {
		if v, err := witness.NewCosignatureVerifier(vkey); err == nil {
			if v.VerifierKey() != vkey {
				t.Errorf("vkey %q re-encodes as %q", vkey, v.VerifierKey())
			}
			v.Verify(text, sig)
		}
		ok := c.Verifier().Verify(text, sig)
		if ok && !(string(text) == sampleCheckpoint && bytes.Equal(sig, good)) {
			// ed25519 signatures are not malleable (RFC 8032 checks S < L),
			// and the fuzzer can't forge one.
			t.Errorf("Verify accepted a signature the cosigner didn't make: %q %x", text, sig)
		}
		if !ok && string(text) == sampleCheckpoint && bytes.Equal(sig, good) {
			t.Error("Verify rejected the real signature")
		}
	})
}

// opaqueSigner is a crypto.Signer that is not an ed25519.PrivateKey, as a key
// in an agent or an HSM is: the Cosigner can only call Public and Sign.
type opaqueSigner struct {
	pub  crypto.PublicKey
	sign func(msg []byte, opts crypto.SignerOpts) ([]byte, error)
}

func (s opaqueSigner) Public() crypto.PublicKey { return s.pub }
func (s opaqueSigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.sign(msg, opts)
}

func TestCosignerFromSigner(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	at := func() time.Time { return testTime }
	direct, err := witness.NewCosigner("w.example/1", key, at)
	if err != nil {
		t.Fatal(err)
	}
	var gotOpts crypto.SignerOpts
	agent := opaqueSigner{pub: key.Public(), sign: func(msg []byte, opts crypto.SignerOpts) ([]byte, error) {
		gotOpts = opts
		return key.Sign(nil, msg, opts)
	}}
	viaAgent, err := witness.NewCosigner("w.example/1", agent, at)
	if err != nil {
		t.Fatal(err)
	}
	if viaAgent.KeyHash() != direct.KeyHash() || viaAgent.Verifier().VerifierKey() != direct.Verifier().VerifierKey() {
		t.Errorf("the same key through a crypto.Signer has vkey %s, want %s", viaAgent.Verifier().VerifierKey(), direct.Verifier().VerifierKey())
	}
	want, err := direct.Sign([]byte(sampleCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	got, err := viaAgent.Sign([]byte(sampleCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	// Ed25519 is deterministic: the same key signs the same bytes.
	if !bytes.Equal(got, want) {
		t.Errorf("signature through a crypto.Signer %x, want %x", got, want)
	}
	if gotOpts == nil || gotOpts.HashFunc() != crypto.Hash(0) {
		t.Errorf("signer asked with opts %v, want crypto.Hash(0) (pure Ed25519)", gotOpts)
	}

	// The signer's failures reach the caller; a malformed answer is refused.
	failing := opaqueSigner{pub: key.Public(), sign: func([]byte, crypto.SignerOpts) ([]byte, error) {
		return nil, errors.New("agent unreachable")
	}}
	c, err := witness.NewCosigner("w.example/1", failing, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign([]byte(sampleCheckpoint)); err == nil || !strings.Contains(err.Error(), "agent unreachable") {
		t.Errorf("Sign with a failing signer = %v, want its error", err)
	}
	short := opaqueSigner{pub: key.Public(), sign: func([]byte, crypto.SignerOpts) ([]byte, error) {
		return make([]byte, 32), nil
	}}
	if c, err = witness.NewCosigner("w.example/1", short, at); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign([]byte(sampleCheckpoint)); err == nil {
		t.Error("Sign accepted a 32-byte signature from the signer")
	}
}

// TestCosignerRefusesOtherKeys: c2sp.org/tlog-cosignature cosignature/v1 is
// Ed25519 only.
func TestCosignerRefusesOtherKeys(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{
		{"ECDSA P-256", ec},
		{"nil", nil},
		{"short Ed25519 key", edKey[:40]},
		{"short Ed25519 public key", opaqueSigner{pub: ed25519.PublicKey(make([]byte, 31))}},
		{"Ed25519 public key by pointer", opaqueSigner{pub: new(ed25519.PublicKey)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := witness.NewCosigner("w.example/1", tc.key, nil)
			if !errors.Is(err, witness.ErrKeyFormat) {
				t.Fatalf("NewCosigner(%T) = %v, want ErrKeyFormat", tc.key, err)
			}
			t.Log(err)
		})
	}
	if _, err := witness.NewCosigner("w.example/1", ec, nil); err == nil || !strings.Contains(err.Error(), "want an Ed25519 key") {
		t.Errorf("NewCosigner(ECDSA) = %v, want it to say an Ed25519 key is needed", err)
	}
}
