package sigstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/proto"
)

func TestParse(t *testing.T) {
	ti := newTestInstance(t, false)
	b, err := Parse(ti.sign(t, testIssuer, testIdentity, testStatement, time.Now().Add(5*time.Minute), nil))
	if err != nil {
		t.Fatal(err)
	}
	if b.MediaType != MediaTypeBundleV03 || b.Version != "v0.3" || b.PayloadType != PayloadTypeInToto ||
		!bytes.Equal(b.Payload, testStatement) || b.Identity.SAN != testIdentity || b.Identity.Issuer != testIssuer {
		t.Errorf("Parse = %+v", b)
	}
	for _, mt := range []string{MediaTypeBundleV01, MediaTypeBundleV02, MediaTypeBundleV03Alt} {
		if _, ok := bundleVersion(mt); !ok {
			t.Errorf("media type %q not accepted", mt)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	ti := newTestInstance(t, false)
	in5 := time.Now().Add(5 * time.Minute)
	edited := func(edit func(*protobundle.Bundle)) []byte {
		return ti.sign(t, testIssuer, testIdentity, testStatement, in5, edit)
	}
	tests := []struct {
		name     string
		bundle   []byte
		want     error
		contains string
	}{
		{"not JSON", []byte(`{"mediaType":`), ErrMalformed, "couldn't parse the Sigstore bundle JSON"},
		{"unknown field", []byte(`{"mediaType":"x","colour":1}`), ErrMalformed, "colour"},
		{"too big", make([]byte, MaxBundleSize+1), ErrMalformed, "over the limit"},
		{"deep", []byte(strings.Repeat("[", maxJSONDepth+1)), ErrMalformed, "deeper than 16"},
		{"long array", []byte(`{"verificationMaterial":{"tlogEntries":[` + strings.Repeat("{},", maxJSONArray) + `{}]}}`), ErrMalformed, "more than 64 elements"},
		{"long array in a string is fine", []byte(`{"mediaType":"` + strings.Repeat("[1,", 100) + `"}`), ErrUnsupported, "is not a Sigstore bundle v0.1"},
		{"v0.4", edited(func(b *protobundle.Bundle) { b.MediaType = "application/vnd.dev.sigstore.bundle.v0.4+json" }), ErrUnsupported, "v0.4"},
		{"message signature", edited(func(b *protobundle.Bundle) {
			b.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{Signature: []byte{1}}}
		}), ErrUnsupported, "a message-signature bundle signs an artifact digest, not an in-toto statement; Evident logs attestations"},
		{"no content", edited(func(b *protobundle.Bundle) { b.Content = nil }), ErrMalformed, "neither a dsseEnvelope nor a messageSignature"},
		{"other payload type", edited(func(b *protobundle.Bundle) { b.GetDsseEnvelope().PayloadType = "application/json" }), ErrUnsupported, `"application/json" is not an in-toto statement`},
		{"empty payload", edited(func(b *protobundle.Bundle) { b.GetDsseEnvelope().Payload = nil }), ErrMalformed, "payload is empty"},
		{"two signatures", edited(func(b *protobundle.Bundle) {
			e := b.GetDsseEnvelope()
			e.Signatures = append(e.Signatures, proto.Clone(e.Signatures[0]).(*protodsse.Signature))
		}), ErrMalformed, "has 2 signatures"},
		{"no signature", edited(func(b *protobundle.Bundle) { b.GetDsseEnvelope().Signatures = nil }), ErrMalformed, "has 0 signatures"},
		{"public key", edited(func(b *protobundle.Bundle) {
			b.VerificationMaterial.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "k1"}}
		}), ErrUnsupported, `public key (hint "k1")`},
		{"no verification material", edited(func(b *protobundle.Bundle) { b.VerificationMaterial = nil }), ErrMalformed, "no certificate"},
		{"empty certificate", edited(func(b *protobundle.Bundle) {
			b.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{}}
		}), ErrMalformed, "no certificate"},
		{"long chain", edited(func(b *protobundle.Bundle) {
			b.MediaType = MediaTypeBundleV02
			c := b.VerificationMaterial.GetCertificate()
			var certs []*protocommon.X509Certificate
			for range maxChainCerts + 1 {
				certs = append(certs, c)
			}
			b.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{
				X509CertificateChain: &protocommon.X509CertificateChain{Certificates: certs}}
		}), ErrMalformed, "11 certificates"},
		{"chain in v0.3", edited(func(b *protobundle.Bundle) {
			c := b.VerificationMaterial.GetCertificate()
			b.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{
				X509CertificateChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{c}}}
		}), ErrMalformed, "cannot be X.509 certificate chain"},
		{"bad certificate", edited(func(b *protobundle.Bundle) { b.VerificationMaterial.GetCertificate().RawBytes = []byte{0x30, 0} }), ErrMalformed, "couldn't parse the signing certificate"},
		{"too many log entries", edited(func(b *protobundle.Bundle) {
			e := b.VerificationMaterial.TlogEntries[0]
			for range maxTlogEntries {
				b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, proto.Clone(e).(*protorekor.TransparencyLogEntry))
			}
		}), ErrMalformed, "9 tlogEntries"},
		{"too many timestamps", edited(func(b *protobundle.Bundle) {
			d := b.VerificationMaterial.TimestampVerificationData
			for range maxTimestamps {
				d.Rfc3161Timestamps = append(d.Rfc3161Timestamps, d.Rfc3161Timestamps[0])
			}
		}), ErrMalformed, "9 RFC 3161 timestamps"},
		{"log entry without proof in v0.3", edited(func(b *protobundle.Bundle) { b.VerificationMaterial.TlogEntries[0].InclusionProof = nil }), ErrMalformed, "inclusion proof missing"},
		{"certificate without issuer", ti.sign(t, "", testIdentity, testStatement, in5, nil), ErrMalformed, "no OIDC issuer"},
		{"identity too long", ti.sign(t, testIssuer, strings.Repeat("a", 1000)+"@example.com", testStatement, in5, nil), ErrMalformed, "signer id would be 1052 bytes"},
		{"log entry with a bad body", edited(func(b *protobundle.Bundle) { b.VerificationMaterial.TlogEntries[0].CanonicalizedBody = []byte("{}") }), ErrMalformed, "invalid Sigstore bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.bundle)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("Parse: %v; want %v containing %q", err, tt.want, tt.contains)
			}
			// Verify refuses it the same way.
			v, verr := NewVerifier(ti.root, []Rule{testRule})
			if verr != nil {
				t.Fatal(verr)
			}
			if _, verr := v.Verify(tt.bundle); verr == nil || verr.Error() != err.Error() {
				t.Errorf("Verify: %v; want Parse's error", verr)
			}
		})
	}
}
