// Package detect recognises evidence documents — SBOMs, VEX documents,
// advisories, provenance, Scorecard results, Security Insights files,
// security.txt files and security policies — so that a producer (the
// `evident attest` command) can wrap one in an in-toto Statement with the right
// predicate type.
//
// [Detect] looks at the content; the file name is only a hint, used to tell
// Markdown from reStructuredText and a SECURITY.md from other prose. The
// predicate it returns is always a JSON object:
//
//   - A JSON document that is an object (SPDX 2 JSON, SPDX 3 JSON-LD,
//     CycloneDX JSON, OpenVEX, CSAF, SLSA provenance, Scorecard, CVE JSON 5,
//     OSV, support-period data) is the predicate, byte for byte apart from
//     surrounding white space and a byte order mark. This is what the in-toto
//     predicate specifications for SPDX and CycloneDX prescribe.
//   - A YAML document (SPDX 2 YAML, OpenSSF Security Insights) is converted to
//     JSON, keeping the order of mapping keys. SPDX YAML is a serialisation of
//     the same model as SPDX JSON, so the predicate is then an ordinary SPDX
//     JSON document; a Security Insights predicate can be queried like any
//     other. YAML comments are lost.
//   - Anything else (SPDX tag-value, CycloneDX XML, security.txt, Markdown or
//     reStructuredText policies) is embedded as text by [Wrap].
//
// A document that already is an attestation (an in-toto Statement, a DSSE
// envelope, a Sigstore bundle carrying one, a PEP 740 attestation) is refused
// with [ErrAttestation]: it is submitted as is, not wrapped again.
//
// The package is pure: it does no I/O. Input is bounded by [MaxSize], and no
// input makes it panic.
package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evident-dev/evident/evidence"
)

// MaxSize is the largest document Detect reads, 64 MiB. It matches
// [evidence.MaxEnvelopeSize]; the envelope base64-encodes the statement, so
// a document near this size will still be too big to submit.
const MaxSize = 64 << 20

// Result describes a recognised document.
type Result struct {
	// Format describes the document for people, for example "SPDX 2.3 JSON",
	// "CycloneDX 1.6 XML VDR/VEX" or "security policy (Markdown)".
	Format string
	// PredicateType is the in-toto predicate type to use, one of the
	// evidence.Predicate* URIs or a versioned variant that [evidence.Classify]
	// maps to the same kind (an OpenVEX document's own @context, CSAF 2.1,
	// SLSA provenance v0.2 or v0.1).
	PredicateType string
	// Kind is evidence.Classify(PredicateType).
	Kind evidence.Kind
	// Predicate is the predicate to embed in the statement: always a JSON
	// object.
	Predicate json.RawMessage
}

// expected lists what Detect recognises, for error messages.
const expected = "expected one of: SPDX 2 JSON, YAML or tag-value, SPDX 3 JSON-LD, " +
	"CycloneDX JSON or XML, OpenVEX, CSAF 2.0 or 2.1, SLSA provenance, Security Insights YAML, " +
	"Scorecard JSON, a CVE JSON 5 or OSV record, support-period JSON, security.txt, " +
	"a security/CVD policy document; or give --predicate-type"

var (
	// ErrUnrecognized means the document is none of the kinds Detect knows.
	// The error returned says what the document looked like. A producer may
	// still attest it with an explicit predicate type, using [Wrap] for the
	// predicate.
	ErrUnrecognized = errors.New("unrecognized evidence document; " + expected)
	// ErrAttestation means the document already is an attestation (an in-toto
	// statement, possibly in a DSSE envelope or a Sigstore bundle). It does
	// not wrap [ErrUnrecognized], so that a producer does not fall back to
	// wrapping an attestation in another one.
	ErrAttestation = errors.New("this is already an attestation; submit it with evident submit")
)

