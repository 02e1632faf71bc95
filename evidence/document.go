package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evident-dev/evident/evidence/internal/jsonscan"
	"github.com/evident-dev/evident/evidence/sigstore"
)

// PredicateDocument is the predicate type of a document attestation: a
// statement that carries an evidence document exactly as its project
// published it. DOCUMENT.md specifies the predicate.
const PredicateDocument = "https://evident.dev/attestation/document/v1"

// MaxDocumentSize is the largest document a document attestation may carry:
// base64 in the predicate and again in the DSSE payload make an envelope
// about 1.78 times the document, and envelopes are at most
// [MaxEnvelopeSize].
const MaxDocumentSize = MaxEnvelopeSize / 16 * 9

// Document is the predicate of a document attestation ([PredicateDocument]).
//
// Other in-toto predicates embed a document as a JSON value, which every
// JSON encoder on the way may re-format, and which cannot hold XML, YAML or
// text at all. A document attestation carries the document's bytes instead
// (an in-toto ResourceDescriptor with content), so the SHA-256 of what a
// manufacturer gets back years later is the SHA-256 of the file the project
// published.
type Document struct {
	// FileName is the document's file name, without directories; it may be
	// empty.
	FileName string
	// MediaType is the document's media type, e.g.
	// "application/vnd.cyclonedx+json".
	MediaType string
	// Content is the document, byte for byte.
	Content []byte
	// DocumentType is the in-toto predicate type of what the document is,
	// e.g. "https://cyclonedx.org/bom/v1.6" or [PredicateSecurityPolicy].
	DocumentType string
	// Kind is the role the document plays: [Classify] of DocumentType, or
	// for formats that hold more than one kind (CycloneDX, CSAF), what the
	// producer found in the document.
	Kind Kind
	// Format describes the format and its version for people, e.g.
	// "CycloneDX 1.6 JSON".
	Format string
	// Title is the document's own name for itself (a title or serial
	// number), or empty.
	Title string
}

// documentMembers, resourceMembers: the members of a document predicate and
// of its document, a ResourceDescriptor (in-toto attestation spec v1,
// resource_descriptor.md).
var (
	documentMembers = []string{"document", "documentType", "kind", "format", "title"}
	resourceMembers = []string{"name", "uri", "digest", "content", "downloadLocation", "mediaType", "annotations"}
)

