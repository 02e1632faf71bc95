package evidence

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// EntryHeader is the first line of a version 2 log entry.
const EntryHeader = "evident.dev/entry/v2"

// MaxEntrySize is the largest log entry, in bytes. C2SP tlog-tiles entry
// bundles prefix each entry with a 16-bit big-endian length.
const MaxEntrySize = 65535

// entryTimeLayout is RFC 3339 in UTC with whole seconds.
const entryTimeLayout = "2006-01-02T15:04:05Z"

// Limits on the text lines of an entry, in encoded bytes.
const (
	maxFormatLen    = 128
	maxNameLen      = 512
	maxMediaTypeLen = 255
	maxSignerLen    = 1024
)

// Encoding says how the logged bytes package a signed statement.
type Encoding string

// Encodings of logged evidence.
const (
	// EncodingDSSE is a DSSE envelope in its JSON form, signed with keys the
	// node's operator configured.
	EncodingDSSE Encoding = "dsse"
	// EncodingSigstoreBundle is a Sigstore bundle (v0.1 to v0.3) whose
	// content is a DSSE envelope, signed by a Fulcio certificate.
	EncodingSigstoreBundle Encoding = "sigstore-bundle"
)

// Entry is a log entry: the canonical record of one accepted envelope that
// the log commits to as a Merkle leaf. The envelope itself is stored beside
// the log, addressed by its digest.
//
// # Encoding
//
// An entry is ASCII text (so also UTF-8) of at most [MaxEntrySize] bytes: a
// sequence of lines, each ending in "\n" (0x0a), with no other line breaks and
// no "\r". A line is a keyword, one space (0x20), and one or more values
// separated by single spaces. Values are printable ASCII (0x21 to 0x7e); no
// line has leading, trailing or doubled spaces. The lines come in exactly
// this order:
//
//	evident.dev/entry/v2
//	envelope sha256:<hex> <size> <encoding>
//	type <predicate type>
//	kind <kind>
//	document sha256:<hex> <size> <media type>
//	format <text>
//	name <text>
//	signer <signer id>                       (1 to 16 lines)
//	subject <purl> <alg>:<value>...          (1 to 64 lines)
//	time <YYYY-MM-DDThh:mm:ssZ>
//
// ENTRY.md is the normative specification, with examples.
type Entry struct {
	EnvelopeDigest [32]byte
	EnvelopeSize   int64
	Encoding       Encoding
	PredicateType  string
	Kind           Kind
	Document       DocumentRef
	// Format describes the document's format and version for people, e.g.
	// "CycloneDX 1.6 JSON"; Name is its display name: its title or serial
	// number, or its file name. Both are free text, stored encoded (see
	// ENTRY.md); these fields hold the decoded text.
	Format, Name string
	Signers      []string
	Subjects     []EntrySubject
	Time         time.Time // UTC, whole seconds
}

// DocumentRef identifies the document an entry records: the exact bytes a
// project published, which the node serves by Digest.
type DocumentRef struct {
	Digest    [32]byte // SHA-256
	Size      int64
	MediaType string
}

// EntrySubject is one subject of an [Entry].
type EntrySubject struct {
	// Purl is canonical. With a version it names a release; without one, a
	// package (evidence about every release of it).
	Purl    string
	Digests []Digest // sorted by Alg; includes sha256 or, for a package, gitCommit
}

// PackageLevel reports whether s is about a package rather than one release.
func (s EntrySubject) PackageLevel() bool {
	p, err := parsePurl(s.Purl)
	return err == nil && !p.HasVersion()
}

