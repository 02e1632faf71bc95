// Package detect recognises evidence documents — SBOMs, VEX documents,
// advisories, provenance, Scorecard results, Security Insights files,
// security.txt files and security policies — so that a producer (the
// `evident attest` command) can carry one, byte for byte, in a document
// attestation ([evidence.Document]) that says what it is.
//
// [Detect] looks at the content; the file name is only a hint, used to tell
// Markdown from reStructuredText and a SECURITY.md from other prose. It
// reads a document and never changes it: what it returns describes the
// document (its type, kind, format, media type and own title), and
// [Result.Document] puts the document's exact bytes beside that
// description.
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
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/evident-dev/evident/evidence"
)

// MaxSize is the largest document Detect reads, 64 MiB. A document
// attestation carries at most [evidence.MaxDocumentSize] bytes, so a
// document near this size is recognised but can't be attested.
const MaxSize = 64 << 20

// Result describes a recognised document.
type Result struct {
	// Format describes the document for people, for example "SPDX 2.3 JSON",
	// "CycloneDX 1.6 XML VDR/VEX" or "security policy (Markdown)".
	Format string
	// PredicateType is the in-toto predicate type of what the document is
	// (a document attestation's documentType), one of the
	// evidence.Predicate* URIs or a versioned variant that [evidence.Classify]
	// maps to the same kind (an OpenVEX document's own @context, CSAF 2.1,
	// SLSA provenance v0.2 or v0.1).
	PredicateType string
	// Kind is the role the document plays: evidence.Classify(PredicateType),
	// or [evidence.KindVEX] for a CycloneDX or CSAF document that is one.
	Kind evidence.Kind
	// MediaType is the document's media type. Registered types are used
	// where the format has one:
	//
	//	SPDX 2 JSON                      application/spdx+json (IANA)
	//	SPDX 2 tag-value                 text/spdx (IANA)
	//	SPDX 2 RDF/XML                   application/rdf+xml (IANA)
	//	SPDX 3, OpenVEX (JSON-LD)        application/ld+json (IANA, JSON-LD 1.1)
	//	CycloneDX JSON, XML              application/vnd.cyclonedx+json, +xml (IANA)
	//	any YAML document                application/yaml (RFC 9512)
	//	other JSON (CSAF, SLSA, Scorecard,
	//	  CVE, OSV, Security Insights,
	//	  support periods)               application/json (RFC 8259); none of
	//	                                 these formats registers its own type
	//	security.txt                     text/plain (RFC 9116, section 3)
	//	policies                         text/markdown (RFC 7763), text/html,
	//	                                 text/plain, or the customary
	//	                                 text/x-rst and text/x-asciidoc
	MediaType string
	// Title is the document's own name for itself, or "": an SPDX document's
	// name, a CycloneDX BOM's serial number (else its component's name and
	// version), a CSAF document's tracking id, an OpenVEX document's @id, a
	// CVE or OSV record's id, a Security Insights project's name, a
	// Scorecard result's repository, a policy's first heading. It is cut to
	// [MaxTitle] bytes, with white space runs made one space.
	Title string
}

// MaxTitle bounds Result.Title, in bytes.
const MaxTitle = 256

// Document returns the document attestation predicate for content, the
// document r describes, read from the file name (whose directories are left
// out). Content is kept byte for byte.
func (r *Result) Document(name string, content []byte) *evidence.Document {
	return &evidence.Document{
		FileName:     fileName(name),
		MediaType:    r.MediaType,
		Content:      content,
		DocumentType: r.PredicateType,
		Kind:         r.Kind,
		Format:       r.Format,
		Title:        r.Title,
	}
}

// expected lists what Detect recognises, for error messages.
const expected = "expected one of: SPDX 2 JSON, YAML or tag-value, SPDX 3 JSON-LD, " +
	"CycloneDX JSON or XML, OpenVEX, CSAF 2.0 or 2.1, SLSA provenance, Security Insights YAML, " +
	"Scorecard JSON, a CVE JSON 5 or OSV record (JSON or YAML), support-period JSON, security.txt, " +
	"a security/CVD policy document; or give --predicate-type"

var (
	// ErrUnrecognized means the document is none of the kinds Detect knows.
	// The error returned says what the document looked like. A producer may
	// still attest it with an explicit predicate type.
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
		return detectJSON(name, trimmed)
	case '<':
		if r, ok, err := detectXML(name, trimmed); ok || err != nil {
			return r, err
		}
		// Not XML we know: Markdown may start with an HTML comment.
	}
	return detectText(name, string(body))
}

// result builds a Result for predicate type t, in mediaType, titled title.
// Formats that hold more than one kind (CycloneDX, CSAF) say "VEX" in
// format when the document is one.
func result(format, t, mediaType, title string) *Result {
	kind := evidence.Classify(t)
	if strings.Contains(format, "VEX") {
		kind = evidence.KindVEX
	}
	return &Result{Format: format, PredicateType: t, Kind: kind, MediaType: mediaType, Title: cleanTitle(title)}
}

// cleanTitle makes a title read from a document fit for one line of a
// table: white space runs become one space, other control characters are
// dropped, and it is cut to MaxTitle bytes on a character boundary.
func cleanTitle(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), r == utf8.RuneError:
			continue
		}
		n := utf8.RuneLen(r)
		if space {
			n++
		}
		if b.Len()+n > MaxTitle {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// baseName returns the last element of a slash- or backslash-separated
// path, so that a document attestation never records where the file was
// on the producer's machine.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "-" || name == "." || name == ".." {
		return ""
	}
	return name
}

// maxFileName bounds Document's file name, in bytes: NAME_MAX on most
// file systems, and well within what a document attestation allows.
const maxFileName = 255

// fileName returns the base name of name as a document attestation records
// it: UTF-8 (file names on some systems are any bytes) without U+FFFD, which
// readers refuse, at most maxFileName bytes. Bytes that are not UTF-8
// become "_".
func fileName(name string) string {
	base := strings.ReplaceAll(strings.ToValidUTF8(baseName(name), "_"), "\uFFFD", "_")
	for len(base) > maxFileName {
		_, n := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-n]
	}
	return base
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
