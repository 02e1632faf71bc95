package sigstore

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Format is the kind of file [Unwrap] found bundles in.
type Format int

const (
	// FormatBundle is one Sigstore bundle (.sigstore, .sigstore.json); the
	// bundle is the whole file.
	FormatBundle Format = iota + 1
	// FormatBundleLines is JSON lines (.jsonl, .intoto.jsonl, the output of
	// `gh attestation download`), each line a Sigstore bundle or an object
	// with the bundle as its "bundle" member.
	FormatBundleLines
	// FormatAttestations is an attestations API response from the npm
	// registry or GitHub: {"attestations":[{"bundle":{...},...},...]}.
	FormatAttestations
	// FormatPEP740 is one PEP 740 attestation object, as PyPI serves and
	// pypi-attestations writes (.attestation, .publish.attestation).
	FormatPEP740
	// FormatPyPIProvenance is a PyPI provenance object (PEP 740): attestation
	// bundles of publishers, each with PEP 740 attestation objects. The
	// publishers are PyPI's word and are not returned; each certificate
	// names its signer.
	FormatPyPIProvenance
)

func (f Format) String() string {
	switch f {
	case FormatBundle:
		return "Sigstore bundle"
	case FormatBundleLines:
		return "JSON lines of Sigstore bundles"
	case FormatAttestations:
		return "attestations API response (npm, GitHub)"
	case FormatPEP740:
		return "PEP 740 attestation object"
	case FormatPyPIProvenance:
		return "PyPI provenance object (PEP 740)"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Converted reports whether Unwrap builds the bundles of this format,
// rather than cutting them out of the file byte for byte.
func (f Format) Converted() bool {
	return f == FormatPEP740 || f == FormatPyPIProvenance
}

// MaxUnwrapped is the most bundles Unwrap returns from one file.
const MaxUnwrapped = 256

// ErrNotContainer means Unwrap found no Sigstore bundle and no known
// container of bundles. It wraps [ErrMalformed].
var ErrNotContainer = fmt.Errorf("%w: not a Sigstore bundle or a container of bundles", ErrMalformed)

// Unwrap returns the Sigstore bundles in a file, and what the file was.
// It checks the containers' form, not the bundles': [Parse] and
// [Verifier.Verify] do that.
//
// Bundles are returned byte for byte as the file holds them: a single
// bundle is the whole file; a JSON line, or a "bundle" member of a line or
// of an attestations response, is the exact span of that JSON value. Only
// PEP 740 attestation objects are converted (see [Format.Converted]),
// because they are not bundles: each becomes a bundle v0.3 with the
// object's certificate, its first transparency-log entry and a DSSE
// envelope of its statement and signature, payload type
// application/vnd.in-toto+json, as pypi-attestations' Attestation.to_bundle
// builds it. The conversion is deterministic: the same object always gives
// the same bytes (compact JSON, members in the order the bundle protobuf
// declares them, the log entry's JSON kept but compacted).
func Unwrap(data []byte) (Format, [][]byte, error) {
	if len(data) > MaxBundleSize {
		return 0, nil, malformed("file is %d bytes, over the limit of %d", len(data), MaxBundleSize)
	}
	doc := bytes.TrimSpace(data)
	if len(doc) == 0 {
		return 0, nil, fmt.Errorf("%w: the file is empty", ErrNotContainer)
	}
	if isOneValue(doc) {
		members, err := objectMembers(doc)
		if err != nil {
			return 0, nil, err
		}
		switch {
		case isBundle(members):
			return FormatBundle, [][]byte{data}, nil
		case has(members, "attestation_bundles"):
			out, err := unwrapProvenance(members)
			return FormatPyPIProvenance, out, err
		case has(members, "verification_material") || has(members, "envelope"):
			b, err := convertPEP740(members)
			if err != nil {
				return 0, nil, err
			}
			return FormatPEP740, [][]byte{b}, nil
		case has(members, "attestations"):
			out, err := unwrapAttestations(members["attestations"])
			return FormatAttestations, out, err
		case has(members, "bundle"):
			// One line of `gh attestation download`.
			b, err := bundleMember(members, "the file")
			if err != nil {
				return 0, nil, err
			}
			return FormatBundleLines, [][]byte{b}, nil
		}
		return 0, nil, fmt.Errorf("%w: a JSON object with none of mediaType (a bundle), bundle, attestations, "+
			"verification_material (PEP 740) or attestation_bundles (PyPI provenance)", ErrNotContainer)
	}

	var out [][]byte
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		where := fmt.Sprintf("line %d", n+1)
		if !isOneValue(line) {
			return 0, nil, fmt.Errorf("%w: %s is not one JSON value: the file is neither one JSON document nor JSON lines", ErrNotContainer, where)
		}
		members, err := objectMembers(line)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", where, err)
		}
		var b []byte
		switch {
		case isBundle(members):
			b = line
		case has(members, "bundle"):
			if b, err = bundleMember(members, where); err != nil {
				return 0, nil, err
			}
		default:
			return 0, nil, fmt.Errorf("%w: %s is neither a Sigstore bundle nor an object with a bundle member", ErrNotContainer, where)
		}
		if len(out) == MaxUnwrapped {
			return 0, nil, malformed("more than %d bundles in one file", MaxUnwrapped)
		}
		out = append(out, b)
	}
	return FormatBundleLines, out, nil
}

