package sigstore

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
)

var testRule = Rule{Name: "demo", Issuer: testIssuer, SAN: testIdentity}

func TestVerifyTestCA(t *testing.T) {
	ti := newTestInstance(t, false)
	other := newTestInstance(t, false)
	withCT := newTestInstance(t, true)
	// An instance like GitHub's: a timestamp authority and no logs.
	tsaOnly := &testInstance{vs: ti.vs, root: withoutMember(t, ti.root, "tlogs")}
	noTlog := func(b *protobundle.Bundle) { b.VerificationMaterial.TlogEntries = nil }
	now := time.Now()
	in5 := now.Add(5 * time.Minute)

	tests := []struct {
		name     string
		instance *testInstance // whose root the verifier trusts; default ti
		bundle   []byte
		rules    []Rule
		want     error    // nil: accepted
		contains []string // in the error
	}{
		{
			name:   "valid",
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, in5, nil),
			rules:  []Rule{testRule},
		},
		{
			name:   "valid under a SAN regexp, second rule",
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, in5, nil),
			rules: []Rule{
				{Issuer: "https://other.example", SANRegexp: ".*"},
				{Issuer: testIssuer, SANRegexp: `[a-z]+@example\.com`},
			},
		},
		{
			name:     "wrong identity",
			bundle:   ti.sign(t, testIssuer, "intruder@example.net", testStatement, in5, nil),
			rules:    []Rule{testRule},
			want:     ErrIdentity,
			contains: []string{`"intruder@example.net"`, testIssuer},
		},
		{
			name:     "wrong issuer",
			bundle:   ti.sign(t, "https://other.example", testIdentity, testStatement, in5, nil),
			rules:    []Rule{testRule},
			want:     ErrIdentity,
			contains: []string{`"https://other.example"`},
		},
		{
			name:     "SAN regexp is anchored",
			bundle:   ti.sign(t, testIssuer, "evil-"+testIdentity+".net", testStatement, in5, nil),
			rules:    []Rule{{Issuer: testIssuer, SANRegexp: `builder@example\.com`}},
			want:     ErrIdentity,
			contains: []string{"evil-builder@example.com.net"},
		},
		{
			name: "tampered payload",
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, in5, func(b *protobundle.Bundle) {
				p := b.GetDsseEnvelope().Payload
				p[bytes.IndexByte(p, '&')] = '+'
			}),
			rules:    []Rule{testRule},
			want:     ErrTampered,
			contains: []string{"transparency-log entry 0 (log index 0) records a different payload"},
		},
		{
			name: "tampered signature",
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, in5, func(b *protobundle.Bundle) {
				s := b.GetDsseEnvelope().Signatures[0].Sig
				s[len(s)-1] ^= 1
			}),
			rules:    []Rule{testRule},
			want:     ErrTampered,
			contains: []string{"records a different signature"},
		},
		{
			name:     "timestamp authority only",
			instance: tsaOnly,
			bundle:   ti.sign(t, testIssuer, testIdentity, testStatement, in5, noTlog),
			rules:    []Rule{testRule},
		},
		{
			name:     "timestamp authority only, tampered payload",
			instance: tsaOnly,
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, in5, func(b *protobundle.Bundle) {
				noTlog(b)
				p := b.GetDsseEnvelope().Payload
				p[bytes.IndexByte(p, '&')] = '+'
			}),
			rules:    []Rule{testRule},
			want:     ErrTampered,
			contains: []string{"DSSE signature does not verify"},
		},
		{
			name:     "timestamp authority only, no timestamp",
			instance: tsaOnly,
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, in5, func(b *protobundle.Bundle) {
				noTlog(b)
				b.VerificationMaterial.TimestampVerificationData = nil
			}),
			rules:    []Rule{testRule},
			want:     ErrTransparency,
			contains: []string{"no verified time of signing"},
		},
		{
			name:     "expired certificate",
			bundle:   ti.sign(t, testIssuer, testIdentity, testStatement, now.Add(20*time.Minute), nil),
			rules:    []Rule{testRule},
			want:     ErrCertificateTime,
			contains: []string{"outside the certificate's validity"},
		},
		{
			name:   "certificate not yet valid",
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, now.Add(-20*time.Minute), nil),
			rules:  []Rule{testRule},
			want:   ErrCertificateTime,
		},
		{
			name:     "unknown root",
			instance: other,
			bundle:   ti.sign(t, testIssuer, testIdentity, testStatement, in5, nil),
			rules:    []Rule{testRule},
			want:     ErrUntrustedRoot,
			contains: []string{"does not chain to a certificate authority of the trusted root"},
		},
		{
			name: "log entry changed",
			bundle: ti.sign(t, testIssuer, testIdentity, testStatement, in5, func(b *protobundle.Bundle) {
				b.VerificationMaterial.TlogEntries[0].IntegratedTime++
			}),
			rules:    []Rule{testRule},
			want:     ErrTransparency,
			contains: []string{"signed entry timestamp"},
		},
		{
			name:     "no log entry",
			bundle:   ti.sign(t, testIssuer, testIdentity, testStatement, in5, noTlog),
			rules:    []Rule{testRule},
			want:     ErrTransparency,
			contains: []string{"no transparency-log entry"},
		},
		{
			name:     "root requires an SCT",
			instance: withCT,
			bundle:   withCT.sign(t, testIssuer, testIdentity, testStatement, in5, nil),
			rules:    []Rule{testRule},
			want:     ErrTransparency,
			contains: []string{"SCT"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := tt.instance
			if inst == nil {
				inst = ti
			}
			v, err := NewVerifier(inst.root, tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(tt.bundle)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !bytes.Equal(res.Payload, testStatement) {
					t.Errorf("Payload = %q, want the signed statement byte for byte", res.Payload)
				}
				if res.Identity.Issuer != testIssuer || res.Identity.SAN != testIdentity {
					t.Errorf("Identity = %+v", res.Identity)
				}
				if want := len(tt.rules) - 1; !cmp.Equal(res.Rules, []int{want}) {
					t.Errorf("Rules = %v, want [%d]", res.Rules, want)
				}
				if res.SignerID != res.Identity.SignerID() || res.PayloadType != PayloadTypeInToto ||
					res.MediaType != MediaTypeBundleV03 || res.Version != "v0.3" {
					t.Errorf("Result = %+v", res)
				}
				// The earliest verified time is the RFC 3161 timestamp,
				// made when signing, before the log entry.
				if res.SignedAt.Before(now.Add(-time.Minute)) || res.SignedAt.After(now.Add(time.Minute)) {
					t.Errorf("SignedAt = %v, want about %v", res.SignedAt, now)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the bundle; want %v", tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: %v; want %v", err, tt.want)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify: %T, want *VerifyError", err)
			}
			if ve.Identity.SAN == "" {
				t.Errorf("VerifyError.Identity is empty")
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// TestVerifyLegacyP384 checks bundles whose signers used a P-384 key over a
// SHA-256 digest, as old clients did: sigstore-go accepts them, and a
// refusal for another reason is not taken for tampering.
func TestVerifyLegacyP384(t *testing.T) {
	//lint:ignore SA1019 the legacy algorithm is what this tests
	ti := newTestInstanceSigning(t, false, protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_256)
	v := mustVerifier(t, ti.root, []Rule{testRule})
	in5 := time.Now().Add(5 * time.Minute)
	if _, err := v.Verify(ti.sign(t, testIssuer, testIdentity, testStatement, in5, nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	badProof := ti.sign(t, testIssuer, testIdentity, testStatement, in5, func(b *protobundle.Bundle) {
		b.VerificationMaterial.TlogEntries[0].InclusionProof.RootHash[0] ^= 1
	})
	_, err := v.Verify(badProof)
	if !errors.Is(err, ErrTransparency) || !strings.Contains(err.Error(), "transparency-log entry does not verify") {
		t.Fatalf("Verify: %v; want ErrTransparency, the entry does not verify", err)
	}
}

// TestVerifySCTNotRequired checks the other side of "root requires an SCT":
// a root without CT logs does not ask for one, and the SCT check is what
// refused the bundle.
func TestVerifyRootWithoutCTLog(t *testing.T) {
	withCT := newTestInstance(t, true)
	b := withCT.sign(t, testIssuer, testIdentity, testStatement, time.Now().Add(5*time.Minute), nil)
	v, err := NewVerifier(withCT.root, []Rule{testRule})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(b); !errors.Is(err, ErrTransparency) {
		t.Fatalf("with a CT log in the root: %v, want ErrTransparency", err)
	}
	noCT := withoutMember(t, withCT.root, "ctlogs")
	v, err = NewVerifier(noCT, []Rule{testRule})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(b); err != nil {
		t.Fatalf("without a CT log in the root: %v", err)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	ti := newTestInstance(t, false)
	tests := []struct {
		name     string
		root     []byte
		rules    []Rule
		contains string
	}{
		{"not JSON", []byte("{"), nil, "couldn't parse the trusted root"},
		{"wrong media type", []byte(`{"mediaType":"application/json"}`), nil, "media type"},
		{"no CA", []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), nil, "no certificate authority"},
		{"too big", make([]byte, maxTrustedRootSize+1), nil, "over the limit"},
		{"rule without issuer", ti.root, []Rule{{SAN: "a"}}, "rule 0: no issuer"},
		{"rule without SAN", ti.root, []Rule{{Name: "n", Issuer: "i"}}, `rule 0 ("n"): no SAN`},
		{"rule with both", ti.root, []Rule{{Issuer: "i", SAN: "a", SANRegexp: "a"}}, "both"},
		{"rule with bad regexp", ti.root, []Rule{testRule, {Issuer: "i", SANRegexp: "("}}, "rule 1: couldn't compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.root, tt.rules)
			if err == nil || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("NewVerifier: %v; want an error containing %q", err, tt.contains)
			}
		})
	}
}

func TestSignerID(t *testing.T) {
	tests := []struct {
		id   Identity
		want string
	}{
		{Identity{Issuer: "https://token.actions.githubusercontent.com", SAN: "https://github.com/o/r/.github/workflows/x.yml@refs/tags/v1"},
			"sigstore:https%3A%2F%2Ftoken.actions.githubusercontent.com:https%3A%2F%2Fgithub.com%2Fo%2Fr%2F.github%2Fworkflows%2Fx.yml%40refs%2Ftags%2Fv1"},
		{Identity{Issuer: "https://accounts.google.com", SAN: "a.b-c_d~e@example.com"},
			"sigstore:https%3A%2F%2Faccounts.google.com:a.b-c_d~e%40example.com"},
		{Identity{Issuer: "i", SAN: "a b:c%d\x00é"}, "sigstore:i:a%20b%3Ac%25d%00%C3%A9"},
	}
	for _, tt := range tests {
		got := tt.id.SignerID()
		if got != tt.want {
			t.Errorf("SignerID(%+v) = %q, want %q", tt.id, got, tt.want)
		}
		if strings.Count(got, ":") != 2 {
			t.Errorf("SignerID %q has %d colons, want 2", got, strings.Count(got, ":"))
		}
		for _, c := range []byte(got) {
			if c <= ' ' || c > '~' {
				t.Errorf("SignerID %q has byte %#x", got, c)
			}
		}
	}
}

// TestVerifyConcurrent shares one Verifier between goroutines (run it with
// -race).
func TestVerifyConcurrent(t *testing.T) {
	ti := newTestInstance(t, false)
	v := mustVerifier(t, ti.root, []Rule{testRule})
	in5 := time.Now().Add(5 * time.Minute)
	good := ti.sign(t, testIssuer, testIdentity, testStatement, in5, nil)
	bad := ti.sign(t, testIssuer, "intruder@example.net", testStatement, in5, nil)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			var err error
			for range 5 {
				if _, e := v.Verify(good); e != nil {
					err = e
				}
				if _, e := v.Verify(bad); !errors.Is(e, ErrIdentity) {
					err = fmt.Errorf("goroutine %d: %v, want ErrIdentity", i, e)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
