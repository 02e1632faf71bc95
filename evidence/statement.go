package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// In-toto identifiers.
const (
	// PayloadTypeInToto is the DSSE payloadType of an in-toto statement
	// (in-toto attestation spec v1, envelope.md).
	PayloadTypeInToto = "application/vnd.in-toto+json"
	// StatementTypeV1 is the _type of an in-toto Statement v1.
	StatementTypeV1 = "https://in-toto.io/Statement/v1"
	// StatementTypeV01 is the _type of an in-toto Statement v0.1. Evident
	// accepts it too: its subject, predicateType and predicate fields have
	// the same shape and meaning as in v1, and much deployed tooling (SLSA
	// GitHub generators, witness) still writes it.
	StatementTypeV01 = "https://in-toto.io/Statement/v0.1"
)

// Limits on statements.
const (
	// MaxSubjects is the most subjects a statement may name.
	MaxSubjects = 64

	maxDigests          = 16 // per subject
	maxDigestAlgLen     = 32
	maxDigestValueLen   = 256
	maxPredicateTypeLen = 512
	maxMembers          = 1024 // members of any JSON object we decode into a map
)

// Statement is an in-toto Statement (in-toto attestation spec v1,
// statement.md) as Evident accepts it. Fields Evident does not read are
// dropped when parsing; as in-toto requires, they are otherwise ignored.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate,omitempty"` // a JSON object, or nil
}

// Subject is one subject of a statement: a release artifact named by a purl.
type Subject struct {
	// Name is the Package URL of the release, with a version, for example
	// "pkg:pypi/requests@2.32.3".
	Name string `json:"name"`
	// Digest maps algorithm names to digests (in-toto DigestSet). It must
	// hold "sha256".
	Digest map[string]string `json:"digest"`
}

var (
	statementMembers = []string{"_type", "subject", "predicateType", "predicate"}
	subjectMembers   = []string{"name", "digest", "uri"}
)

// ParseStatement parses and validates a JSON in-toto statement. On top of the
// in-toto rules it requires what Evident needs, as [Statement.Validate]
// describes. As in-toto's parsing rules require, unknown members are ignored;
// members that appear twice, or that differ from a known member only by
// case, are refused. The statement's Predicate is a sub-slice of b, not a
// copy.
func ParseStatement(b []byte) (*Statement, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, fieldErr("payload", "is %d bytes, over the %d-byte limit", len(b), MaxEnvelopeSize)
	}
	if !utf8.Valid(b) {
		return nil, fieldErr("payload", "is not UTF-8 JSON")
	}
	m, err := decodeObject(b, "payload", statementMembers, maxMembers)
	if err != nil {
		return nil, err
	}
	s := new(Statement)
	if raw := m.Get("_type"); raw != nil {
		if s.Type, err = decodeString(raw, "_type"); err != nil {
			return nil, err
		}
	}
	if raw := m.Get("predicateType"); raw != nil {
		if s.PredicateType, err = decodeString(raw, "predicateType"); err != nil {
			return nil, err
		}
	}
	if raw := m.Get("predicate"); raw != nil {
		s.Predicate = raw
	}
	if raw := m.Get("subject"); raw != nil {
		elems, err := decodeArray(raw, "subject", MaxSubjects, "split the evidence into several statements")
		if err != nil {
			return nil, err
		}
		for i, raw := range elems {
			sub, err := parseSubject(raw, subjectField(i, ""))
			if err != nil {
				return nil, err
			}
			s.Subject = append(s.Subject, sub)
		}
	}
	// The predicate is a raw value of the object decodeObject just
	// scanned, so it is valid JSON already.
	if err := s.validate(false, false); err != nil {
		return nil, err
	}
	return s, nil
}