// isOneValue reports whether data (trimmed of white space) is exactly one
// JSON value.
func isOneValue(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// objectMembers returns the members of the JSON object in data, each value
// its exact bytes. Names are matched exactly (encoding/json would match
// "Bundle" for "bundle"), and a name given twice is refused, so that no
// two readers of the file can see different bundles in it.
func objectMembers(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return nil, malformed("couldn't parse JSON: %s", short(err))
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: a JSON %s, not an object", ErrNotContainer, jsonKind(t))
	}
	members := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, malformed("couldn't parse JSON: %s", short(err))
		}
		name, ok := t.(string)
		if !ok {
			return nil, malformed("couldn't parse JSON: object member name is not a string")
		}
		if _, dup := members[name]; dup {
			return nil, malformed("JSON object has member %s twice", quote(name))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, malformed("couldn't parse JSON: %s", short(err))
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed("couldn't parse JSON: %s", short(err))
	}
	return members, nil
}

// arrayElements returns the elements of the JSON array in data, each its
// exact bytes, refusing more than max; what names the array in errors.
func arrayElements(data json.RawMessage, max int, what string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return nil, malformed("%s: couldn't parse JSON: %s", what, short(err))
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return nil, malformed("%s is a JSON %s, not an array", what, jsonKind(t))
	}
	var out []json.RawMessage
	for dec.More() {
		if len(out) == max {
			return nil, malformed("%s has more than %d elements", what, max)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, malformed("%s: couldn't parse JSON: %s", what, short(err))
		}
		out = append(out, v)
	}
	return out, nil
}

