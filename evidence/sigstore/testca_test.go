package sigstore

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Bundles made with sigstore-go's test CA (pkg/testing/ca): a Sigstore
// instance in memory with a Fulcio CA, a Rekor log, a CT log and a
// timestamp authority, all with fresh keys.

const (
	testIssuer   = "https://issuer.example"
	testIdentity = "builder@example.com"
)

// testStatement is an in-toto statement with characters a re-encoding
// would change, so tests can tell exact bytes from a round trip.
var testStatement = []byte(`{"_type":"https://in-toto.io/Statement/v1",` +
	`"subject":[{"name":"pkg:generic/demo@1.0","digest":{"sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}}],` +
	`"predicateType":"https://example.com/predicate/v1","predicate":{"note":"a & b <c>"}}`)

// testInstance is a Sigstore instance made by the test CA, with its
// trusted_root.json.
type testInstance struct {
	vs   *ca.VirtualSigstore
	root []byte
}

// newTestInstance makes an instance. Its trusted root lists the CT log only
// if withCTLog: the test CA's certificates carry no SCT, so a root that
// lists a CT log refuses them.
func newTestInstance(t testing.TB, withCTLog bool) *testInstance {
	t.Helper()
	return newTestInstanceSigning(t, withCTLog, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256)
}

// newTestInstanceSigning makes an instance whose signers sign with the
// given algorithm.
func newTestInstanceSigning(t testing.TB, withCTLog bool, alg protocommon.PublicKeyDetails) *testInstance {
	t.Helper()
	vs, err := ca.NewVirtualSigstoreWithSigningAlg(alg)
	if err != nil {
		t.Fatal(err)
	}
	// The test CA keys its logs by the hex of their log ids but stores
	// that hex as the id; a trusted_root.json holds the raw id.
	rawIDs := func(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		out := make(map[string]*root.TransparencyLog)
		for k, l := range logs {
			c := *l
			if c.ID, err = hex.DecodeString(k); err != nil {
				t.Fatal(err)
			}
			out[k] = &c
		}
		return out
	}
	var ctlogs map[string]*root.TransparencyLog
	if withCTLog {
		ctlogs = rawIDs(vs.CTLogs())
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		vs.FulcioCertificateAuthorities(), ctlogs, vs.TimestampingAuthorities(), rawIDs(vs.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	rootJSON, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return &testInstance{vs: vs, root: rootJSON}
}

// sign returns a bundle v0.3 of payload, signed by identity (an email SAN)
// from issuer, with a log entry integrated at loggedAt and an RFC 3161
// timestamp of now. The certificate is valid from now for 10 minutes.
// edit, if not nil, changes the bundle before it is encoded.
func (ti *testInstance) sign(t testing.TB, issuer, identity string, payload []byte, loggedAt time.Time, edit func(*protobundle.Bundle)) []byte {
	t.Helper()
	e, err := ti.vs.AttestAtTime(identity, issuer, payload, loggedAt, true)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	env := sc.EnvelopeContent().RawEnvelope()
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []*protodsse.Signature
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	entries, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	var tles []*protorekor.TransparencyLogEntry
	for _, entry := range entries {
		tles = append(tles, ti.protoEntry(t, entry))
	}
	stamps, err := e.Timestamps()
	if err != nil {
		t.Fatal(err)
	}
	var tsd []*protocommon.RFC3161SignedTimestamp
	for _, s := range stamps {
		tsd = append(tsd, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: s})
	}
	pb := &protobundle.Bundle{
		MediaType: MediaTypeBundleV03,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_Certificate{
				Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw},
			},
			TlogEntries:               tles,
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: tsd},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     body,
			PayloadType: env.PayloadType,
			Signatures:  sigs,
		}},
	}
	if edit != nil {
		edit(pb)
	}
	out, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// protoEntry returns entry as a bundle holds it, with the inclusion promise
// (signed entry timestamp) the test CA keeps to itself signed again.
func (ti *testInstance) protoEntry(t testing.TB, entry *tlog.Entry) *protorekor.TransparencyLogEntry {
	t.Helper()
	tle := proto.Clone(entry.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	set, err := ti.vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle
}

// withoutMember returns a trusted root without one of its members, such
// as "ctlogs" or "tlogs".
func withoutMember(t testing.TB, rootJSON []byte, name string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rootJSON, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m[name]; !ok {
		t.Fatalf("the trusted root has no %s", name)
	}
	delete(m, name)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