func parseSubject(raw json.RawMessage, field string) (Subject, error) {
	m, err := decodeObject(raw, field, subjectMembers, maxMembers)
	if err != nil {
		return Subject{}, err
	}
	var sub Subject
	if raw := m.Get("name"); raw != nil {
		if sub.Name, err = decodeString(raw, field+".name"); err != nil {
			return Subject{}, err
		}
	}
	if sub.Name == "" {
		if raw := m.Get("uri"); raw != nil {
			if uri, err := decodeString(raw, field+".uri"); err == nil && strings.HasPrefix(uri, "pkg:") {
				return Subject{}, fieldErr(field+".name", "is missing; Evident reads the Package URL from name, not uri: set \"name\": %s", quote(uri))
			}
		}
	}
	if raw := m.Get("digest"); raw != nil {
		dm, err := decodeObject(raw, field+".digest", nil, maxDigests)
		if err != nil {
			return Subject{}, err
		}
		sub.Digest = make(map[string]string, len(dm.Names))
		for i, alg := range dm.Names {
			v, err := decodeString(dm.Values[i], "")
			if err != nil {
				// Named only now: naming it costs more than decoding it.
				_, err = decodeString(dm.Values[i], fmt.Sprintf("%s.digest[%s]", field, quote(alg)))
				return Subject{}, err
			}
			sub.Digest[alg] = v
		}
	}
	return sub, nil
}

// Validate checks s against the in-toto Statement rules and Evident's, as a
// statement that Evident makes must follow them:
//
//   - _type is [StatementTypeV1] or [StatementTypeV01];
//   - there are 1 to [MaxSubjects] subjects;
//   - each subject's name is a Package URL (see [ParsePurl] for the rules):
//     with a version it names a release, without one a package;
//   - each subject's digest holds sha256 or sha512 (a package's may instead
//     hold gitCommit), plus other digests up to 16 in all: the algorithms
//     in-toto's DigestSet spec names must have its encoding (lowercase hex
//     of the right length), others must be 1 to 32 of [A-Za-z0-9_.-]
//     starting with a letter, with values of 1 to 256 of [A-Za-z0-9+/=_.:-];
//   - predicateType is a URI of at most 512 printable ASCII bytes;
//   - predicate, if present, is a JSON object.
//
// Statements made elsewhere may name their subjects by file name rather than
// by purl; [Verify] files those under a release by the rules of ENTRY.md.
func (s *Statement) Validate() error { return s.validate(true, true) }

func (s *Statement) validate(checkPredicateSyntax, requirePurls bool) error {
	switch s.Type {
	case StatementTypeV1, StatementTypeV01:
	case "":
		return fieldErr("_type", "is missing; use %q", StatementTypeV1)
	default:
		return fieldErr("_type", "is %s; Evident accepts in-toto statements with _type %q (or %q)", quote(s.Type), StatementTypeV1, StatementTypeV01)
	}
	if len(s.Subject) == 0 {
		return fieldErr("subject", "is missing or empty; name the release, e.g. {\"name\": \"pkg:pypi/requests@2.32.3\", \"digest\": {\"sha256\": \"...\"}}")
	}
	if len(s.Subject) > MaxSubjects {
		return fieldErr("subject", "has more than %d elements; split the evidence into several statements", MaxSubjects)
	}
	for i, sub := range s.Subject {
		pkgLevel := false
		if requirePurls || strings.HasPrefix(sub.Name, "pkg:") {
			p, err := subjectPurl(sub.Name, subjectField(i, "name"))
			if err != nil {
				return err
			}
			pkgLevel = !p.HasVersion()
		} else if err := validateSubjectName(sub.Name, subjectField(i, "name")); err != nil {
			return err
		}
		if _, err := sortedDigests(sub.Digest, subjectField(i, "digest"), pkgLevel); err != nil {
			return err
		}
	}
	if err := validatePredicateType(s.PredicateType); err != nil {
		return err
	}
	if s.Predicate != nil {
		p := bytes.TrimLeft(s.Predicate, " \t\r\n")
		if len(p) == 0 || p[0] != '{' || (checkPredicateSyntax && !json.Valid(s.Predicate)) {
			return fieldErr("predicate", "must be a JSON object")
		}
	}
	return nil
}