func jsonKind(t json.Token) string {
	switch t := t.(type) {
	case json.Delim:
		if t == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "number"
}

func has(members map[string]json.RawMessage, name string) bool {
	_, ok := members[name]
	return ok
}

// isBundle reports whether an object is a Sigstore bundle: its mediaType
// names one, of any version (Parse refuses versions it doesn't verify,
// saying so).
func isBundle(members map[string]json.RawMessage) bool {
	var mt string
	return json.Unmarshal(members["mediaType"], &mt) == nil &&
		strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle")
}

// bundleMember returns the exact bytes of members["bundle"], which must be
// a JSON object.
func bundleMember(members map[string]json.RawMessage, where string) ([]byte, error) {
	b := members["bundle"]
	if len(b) == 0 || b[0] != '{' {
		return nil, malformed("%s: bundle is not a JSON object", where)
	}
	return b, nil
}

// unwrapAttestations returns the bundles of an attestations API response.
// npm: https://docs.npmjs.com/generating-provenance-statements (the
// registry's /-/npm/v1/attestations/NAME@VERSION); GitHub: the REST API's
// "List attestations".
func unwrapAttestations(list json.RawMessage) ([][]byte, error) {
	items, err := arrayElements(list, MaxUnwrapped, "attestations")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, malformed("attestations is empty: no bundle to submit")
	}
	out := make([][]byte, 0, len(items))
	for i, item := range items {
		where := fmt.Sprintf("attestations[%d]", i)
		members, err := objectMembers(item)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		b, err := bundleMember(members, where)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// unwrapProvenance converts the attestations of a PyPI provenance object
// (PEP 740: {"version":1,"attestation_bundles":[{"publisher":{...},
// "attestations":[...]}]}).
func unwrapProvenance(members map[string]json.RawMessage) ([][]byte, error) {
	if err := wantVersion1(members, "provenance"); err != nil {
		return nil, err
	}
	groups, err := arrayElements(members["attestation_bundles"], MaxUnwrapped, "attestation_bundles")
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for i, g := range groups {
		where := fmt.Sprintf("attestation_bundles[%d]", i)
		gm, err := objectMembers(g)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if !has(gm, "attestations") {
			return nil, malformed("%s has no attestations", where)
		}
		atts, err := arrayElements(gm["attestations"], MaxUnwrapped, where+".attestations")
		if err != nil {
			return nil, err
		}
		for j, a := range atts {
			if len(out) == MaxUnwrapped {
				return nil, malformed("more than %d attestations in one provenance object", MaxUnwrapped)
			}
			am, err := objectMembers(a)
			if err != nil {
				return nil, fmt.Errorf("%s.attestations[%d]: %w", where, j, err)
			}
			b, err := convertPEP740(am)
			if err != nil {
				return nil, fmt.Errorf("%s.attestations[%d]: %w", where, j, err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, malformed("the provenance object has no attestations")
	}
	return out, nil
}

func wantVersion1(members map[string]json.RawMessage, what string) error {
	var v int
	if err := json.Unmarshal(members["version"], &v); err != nil || v != 1 {
		return malformed("%s version is %s; PEP 740 defines version 1", what, quote(string(members["version"])))
	}
	return nil
}

// convertPEP740 builds a Sigstore bundle v0.3 from a PEP 740 attestation
// object:
//
//	{"version": 1,
//	 "verification_material": {"certificate": B64(DER),
//	                           "transparency_entries": [TransparencyLogEntry, ...]},
//	 "envelope": {"statement": B64(statement), "signature": B64(signature)}}
//
// The transparency entries are Rekor TransparencyLogEntry messages in
// protobuf JSON, the form a bundle's tlogEntries hold. Like
// pypi-attestations, it takes the first entry and requires it to have an
// inclusion proof with a checkpoint.
func convertPEP740(members map[string]json.RawMessage) ([]byte, error) {
	if err := wantVersion1(members, "PEP 740 attestation"); err != nil {
		return nil, err
	}
	vm, err := nestedObject(members, "verification_material")
	if err != nil {
		return nil, err
	}
	env, err := nestedObject(members, "envelope")
	if err != nil {
		return nil, err
	}
	cert, err := base64Member(vm, "verification_material.certificate")
	if err != nil {
		return nil, err
	}
	if _, err := x509.ParseCertificate(cert); err != nil {
		return nil, malformed("verification_material.certificate is not an X.509 certificate: %s", short(err))
	}
	entries, err := arrayElements(vm["transparency_entries"], maxTlogEntries, "verification_material.transparency_entries")
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, malformed("verification_material.transparency_entries is empty; PEP 740 requires at least one")
	}
	if err := checkShape(entries[0]); err != nil {
		return nil, err
	}
	var tle protorekor.TransparencyLogEntry
	if err := protojson.Unmarshal(entries[0], &tle); err != nil {
		return nil, malformed("verification_material.transparency_entries[0] is not a transparency-log entry: %s", short(err))
	}
	if tle.GetInclusionProof().GetCheckpoint().GetEnvelope() == "" {
		return nil, malformed("verification_material.transparency_entries[0] has no inclusion proof with a checkpoint")
	}
	statement, err := base64Member(env, "envelope.statement")
	if err != nil {
		return nil, err
	}
	sig, err := base64Member(env, "envelope.signature")
	if err != nil {
		return nil, err
	}

	// The members in the order the bundle protobuf declares them, so the
	// bundle reads like one a Sigstore client writes. []byte fields encode
	// as standard base64, as protobuf JSON does.
	type sigJSON struct {
		Sig []byte `json:"sig"`
	}
	b := struct {
		MediaType            string `json:"mediaType"`
		VerificationMaterial struct {
			Certificate struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificate"`
			TlogEntries []json.RawMessage `json:"tlogEntries"`
		} `json:"verificationMaterial"`
		DSSEEnvelope struct {
			Payload     []byte    `json:"payload"`
			PayloadType string    `json:"payloadType"`
			Signatures  []sigJSON `json:"signatures"`
		} `json:"dsseEnvelope"`
	}{MediaType: MediaTypeBundleV03}
	b.VerificationMaterial.Certificate.RawBytes = cert
	b.VerificationMaterial.TlogEntries = entries[:1]
	b.DSSEEnvelope.Payload = statement
	b.DSSEEnvelope.PayloadType = PayloadTypeInToto
	b.DSSEEnvelope.Signatures = []sigJSON{{Sig: sig}}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&b); err != nil {
		return nil, malformed("couldn't encode the bundle: %s", short(err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func nestedObject(members map[string]json.RawMessage, name string) (map[string]json.RawMessage, error) {
	raw, ok := members[name]
	if !ok {
		return nil, malformed("PEP 740 attestation has no %s", name)
	}
	m, err := objectMembers(raw)
	if err != nil {
		if errors.Is(err, ErrNotContainer) {
			return nil, malformed("%s is not a JSON object", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// base64Member decodes the standard-base64 string member at path (its
// last element names the member).
func base64Member(members map[string]json.RawMessage, path string) ([]byte, error) {
	name := path[strings.LastIndexByte(path, '.')+1:]
	var s string
	if err := json.Unmarshal(members[name], &s); err != nil {
		return nil, malformed("%s is missing or not a string", path)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, malformed("%s is not standard base64: %s", path, short(err))
	}
	if len(b) == 0 {
		return nil, malformed("%s is empty", path)
	}
	return b, nil
}