// Predicate returns the JSON predicate of d. It is deterministic: the same
// document gives the same bytes.
func (d *Document) Predicate() ([]byte, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(d.Content)
	var b bytes.Buffer
	b.Grow(base64.StdEncoding.EncodedLen(len(d.Content)) + 512)
	b.WriteString(`{"document":{`)
	if d.FileName != "" {
		b.WriteString(`"name":`)
		writeJSONString(&b, d.FileName)
		b.WriteByte(',')
	}
	b.WriteString(`"digest":{"sha256":"`)
	b.WriteString(hex.EncodeToString(sum[:]))
	b.WriteString(`"},"mediaType":`)
	writeJSONString(&b, d.MediaType)
	b.WriteString(`,"content":"`)
	enc := base64.NewEncoder(base64.StdEncoding, &b)
	enc.Write(d.Content)
	enc.Close()
	b.WriteString(`"},"documentType":`)
	writeJSONString(&b, d.DocumentType)
	b.WriteString(`,"kind":`)
	writeJSONString(&b, string(d.Kind))
	b.WriteString(`,"format":`)
	writeJSONString(&b, d.Format)
	if d.Title != "" {
		b.WriteString(`,"title":`)
		writeJSONString(&b, d.Title)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (d *Document) validate() error {
	if len(d.Content) > MaxDocumentSize {
		return fieldErr("predicate.document.content", "is %d bytes, over the %d-byte limit of a document attestation", len(d.Content), MaxDocumentSize)
	}
	// U+FFFD is refused as the JSON decoder refuses it (a \u escape of a
	// lone surrogate decodes to it): what Predicate writes must parse.
	if strings.ContainsAny(d.FileName, "/\\\uFFFD") || len(d.FileName) > maxNameLen || !utf8.ValidString(d.FileName) {
		return fieldErr("predicate.document.name", "%s must be a file name without directories, at most %d bytes of UTF-8", quote(d.FileName), maxNameLen)
	}
	if err := validateMediaType(d.MediaType); err != nil {
		return fieldErr("predicate.document.mediaType", "%s", reason(err))
	}
	if err := validatePredicateType(d.DocumentType); err != nil {
		return fieldErr("predicate.documentType", "%s", reason(err))
	}
	if d.DocumentType == PredicateDocument {
		return fieldErr("predicate.documentType", "must name what the document is, not %q", PredicateDocument)
	}
	if !KnownKind(d.Kind) {
		return fieldErr("predicate.kind", "%s is not a kind Evident knows", quote(string(d.Kind)))
	}
	if !KindFits(d.DocumentType, d.Kind) {
		c := Classify(d.DocumentType)
		return fieldErr("predicate.kind", "is %s, but documentType %s is %s evidence", quote(string(d.Kind)), quote(d.DocumentType), c)
	}
	if d.Format == "" || len(d.Format) > 4*maxFormatLen || !utf8.ValidString(d.Format) || strings.ContainsRune(d.Format, utf8.RuneError) {
		return fieldErr("predicate.format", "must be 1 to %d bytes of UTF-8, e.g. \"CycloneDX 1.6 JSON\"", 4*maxFormatLen)
	}
	if len(d.Title) > 4*maxNameLen || !utf8.ValidString(d.Title) || strings.ContainsRune(d.Title, utf8.RuneError) {
		return fieldErr("predicate.title", "must be at most %d bytes of UTF-8", 4*maxNameLen)
	}
	return nil
}

// KindFits reports whether a document of type documentType may play role k:
// the kind the type classifies as, or for a type that classifies as
// [KindOther] any kind, or [KindVEX] for a CycloneDX or CSAF document.
func KindFits(documentType string, k Kind) bool {
	c := Classify(documentType)
	return c == k || c == KindOther || k == KindVEX && (c == KindSBOM || c == KindAdvisory)
}

// ParseDocument parses and checks a document attestation's predicate: every
// member must be well formed, and the content must have the digest the
// predicate states.
func ParseDocument(predicate []byte) (*Document, error) {
	m, err := decodeObject(predicate, "predicate", documentMembers, maxMembers)
	if err != nil {
		return nil, err
	}
	d := new(Document)
	raw := m.Get("document")
	if raw == nil {
		return nil, fieldErr("predicate.document", "is missing")
	}
	rd, err := decodeObject(raw, "predicate.document", resourceMembers, maxMembers)
	if err != nil {
		return nil, err
	}
	if d.FileName, err = optionalString(rd, "name", "predicate.document.name"); err != nil {
		return nil, err
	}
	if d.MediaType, err = optionalString(rd, "mediaType", "predicate.document.mediaType"); err != nil {
		return nil, err
	}
	var want string
	if raw := rd.Get("digest"); raw != nil {
		dm, err := decodeObject(raw, "predicate.document.digest", []string{"sha256"}, maxDigests)
		if err != nil {
			return nil, err
		}
		if raw := dm.Get("sha256"); raw != nil {
			if want, err = decodeString(raw, "predicate.document.digest.sha256"); err != nil {
				return nil, err
			}
		}
	}
	if !isLowerHex(want, 64) {
		return nil, fieldErr("predicate.document.digest.sha256", "must be the document's SHA-256, 64 lowercase hex digits")
	}
	content, err := stringValue(rd.Get("content"), "predicate.document.content")
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.DecodedLen(len(content)) > MaxDocumentSize+2 {
		return nil, fieldErr("predicate.document.content", "is over the %d-byte limit of a document attestation", MaxDocumentSize)
	}
	d.Content = make([]byte, base64.StdEncoding.DecodedLen(len(content)))
	n, err := base64.StdEncoding.Strict().Decode(d.Content, content)
	if err != nil {
		return nil, fieldErr("predicate.document.content", "must be the document in standard, padded base64: %v", err)
	}
	d.Content = d.Content[:n]
	if sum := sha256.Sum256(d.Content); hex.EncodeToString(sum[:]) != want {
		return nil, fieldErr("predicate.document.content", "has SHA-256 %x, not the %s the predicate states; the document was changed", sum, want)
	}
	if d.DocumentType, err = optionalString(m, "documentType", "predicate.documentType"); err != nil {
		return nil, err
	}
	kind, err := optionalString(m, "kind", "predicate.kind")
	if err != nil {
		return nil, err
	}
	d.Kind = Kind(kind)
	if d.Format, err = optionalString(m, "format", "predicate.format"); err != nil {
		return nil, err
	}
	if d.Title, err = optionalString(m, "title", "predicate.title"); err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// optionalString decodes member name of m, a string, or "" if it is absent.
func optionalString(m jsonscan.Object, name, field string) (string, error) {
	raw := m.Get(name)
	if raw == nil {
		return "", nil
	}
	return decodeString(raw, field)
}

// writeJSONString writes s as a JSON string without HTML escaping, so that
// the predicate holds the text as written.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // cannot fail for a string
	b.Truncate(b.Len() - 1)
}

// DescribeStatement returns what a node records of a statement's document
// (ENTRY.md, "Documents"): its reference, kind, format and name. payload is
// the statement's encoding, st the statement parsed from it. An offline
// verifier uses it to check that an entry records the statement it names.
func DescribeStatement(payload []byte, st *Statement) (ref DocumentRef, kind Kind, format, name string, err error) {
	return describe(payload, st)
}

// describe works out what a verified statement's document is: the bytes a
// document attestation carries, or else the statement's predicate (the
// document other producers embed), or else the whole statement. It returns
// the document's reference, its kind, format and display name.
func describe(payload []byte, st *Statement) (ref DocumentRef, kind Kind, format, name string, err error) {
	if st.PredicateType == PredicateDocument && st.Predicate != nil {
		d, err := ParseDocument(st.Predicate)
		if err != nil {
			return ref, "", "", "", err
		}
		if d.DocumentType == PredicateWithdrawal {
			return ref, "", "", "", fieldErr("predicate.documentType", "is a withdrawal; a withdrawal is a statement of predicate type %s, not a document", PredicateWithdrawal)
		}
		if err := CheckPredicate(d.DocumentType, d.Content, "predicate.document.content"); err != nil {
			return ref, "", "", "", err
		}
		ref = DocumentRef{Digest: sha256.Sum256(d.Content), Size: int64(len(d.Content)), MediaType: d.MediaType}
		name = d.Title
		if name == "" {
			name = d.FileName
		}
		if name == "" {
			name = d.Format
		}
		return ref, d.Kind, d.Format, name, nil
	}
	if st.PredicateType == PredicateDocument {
		return ref, "", "", "", fieldErr("predicate", "is missing; a document attestation carries its document")
	}
	if HasSchema(st.PredicateType) && st.Predicate == nil {
		return ref, "", "", "", fieldErr("predicate", "is missing; a statement of type %s carries one", st.PredicateType)
	}
	if err := CheckPredicate(st.PredicateType, st.Predicate, "predicate"); err != nil {
		return ref, "", "", "", err
	}
	if st.PredicateType == PredicateWithdrawal {
		if err := checkWithdrawalSubjects(st); err != nil {
			return ref, "", "", "", err
		}
	}
	doc, mediaType := []byte(st.Predicate), "application/json"
	if doc == nil {
		doc, mediaType = payload, PayloadTypeInToto
	}
	ref = DocumentRef{Digest: sha256.Sum256(doc), Size: int64(len(doc)), MediaType: mediaType}
	format = predicateFormat(st.PredicateType)
	name = st.Subject[0].Name
	if n := len(st.Subject); n > 1 {
		name += " and " + strconv.Itoa(n-1) + " more"
	}
	return ref, ClassifyPredicate(st.PredicateType, st.Predicate), format, name, nil
}

// DocumentOf returns the document that a statement's payload carries, as
// describe defines it: what a node serves by the document digest of an
// entry.
func DocumentOf(payload []byte) ([]byte, string, error) {
	st, err := ParseStatement(payload)
	if err != nil {
		return nil, "", err
	}
	if st.PredicateType == PredicateDocument {
		if st.Predicate == nil {
			return nil, "", fieldErr("predicate", "is missing; a document attestation carries its document")
		}
		d, err := ParseDocument(st.Predicate)
		if err != nil {
			return nil, "", err
		}
		return d.Content, d.MediaType, nil
	}
	if st.Predicate == nil {
		return payload, PayloadTypeInToto, nil
	}
	return st.Predicate, "application/json", nil
}

// DocumentOfEnvelope returns the document that logged envelope bytes carry
// (see [DocumentOf]) and its media type. It does not verify signatures: it
// reads what a node has already verified and logged.
func DocumentOfEnvelope(envelope []byte) ([]byte, string, error) {
	if isSigstoreBundle(envelope) {
		b, err := sigstore.Parse(envelope)
		if err != nil {
			return nil, "", bundleError(err)
		}
		return DocumentOf(b.Payload)
	}
	env, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, "", err
	}
	return DocumentOf(env.Payload)
}

// ClassifyPredicate is [Classify] of predicateType, looking at the predicate
// of formats that hold more than one kind: a CycloneDX document with
// vulnerabilities and no components is a VEX document, and a CSAF document
// of category csaf_vex is one too.
func ClassifyPredicate(predicateType string, predicate []byte) Kind {
	k := Classify(predicateType)
	if predicate == nil {
		return k
	}
	switch {
	case strings.HasPrefix(predicateType, "https://cyclonedx.org/bom"):
		m, err := decodeObject(predicate, "predicate", nil, maxMembers*64)
		if err == nil && nonEmptyArray(m.Get("vulnerabilities")) && !nonEmptyArray(m.Get("components")) {
			return KindVEX
		}
	case strings.HasPrefix(predicateType, "https://docs.oasis-open.org/csaf/csaf"):
		m, err := decodeObject(predicate, "predicate", nil, maxMembers*64)
		if err != nil {
			break
		}
		if raw := m.Get("document"); raw != nil {
			if dm, err := decodeObject(raw, "document", nil, maxMembers); err == nil {
				if c, err := optionalString(dm, "category", "category"); err == nil && c == "csaf_vex" {
					return KindVEX
				}
			}
		}
	}
	return k
}

func nonEmptyArray(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '[' && len(bytes.TrimLeft(t[1:], " \t\r\n")) > 0 && bytes.TrimLeft(t[1:], " \t\r\n")[0] != ']'
}

// predicateFormats names the formats of predicate types, for entries of
// statements that are not document attestations.
var predicateFormats = []struct{ prefix, name string }{
	{"https://spdx.dev/Document", "SPDX"},
	{"https://cyclonedx.org/bom", "CycloneDX"},
	{"https://openvex.dev/ns", "OpenVEX"},
	{"https://docs.oasis-open.org/csaf/csaf", "CSAF"},
	{"https://slsa.dev/provenance", "SLSA provenance"},
	{"https://docs.pypi.org/attestations/publish", "PyPI publish attestation"},
	{"https://github.com/npm/attestation/tree/main/specs/publish", "npm publish attestation"},
	{"https://scorecard.dev/result", "OpenSSF Scorecard result"},
	{"https://evident.dev/attestation/", "Evident"},
}

// predicateFormat describes a predicate type for people: the format's name
// and, when the type ends in a version ("/v1", "/v2.3"), that version;
// otherwise the type itself.
func predicateFormat(t string) string {
	for _, f := range predicateFormats {
		rest, ok := strings.CutPrefix(t, f.prefix)
		if !ok {
			continue
		}
		name := f.name
		if f.name == "Evident" {
			seg, _, _ := strings.Cut(rest, "/")
			name = "Evident " + strings.ReplaceAll(seg, "-", " ")
		}
		if i := strings.LastIndexByte(t, '/'); i >= 0 && len(t) > i+2 && t[i+1] == 'v' && isDigit(t[i+2]) {
			return name + " " + t[i+1:]
		}
		return name
	}
	return "in-toto predicate " + t
}

// ReadDocument returns the document that logged envelope bytes carry, its
// media type and its type: a document attestation's documentType, or else
// the statement's predicate type. Like [DocumentOfEnvelope], it does not
// verify signatures.
func ReadDocument(envelope []byte) (doc []byte, mediaType, documentType string, err error) {
	payload := []byte(nil)
	if isSigstoreBundle(envelope) {
		b, err := sigstore.Parse(envelope)
		if err != nil {
			return nil, "", "", bundleError(err)
		}
		payload = b.Payload
	} else {
		env, err := ParseEnvelope(envelope)
		if err != nil {
			return nil, "", "", err
		}
		payload = env.Payload
	}
	st, err := ParseStatement(payload)
	if err != nil {
		return nil, "", "", err
	}
	if st.PredicateType == PredicateDocument && st.Predicate != nil {
		d, err := ParseDocument(st.Predicate)
		if err != nil {
			return nil, "", "", err
		}
		return d.Content, d.MediaType, d.DocumentType, nil
	}
	doc, mediaType, err = DocumentOf(payload)
	return doc, mediaType, st.PredicateType, err
}
