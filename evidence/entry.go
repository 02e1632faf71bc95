package evidence

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EntryHeader is the first line of a version 1 log entry.
const EntryHeader = "evident.dev/entry/v1"

// MaxEntrySize is the largest log entry, in bytes. C2SP tlog-tiles entry
// bundles prefix each entry with a 16-bit big-endian length.
const MaxEntrySize = 65535

// entryTimeLayout is RFC 3339 in UTC with whole seconds.
const entryTimeLayout = "2006-01-02T15:04:05Z"

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
//	evident.dev/entry/v1
//	envelope sha256:<hex>
//	size <decimal>
//	type <predicate type>
//	kind <kind>
//	signer <key id>                          (1 to 16 lines)
//	subject <purl> <alg>:<value>...          (1 to 64 lines)
//	time <YYYY-MM-DDThh:mm:ssZ>
//
// The values are:
//
//   - envelope: the SHA-256 of the envelope bytes as submitted, 64 lowercase
//     hex digits.
//   - size: the envelope's length in bytes, a positive decimal number without
//     leading zeros.
//   - type: the statement's predicateType, 1 to 512 bytes.
//   - kind: [Classify] of the type when the entry was made, 1 to 64 of
//     a-z 0-9 "-". Readers must not recompute it: later versions may classify
//     more types, and old entries keep their kind. Readers must accept kinds
//     they do not know.
//   - signer: the key id of a trusted key whose signature verified and that
//     is allowed for at least one subject; Evident writes
//     "ed25519:" + 64 lowercase hex digits (see [KeyID]), readers should
//     accept any 1 to 256 value bytes. Lines sorted by byte value, no
//     duplicates.
//   - subject: a subject purl in the canonical form of [Purl] (always with a
//     version), then its digests as alg:value, sorted by alg in byte order,
//     each alg once, sha256 always among them. Lines are in the statement's
//     subject order; a purl may appear on several lines.
//   - time: when the node logged the entry, RFC 3339 in UTC with whole
//     seconds and a "Z" suffix, e.g. 2026-11-25T08:00:00Z.
//
// A reader must refuse an entry that breaks any of these rules; an entry is
// valid only if re-encoding what was read gives the same bytes.
// ENTRY.md has the same specification with an example.
type Entry struct {
	EnvelopeDigest [32]byte
	EnvelopeSize   int64
	PredicateType  string
	Kind           Kind
	Signers        []string
	Subjects       []EntrySubject
	Time           time.Time // UTC, whole seconds
}

// EntrySubject is one subject of an [Entry].
type EntrySubject struct {
	Purl    string   // canonical, with a version
	Digests []Digest // sorted by Alg; includes sha256
}

const maxSignerLen = 256

// NewEntry returns the log entry for v, logged at t (converted to UTC and
// truncated to the second).
func NewEntry(v *Verified, t time.Time) (*Entry, error) {
	if v == nil || v.Statement == nil {
		return nil, fieldErr("entry", "has no verified statement")
	}
	e := &Entry{
		EnvelopeDigest: v.EnvelopeDigest,
		EnvelopeSize:   v.EnvelopeSize,
		PredicateType:  v.PredicateType,
		Kind:           v.Kind,
		Signers:        slices.Compact(slices.Sorted(slices.Values(v.SignerKeyIDs))),
		Time:           t.UTC().Truncate(time.Second),
	}
	if e.PredicateType == "" {
		e.PredicateType = v.Statement.PredicateType
	}
	if e.Kind == "" {
		e.Kind = Classify(e.PredicateType)
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
	if err := validatePredicateType(e.PredicateType); err != nil {
		return nil, err
	}
	if !validKind(e.Kind) {
		return nil, fieldErr("kind", "%s must be 1 to 64 of a-z 0-9 -", quote(string(e.Kind)))
	}
	if err := checkSigners(e.Signers); err != nil {
		return nil, err
	}
	if len(v.Statement.Subject) == 0 || len(v.Statement.Subject) > MaxSubjects {
		return nil, fieldErr("subject", "must have 1 to %d elements", MaxSubjects)
	}
	for i, sub := range v.Statement.Subject {
		p, err := releasePurl(sub.Name, subjectField(i, "name"))
		if err != nil {
			return nil, err
		}
		ds, err := sortedDigests(sub.Digest, subjectField(i, "digest"))
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
	b = append(b, "\nsize "...)
	b = strconv.AppendInt(b, e.EnvelopeSize, 10)
	b = append(b, "\ntype "...)
	b = append(b, e.PredicateType...)
	b = append(b, "\nkind "...)
	b = append(b, e.Kind...)
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
		len("envelope sha256:") + 64 + 1 +
		len("size ") + len(strconv.FormatInt(e.EnvelopeSize, 10)) + 1 +
		len("type ") + len(e.PredicateType) + 1 +
		len("kind ") + len(e.Kind) + 1 +
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
	v, err := r.field("envelope")
	if err != nil {
		return nil, err
	}
	h, ok := strings.CutPrefix(v, "sha256:")
	if !ok || !isLowerHex(h, 64) {
		return nil, r.errorf("envelope digest must be sha256:<64 lowercase hex digits>")
	}
	hex.Decode(e.EnvelopeDigest[:], []byte(h))

	if v, err = r.field("size"); err != nil {
		return nil, err
	}
	if e.EnvelopeSize, err = strconv.ParseInt(v, 10, 64); err != nil || e.EnvelopeSize <= 0 || strconv.FormatInt(e.EnvelopeSize, 10) != v {
		return nil, r.errorf("size must be a positive decimal number without leading zeros")
	}

	if v, err = r.field("type"); err != nil {
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
	if p.String() != fields[0] || !p.HasVersion() {
		return EntrySubject{}, fmt.Errorf("subject purl %s is not canonical or has no version", quote(fields[0]))
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
	if _, err := sortedDigests(set, "digest"); err != nil {
		return EntrySubject{}, err
	}
	return sub, nil
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
	l, ok := r.next()
	if !ok {
		return "", r.errorf("missing %q line", keyword)
	}
	v, found := strings.CutPrefix(l, keyword+" ")
	if !found {
		return "", r.errorf("want a %q line", keyword)
	}
	if !isToken(v) {
		return "", r.errorf("%q value must be printable ASCII without spaces", keyword)
	}
	return v, nil
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
