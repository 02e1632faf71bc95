package evidence

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
)

// RFC 8410 section 10.3 gives this private key; section 10.1 its public key.
const (
	rfc8410Private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n"
	rfc8410Public  = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	rfc8410PubHex  = "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
)

func TestKeyID(t *testing.T) {
	pub, _ := hex.DecodeString(rfc8410PubHex)
	sum := sha256.Sum256(pub)
	want := "ed25519:" + hex.EncodeToString(sum[:])
	if got := KeyID(pub); got != want {
		t.Errorf("KeyID = %q; want %q", got, want)
	}
	if len(want) != 72 || !isKeyID(want) {
		t.Errorf("key id %q is not 72 characters of the documented form", want)
	}
	if got := KeyID(pub[:31]); got != "" {
		t.Errorf("KeyID of a 31-byte key = %q; want empty", got)
	}
}

func TestPublicKeyText(t *testing.T) {
	pubRFC, _ := hex.DecodeString(rfc8410PubHex)
	pub := pubOf(testKey(3))
	s := FormatPublicKey(pub)
	if !strings.HasPrefix(s, "ed25519:") || len(s) != 8+44 {
		t.Errorf("FormatPublicKey = %q; want ed25519: and 44 base64 characters", s)
	}
	valid := []struct {
		name string
		in   string
		want ed25519.PublicKey
	}{
		{"text", s, pub},
		{"surrounding space", "  " + s + "\n", pub},
		{"PEM", rfc8410Public, pubRFC},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePublicKey(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %x; want %x", got, tt.want)
			}
		})
	}

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}))
	invalid := []struct {
		name, in, msg string
	}{
		{"empty", "", "does not start with"},
		{"no prefix", "AAAA", "does not start with"},
		{"key id", KeyID(pub), "is a key id"},
		{"bad base64", "ed25519:!!!!", "base64"},
		{"short", "ed25519:AAAA", "decodes to 3 bytes"},
		{"unpadded", strings.TrimRight(s, "="), "base64"},
		{"ecdsa PEM", ecPEM, "Ed25519"},
		{"private PEM", rfc8410Private, `want "PUBLIC KEY"`},
		{"two PEM blocks", rfc8410Public + rfc8410Public, "single PEM block"},
		{"huge", "ed25519:" + strings.Repeat("A", maxKeyFileSize), "longer than"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePublicKey(tt.in)
			wantFieldError(t, err, "public key", tt.msg)
		})
	}
}

func TestPrivateKey(t *testing.T) {
	pub, priv, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) || !pubOf(got).Equal(pub) {
		t.Error("ParsePrivateKey(MarshalPrivateKey(k)) != k")
	}

	// A key written by openssl (RFC 8410's example) parses to its public key.
	k, err := ParsePrivateKey([]byte(rfc8410Private))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pubOf(k)); got != rfc8410PubHex {
		t.Errorf("RFC 8410 key has public key %s; want %s", got, rfc8410PubHex)
	}

	if _, err := MarshalPrivateKey(priv[:5]); err == nil {
		t.Error("MarshalPrivateKey of a short key succeeded")
	}

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	block := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	invalid := []struct {
		name, in, msg string
	}{
		{"empty", "", "no PEM block"},
		{"garbage", "hello", "no PEM block"},
		{"ecdsa", block("PRIVATE KEY", ecDER), "Ed25519"},
		{"encrypted", block("ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted"},
		{"openssh", block("OPENSSH PRIVATE KEY", []byte{1}), "OpenSSH"},
		{"wrong type", block("RSA PRIVATE KEY", []byte{1}), `want "PRIVATE KEY"`},
		{"bad DER", block("PRIVATE KEY", []byte{1, 2, 3}), "PKCS #8"},
		{"two keys", rfc8410Private + rfc8410Private, "data after"},
		{"huge", strings.Repeat("A", maxKeyFileSize+1), "longer than"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey([]byte(tt.in))
			wantFieldError(t, err, "private key", tt.msg)
		})
	}
}