// maxSubjectNameLen bounds a subject name that is not a purl (a file name,
// an image reference).
const maxSubjectNameLen = 1024

// validateSubjectName checks a subject name that is not a purl: 1 to 1024
// bytes of UTF-8 without control characters.
func validateSubjectName(name, field string) error {
	if name == "" {
		return fieldErr(field, "is missing; use a Package URL such as pkg:pypi/requests@2.32.3")
	}
	if len(name) > maxSubjectNameLen {
		return fieldErr(field, "is longer than %d bytes", maxSubjectNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return fieldErr(field, "%s has a control character or invalid UTF-8", quote(name))
		}
	}
	return nil
}

// Marshal validates s and returns its JSON encoding, suitable as the payload
// of a DSSE envelope of type [PayloadTypeInToto].
func (s *Statement) Marshal() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// subjectField names field part (or with part "", the whole element) of
// element i of a statement's subject, for error messages. It is called on
// every submission: the common names are built once.
func subjectField(i int, part string) string {
	if i < len(subjectFields) {
		switch part {
		case "":
			return subjectFields[i][0]
		case "name":
			return subjectFields[i][1]
		case "digest":
			return subjectFields[i][2]
		}
	}
	f := "subject[" + strconv.Itoa(i) + "]"
	if part != "" {
		f += "." + part
	}
	return f
}

var subjectFields = func() (t [8][3]string) {
	for i := range t {
		f := "subject[" + strconv.Itoa(i) + "]"
		t[i] = [3]string{f, f + ".name", f + ".digest"}
	}
	return t
}()

// subjectPurl parses the name of a subject, which must be a purl: with a
// version for a release, without for a package.
func subjectPurl(name, field string) (Purl, error) {
	const example = "use a Package URL such as pkg:pypi/requests@2.32.3 (a release) or pkg:pypi/requests (every release)"
	if name == "" {
		return Purl{}, fieldErr(field, "is missing; %s", example)
	}
	p, err := parsePurl(name)
	if err != nil {
		return Purl{}, fieldErr(field, "%s is not a valid purl: %v; %s", quote(name), err, example)
	}
	return p, nil
}

// Digest algorithms named by the in-toto DigestSet spec (spec/v1/digest_set.md)
// and the number of lowercase hex digits their values have; -n means any even
// number from 2 to n.
var digestHexLen = map[string][]int{
	"sha256": {64}, "sha224": {56}, "sha384": {96}, "sha512": {128},
	"sha512_224": {56}, "sha512_256": {64},
	"sha3_224": {56}, "sha3_256": {64}, "sha3_384": {96}, "sha3_512": {128},
	"shake128": {-maxDigestValueLen}, "shake256": {-maxDigestValueLen},
	"blake2b": {-maxDigestValueLen}, "blake2s": {-maxDigestValueLen},
	"ripemd160": {40}, "sm3": {64}, "gost": {-maxDigestValueLen},
	"sha1": {40}, "md5": {32},
	"dirHash1":  {64},
	"gitCommit": {40, 64}, "gitTree": {40, 64}, "gitBlob": {40, 64}, "gitTag": {40, 64},
}

// Digest is one artifact digest.
type Digest struct {
	Alg   string // for example "sha256"
	Value string // for example 64 lowercase hex digits
}

// String returns "alg:value".
func (d Digest) String() string { return d.Alg + ":" + d.Value }

