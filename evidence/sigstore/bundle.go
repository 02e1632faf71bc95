package sigstore

import (
	"crypto/x509"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bundle media types Evident verifies, from the Sigstore bundle
// specification (github.com/sigstore/protobuf-specs, bundle/v1). v0.3 has
// two spellings; the second is what early clients wrote, and sigstore-go
// accepts it too.
const (
	MediaTypeBundleV01    = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	MediaTypeBundleV02    = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	MediaTypeBundleV03    = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MediaTypeBundleV03Alt = "application/vnd.dev.sigstore.bundle+json;version=0.3"
)

// PayloadTypeInToto is the DSSE payload type of an in-toto statement, the
// only payload Evident accepts in a bundle.
const PayloadTypeInToto = "application/vnd.in-toto+json"

// Limits on a bundle. Real bundles are a few kilobytes of verification
// material around the statement; the limits leave wide margins and keep a
// hostile bundle from making the parser allocate much more than its size.
const (
	// MaxBundleSize is the largest bundle accepted, in bytes.
	MaxBundleSize = 64 << 20
	// maxChainCerts bounds an x509CertificateChain (v0.1, v0.2): Fulcio
	// chains are leaf, intermediate, root.
	maxChainCerts = 10
	// maxTlogEntries bounds the transparency-log entries (public-good
	// bundles have one; sigstore-go's own limit is 32).
	maxTlogEntries = 8
	// maxTimestamps bounds the RFC 3161 timestamps.
	maxTimestamps = 8
	// maxJSONDepth and maxJSONArray bound the JSON shape before protojson
	// builds messages from it: no bundle field nests deeper than 7, and
	// the longest array is an inclusion proof's hashes, one per tree level.
	maxJSONDepth = 16
	maxJSONArray = 64
)

// Bundle is a parsed Sigstore bundle that has not been verified: nothing
// in it is trusted until [Verifier.Verify] checks it.
type Bundle struct {
	// MediaType is the bundle's media type, one of the MediaTypeBundle
	// constants.
	MediaType string
	// Version is the bundle version the media type names: "v0.1", "v0.2"
	// or "v0.3".
	Version string
	// PayloadType is the DSSE payload type, always [PayloadTypeInToto].
	PayloadType string
	// Payload is the DSSE payload, byte for byte: the in-toto statement.
	Payload []byte
	// Identity is what the signing certificate claims.
	Identity Identity

	sg   *entity
	leaf *x509.Certificate
}

// entity is a bundle as sigstore-go's verifier reads it. bundle.Bundle
// parses its log entries, certificate and envelope (base64-encoding the
// payload) again on every call, and the verifier calls each several times
// per bundle; entity keeps what one call returned.
type entity struct {
	*bundle.Bundle
	entries []*tlog.Entry
	vc      verify.VerificationContent
	sc      verify.SignatureContent
}

func (e *entity) TlogEntries() ([]*tlog.Entry, error)                      { return e.entries, nil }
func (e *entity) VerificationContent() (verify.VerificationContent, error) { return e.vc, nil }
func (e *entity) SignatureContent() (verify.SignatureContent, error)       { return e.sc, nil }

func newEntity(b *bundle.Bundle) (*entity, error) {
	e := &entity{Bundle: b}
	var err error
	if e.entries, err = b.TlogEntries(); err != nil {
		return nil, err
	}
	if e.vc, err = b.VerificationContent(); err != nil {
		return nil, err
	}
	if e.sc, err = b.SignatureContent(); err != nil {
		return nil, err
	}
	return e, nil
}

// Parse parses a Sigstore bundle (JSON, media type v0.1 to v0.3) whose
// content is a DSSE envelope carrying an in-toto statement, signed with a
// Fulcio certificate. It checks the form only; [Verifier.Verify] checks the
// signatures. Errors wrap [ErrMalformed] or [ErrUnsupported].
func Parse(data []byte) (b *Bundle, err error) {
	defer recoverPanic(&err, ErrMalformed)
	if len(data) > MaxBundleSize {
		return nil, malformed("bundle is %d bytes, over the limit of %d", len(data), MaxBundleSize)
	}
	if err := checkShape(data); err != nil {
		return nil, err
	}
	pb := new(protobundle.Bundle)
	if err := protojson.Unmarshal(data, pb); err != nil {
		return nil, malformed("couldn't parse the Sigstore bundle JSON: %s", short(err))
	}
	version, ok := bundleVersion(pb.GetMediaType())
	if !ok {
		return nil, unsupported("media type %s is not a Sigstore bundle v0.1, v0.2 or v0.3 (%s)",
			quote(pb.GetMediaType()), MediaTypeBundleV03)
	}

	env := pb.GetDsseEnvelope()
	switch pb.GetContent().(type) {
	case *protobundle.Bundle_MessageSignature:
		return nil, unsupported("a message-signature bundle signs an artifact digest, not an in-toto statement; " +
			"Evident logs attestations: sign an in-toto statement about the artifact " +
			"(with cosign attest-blob or actions/attest, for example) and submit that bundle")
	case *protobundle.Bundle_DsseEnvelope:
		if env == nil {
			return nil, malformed("dsseEnvelope is empty")
		}
	default:
		return nil, malformed("bundle has neither a dsseEnvelope nor a messageSignature")
	}
	if env.GetPayloadType() != PayloadTypeInToto {
		return nil, unsupported("DSSE payload type %s is not an in-toto statement (%s); Evident logs in-toto attestations",
			quote(env.GetPayloadType()), PayloadTypeInToto)
	}
	if len(env.GetPayload()) == 0 {
		return nil, malformed("dsseEnvelope.payload is empty")
	}
	// protobuf-specs bundle/v1, Bundle.dsse_envelope: "During verification
	// a client MUST reject an envelope if the number of signatures is not
	// equal to one." sigstore-go does; saying so here is clearer.
	if n := len(env.GetSignatures()); n != 1 {
		return nil, malformed("dsseEnvelope has %d signatures; a Sigstore bundle's envelope has exactly one", n)
	}

	vm := pb.GetVerificationMaterial()
	var leafDER []byte
	switch c := vm.GetContent().(type) {
	case *protobundle.VerificationMaterial_Certificate:
		leafDER = c.Certificate.GetRawBytes()
	case *protobundle.VerificationMaterial_X509CertificateChain:
		certs := c.X509CertificateChain.GetCertificates()
		if len(certs) > maxChainCerts {
			return nil, malformed("verificationMaterial.x509CertificateChain has %d certificates, over the limit of %d", len(certs), maxChainCerts)
		}
		if len(certs) > 0 {
			leafDER = certs[0].GetRawBytes()
		}
	case *protobundle.VerificationMaterial_PublicKey:
		return nil, unsupported("the bundle is signed with a public key (hint %s), not a Fulcio certificate: "+
			"submit its dsseEnvelope on its own, to be verified under a key the node trusts",
			quote(c.PublicKey.GetHint()))
	default:
		return nil, malformed("verificationMaterial has no certificate")
	}
	if len(leafDER) == 0 {
		return nil, malformed("verificationMaterial has no certificate")
	}
	if n := len(vm.GetTlogEntries()); n > maxTlogEntries {
		return nil, malformed("verificationMaterial has %d tlogEntries, over the limit of %d", n, maxTlogEntries)
	}
	if n := len(vm.GetTimestampVerificationData().GetRfc3161Timestamps()); n > maxTimestamps {
		return nil, malformed("verificationMaterial has %d RFC 3161 timestamps, over the limit of %d", n, maxTimestamps)
	}

	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, malformed("couldn't parse the signing certificate: %s", short(err))
	}
	sgb, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, malformed("invalid Sigstore bundle: %s", short(err))
	}
	sg, err := newEntity(sgb)
	if err != nil {
		return nil, malformed("invalid Sigstore bundle: %s", short(err))
	}
	// Fulcio marks an OtherName SAN critical, which crypto/x509 does not
	// handle; sigstore-go reads it and drops it before path validation, and
	// so does this copy, which diagnose validates.
	unhandled := leaf.UnhandledCriticalExtensions[:0:0]
	for _, oid := range leaf.UnhandledCriticalExtensions {
		if !oid.Equal(cryptoutils.SANOID) {
			unhandled = append(unhandled, oid)
		}
	}
	leaf.UnhandledCriticalExtensions = unhandled
	id, err := identityOf(leaf)
	if err != nil {
		return nil, err
	}
	return &Bundle{
		MediaType:   pb.GetMediaType(),
		Version:     version,
		PayloadType: env.GetPayloadType(),
		Payload:     env.GetPayload(),
		Identity:    id,
		sg:          sg,
		leaf:        leaf,
	}, nil
}

