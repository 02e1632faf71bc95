package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testKey returns a deterministic key; different b give different keys.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// hexSum returns the lowercase hex SHA-256 of s.
func hexSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func subject(name string) Subject {
	return Subject{Name: name, Digest: map[string]string{"sha256": hexSum(name)}}
}

func testStatement(subjects ...Subject) *Statement {
	return &Statement{
		Type:          StatementTypeV1,
		Subject:       subjects,
		PredicateType: PredicateSPDX23,
		Predicate:     json.RawMessage(`{"spdxVersion":"SPDX-2.3"}`),
	}
}

func mustMarshalStatement(t testing.TB, s *Statement) []byte {
	t.Helper()
	b, err := s.Marshal()
	if err != nil {
		t.Fatalf("Statement.Marshal: %v", err)
	}
	return b
}

// signedEnvelope returns the JSON of a DSSE envelope of payload signed by keys.
func signedEnvelope(t testing.TB, payloadType string, payload []byte, keys ...ed25519.PrivateKey) []byte {
	t.Helper()
	e := &Envelope{PayloadType: payloadType, Payload: payload}
	for _, k := range keys {
		if err := e.AddSignature(k, ""); err != nil {
			t.Fatal(err)
		}
	}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantFieldError checks that err is a *FieldError for field (if field is
// not "") wrapping ErrMalformed, whose message contains every substring.
func wantFieldError(t *testing.T, err error, field string, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want a FieldError on %q", field)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("error %q does not wrap ErrMalformed", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q is a %T, not a *FieldError", err, err)
	}
	if field != "" && fe.Field != field {
		t.Errorf("error %q is on field %q; want %q", err, fe.Field, field)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

// sharedTestdata returns the path of the shared evidence corpus, skipping
// the test if it is absent.
func sharedTestdata(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "testdata", "evidence", sub)
	if d := os.Getenv("EVIDENT_TESTDATA"); d != "" {
		dir = filepath.Join(d, sub)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared test data not available: %v", err)
	}
	return dir
}