// sortedDigests validates a DigestSet and returns it sorted by algorithm.
// The set must identify the artifact by sha256 or sha512; for a package
// (pkgLevel), whose subject is a document or a source tree rather than an
// artifact, gitCommit does too.
func sortedDigests(set map[string]string, field string, pkgLevel bool) ([]Digest, error) {
	if len(set) == 0 {
		return nil, fieldErr(field, "is missing or empty; give the artifact's sha256 digest")
	}
	if len(set) > maxDigests {
		return nil, fieldErr(field, "has more than %d digests", maxDigests)
	}
	ds := make([]Digest, 0, len(set))
	for alg, v := range set {
		ds = append(ds, Digest{alg, v})
	}
	slices.SortFunc(ds, func(a, b Digest) int { return strings.Compare(a.Alg, b.Alg) })
	for _, d := range ds {
		if err := validateDigest(d.Alg, d.Value, field); err != nil {
			return nil, err
		}
	}
	_, sha256 := set["sha256"]
	_, sha512 := set["sha512"]
	_, commit := set["gitCommit"]
	switch {
	case sha256 || sha512:
	case pkgLevel && commit:
	case pkgLevel:
		return nil, fieldErr(field, "has no sha256, sha512 or gitCommit digest; evidence about a package names the document's own digest or the source commit")
	default:
		return nil, fieldErr(field, "has no sha256 digest; Evident identifies artifacts by SHA-256 (or SHA-512): add \"sha256\": \"<64 lowercase hex digits>\"")
	}
	return ds, nil
}

func validateDigest(alg, v, field string) error {
	if lens, ok := digestHexLen[alg]; ok {
		for _, n := range lens {
			if isLowerHex(v, n) {
				return nil
			}
		}
		want := fmt.Sprintf("%d", lens[0])
		if lens[0] < 0 {
			want = "an even number of"
		} else if len(lens) == 2 {
			want = fmt.Sprintf("%d or %d", lens[0], lens[1])
		}
		return fieldErr(field+"."+alg, "is %s; %s digests are %s lowercase hex digits", quote(v), alg, want)
	}
	if len(alg) > maxDigestAlgLen {
		return fieldErr(field, "has algorithm name %s, longer than %d bytes", quote(alg), maxDigestAlgLen)
	}
	for known := range digestHexLen {
		if looseAlg(alg) == looseAlg(known) {
			return fieldErr(field, "has algorithm %s; in-toto spells it %q", quote(alg), known)
		}
	}
	if !validDigestAlg(alg) {
		return fieldErr(field, "has algorithm name %s; use 1 to %d of A-Z a-z 0-9 _ . - starting with a letter", quote(alg), maxDigestAlgLen)
	}
	if !validDigestValue(v) {
		return fieldErr(field+"."+alg, "must be 1 to %d of A-Z a-z 0-9 + / = _ . : -", maxDigestValueLen)
	}
	return nil
}

// looseAlg folds case and drops "-" and "_", to recognise misspellings of
// known algorithm names such as "SHA-256".
func looseAlg(s string) string {
	return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(s))
}

func validDigestAlg(s string) bool {
	if len(s) == 0 || len(s) > maxDigestAlgLen || !isLetter(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func validDigestValue(s string) bool {
	if len(s) == 0 || len(s) > maxDigestValueLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && !strings.ContainsRune("+/=_.:-", rune(c)) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// validatePredicateType checks an in-toto TypeURI (field_types.md): a URI,
// compared as a string. Evident also bounds it and keeps it printable ASCII,
// since it is written into log entries.
func validatePredicateType(t string) error {
	const example = "use a URI such as " + PredicateSPDX23
	if t == "" {
		return fieldErr("predicateType", "is missing; %s", example)
	}
	if len(t) > maxPredicateTypeLen {
		return fieldErr("predicateType", "is longer than %d bytes", maxPredicateTypeLen)
	}
	if !isToken(t) {
		return fieldErr("predicateType", "%s must be printable ASCII without spaces; percent-encode other characters", quote(t))
	}
	// RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
	scheme, _, ok := strings.Cut(t, ":")
	if !ok || scheme == "" || !isLetter(scheme[0]) {
		return fieldErr("predicateType", "%s is not a URI; %s", quote(t), example)
	}
	for i := 0; i < len(scheme); i++ {
		if c := scheme[i]; !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return fieldErr("predicateType", "%s is not a URI; %s", quote(t), example)
		}
	}
	return nil
}

// isToken reports whether s is non-empty printable ASCII without spaces
// (0x21 to 0x7e), the alphabet of log entry values.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