// NewEntry returns the log entry for v, logged at t (converted to UTC and
// truncated to the second).
func NewEntry(v *Verified, t time.Time) (*Entry, error) {
	if v == nil || v.Statement == nil {
		return nil, fieldErr("entry", "has no verified statement")
	}
	e := &Entry{
		EnvelopeDigest: v.EnvelopeDigest,
		EnvelopeSize:   v.EnvelopeSize,
		Encoding:       v.Encoding,
		PredicateType:  v.PredicateType,
		Kind:           v.Kind,
		Document:       v.Document,
		Format:         v.Format,
		Name:           v.Name,
		Signers:        slices.Compact(slices.Sorted(slices.Values(v.SignerIDs))),
		Time:           t.UTC().Truncate(time.Second),
	}
	if e.Encoding == "" {
		e.Encoding = EncodingDSSE
	}
	if e.PredicateType == "" {
		e.PredicateType = v.Statement.PredicateType
	}
	if e.Kind == "" {
		e.Kind = Classify(e.PredicateType)
		if _, k, _, _, err := describe(nil, v.Statement); err == nil {
			e.Kind = k
		}
	}
	if t.IsZero() {
		return nil, fieldErr("time", "is not set")
	}
	if y := e.Time.Year(); y < 1 || y > 9999 {
		return nil, fieldErr("time", "year %d is outside 1 to 9999", y)
	}
	if e.EnvelopeSize <= 0 {
		return nil, fieldErr("size", "must be positive")
	}
	if !validEncoding(e.Encoding) {
		return nil, fieldErr("encoding", "%s must be 1 to 32 of a-z 0-9 -", quote(string(e.Encoding)))
	}
	if err := validatePredicateType(e.PredicateType); err != nil {
		return nil, err
	}
	if !validKind(e.Kind) {
		return nil, fieldErr("kind", "%s must be 1 to 64 of a-z 0-9 -", quote(string(e.Kind)))
	}
	if e.Document.Size < 0 {
		return nil, fieldErr("document", "size must not be negative")
	}
	if err := validateMediaType(e.Document.MediaType); err != nil {
		return nil, err
	}
	e.Format = fitText(e.Format, maxFormatLen)
	e.Name = fitText(e.Name, maxNameLen)
	if e.Format == "" {
		return nil, fieldErr("format", "is empty")
	}
	if e.Name == "" {
		return nil, fieldErr("name", "is empty")
	}
	if err := checkSigners(e.Signers); err != nil {
		return nil, err
	}
	if len(v.Statement.Subject) == 0 || len(v.Statement.Subject) > MaxSubjects {
		return nil, fieldErr("subject", "must have 1 to %d elements", MaxSubjects)
	}
	for i, sub := range v.Statement.Subject {
		name := sub.Name
		if i < len(v.SubjectPurls) && v.SubjectPurls[i] != "" {
			name = v.SubjectPurls[i]
		}
		p, err := subjectPurl(name, subjectField(i, "name"))
		if err != nil {
			return nil, err
		}
		ds, err := sortedDigests(sub.Digest, subjectField(i, "digest"), !p.HasVersion())
		if err != nil {
			return nil, err
		}
		e.Subjects = append(e.Subjects, EntrySubject{Purl: p.String(), Digests: ds})
	}
	if n := e.size(); n > MaxEntrySize {
		return nil, fieldErr("subject", "the log entry would be %d bytes, over the %d-byte limit; split the evidence into statements with fewer subjects or digests", n, MaxEntrySize)
	}
	return e, nil
}

func checkSigners(signers []string) error {
	if len(signers) == 0 {
		return fieldErr("signer", "at least one signer is required")
	}
	if len(signers) > MaxSignatures {
		return fieldErr("signer", "more than %d signers", MaxSignatures)
	}
	for i, s := range signers {
		if !isToken(s) || len(s) > maxSignerLen {
			return fieldErr("signer", "%s must be 1 to %d printable ASCII bytes without spaces", quote(s), maxSignerLen)
		}
		if i > 0 && signers[i-1] >= s {
			return fieldErr("signer", "signers must be sorted and distinct")
		}
	}
	return nil
}

// EntryAt returns the log entry of v, as [Verify] made and checked it, at
// time t: what NewEntry(v, t) returns for the v that Verify returned, without
// checking everything again. It fails for a Verified that Verify did not make.
func (v *Verified) EntryAt(t time.Time) (*Entry, error) {
	if v == nil || v.entry == nil {
		return nil, fieldErr("entry", "has no verified statement")
	}
	if t.IsZero() {
		return nil, fieldErr("time", "is not set")
	}
	e := *v.entry
	e.Signers, e.Subjects = slices.Clone(v.entry.Signers), slices.Clone(v.entry.Subjects)
	e.Time = t.UTC().Truncate(time.Second)
	if y := e.Time.Year(); y < 1 || y > 9999 {
		return nil, fieldErr("time", "year %d is outside 1 to 9999", y)
	}
	return &e, nil
}