// bundleVersion maps the media types Evident accepts to their versions.
func bundleVersion(mediaType string) (string, bool) {
	switch mediaType {
	case MediaTypeBundleV01:
		return "v0.1", true
	case MediaTypeBundleV02:
		return "v0.2", true
	case MediaTypeBundleV03, MediaTypeBundleV03Alt:
		return "v0.3", true
	}
	return "", false
}

// checkShape walks the JSON structure of data without decoding it, and
// refuses nesting deeper than maxJSONDepth or an array of more than
// maxJSONArray elements. It does not validate the JSON (protojson does): it
// only keeps a small input from unfolding into millions of messages.
func checkShape(data []byte) error {
	var (
		isArray [maxJSONDepth + 1]bool
		count   [maxJSONDepth + 1]int
		depth   int
	)
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			if depth >= maxJSONDepth {
				return malformed("JSON nests deeper than %d levels", maxJSONDepth)
			}
			depth++
			isArray[depth] = data[i] == '['
			count[depth] = 1
		case ']', '}':
			if depth == 0 {
				return nil // unbalanced; protojson says where
			}
			depth--
		case ',':
			if isArray[depth] {
				count[depth]++
				if count[depth] > maxJSONArray {
					return malformed("a JSON array has more than %d elements", maxJSONArray)
				}
			}
		}
	}
	return nil
}

// short returns err's message cut to a length fit for another message:
// parsers quote their input, which may be huge.
func short(err error) string {
	const max = 300
	s := err.Error()
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// errPanic marks the refusal of an input that made a parser panic.
var errPanic = errors.New("panic")

// panicError is the refusal of an input that made a parser panic. It
// wraps kind and errPanic.
type panicError struct {
	kind  error
	value any
}

func (e *panicError) Error() string {
	return fmt.Sprintf("sigstore: the bundle could not be checked: a parser failed on it (%v)", e.value)
}

func (e *panicError) Unwrap() []error { return []error{e.kind, errPanic} }

// recoverPanic turns a panic in sigstore-go or its dependencies (rekor's
// entry types, go-openapi, the CT x509 parser), all of which parse hostile
// bytes here, into a refusal wrapping kind: one bad bundle must not stop
// the node. Fuzz tests fail on errPanic, so a panic is still found.
func recoverPanic(err *error, kind error) {
	if r := recover(); r != nil {
		*err = &panicError{kind: kind, value: r}
	}
}
