package evidence

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"strings"
	"testing"
)

// signDSSE signs payload's DSSE pre-authentication encoding as the tools of
// each algorithm do, with keyid.
func signDSSE(t *testing.T, payload []byte, key crypto.Signer, keyid string, pss bool) []byte {
	t.Helper()
	msg := PAE(PayloadTypeInToto, payload)
	var (
		sig []byte
		err error
	)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P384() {
			h := sha512.Sum384(msg)
			sig, err = ecdsa.SignASN1(rand.Reader, k, h[:])
		} else {
			h := sha256.Sum256(msg)
			sig, err = ecdsa.SignASN1(rand.Reader, k, h[:])
		}
	case *rsa.PrivateKey:
		h := sha256.Sum256(msg)
		if pss {
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, h[:], nil)
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		}
	default:
		sig, err = key.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	if err != nil {
		t.Fatal(err)
	}
	e := &Envelope{PayloadType: PayloadTypeInToto, Payload: payload, Signatures: []Signature{{KeyID: keyid, Sig: sig}}}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOtherKeyTypes(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	payload := mustMarshalStatement(t, testStatement(subject("pkg:pypi/requests@2.32.3")))

	for _, tt := range []struct {
		name  string
		key   crypto.Signer
		alg   string
		pss   bool
		alias string // keyid the tool writes; "" for cosign
	}{
		{"cosign P-256, no keyid", p256, AlgECDSAP256, false, ""},
		{"P-384 with a tool's keyid", p384, AlgECDSAP384, false, "my-release-key"},
		{"RSA PKCS#1 v1.5", rsa2048, AlgRSA, false, ""},
		{"RSA PSS (securesystemslib)", rsa2048, AlgRSA, true, "abc123"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pub := tt.key.Public()
			id, err := SignerKeyID(pub)
			if err != nil || !strings.HasPrefix(id, tt.alg+":") || len(id) != len(tt.alg)+1+64 {
				t.Fatalf("SignerKeyID = %q, %v", id, err)
			}
			text, err := FormatSignerKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseSignerKey(text)
			if err != nil {
				t.Fatal(err)
			}
			if id2, _ := SignerKeyID(back); id2 != id {
				t.Errorf("ParseSignerKey(FormatSignerKey) has id %s; want %s", id2, id)
			}
			// Under its Evident key id, and under the alias the tool writes.
			trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: back, KeyIDs: []string{tt.alias}, Namespaces: []string{"pkg:pypi/requests"}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, keyid := range []string{id, tt.alias} {
				v, err := Verify(signDSSE(t, payload, tt.key, keyid, tt.pss), trust)
				if err != nil {
					t.Fatalf("keyid %q: %v", keyid, err)
				}
				if len(v.SignerIDs) != 1 || v.SignerIDs[0] != id {
					t.Errorf("SignerIDs = %q; want [%s]", v.SignerIDs, id)
				}
			}
			// A tampered payload does not verify.
			env := signDSSE(t, payload, tt.key, id, tt.pss)
			e, _ := ParseEnvelope(env)
			e.Payload = mustMarshalStatement(t, testStatement(subject("pkg:pypi/requests@2.32.4")))
			bad, _ := e.Marshal()
			if _, err := Verify(bad, trust); !errors.Is(err, ErrBadSignature) {
				t.Errorf("tampered payload: %v; want ErrBadSignature", err)
			}
		})
	}

	// Without an alias, a signature with no keyid is refused, saying how to
	// fix it.
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: p256.Public(), Namespaces: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(signDSSE(t, payload, p256, "", false), trust)
	if !errors.Is(err, ErrUntrustedKey) || !strings.Contains(err.Error(), `keyids: [""]`) {
		t.Errorf("no keyid, no alias: %v", err)
	}

	for _, tt := range []struct {
		name string
		pub  crypto.PublicKey
		msg  string
	}{
		{"P-521", p521.Public(), "P-256 and P-384"},
		{"RSA 1024", rsa1024.Public(), "2048 bits or more"},
	} {
		if _, err := NewTrustedKeys([]TrustedKey{{PublicKey: tt.pub, Namespaces: []string{"*"}}}); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: NewTrustedKeys: %v; want %q", tt.name, err, tt.msg)
		}
	}
	var keys []TrustedKey
	for range maxKeysPerKeyID + 1 {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		keys = append(keys, TrustedKey{PublicKey: k.Public(), KeyIDs: []string{""}, Namespaces: []string{"*"}})
	}
	if _, err := NewTrustedKeys(keys); err == nil || !strings.Contains(err.Error(), "share keyid") {
		t.Errorf("5 keys sharing keyid \"\": %v", err)
	}
}

// TestVerifyOncePerKey: key ids are public, so an envelope whose every
// signature names the same trusted key costs one verification, not one per
// signature.
func TestVerifyOncePerKey(t *testing.T) {
	key := testKey(6)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	e := &Envelope{PayloadType: PayloadTypeInToto, Payload: mustMarshalStatement(t, testStatement(subject("pkg:pypi/requests@2.32.3")))}
	for range MaxSignatures {
		e.Signatures = append(e.Signatures, Signature{KeyID: KeyID(pubOf(key)), Sig: make([]byte, 64)})
	}
	env, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	verifySig = func(pub crypto.PublicKey, msg, sig []byte) bool { n++; return verifySignature(pub, msg, sig) }
	defer func() { verifySig = verifySignature }()
	if _, err := Verify(env, trust); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify: %v; want ErrBadSignature", err)
	}
	if n != 1 {
		t.Errorf("%d signatures naming one key cost %d verifications; want 1", MaxSignatures, n)
	}
}