// Marshal returns the encoding of e. It does not validate e: encode only
// entries made by [NewEntry] or [ParseEntry].
func (e *Entry) Marshal() []byte {
	n := e.size()
	b := make([]byte, 0, n)
	b = append(b, EntryHeader+"\n"...)
	b = append(b, "envelope sha256:"...)
	b = hex.AppendEncode(b, e.EnvelopeDigest[:])
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.EnvelopeSize, 10)
	b = append(b, ' ')
	b = append(b, e.Encoding...)
	b = append(b, "\ntype "...)
	b = append(b, e.PredicateType...)
	b = append(b, "\nkind "...)
	b = append(b, e.Kind...)
	b = append(b, "\ndocument sha256:"...)
	b = hex.AppendEncode(b, e.Document.Digest[:])
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Document.Size, 10)
	b = append(b, ' ')
	b = append(b, e.Document.MediaType...)
	b = append(b, "\nformat "...)
	b = appendText(b, e.Format)
	b = append(b, "\nname "...)
	b = appendText(b, e.Name)
	b = append(b, '\n')
	for _, s := range e.Signers {
		b = append(b, "signer "...)
		b = append(b, s...)
		b = append(b, '\n')
	}
	for _, s := range e.Subjects {
		b = append(b, "subject "...)
		b = append(b, s.Purl...)
		for _, d := range s.Digests {
			b = append(b, ' ')
			b = append(b, d.Alg...)
			b = append(b, ':')
			b = append(b, d.Value...)
		}
		b = append(b, '\n')
	}
	b = append(b, "time "...)
	b = appendEntryTime(b, e.Time)
	return append(b, '\n')
}

// size is len(e.Marshal()), without marshaling.
func (e *Entry) size() int {
	n := len(EntryHeader) + 1 +
		len("envelope sha256:") + 64 + 1 + len(strconv.FormatInt(e.EnvelopeSize, 10)) + 1 + len(e.Encoding) + 1 +
		len("type ") + len(e.PredicateType) + 1 +
		len("kind ") + len(e.Kind) + 1 +
		len("document sha256:") + 64 + 1 + len(strconv.FormatInt(e.Document.Size, 10)) + 1 + len(e.Document.MediaType) + 1 +
		len("format ") + textLen(e.Format) + 1 +
		len("name ") + textLen(e.Name) + 1 +
		len("time ") + len(entryTimeLayout) + 1
	for _, s := range e.Signers {
		n += len("signer ") + len(s) + 1
	}
	for _, s := range e.Subjects {
		n += len("subject ") + len(s.Purl) + 1
		for _, d := range s.Digests {
			n += 1 + len(d.Alg) + 1 + len(d.Value)
		}
	}
	return n
}

// appendEntryTime appends t as entryTimeLayout does (NewEntry and
// ParseEntry keep the year within 1 to 9999), without time.Format's
// general layout interpreter.
func appendEntryTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 1 || year > 9999 {
		return t.AppendFormat(b, entryTimeLayout)
	}
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(b, year/100)
	b = two(b, year%100)
	b = append(b, '-')
	b = two(b, int(month))
	b = append(b, '-')
	b = two(b, day)
	b = append(b, 'T')
	b = two(b, hour)
	b = append(b, ':')
	b = two(b, minute)
	b = append(b, ':')
	b = two(b, sec)
	return append(b, 'Z')
}