// unrecognized returns an error wrapping ErrUnrecognized that says what the
// document named name looked like.
func unrecognized(name, format string, args ...any) error {
	return fmt.Errorf("%s%s: %w", prefix(name), fmt.Sprintf(format, args...), ErrUnrecognized)
}

// attestation returns an error wrapping ErrAttestation; what says which kind
// of attestation the document is.
func attestation(name, what string) error {
	return fmt.Errorf("%sis %s: %w", prefix(name), what, ErrAttestation)
}

func prefix(name string) string {
	if name == "" {
		return ""
	}
	return name + " "
}

// Detect recognises the evidence document content, read from the file name.
// It returns an error wrapping [ErrUnrecognized] if it is none of the kinds
// it knows, or [ErrAttestation] if it already is an attestation.
func Detect(name string, content []byte) (*Result, error) {
	if len(content) > MaxSize {
		return nil, fmt.Errorf("%sis %d bytes; couldn't detect its kind: documents are limited to %d bytes", prefix(name), len(content), MaxSize)
	}
	body := bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, unrecognized(name, "is empty")
	}
	if !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 {
		return nil, unrecognized(name, "is binary or not UTF-8 text")
	}
	switch trimmed[0] {
	case '{', '[':
		return detectJSON(name, content, trimmed)
	case '<':
		if r, ok, err := detectXML(name, content, trimmed); ok || err != nil {
			return r, err
		}
		// Not XML we know: Markdown may start with an HTML comment.
	}
	return detectText(name, content, string(body))
}

// result builds a Result for predicate type t. Formats that hold more than
// one kind (CycloneDX, CSAF) say "VEX" in format when the document is one.
func result(format, t string, predicate []byte) *Result {
	kind := evidence.Classify(t)
	if strings.Contains(format, "VEX") {
		kind = evidence.KindVEX
	}
	return &Result{Format: format, PredicateType: t, Kind: kind, Predicate: predicate}
}

// Wrap returns a generic predicate embedding content, a document that is not
// itself a JSON object:
//
//	{"mediaType": "text/spdx", "filename": "sbom.spdx", "sha256": "<hex>", "content": "<the text>"}
//
// mediaType is the document's media type; filename is the last element of
// name, left out if that is empty or "-"; sha256 is the lowercase hex SHA-256
// of content. Text (valid UTF-8 without NUL bytes) is embedded as the string
// "content". Wrap has no error result, so other content is embedded losslessly
// as standard base64 in "contentBase64" instead; [Detect] refuses such
// content.
func Wrap(name, mediaType string, content []byte) json.RawMessage {
	sum := sha256.Sum256(content)
	var b bytes.Buffer
	b.WriteString(`{"mediaType":`)
	writeJSONString(&b, mediaType)
	if base := baseName(name); base != "" {
		b.WriteString(`,"filename":`)
		writeJSONString(&b, base)
	}
	b.WriteString(`,"sha256":"`)
	b.WriteString(hex.EncodeToString(sum[:]))
	b.WriteString(`"`)
	if utf8.Valid(content) && bytes.IndexByte(content, 0) < 0 {
		b.WriteString(`,"content":`)
		writeJSONString(&b, string(content))
	} else {
		b.WriteString(`,"contentBase64":"`)
		b.WriteString(base64.StdEncoding.EncodeToString(content))
		b.WriteString(`"`)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// baseName returns the last element of a slash- or backslash-separated
// path, so that a predicate never records where the file was on the
// producer's machine.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "-" || name == "." || name == ".." {
		return ""
	}
	return name
}

// writeJSONString writes s as a JSON string without HTML escaping. Invalid
// UTF-8 is written as U+FFFD, as encoding/json does.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	// Encode ends the value with a newline.
	b.Truncate(b.Len() - 1)
}

// quote quotes s, a value read from the document, for an error message,
// cutting it short if it is long.
func quote(s string) string {
	const n = 64
	if len(s) > n {
		return strconv.Quote(s[:n]) + "..."
	}
	return strconv.Quote(s)
}
