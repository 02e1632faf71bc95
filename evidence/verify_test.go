package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestVerify(t *testing.T) {
	apacheKey, pypiKey, strangerKey := testKey(1), testKey(2), testKey(3)
	apacheID, pypiID, strangerID := KeyID(pubOf(apacheKey)), KeyID(pubOf(pypiKey)), KeyID(pubOf(strangerKey))
	trust, err := NewTrustedKeys([]TrustedKey{
		{PublicKey: pubOf(apacheKey), Namespaces: []string{"pkg:maven/org.apache"}},
		{PublicKey: pubOf(pypiKey), Namespaces: []string{"pkg:pypi/requests"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	log4j := subject("pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1")
	requests := subject("pkg:pypi/requests@2.32.3")
	payload := mustMarshalStatement(t, testStatement(log4j))

	// withSig returns env re-encoded after f edits its decoded form.
	edit := func(env []byte, f func(*Envelope)) []byte {
		e, err := ParseEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		f(e)
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := signedEnvelope(t, PayloadTypeInToto, payload, apacheKey)

	t.Run("accepted", func(t *testing.T) {
		v, err := Verify(good, trust)
		if err != nil {
			t.Fatal(err)
		}
		want := &Verified{
			EnvelopeDigest: sha256.Sum256(good),
			EnvelopeSize:   int64(len(good)),
			Encoding:       EncodingDSSE,
			PredicateType:  PredicateSPDX23,
			Kind:           KindSBOM,
			Document: DocumentRef{
				Digest:    sha256.Sum256(v.Statement.Predicate),
				Size:      int64(len(v.Statement.Predicate)),
				MediaType: "application/json",
			},
			Format:       "SPDX v2.3",
			Name:         log4j.Name,
			SignerIDs:    []string{apacheID},
			SubjectPurls: []string{log4j.Name},
		}
		if diff := cmp.Diff(want, v, cmp.FilterPath(func(p cmp.Path) bool {
			s := p.String()
			return s == "Envelope" || s == "Statement"
		}, cmp.Ignore()), cmpopts.IgnoreUnexported(Verified{})); diff != "" {
			t.Errorf("Verified mismatch (-want +got):\n%s", diff)
		}
		// EntryAt is the entry NewEntry makes, without checking again.
		at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		e1, err := NewEntry(v, at)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := v.EntryAt(at)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e1.Marshal(), e2.Marshal()) {
			t.Errorf("EntryAt:\n%s\nNewEntry:\n%s", e2.Marshal(), e1.Marshal())
		}
		if _, err := new(Verified).EntryAt(at); err == nil {
			t.Error("EntryAt of a Verified that Verify did not make: no error")
		}
		if diff := cmp.Diff(testStatement(log4j), v.Statement); diff != "" {
			t.Errorf("Statement mismatch (-want +got):\n%s", diff)
		}
		if string(v.Envelope.Payload) != string(payload) {
			t.Error("Envelope.Payload differs from the signed payload")
		}
	})

	t.Run("signers", func(t *testing.T) {
		// Both keys sign a statement about both packages: both are signers.
		both := mustMarshalStatement(t, testStatement(log4j, requests))
		v, err := Verify(signedEnvelope(t, PayloadTypeInToto, both, pypiKey, apacheKey, strangerKey), trust)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{apacheID, pypiID}
		if want[0] > want[1] {
			want[0], want[1] = want[1], want[0]
		}
		if diff := cmp.Diff(want, v.SignerIDs); diff != "" {
			t.Errorf("SignerIDs mismatch (-want +got):\n%s", diff)
		}
		// A trusted key with no authority over any subject is not a signer.
		v, err = Verify(signedEnvelope(t, PayloadTypeInToto, payload, apacheKey, pypiKey), trust)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{apacheID}, v.SignerIDs); diff != "" {
			t.Errorf("SignerIDs mismatch (-want +got):\n%s", diff)
		}
		// A bad signature by one trusted key does not spoil a good one.
		mixed := edit(signedEnvelope(t, PayloadTypeInToto, payload, pypiKey, apacheKey), func(e *Envelope) {
			e.Signatures[0].Sig[0] ^= 1
		})
		if _, err := Verify(mixed, trust); err != nil {
			t.Errorf("good signature beside a bad one: %v", err)
		}
	})

	failures := []struct {
		name     string
		env      []byte
		trust    *TrustedSigners
		sentinel error
		msg      string
	}{
		{"not JSON", []byte("hello"), trust, ErrMalformed, "not valid JSON"},
		{"wrong payloadType", signedEnvelope(t, "application/json", payload, apacheKey), trust, ErrMalformed, `payloadType: is "application/json"`},
		{"untrusted key", signedEnvelope(t, PayloadTypeInToto, payload, strangerKey), trust, ErrUntrustedKey, strangerID},
		{"nil trust", good, nil, ErrUntrustedKey, "not signed by a key this node trusts"},
		{"no keyid", edit(good, func(e *Envelope) { e.Signatures[0].KeyID = "" }), trust, ErrUntrustedKey, "signatures 0 have no keyid"},
		{"foreign keyid", edit(good, func(e *Envelope) { e.Signatures[0].KeyID = "ae2dcc98" }), trust, ErrUntrustedKey, `"ae2dcc98"`},
		{"bad signature", edit(good, func(e *Envelope) { e.Signatures[0].Sig[5] ^= 0x10 }), trust, ErrBadSignature, apacheID},
		{"short signature", edit(good, func(e *Envelope) { e.Signatures[0].Sig = e.Signatures[0].Sig[:63] }), trust, ErrBadSignature, apacheID},
		{"tampered payload", edit(good, func(e *Envelope) { e.Payload = append(e.Payload, ' ') }), trust, ErrBadSignature, "does not verify"},
		{"bad sig and stranger", edit(signedEnvelope(t, PayloadTypeInToto, payload, apacheKey, strangerKey), func(e *Envelope) {
			e.Signatures[0].Sig[0] ^= 1
		}), trust, ErrBadSignature, apacheID},
		{"outside namespace", signedEnvelope(t, PayloadTypeInToto, payload, pypiKey), trust, ErrNamespace, "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1"},
		{"one subject outside", signedEnvelope(t, PayloadTypeInToto, mustMarshalStatement(t, testStatement(log4j, requests)), apacheKey), trust, ErrNamespace, "pkg:pypi/requests@2.32.3"},
		{"signed statement invalid", signedEnvelope(t, PayloadTypeInToto, []byte(`{"_type":"x"}`), apacheKey), trust, ErrMalformed, "_type"},
		{"signed payload not JSON", signedEnvelope(t, PayloadTypeInToto, []byte(`not json`), apacheKey), trust, ErrMalformed, "payload"},
		{"entry too large", signedEnvelope(t, PayloadTypeInToto, hugeStatement(t), apacheKey), trust, ErrMalformed, "over the 65535-byte limit"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Verify(tt.env, tt.trust)
			if err == nil {
				t.Fatalf("Verify succeeded: %+v", v)
			}
			if v != nil {
				t.Error("Verify returned a result with an error")
			}
			for _, s := range []error{ErrMalformed, ErrBadSignature, ErrUntrustedKey, ErrNamespace} {
				if got := errors.Is(err, s); got != (s == tt.sentinel) {
					t.Errorf("errors.Is(%q, %v) = %v", err, s, got)
				}
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}

	t.Run("NamespaceError", func(t *testing.T) {
		_, err := Verify(signedEnvelope(t, PayloadTypeInToto, payload, pypiKey), trust)
		var ne *NamespaceError
		if !errors.As(err, &ne) {
			t.Fatalf("error %v is not a *NamespaceError", err)
		}
		want := &NamespaceError{Subject: "pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1", KeyIDs: []string{pypiID}}
		if diff := cmp.Diff(want, ne); diff != "" {
			t.Errorf("NamespaceError mismatch (-want +got):\n%s", diff)
		}
	})
}

// hugeStatement returns a valid statement whose log entry would exceed
// MaxEntrySize.
func hugeStatement(t testing.TB) []byte {
	s := testStatement()
	for i := 0; i < MaxSubjects; i++ {
		name := fmt.Sprintf("pkg:maven/org.apache.%s/x@%d", strings.Repeat("a", 900), i)
		sub := subject(name)
		for j := 0; j < 8; j++ {
			sub.Digest[fmt.Sprintf("h%d", j)] = strings.Repeat("ab", 20)
		}
		s.Subject = append(s.Subject, sub)
	}
	return mustMarshalStatement(t, s)
}

func TestVerifyURLSafeBase64(t *testing.T) {
	key := testKey(1)
	trust, err := NewTrustedKeys([]TrustedKey{{PublicKey: pubOf(key), Namespaces: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	payload := mustMarshalStatement(t, testStatement(subject("pkg:pypi/requests@2.32.3")))
	env, err := Sign(PayloadTypeInToto, payload, key, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{
		"payloadType": env.PayloadType,
		"payload":     base64.URLEncoding.EncodeToString(env.Payload),
		"signatures":  []any{map[string]string{"keyid": env.Signatures[0].KeyID, "sig": base64.URLEncoding.EncodeToString(env.Signatures[0].Sig)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(b, trust); err != nil {
		t.Errorf("Verify of a URL-safe base64 envelope: %v", err)
	}
}