// ParseEntry parses an entry encoded as [Entry] specifies, refusing anything
// that is not exactly what [Entry.Marshal] would produce.
func ParseEntry(b []byte) (*Entry, error) {
	if len(b) == 0 || len(b) > MaxEntrySize {
		return nil, fieldErr("entry", "is %d bytes; want 1 to %d", len(b), MaxEntrySize)
	}
	for i, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' {
			return nil, fieldErr("entry", "has byte %#02x at offset %d; entries are printable ASCII lines", c, i)
		}
	}
	if b[len(b)-1] != '\n' {
		return nil, fieldErr("entry", "does not end with a newline")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	r := entryReader{lines: lines}
	e := new(Entry)

	if l, _ := r.next(); l != EntryHeader {
		return nil, r.errorf("is %s; want %q", quote(l), EntryHeader)
	}
	vs, err := r.values("envelope", 3)
	if err != nil {
		return nil, err
	}
	if e.EnvelopeDigest, err = parseSHA256(vs[0]); err != nil {
		return nil, r.errorf("envelope digest must be sha256:<64 lowercase hex digits>")
	}
	if e.EnvelopeSize, err = parseSize(vs[1]); err != nil || e.EnvelopeSize == 0 {
		return nil, r.errorf("envelope size must be a positive decimal number without leading zeros")
	}
	if e.Encoding = Encoding(vs[2]); !validEncoding(e.Encoding) {
		return nil, r.errorf("envelope encoding must be 1 to 32 of a-z 0-9 -")
	}

	v, err := r.field("type")
	if err != nil {
		return nil, err
	}
	if err := validatePredicateType(v); err != nil {
		return nil, r.errorf("%s", reason(err))
	}
	e.PredicateType = v

	if v, err = r.field("kind"); err != nil {
		return nil, err
	}
	if e.Kind = Kind(v); !validKind(e.Kind) {
		return nil, r.errorf("kind must be 1 to 64 of a-z 0-9 -")
	}

	if vs, err = r.values("document", 3); err != nil {
		return nil, err
	}
	if e.Document.Digest, err = parseSHA256(vs[0]); err != nil {
		return nil, r.errorf("document digest must be sha256:<64 lowercase hex digits>")
	}
	if e.Document.Size, err = parseSize(vs[1]); err != nil {
		return nil, r.errorf("document size must be a decimal number without leading zeros")
	}
	if err := validateMediaType(vs[2]); err != nil {
		return nil, r.errorf("%s", reason(err))
	}
	e.Document.MediaType = vs[2]

	if e.Format, err = r.text("format", maxFormatLen); err != nil {
		return nil, err
	}
	if e.Name, err = r.text("name", maxNameLen); err != nil {
		return nil, err
	}

	for r.peek("signer") {
		if v, err = r.field("signer"); err != nil {
			return nil, err
		}
		e.Signers = append(e.Signers, v)
	}
	if err := checkSigners(e.Signers); err != nil {
		return nil, r.errorf("%s", reason(err))
	}

	for r.peek("subject") {
		l, _ := r.next()
		if len(e.Subjects) == MaxSubjects {
			return nil, r.errorf("more than %d subjects", MaxSubjects)
		}
		s, err := parseEntrySubject(strings.TrimPrefix(l, "subject "))
		if err != nil {
			return nil, r.errorf("%s", reason(err))
		}
		e.Subjects = append(e.Subjects, s)
	}
	if len(e.Subjects) == 0 {
		r.i++
		return nil, r.errorf("want at least one subject line")
	}

	if v, err = r.field("time"); err != nil {
		return nil, err
	}
	if e.Time, err = time.Parse(entryTimeLayout, v); err != nil || e.Time.Format(entryTimeLayout) != v {
		return nil, r.errorf("time must be RFC 3339 UTC with whole seconds, e.g. 2026-11-25T08:00:00Z")
	}
	if r.i != len(lines) {
		r.i++
		return nil, r.errorf("unexpected line after time")
	}
	if !bytes.Equal(e.Marshal(), b) {
		return nil, fieldErr("entry", "is not in canonical form")
	}
	return e, nil
}

func parseEntrySubject(s string) (EntrySubject, error) {
	fields := strings.Split(s, " ")
	if len(fields) < 2 {
		return EntrySubject{}, fmt.Errorf("subject needs a purl and at least one digest")
	}
	p, err := parsePurl(fields[0])
	if err != nil {
		return EntrySubject{}, fmt.Errorf("subject purl %s: %v", quote(fields[0]), err)
	}
	if p.String() != fields[0] {
		return EntrySubject{}, fmt.Errorf("subject purl %s is not canonical", quote(fields[0]))
	}
	sub := EntrySubject{Purl: fields[0]}
	set := make(map[string]string)
	for _, f := range fields[1:] {
		alg, val, ok := strings.Cut(f, ":")
		if !ok {
			return EntrySubject{}, fmt.Errorf("digest %s is not alg:value", quote(f))
		}
		if n := len(sub.Digests); n > 0 && sub.Digests[n-1].Alg >= alg {
			return EntrySubject{}, fmt.Errorf("digests must be sorted by algorithm, each once")
		}
		sub.Digests = append(sub.Digests, Digest{alg, val})
		set[alg] = val
	}
	if _, err := sortedDigests(set, "digest", !p.HasVersion()); err != nil {
		return EntrySubject{}, err
	}
	return sub, nil
}

// parseSHA256 parses "sha256:" and 64 lowercase hex digits.
func parseSHA256(v string) ([32]byte, error) {
	var d [32]byte
	h, ok := strings.CutPrefix(v, "sha256:")
	if !ok || !isLowerHex(h, 64) {
		return d, errors.New("bad digest")
	}
	hex.Decode(d[:], []byte(h))
	return d, nil
}

// parseSize parses a non-negative decimal number without sign or leading
// zeros that fits an int64.
func parseSize(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != v {
		return 0, errors.New("bad size")
	}
	return n, nil
}

// validEncoding reports whether enc has the syntax of an encoding: 1 to 32
// of a-z, 0-9 and "-". Readers accept encodings they do not know.
func validEncoding(enc Encoding) bool {
	return len(enc) <= 32 && validKind(Kind(enc))
}

// validateMediaType checks the syntax of a media type as entries carry it
// (RFC 6838 type "/" subtype, with parameters written without spaces):
// printable ASCII without spaces, a "/" with something either side, at most
// 255 bytes.
func validateMediaType(mt string) error {
	t, sub, ok := strings.Cut(mt, "/")
	if !ok || t == "" || sub == "" || len(mt) > maxMediaTypeLen || !isToken(mt) {
		return fieldErr("mediaType", "%s must be a media type such as application/json: printable ASCII without spaces, at most %d bytes", quote(mt), maxMediaTypeLen)
	}
	return nil
}

// Free text (the format and name lines) is written as its words, separated
// by single spaces: runs of white space in the text become one space, and
// leading and trailing white space is dropped. In a word, "%", and every
// byte outside 0x21 to 0x7e (so every byte of a non-ASCII UTF-8 character),
// is written as "%" and two uppercase hex digits.

// appendText appends the encoding of text, which fitText has normalized.
func appendText(b []byte, text string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == ' ':
			b = append(b, ' ')
		case c <= ' ' || c >= 0x7f || c == '%':
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// textLen is len(appendText(nil, text)).
func textLen(text string) int {
	n := 0
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != ' ' && (c <= ' ' || c >= 0x7f || c == '%') {
			n += 3
		} else {
			n++
		}
	}
	return n
}

// fitText normalizes text as the entry encoding does (valid UTF-8, white
// space collapsed) and cuts it, on a character boundary and with "...",
// so that its encoding is at most max bytes.
func fitText(text string, max int) string {
	text = strings.Join(strings.Fields(strings.ToValidUTF8(text, "\uFFFD")), " ")
	if textLen(text) <= max {
		return text
	}
	n := 0
	for i, r := range text {
		w := textLen(string(r))
		if n+w+3 > max {
			return strings.TrimRight(text[:i], " ") + "..."
		}
		n += w
	}
	return text
}

// decodeText decodes the values of a text line, refusing any encoding that
// appendText would not have produced.
func decodeText(values []string) (string, error) {
	var b []byte
	for i, v := range values {
		if i > 0 {
			b = append(b, ' ')
		}
		for j := 0; j < len(v); j++ {
			if v[j] != '%' {
				b = append(b, v[j])
				continue
			}
			if j+2 >= len(v) {
				return "", errors.New("truncated percent-encoding")
			}
			var c [1]byte
			if _, err := hex.Decode(c[:], []byte(v[j+1:j+3])); err != nil {
				return "", errors.New("bad percent-encoding")
			}
			b = append(b, c[0])
			j += 2
		}
	}
	text := string(b)
	if !utf8.ValidString(text) || fitText(text, math.MaxInt) != text || string(appendText(nil, text)) != strings.Join(values, " ") {
		return "", errors.New("not in canonical form (uppercase hex, only the bytes that must be encoded, valid UTF-8, no white space inside words)")
	}
	return text, nil
}

// entryReader walks the lines of an entry.
type entryReader struct {
	lines []string
	i     int // lines consumed
}

func (r *entryReader) next() (string, bool) {
	if r.i >= len(r.lines) {
		r.i++
		return "", false
	}
	l := r.lines[r.i]
	r.i++
	return l, true
}

func (r *entryReader) peek(keyword string) bool {
	return r.i < len(r.lines) && strings.HasPrefix(r.lines[r.i], keyword+" ")
}

// field reads a "keyword value" line with a single value.
func (r *entryReader) field(keyword string) (string, error) {
	vs, err := r.values(keyword, 1)
	if err != nil {
		return "", err
	}
	return vs[0], nil
}

// values reads a "keyword value..." line with exactly n values, or with at
// least one if n is 0.
func (r *entryReader) values(keyword string, n int) ([]string, error) {
	l, ok := r.next()
	if !ok {
		return nil, r.errorf("missing %q line", keyword)
	}
	v, found := strings.CutPrefix(l, keyword+" ")
	if !found {
		return nil, r.errorf("want a %q line", keyword)
	}
	vs := strings.Split(v, " ")
	for _, v := range vs {
		if !isToken(v) {
			return nil, r.errorf("%q values must be printable ASCII separated by single spaces", keyword)
		}
	}
	if n > 0 && len(vs) != n {
		return nil, r.errorf("%q line must have %d values", keyword, n)
	}
	return vs, nil
}

// text reads a free-text line whose encoding is at most max bytes.
func (r *entryReader) text(keyword string, max int) (string, error) {
	vs, err := r.values(keyword, 0)
	if err != nil {
		return "", err
	}
	if len(r.lines[r.i-1])-len(keyword)-1 > max {
		return "", r.errorf("%q text is longer than %d bytes", keyword, max)
	}
	t, err := decodeText(vs)
	if err != nil {
		return "", r.errorf("%q text: %v", keyword, err)
	}
	return t, nil
}

// errorf reports a problem with the line just read.
func (r *entryReader) errorf(format string, args ...any) error {
	return fieldErr(fmt.Sprintf("entry line %d", r.i), format, args...)
}

// Releases returns the releases e is about: each subject's purl without
// qualifiers and subpath ([Purl.Release]), without duplicates, in subject
// order.
func (e *Entry) Releases() []string {
	return e.subjectKeys(Purl.Release)
}

// Packages returns the packages e is about: each subject's purl without
// version, qualifiers and subpath ([Purl.Package]), without duplicates, in
// subject order.
func (e *Entry) Packages() []string {
	return e.subjectKeys(Purl.Package)
}

// PackageLevel returns the packages e is about as a whole: the purls of its
// subjects that have no version (canonical, without qualifiers and subpath),
// without duplicates, in subject order. Such evidence holds for every release
// of the package.
func (e *Entry) PackageLevel() []string {
	return e.subjectKeys(func(p Purl) string {
		if p.HasVersion() {
			return ""
		}
		return p.Package()
	})
}

// Digests returns every subject digest as "alg:value" (for example
// "sha256:<hex>"), without duplicates, in subject order.
func (e *Entry) Digests() []string {
	var out []string
	seen := make(map[string]bool)
	for _, s := range e.Subjects {
		for _, d := range s.Digests {
			if k := d.String(); !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

func (e *Entry) subjectKeys(key func(Purl) string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, s := range e.Subjects {
		p, err := parsePurl(s.Purl)
		if err != nil {
			continue // not from NewEntry or ParseEntry
		}
		if k := key(p); k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// reason returns the message of err without the "evidence: " prefix, for
// nesting in another error.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), "evidence: ")
}
